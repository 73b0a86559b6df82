"""The AsyncAPI 3.0.0 document of the MQTT contract, generated from :mod:`lisa_messages`.

``lisa booth asyncapi --write docs/asyncapi.yaml`` writes it; a unit test fails when the committed
file is stale. Payload schemas are the JSON Schemas pydantic generates for the message models
(their ``$defs`` collected into ``components/schemas``, every name once); the ``cmd`` payload
additionally names every command (``cmd`` enum) and ties each one to its args schema
(``<Name>Args``); the ``event`` payload is ``oneOf`` the per-type event envelopes (``StateEvent``,
``DoorEvent``, ...), told apart by ``type`` (the discriminator), each with its ``data`` body
(``StateReport``, ``DoorReport``, ...). The output is deterministic: no timestamps,
insertion-ordered keys.

Part of the contract package: imports nothing of ours but :mod:`lisa_messages`.

PyYAML is only needed to dump (:func:`asyncapi_yaml`), not to build the dict.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

import lisa_messages as lm

ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING_VERSION = "0.2.0"
#: the document version follows the protocol version (``v1`` → ``1.0.0``)
DOC_VERSION = f"{lm.PROTOCOL_VERSION.removeprefix('v')}.0.0"
BOOTH_PARAM = "boothId"
BOOTH_BASE = f"{lm.ROOT}/booth/{{{BOOTH_PARAM}}}"
SCHEMA_REF = "#/components/schemas/{model}"
EXAMPLE_BOOTH = "sim-1"
EXAMPLE_TS = "2026-11-28T20:10:52.123Z"

INFO_DESCRIPTION = f"""\
The MQTT contract {lm.PROTOCOL_VERSION} between a LISA booth (digital citizen office) and the
cloud bridge. Generated from `lisa_messages/` by `lisa booth asyncapi`; the human-readable
version is `docs/protocol.md`.

**Point of view.** Operations are described from the booth's point of view: `send` = the booth
publishes, `receive` = the booth subscribes (the bridge does the opposite).

**MQTT 3.1.1 only.** QoS 1, retained messages and the last will are the only broker features
used; no MQTT 5 properties (no message expiry, no response topic, no user properties).

**QoS and retained messages.** Every message is published with QoS 1 (at least once).
`availability`, `state` and `health` (and `{lm.BRIDGE_AVAILABILITY}`) are retained, so a
subscriber immediately gets the last value; `event`, `cmd`, `cmd/result` and `call` are never
retained.

**Last will.** A booth connects with the last will `offline` (QoS 1, retained) on its
`availability` topic and publishes `online` (retained) right after connecting; a clean
disconnect publishes `offline` first. The bridge does the same on
`{lm.BRIDGE_AVAILABILITY}`.

**Sessions.** Persistent session (clean session off, stable client id, by default
`lisa-booth-<booth id>`), so the broker queues QoS 1 messages for a briefly disconnected client.
Reconnects use jittered exponential backoff.

**No event is lost.** The booth writes every event to its local outbox before publishing it
and deletes it only after the broker's PUBACK; after an outage or a restart the rest is sent
again, in order.

**De-duplication.** At-least-once delivery means duplicates: consumers de-duplicate events by
`id` (and the per-booth `seq`, which grows by one per event, across restarts).

**Idempotency.** Commands (`cmd`) are idempotent by `id`: a repeated id is not executed again
and gets the first `cmd/result` again. Call control messages (`call`) carry an `id` too; they
describe a situation (queued, connected, ended, ...), so a duplicate does no harm.

**Timestamps** are RFC 3339 UTC strings with a `Z` suffix (`{EXAMPLE_TS}`).

**Payloads** are UTF-8 JSON objects, except on the availability topics (plain text `online` or
`offline`). Unknown fields are rejected (`additionalProperties: false`).
"""

COMMAND_REFUSALS = """\
A command is answered on `cmd/result` with the same `id`. It is refused (`ok: false`, `error`
says why, nothing is done) when it is

- **expired**: `expires_at` is in the past when the booth handles it;
- **unknown**: `cmd` is not one of the commands below;
- **invalid**: the message or its `args` do not match the schema (the error names the field);
- **unsafe or pointless in the current state**: e.g. a self-test while a citizen is in the
  booth, closing the door during an emergency (see each command; the booth also refuses while
  it is still starting).

A payload that is not a JSON object, or has no usable `id`, cannot be answered: the booth
publishes an `event` of type `protocol_error` (`{error, topic}`) and no result. A repeated
`id` is not executed again: the booth answers with the first result again (results are kept in
the outbox). Every executed or refused command is also audited as an `event` of type `command`.
"""


@dataclass(frozen=True, slots=True)
class CommandDoc:
    summary: str
    refused: str


#: what each command does and when it is refused besides expired/unknown/invalid
COMMAND_DOCS: dict[str, CommandDoc] = {
    "ping": CommandDoc(
        "Liveness check; the result carries `state`, `detail` and the booth's `clock`.",
        "never",
    ),
    "selftest.run": CommandDoc(
        "Run the self-test of one device slot (`device`) or of every device; the result has "
        "the outcome per device.",
        "a citizen is in the booth (occupied, queued, in_call, farewell); unknown device slot",
    ),
    "door.open": CommandDoc(
        "Open the booth door.",
        "never because of the state (the citizen can always leave); no door configured, or "
        "the door does not accept the request",
    ),
    "door.close": CommandDoc(
        "Close the booth door.",
        "emergency or fault; farewell (the citizen is leaving); the door is obstructed; no door "
        "configured",
    ),
    "light.set": CommandDoc(
        "Set the light scene, its brightness and/or the outside sign.",
        "emergency (full light stays on); no light channel configured",
    ),
    "doccam.set": CommandDoc(
        "Adjust the document camera (zoom, focus, brightness; 0..1); the result has the values "
        "applied.",
        "no document camera configured, or the camera rejects the values",
    ),
    "display.show": CommandDoc(
        "Show a page of the booth screen with its parameters (no personal data).",
        "not in a call (in_call); unknown page",
    ),
    "signature.request": CommandDoc(
        "Ask the citizen to sign on the signature pad.",
        "not talking in a call (in_call.talking); no signature pad configured",
    ),
    "session.end": CommandDoc(
        "End the current visit (the booth says goodbye and runs its privacy reset).",
        "no citizen session (state not occupied, queued or in_call)",
    ),
    "maintenance.enter": CommandDoc(
        "Take the booth out of service for a technician (as soon as no citizen is inside).",
        "in a call (in_call) or emergency",
    ),
    "maintenance.exit": CommandDoc(
        "Leave maintenance; the booth returns to service.",
        "the booth is not in (and not waiting for) maintenance",
    ),
}

CALL_TYPES_DOC: dict[str, str] = {
    "queued": "the call waits in `queue`; `position` and `estimated_wait` (s) for the screen",
    "connected": "an agent answered; `agent` is the display name shown to the citizen",
    "transferring": "the call is handed to another agent or queue",
    "ended": "the central side ended the call (`reason`)",
    "unavailable": "nobody can answer now; `opening_hours` and `phone` for the screen",
    "signature_requested": "the agent asked for a signature (the pad is armed)",
    "signature_finished": "the signature is done or cancelled",
}


# ----------------------------------------------------------------------------- examples
#: the ``data`` of the example event of each type (every type has one; they are validated)
EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "state": {"state": "in_call", "detail": "in_call.talking"},
    "call_requested": {"session": "s-5f2c9a1e"},
    "call_ended": {"session": "s-5f2c9a1e", "reason": "citizen_left"},
    "presence": {"present": True},
    "door": {"position": "closed"},
    "emergency": {"active": False},
    "health": {"device": "nfc", "status": "degraded", "reason": "reader answers slowly"},
    "selftest": {"device": "door", "outcome": "pass", "message": "opened and closed in 3.2 s"},
    "maintenance": {"enter": True, "by": "badge"},
    "command": {"id": "c-0002", "cmd": "light.set", "ok": True, "by": "tech.schulz"},
    "protocol_error": {"topic": f"{lm.ROOT}/booth/{EXAMPLE_BOOTH}/cmd", "error": "not JSON"},
    "error": {"where": "plc heartbeat", "error": "no answer within 2.0 s"},
}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _event_examples() -> list[tuple[str, Any]]:
    """One example envelope per event type, in :data:`lisa_messages.EVENT_TYPES` order."""
    missing = [t for t in lm.EVENT_TYPES if t not in EVENT_EXAMPLES]
    if missing:
        raise ValueError(f"no example for the event type(s) {', '.join(missing)}")
    return [
        (
            _camel(event_type),
            {
                "id": f"e-8d1f3b2a{0x7C + i:02x}",
                "booth": EXAMPLE_BOOTH,
                "seq": 4711 + i,
                "ts": EXAMPLE_TS,
                "type": event_type,
                "data": EVENT_EXAMPLES[event_type],
            },
        )
        for i, event_type in enumerate(lm.EVENT_TYPES)
    ]


def _examples() -> dict[str, list[tuple[str, Any]]]:
    """Example payloads per message id: ``(name, payload)``; validated by the models below."""
    return {
        "availability": [("online", lm.ONLINE), ("offline", lm.OFFLINE)],
        "boothState": [
            (
                "inCall",
                {
                    "booth": EXAMPLE_BOOTH,
                    "ts": EXAMPLE_TS,
                    "state": "in_call",
                    "detail": "in_call.talking",
                    "since": "2026-11-28T20:07:31.004Z",
                    "session": "s-5f2c9a1e",
                    "door": "closed",
                    "sign": "occupied",
                    "screen": "call",
                    "emergency": False,
                    "software": "0.1.0",
                },
            )
        ],
        "boothHealth": [
            (
                "degraded",
                {
                    "booth": EXAMPLE_BOOTH,
                    "ts": EXAMPLE_TS,
                    "in_service": True,
                    "devices": {
                        "door": {"status": "ok", "critical": True, "selftest": "pass"},
                        "nfc": {
                            "status": "degraded",
                            "reason": "reader answers slowly",
                            "since": "2026-11-28T19:58:02.000Z",
                            "critical": False,
                            "selftest": "pass",
                        },
                    },
                },
            )
        ],
        "boothEvent": _event_examples(),
        "command": [
            ("ping", {"id": "c-0001", "cmd": "ping", "by": "agent.mueller"}),
            (
                "lightSet",
                {
                    "id": "c-0002",
                    "cmd": "light.set",
                    "args": {"scene": "maintenance", "brightness": 0.8},
                    "expires_at": "2026-11-28T20:11:52.123Z",
                    "by": "tech.schulz",
                },
            ),
        ],
        "commandResult": [
            (
                "ok",
                {
                    "id": "c-0001",
                    "ok": True,
                    "result": {"state": "idle", "detail": "idle", "clock": EXAMPLE_TS},
                    "ts": EXAMPLE_TS,
                },
            ),
            (
                "refused",
                {
                    "id": "c-0003",
                    "ok": False,
                    "error": "refused: a citizen is in the booth (state in_call); self-tests "
                    "move hardware and play sounds",
                    "ts": EXAMPLE_TS,
                },
            ),
        ],
        "callControl": [
            (
                "queued",
                {
                    "id": "k-0001",
                    "session": "s-5f2c9a1e",
                    "type": "queued",
                    "position": 2,
                    "estimated_wait": 90.0,
                    "queue": "buergerservice",
                    "ts": EXAMPLE_TS,
                },
            ),
            (
                "connected",
                {
                    "id": "k-0002",
                    "session": "s-5f2c9a1e",
                    "type": "connected",
                    "agent": "Frau Müller",
                    "ts": EXAMPLE_TS,
                },
            ),
        ],
        "mediaControl": [
            (
                "join",
                {
                    "id": "m-0001",
                    "session": "s-5f2c9a1e",
                    "type": "join",
                    "peer": "agent:mueller",
                    "role": "agent",
                    "name": "Frau Müller",
                    "ice_servers": [
                        {
                            "urls": ["turn:turn.example.org:3478?transport=udp"],
                            "username": "1764789000:gartz-01",
                            "credential": "q0B4…",
                        }
                    ],
                    "ts": EXAMPLE_TS,
                },
            ),
            (
                "answer",
                {
                    "id": "m-0002",
                    "session": "s-5f2c9a1e",
                    "type": "answer",
                    "peer": "agent:mueller",
                    "pc": "p-7d1e",
                    "sdp": "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\n…",
                    "ts": EXAMPLE_TS,
                },
            ),
            (
                "stop",
                {
                    "id": "m-0003",
                    "session": "s-5f2c9a1e",
                    "type": "stop",
                    "reason": "ended",
                    "ts": EXAMPLE_TS,
                },
            ),
        ],
        "mediaReport": [
            (
                "offer",
                {
                    "id": "o-0001",
                    "session": "s-5f2c9a1e",
                    "type": "offer",
                    "peer": "agent:mueller",
                    "pc": "p-7d1e",
                    "sdp": "v=0\r\no=- 3920 0 IN IP4 0.0.0.0\r\n…",
                    "ts": EXAMPLE_TS,
                },
            ),
            (
                "degraded",
                {
                    "id": "o-0002",
                    "session": "s-5f2c9a1e",
                    "type": "state",
                    "peer": "agent:mueller",
                    "pc": "p-7d1e",
                    "state": "connected",
                    "devices": {
                        "camera_main": "ok",
                        "camera_document": "unavailable",
                        "audio": "ok",
                    },
                    "ts": EXAMPLE_TS,
                },
            ),
        ],
    }


# ----------------------------------------------------------------------------- channels
@dataclass(frozen=True, slots=True)
class ChannelSpec:
    id: str
    address: str
    sender: Literal["booth", "bridge"]
    retain: bool
    message: str
    operation: str
    title: str
    description: str


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "availability",
        f"{BOOTH_BASE}/availability",
        "booth",
        True,
        "availability",
        "sendAvailability",
        "Booth availability",
        "`online` after connecting; `offline` on a clean disconnect or, as the last will, when "
        "the broker loses the booth.",
    ),
    ChannelSpec(
        "state",
        f"{BOOTH_BASE}/state",
        "booth",
        True,
        "boothState",
        "sendState",
        "Booth state",
        "What the booth is doing now; published on every state change and after connecting.",
    ),
    ChannelSpec(
        "health",
        f"{BOOTH_BASE}/health",
        "booth",
        True,
        "boothHealth",
        "sendHealth",
        "Booth health",
        "The health of every device; published when a device's health changes and after "
        "connecting.",
    ),
    ChannelSpec(
        "event",
        f"{BOOTH_BASE}/event",
        "booth",
        False,
        "boothEvent",
        "sendEvent",
        "Booth events",
        "Everything that happened, in order; from the outbox (no event lost), de-duplicated by "
        "`id`/`seq` on the consumer side.",
    ),
    ChannelSpec(
        "cmd",
        f"{BOOTH_BASE}/cmd",
        "bridge",
        False,
        "command",
        "receiveCommand",
        "Remote commands",
        "A command for the booth; answered on `cmd/result`.",
    ),
    ChannelSpec(
        "cmdResult",
        f"{BOOTH_BASE}/cmd/result",
        "booth",
        False,
        "commandResult",
        "sendCommandResult",
        "Command results",
        "The answer to a command, matched by `id`; a repeated command id gets the same answer.",
    ),
    ChannelSpec(
        "call",
        f"{BOOTH_BASE}/call",
        "bridge",
        False,
        "callControl",
        "receiveCallControl",
        "Call control",
        "The central side tells the booth what happens to its call (queue, agent, end).",
    ),
    ChannelSpec(
        "media",
        f"{BOOTH_BASE}/media",
        "bridge",
        False,
        "mediaControl",
        "receiveMediaControl",
        "Media signalling to the booth",
        "WebRTC signalling relayed by the bridge: a peer that may see the citizen is ready "
        "(`join`), its SDP answer, its leaving, or the end of all media (see docs/media.md).",
    ),
    ChannelSpec(
        "mediaOut",
        f"{BOOTH_BASE}/media/out",
        "booth",
        False,
        "mediaReport",
        "sendMediaReport",
        "Media signalling from the booth",
        "The booth's SDP offers (one per peer and attempt), media state per peer and "
        "`unreachable` when no media came up in time (see docs/media.md).",
    ),
    ChannelSpec(
        "bridgeAvailability",
        lm.BRIDGE_AVAILABILITY,
        "bridge",
        True,
        "availability",
        "receiveBridgeAvailability",
        "Bridge availability",
        "`online` while the cloud bridge is connected; `offline` (its last will) otherwise. "
        "While the bridge is offline the booth shows the citizen that nobody can be reached.",
    ),
)

#: the schema name of the ``event`` payload: one of the per-type event envelopes
BOOTH_EVENT_SCHEMA = "BoothEvent"

#: the payload model of each JSON message; ``boothEvent`` is the union of the per-type event
#: models (:data:`lisa_messages.BOOTH_EVENT`), documented as :data:`BOOTH_EVENT_SCHEMA`
MESSAGE_MODELS: dict[str, type[lm.Message] | TypeAdapter[lm.AnyBoothEvent]] = {
    "boothState": lm.BoothState,
    "boothHealth": lm.BoothHealth,
    "boothEvent": lm.BOOTH_EVENT,
    "command": lm.Command,
    "commandResult": lm.CommandResult,
    "callControl": lm.CallControl,
    "mediaControl": lm.MediaControl,
    "mediaReport": lm.MediaReport,
}

MESSAGE_SUMMARIES: dict[str, str] = {
    "availability": "online / offline",
    "boothState": "What the booth is doing now",
    "boothHealth": "The health of every device",
    "boothEvent": "Something happened at the booth",
    "command": "A remote command for the booth",
    "commandResult": "The answer to a command",
    "callControl": "What happens to the booth's call",
    "mediaControl": "WebRTC signalling for the booth",
    "mediaReport": "WebRTC signalling and media state from the booth",
}

#: what :data:`lisa_messages.BoothEvent` says (an alias has no docstring at run time)
EVENT_DOC = """\
QoS 1 on `event`: one of the event models, told apart by `type`. Written to the booth's outbox
before sending; consumers de-duplicate by `id`; `seq` grows by one per event of a booth, across
restarts."""

#: what JSON Schema cannot learn from a model's validators, added to that model's schema. Keep
#: each entry in step with the validator it names. ``x-rule`` is the error message
#: (:mod:`lisa_messages.schema_check` reports it when the ``oneOf`` fails).
SCHEMA_RULES: dict[type[lm.Message], dict[str, Any]] = {
    # DoorReport._one_of: exactly one of position / obstructed is given (null = not given)
    lm.DoorReport: {
        "oneOf": [
            {"required": ["position"], "properties": {"position": {"type": "string"}}},
            {"required": ["obstructed"], "properties": {"obstructed": {"type": "boolean"}}},
        ],
        "x-rule": "a door event has either `position` or `obstructed`",
    },
}
_RULES_BY_NAME = {model.__name__: rules for model, rules in SCHEMA_RULES.items()}


# ----------------------------------------------------------------------------- helpers
def _data_fields(body: type[lm.EventBody]) -> str:
    names = [name if f.is_required() else f"{name}?" for name, f in body.model_fields.items()]
    return "{" + ", ".join(names) + "}"


def event_data_fields() -> dict[str, str]:
    """The ``data`` fields of each event type, from its body model: ``{a, b, c?}`` (``?`` marks
    an optional field)."""
    return {event_type: _data_fields(body) for event_type, body in lm.EVENT_BODIES.items()}


def _add(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Put a schema into ``components/schemas``; a name stands for one schema only."""
    schema = {**schema, **_RULES_BY_NAME.get(name, {})}
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are both called {name!r}")
    schemas[name] = schema


def _collect(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A generated schema without its ``$defs``: they go into ``components/schemas``."""
    for name, sub in schema.pop("$defs", {}).items():
        _add(schemas, name, sub)
    return schema


def _model_schema(model: type[lm.Message], schemas: dict[str, Any]) -> dict[str, Any]:
    return _collect(model.model_json_schema(ref_template=SCHEMA_REF), schemas)


def _event_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    """``oneOf`` the per-type event envelopes (``StateEvent``, ...), discriminator ``type``; the
    envelopes and their ``data`` bodies go into ``components/schemas`` in event type order."""
    schema = lm.BOOTH_EVENT.json_schema(ref_template=SCHEMA_REF)
    order = [
        model.__name__
        for event_type in lm.EVENT_TYPES
        for model in (lm.EVENT_MODELS[event_type], lm.EVENT_BODIES[event_type])
    ]
    defs: dict[str, Any] = schema.pop("$defs", {})
    ranked = sorted(defs, key=lambda name: order.index(name) if name in order else len(order))
    schema = _collect({**schema, "$defs": {name: defs[name] for name in ranked}}, schemas)
    # pydantic writes OpenAPI's discriminator object; AsyncAPI's is the property name. The
    # mapping is implied: every envelope has ``type`` as a ``const``.
    discriminator = schema.pop("discriminator")
    expected = {t: SCHEMA_REF.format(model=m.__name__) for t, m in lm.EVENT_MODELS.items()}
    if discriminator.get("mapping") != expected:
        raise ValueError(f"unexpected event discriminator {discriminator!r}")
    return {
        "title": BOOTH_EVENT_SCHEMA,
        "description": EVENT_DOC.replace("\n", " "),
        "oneOf": schema.pop("oneOf"),
        "discriminator": discriminator["propertyName"],
        **schema,
    }


def _command_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    """``Command`` plus the ``cmd`` enum and, per command, its args schema."""
    schema = _model_schema(lm.Command, schemas)
    schema["properties"]["cmd"]["enum"] = list(lm.COMMAND_ARGS)
    branches = []
    for name, args_model in lm.COMMAND_ARGS.items():
        doc = COMMAND_DOCS.get(name)
        branches.append(
            {
                "description": f"{name}: {doc.summary}" if doc else name,
                "if": {"properties": {"cmd": {"const": name}}, "required": ["cmd"]},
                "then": {
                    "properties": {"args": {"$ref": SCHEMA_REF.format(model=args_model.__name__)}}
                },
            }
        )
    schema["allOf"] = branches
    return schema


def _schema_name(model: type[lm.Message] | TypeAdapter[lm.AnyBoothEvent]) -> str:
    return BOOTH_EVENT_SCHEMA if isinstance(model, TypeAdapter) else model.__name__


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    _add(
        schemas,
        "Availability",
        {
            "type": "string",
            "enum": [lm.ONLINE, lm.OFFLINE],
            "description": "Plain text (not JSON): exactly `online` or `offline`.",
        },
    )
    for message_id, model in MESSAGE_MODELS.items():
        if isinstance(model, TypeAdapter):
            schema = _event_schema(schemas)
        elif message_id == "command":
            schema = _command_schema(schemas)
        else:
            schema = _model_schema(model, schemas)
        _add(schemas, _schema_name(model), schema)
    for args_model in dict.fromkeys(lm.COMMAND_ARGS.values()):
        _add(schemas, args_model.__name__, _model_schema(args_model, schemas))
    return schemas


def _doc(model: type[lm.Message]) -> str:
    """A model's docstring as Markdown (dedented, RST literals as Markdown code)."""
    return inspect.cleandoc(model.__doc__ or "").replace("``", "`")


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line, no column break."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _commands_description() -> str:
    rows = []
    for name, args_model in lm.COMMAND_ARGS.items():
        doc = COMMAND_DOCS.get(name, CommandDoc("", ""))
        rows.append((f"`{name}`", f"`{args_model.__name__}`", doc.summary, doc.refused))
    table = _table(("cmd", "args schema", "what it does", "also refused when"), rows)
    return (
        f"{_doc(lm.Command)}\n\n{COMMAND_REFUSALS}\n{table}\n\n"
        "`error` is a human-readable reason, e.g. `invalid command: args.brightness: ...`, "
        "`expired at ...`, `refused: ...` (not in this state) or `failed: ...` (the device "
        "failed while executing it).\n"
    )


def _event_description() -> str:
    fields = event_data_fields()
    rows = [
        (
            f"`{event_type}`",
            f"`{fields[event_type]}`",
            _cell(_doc(body)),
            f"`{lm.EVENT_MODELS[event_type].__name__}` / `{body.__name__}`",
        )
        for event_type, body in lm.EVENT_BODIES.items()
    ]
    table = _table(("type", "data", "meaning", "schema (envelope / data)"), rows)
    return (
        f"{EVENT_DOC}\n\nEvery event type has its own schema: an envelope (`id`, `booth`, `seq`, "
        "`ts`, `type` as a constant, `data`) and the schema of its `data`; the payload is one of "
        "the envelopes, told apart by `type` (the discriminator). Event types and their `data` "
        f"fields (`?`: optional; unknown fields are rejected):\n\n{table}\n"
    )


def _call_description() -> str:
    rows = [(f"`{t}`", text) for t, text in CALL_TYPES_DOC.items()]
    table = _table(("type", "meaning"), rows)
    return (
        f"{_doc(lm.CallControl)} `session` is the visit the call belongs to. A message that "
        "is not valid JSON, has no `id` or does not match the schema is not answered; the booth "
        f"publishes an `event` of type `protocol_error` instead.\n\n{table}\n"
    )


def _message_descriptions() -> dict[str, str]:
    return {
        "availability": "Plain text `online` or `offline` (retained; the last will is `offline`).",
        "boothState": _doc(lm.BoothState),
        "boothHealth": _doc(lm.BoothHealth),
        "boothEvent": _event_description(),
        "command": _commands_description(),
        "commandResult": _doc(lm.CommandResult),
        "callControl": _call_description(),
        "mediaControl": _doc(lm.MediaControl),
        "mediaReport": _doc(lm.MediaReport),
    }


def _check_example(message_id: str, payload: Any) -> None:
    """A wrong example fails generation."""
    model = MESSAGE_MODELS.get(message_id)
    if model is None:
        if payload not in (lm.ONLINE, lm.OFFLINE):
            raise ValueError(f"bad availability example {payload!r}")
    elif isinstance(model, TypeAdapter):
        model.validate_python(payload)
    else:
        parsed = model.model_validate(payload)
        if isinstance(parsed, lm.Command):
            parsed.parsed_args()


def _messages() -> dict[str, Any]:
    examples = _examples()
    descriptions = _message_descriptions()
    messages: dict[str, Any] = {
        "availability": {
            "name": "Availability",
            "title": "Availability",
            "summary": MESSAGE_SUMMARIES["availability"],
            "contentType": "text/plain",
            "payload": {"$ref": SCHEMA_REF.format(model="Availability")},
        }
    }
    for message_id, model in MESSAGE_MODELS.items():
        name = _schema_name(model)
        messages[message_id] = {
            "name": name,
            "title": name,
            "summary": MESSAGE_SUMMARIES[message_id],
            "contentType": "application/json",
            "payload": {"$ref": SCHEMA_REF.format(model=name)},
        }
    for message_id, message in messages.items():
        message["description"] = descriptions[message_id]
        for _, payload in examples[message_id]:
            _check_example(message_id, payload)
        message["examples"] = [
            {"name": name, "payload": copy.deepcopy(payload)}
            for name, payload in examples[message_id]
        ]
    return messages


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for ch in CHANNELS:
        channel: dict[str, Any] = {
            "address": ch.address,
            "title": ch.title,
            "description": ch.description,
        }
        if f"{{{BOOTH_PARAM}}}" in ch.address:
            channel["parameters"] = {
                BOOTH_PARAM: {"$ref": f"#/components/parameters/{BOOTH_PARAM}"}
            }
        channel["messages"] = {ch.message: {"$ref": f"#/components/messages/{ch.message}"}}
        channels[ch.id] = channel
    return channels


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for ch in CHANNELS:
        action = "send" if ch.sender == "booth" else "receive"
        retained = "retained" if ch.retain else "not retained"
        who = "The booth publishes" if action == "send" else "The booth subscribes to"
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{ch.id}"},
            "title": f"{action} {ch.title.lower()}",
            "description": f"{who} `{ch.address}` (QoS 1, {retained}).",
            "bindings": {
                "mqtt": {"qos": 1, "retain": ch.retain, "bindingVersion": MQTT_BINDING_VERSION}
            },
            "messages": [{"$ref": f"#/channels/{ch.id}/messages/{ch.message}"}],
        }
        if ch.id == "cmd":
            operation["reply"] = {
                "channel": {"$ref": "#/channels/cmdResult"},
                "messages": [{"$ref": "#/channels/cmdResult/messages/commandResult"}],
            }
        operations[ch.operation] = operation
    return operations


def _servers() -> dict[str, Any]:
    mqtt_binding = {
        "clientId": f"lisa-booth-{{{BOOTH_PARAM}}}",
        "cleanSession": False,
        "lastWill": {
            "topic": f"{BOOTH_BASE}/availability",
            "qos": 1,
            "message": lm.OFFLINE,
            "retain": True,
        },
        "keepAlive": lm.DEFAULT_KEEPALIVE,
        "bindingVersion": MQTT_BINDING_VERSION,
    }
    return {
        "production": {
            "host": "{broker}:8883",
            "protocol": "mqtts",
            "protocolVersion": "3.1.1",
            "title": "Production broker",
            "description": (
                "The LISA Mosquitto broker over TLS (server certificate checked against the "
                "configured CA). A booth's user name is its booth id; the bridge logs in as "
                "`bridge`. The broker's pattern ACL lets a booth publish and read only its own "
                f"topics under `{lm.ROOT}/booth/<its id>/` and read `{lm.BRIDGE_AVAILABILITY}`. "
                "The bindings show a booth's connection (defaults of the booth config `[mqtt]`); "
                "the bridge has its own client id and its last will on "
                f"`{lm.BRIDGE_AVAILABILITY}`."
            ),
            "variables": {
                "broker": {
                    "default": "mqtt.example.org",
                    "description": "Host name of the broker (booth config `mqtt.url`).",
                }
            },
            "security": [{"$ref": "#/components/securitySchemes/userPassword"}],
            "bindings": {"mqtt": mqtt_binding},
        },
        "embedded-demo": {
            "host": "127.0.0.1:{port}",
            "protocol": "mqtt",
            "protocolVersion": "3.1.1",
            "title": "Embedded demo broker",
            "description": (
                "The broker embedded in the demo and the tests (amqtt), on the loopback "
                "interface only: anonymous, no TLS. Never reachable from the network."
            ),
            "variables": {
                "port": {
                    "default": "1883",
                    "description": "TCP port; the demo may pick a free one (it says which).",
                }
            },
            "bindings": {"mqtt": copy.deepcopy(mqtt_binding)},
        },
    }


# ----------------------------------------------------------------------------- the document
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the MQTT contract as a plain (JSON-compatible) dict."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "LISA booth ⇄ bridge MQTT contract",
            "version": DOC_VERSION,
            "description": INFO_DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": _schemas(),
            "messages": _messages(),
            "parameters": {
                BOOTH_PARAM: {
                    "description": (
                        "The booth id (booth config `booth.id`): lower-case letters, digits and "
                        f"`-`, matching `{lm.BOOTH_ID_PATTERN}`."
                    ),
                    "examples": [EXAMPLE_BOOTH],
                    "x-pattern": lm.BOOTH_ID_PATTERN,
                }
            },
            "securitySchemes": {
                "userPassword": {
                    "type": "userPassword",
                    "description": (
                        "MQTT user name and password (booth config); always over TLS (`mqtts`)."
                    ),
                }
            },
        },
    }


def asyncapi_yaml() -> str:
    """The document as YAML (stable: insertion order, multi-line strings as ``|`` blocks)."""
    import yaml  # type: ignore[import-untyped]  # dev dependency, only needed to dump

    class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
        pass

    def _str(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    text: str = yaml.dump(
        asyncapi_document(),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text
