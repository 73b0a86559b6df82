"""The AsyncAPI document of the MQTT contract: fresh, complete, AsyncAPI 3 shaped, and usable to
validate real messages (``lisa_messages.schema_check``). Offline: no network validator."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import lisa_messages as lm
from lisa_messages.asyncapi import (
    CHANNELS,
    COMMAND_DOCS,
    SCHEMA_RULES,
    asyncapi_document,
    asyncapi_yaml,
)
from lisa_messages.schema_check import (
    MessageInvalid,
    asyncapi,
    channel_for_topic,
    validate_message,
)

DOCS = Path(__file__).parents[2] / "docs"
BOOTH = "sim-1"
T = lm.Topics(BOOTH)
TS = "2026-11-28T20:10:52.123Z"


def _payload(obj: Any) -> bytes:
    return obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()


# ------------------------------------------------------------------------------------ freshness
def test_committed_asyncapi_is_fresh() -> None:
    current = (DOCS / "asyncapi.yaml").read_text(encoding="utf-8")
    assert current == asyncapi_yaml(), (
        "docs/asyncapi.yaml is stale: run `lisa booth asyncapi --write docs/asyncapi.yaml`"
    )


def test_generation_is_deterministic_and_yaml_round_trips() -> None:
    assert asyncapi_yaml() == asyncapi_yaml()
    assert yaml.safe_load(asyncapi_yaml()) == asyncapi_document()


# ------------------------------------------------------------------------------------ shape
def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_document_is_asyncapi_3_shaped() -> None:
    doc = asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "LISA booth ⇄ bridge MQTT contract"
    assert doc["info"]["version"] == "1.0.0" and lm.PROTOCOL_VERSION == "v1"
    for key in ("servers", "channels", "operations", "components"):
        assert doc[key], key
    for key in ("schemas", "messages", "parameters", "securitySchemes"):
        assert doc["components"][key], key
    assert doc["servers"]["production"]["protocol"] == "mqtts"
    assert doc["servers"]["production"]["host"].endswith(":8883")
    assert doc["servers"]["production"]["security"]
    assert doc["servers"]["embedded-demo"]["protocol"] == "mqtt"
    assert doc["servers"]["embedded-demo"]["host"].startswith("127.0.0.1:")
    # every $ref anywhere in the document resolves
    for ref in _refs(doc):
        _resolve(doc, ref)


def test_every_operation_references_its_channel_and_message() -> None:
    doc = asyncapi()
    for name, op in doc["operations"].items():
        assert op["action"] in ("send", "receive"), name
        channel_ref = op["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), name
        channel = _resolve(doc, channel_ref)
        assert op["messages"], name
        for message in op["messages"]:
            # AsyncAPI 3: an operation's messages are messages of its channel
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
            assert "payload" in _resolve(doc, _resolve(doc, message["$ref"])["$ref"])
        binding = op["bindings"]["mqtt"]
        assert binding["qos"] == 1
        assert isinstance(binding["retain"], bool)
        assert channel["address"]
    assert "booth's point of view" in doc["info"]["description"]


def test_every_channel_is_documented_with_direction_and_retain() -> None:
    doc = asyncapi()
    addresses = {ch["address"] for ch in doc["channels"].values()}
    base = f"{lm.ROOT}/booth/{{boothId}}"
    for leaf in (
        "availability",
        "state",
        "health",
        "event",
        "cmd",
        "cmd/result",
        "call",
        "media",
        "media/out",
    ):
        assert f"{base}/{leaf}" in addresses, leaf
    assert lm.BRIDGE_AVAILABILITY in addresses
    expected = {
        "availability": ("send", True),
        "state": ("send", True),
        "health": ("send", True),
        "event": ("send", False),
        "cmd": ("receive", False),
        "cmdResult": ("send", False),
        "call": ("receive", False),
        "media": ("receive", False),
        "mediaOut": ("send", False),
        "bridgeAvailability": ("receive", True),
    }
    seen = {}
    for op in doc["operations"].values():
        channel_id = op["channel"]["$ref"].removeprefix("#/channels/")
        seen[channel_id] = (op["action"], op["bindings"]["mqtt"]["retain"])
    assert seen == expected
    param = doc["components"]["parameters"]["boothId"]
    assert param["x-pattern"] == lm.BOOTH_ID_PATTERN
    assert lm.BOOTH_ID_PATTERN in param["description"]
    for channel in doc["channels"].values():
        if "{boothId}" in channel["address"]:
            assert channel["parameters"]["boothId"]["$ref"] == "#/components/parameters/boothId"


def test_every_command_is_documented_with_its_args_schema() -> None:
    doc = asyncapi()
    schemas = doc["components"]["schemas"]
    command = schemas["Command"]
    assert command["properties"]["cmd"]["enum"] == list(lm.COMMAND_ARGS)
    branches = {b["if"]["properties"]["cmd"]["const"]: b for b in command["allOf"]}
    assert set(branches) == set(lm.COMMAND_ARGS) == set(COMMAND_DOCS)
    description = doc["components"]["messages"]["command"]["description"]
    for name, args_model in lm.COMMAND_ARGS.items():
        ref = branches[name]["then"]["properties"]["args"]["$ref"]
        assert ref == f"#/components/schemas/{args_model.__name__}"
        assert args_model.__name__.endswith("Args") and args_model.__name__ in schemas
        assert f"`{name}`" in description
    for rule in ("expired", "unknown", "invalid", "protocol_error", "first result again"):
        assert rule in description, rule


def _ref(model: type[lm.Message]) -> str:
    return f"#/components/schemas/{model.__name__}"


def test_every_event_type_is_documented() -> None:
    doc = asyncapi()
    schemas = doc["components"]["schemas"]
    event = schemas["BoothEvent"]
    assert event["discriminator"] == "type"  # AsyncAPI: the property name
    assert event["oneOf"] == [{"$ref": _ref(lm.EVENT_MODELS[t])} for t in lm.EVENT_TYPES]
    message = doc["components"]["messages"]["boothEvent"]
    assert message["payload"] == {"$ref": "#/components/schemas/BoothEvent"}
    description = message["description"]
    for event_type in lm.EVENT_TYPES:
        envelope, body = lm.EVENT_MODELS[event_type], lm.EVENT_BODIES[event_type]
        properties = schemas[envelope.__name__]["properties"]
        assert properties["type"]["const"] == event_type
        assert properties["data"] == {"$ref": _ref(body)}
        assert schemas[body.__name__]["description"], f"{body.__name__} has no docstring"
        assert f"| `{event_type}` | `{{" in description, event_type
        assert f"`{envelope.__name__}` / `{body.__name__}`" in description, event_type
        for field in body.model_fields:
            assert field in description.split(f"| `{event_type}` | ")[1].split("|")[0], field
    examples = [e["payload"]["type"] for e in message["examples"]]
    assert examples == list(lm.EVENT_TYPES)  # one example per type, each validated below


def test_event_schemas_match_the_models() -> None:
    """The document's event schemas are pydantic's schemas of the per-type models (plus the
    rules pydantic cannot express, e.g. DoorReport's either/or); each name stands for one
    schema."""
    schemas = asyncapi()["components"]["schemas"]
    for event_type in lm.EVENT_TYPES:
        for model in (lm.EVENT_MODELS[event_type], lm.EVENT_BODIES[event_type]):
            generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
            generated.pop("$defs", None)
            assert schemas[model.__name__] == {**generated, **SCHEMA_RULES.get(model, {})}
    names = list(schemas)
    assert len(names) == len(set(names))
    assert not [n for n in names if "__" in n]  # no module-qualified names from a clash


# ------------------------------------------------------------------------------------ validation
VALID: list[tuple[str, Any]] = [
    (T.availability, "online"),
    (T.availability, "offline"),
    (lm.BRIDGE_AVAILABILITY, "online"),
    (
        T.state,
        lm.BoothState(booth=BOOTH, ts=TS, state="idle", detail="idle", since=TS).model_dump(),
    ),
    (
        T.health,
        lm.BoothHealth(
            booth=BOOTH,
            ts=TS,
            in_service=False,
            devices={"door": lm.DeviceHealth(status="unavailable", reason="x", critical=True)},
        ).model_dump(),
    ),
    (
        T.event,
        lm.envelope(
            lm.PresenceReport(present=True), id="e-12345678", booth=BOOTH, seq=1, ts=TS
        ).model_dump(),
    ),
    (
        T.event,
        json.loads(
            lm.dump_booth_event(
                lm.envelope(
                    lm.DoorReport(obstructed=True), id="e-12345679", booth=BOOTH, seq=2, ts=TS
                )
            )
        ),
    ),
    (  # model_dump keeps the None fields: null counts as not given
        T.event,
        lm.envelope(
            lm.CommandAudit(id="c1", ok=True), id="e-1234567a", booth=BOOTH, seq=3, ts=TS
        ).model_dump(),
    ),
    (
        T.event,
        lm.envelope(
            lm.DoorReport(position="open"), id="e-1234567b", booth=BOOTH, seq=4, ts=TS
        ).model_dump(),
    ),
    (T.cmd, {"id": "c1", "cmd": "ping"}),
    (T.cmd, {"id": "c2", "cmd": "selftest.run", "args": {"device": "door"}}),
    (T.cmd, {"id": "c3", "cmd": "door.open", "args": {}, "expires_at": TS, "by": "tech"}),
    (T.cmd, {"id": "c4", "cmd": "light.set", "args": {"scene": "off", "sign": "free"}}),
    (T.cmd, {"id": "c5", "cmd": "doccam.set", "args": {"zoom": 0.5, "focus": None}}),
    (T.cmd, {"id": "c6", "cmd": "display.show", "args": {"page": "call", "params": {"a": 1}}}),
    (T.cmd, {"id": "c7", "cmd": "signature.request", "args": {"document": "Antrag"}}),
    (T.cmd, {"id": "c8", "cmd": "maintenance.enter"}),
    (T.cmd_result, lm.CommandResult(id="c1", ok=False, error="expired", ts=TS).model_dump()),
    (
        T.call,
        lm.CallControl(
            id="k1", session="s1", type="queued", position=1, estimated_wait=0, ts=TS
        ).model_dump(),
    ),
    (T.call, {"id": "k2", "session": "s1", "type": "ended", "reason": "hangup", "ts": TS}),
]


@pytest.mark.parametrize(("topic", "payload"), VALID)
def test_valid_messages_validate(topic: str, payload: Any) -> None:
    validate_message(topic, _payload(payload))


def test_every_example_in_the_document_validates() -> None:
    doc = asyncapi()
    topics = {ch.id: ch.address.replace("{boothId}", BOOTH) for ch in CHANNELS}
    checked = 0
    for channel_id, channel in doc["channels"].items():
        ((_, ref),) = channel["messages"].items()
        message = _resolve(doc, ref["$ref"])
        assert message["examples"], channel_id
        for example in message["examples"]:
            validate_message(topics[channel_id], _payload(example["payload"]))
            checked += 1
    assert checked >= len(doc["channels"])


def test_every_model_is_covered_by_valid_samples() -> None:
    channels = {channel_for_topic(topic).name for topic, _ in VALID}
    assert channels >= {
        "Availability",
        "BoothState",
        "BoothHealth",
        "BoothEvent",
        "Command",
        "CommandResult",
        "CallControl",
    }
    commands = {p["cmd"] for topic, p in VALID if topic == T.cmd}
    assert len(commands) >= 8


INVALID: list[tuple[str, Any, str]] = [
    # (topic, payload, path named in the error)
    (T.cmd, {"cmd": "ping"}, "$.id"),
    (T.cmd, {"id": "c1", "cmd": "reboot"}, "$.cmd"),
    (T.cmd, {"id": "c1", "cmd": "ping", "urgent": True}, "$.urgent"),
    (T.cmd, {"id": 7, "cmd": "ping"}, "$.id"),
    (T.cmd, {"id": "c1", "cmd": "light.set", "args": {"brightness": 1.5}}, "$.args.brightness"),
    (T.cmd, {"id": "c1", "cmd": "light.set", "args": {"colour": "red"}}, "$.args.colour"),
    (T.cmd, {"id": "c1", "cmd": "door.open", "args": {"force": True}}, "$.args.force"),
    (T.cmd, {"id": "c1", "cmd": "display.show", "args": {}}, "$.args.page"),
    (T.cmd, {"id": "c1", "cmd": "ping", "expires_at": "tomorrow"}, "$.expires_at"),
    (T.cmd_result, {"id": "c1", "ok": "yes", "ts": TS}, "$.ok"),
    (T.cmd_result, {"ok": True, "ts": TS}, "$.id"),
    (T.event, {"id": "short", "booth": BOOTH, "seq": 1, "ts": TS, "type": "door"}, "$.id"),
    (T.event, {"id": "e-12345678", "booth": BOOTH, "seq": 0, "ts": TS, "type": "x"}, "$.seq"),
    (T.event, {"id": "e-12345678", "booth": "B!", "seq": 1, "ts": TS, "type": "door"}, "$.booth"),
    (T.event, {"id": "e-12345678", "booth": BOOTH, "seq": 1, "ts": TS, "type": "x"}, "$.type"),
    (T.event, {"id": "e-12345678", "booth": BOOTH, "seq": 1, "ts": TS, "data": {}}, "$.type"),
    (T.state, {"booth": BOOTH, "ts": TS, "state": "idle", "since": TS}, "$.detail"),
    (
        T.health,
        {"booth": BOOTH, "ts": TS, "in_service": True, "devices": {"door": {"status": "meh"}}},
        "$.devices.door.status",
    ),
    (
        T.call,
        {"id": "k1", "session": "s1", "type": "queued", "position": 0, "ts": TS},
        "$.position",
    ),
    (T.call, {"id": "k1", "session": "s1", "type": "paused", "ts": TS}, "$.type"),
    (T.availability, "Online", "$"),
    (T.availability, "online\n", "$"),
    (lm.BRIDGE_AVAILABILITY, '"online"', "$"),
    (T.state, [], "$"),
]


@pytest.mark.parametrize(("topic", "payload", "path"), INVALID)
def test_invalid_messages_are_rejected_naming_the_path(topic: str, payload: Any, path: str) -> None:
    with pytest.raises(MessageInvalid) as info:
        validate_message(topic, _payload(payload))
    assert path in info.value.paths
    text = str(info.value)
    assert text.startswith(f"{topic}: invalid ")
    assert f"{path}:" in text


def test_the_models_agree_with_the_invalid_samples() -> None:
    """Every JSON sample the document rejects is rejected by the pydantic models too (in strict
    mode: the contract has strict JSON types; lax pydantic would take ``"yes"`` for a bool)."""
    models: dict[str, Callable[[str], object]] = {
        "Command": lambda text: lm.Command.model_validate_json(text, strict=True).parsed_args(),
        "CommandResult": lambda text: lm.CommandResult.model_validate_json(text, strict=True),
        "BoothEvent": lambda text: lm.BOOTH_EVENT.validate_json(text, strict=True),
        "BoothState": lambda text: lm.BoothState.model_validate_json(text, strict=True),
        "BoothHealth": lambda text: lm.BoothHealth.model_validate_json(text, strict=True),
        "CallControl": lambda text: lm.CallControl.model_validate_json(text, strict=True),
    }
    for topic, payload, _ in INVALID:
        parse = models.get(channel_for_topic(topic).name)
        if parse is None or not isinstance(payload, dict):
            continue
        with pytest.raises(ValueError):
            parse(json.dumps(payload))


def _event(event_type: str, data: Any) -> dict[str, Any]:
    return {
        "id": "e-12345678",
        "booth": BOOTH,
        "seq": 1,
        "ts": TS,
        "type": event_type,
        "data": data,
    }


WRONG_BODIES: list[tuple[str, Any, str]] = [
    # (type, data that belongs to another type or to none, path named in the error)
    ("door", {"present": True}, "$.data.present"),
    ("presence", {"position": "open"}, "$.data.position"),
    ("state", {"session": "s-1"}, "$.data.session"),
    ("call_requested", {"state": "idle", "detail": "idle"}, "$.data.session"),
    ("presence", {"present": "maybe"}, "$.data.present"),
    ("emergency", {}, "$.data.active"),
    ("door", {}, "$.data"),  # neither position nor obstructed
    ("door", {"position": "open", "obstructed": True}, "$.data"),  # both
    ("command", {"id": "c1", "ok": True, "where": "x"}, "$.data.where"),
]


@pytest.mark.parametrize(("event_type", "data", "path"), WRONG_BODIES)
def test_a_wrong_body_for_its_type_is_rejected_by_model_and_document(
    event_type: str, data: Any, path: str
) -> None:
    payload = _event(event_type, data)
    with pytest.raises(ValidationError):
        lm.parse_booth_event(payload)
    with pytest.raises(ValidationError):
        lm.BOOTH_EVENT.validate_json(json.dumps(payload))
    with pytest.raises(MessageInvalid) as info:
        validate_message(T.event, _payload(payload))
    # judged by the schema of its own type: the error names the body's field, not just "$"
    assert path in info.value.paths, info.value
    assert "$.type" not in info.value.paths


def test_every_event_type_round_trips_through_model_and_document() -> None:
    for example in asyncapi()["components"]["messages"]["boothEvent"]["examples"]:
        event = lm.parse_booth_event(example["payload"])
        assert isinstance(event, lm.EVENT_MODELS[example["payload"]["type"]])
        assert isinstance(event.data, lm.EVENT_BODIES[event.type])
        validate_message(T.event, lm.dump_booth_event(event))


def test_not_json_unknown_topic_and_not_utf8() -> None:
    with pytest.raises(ValueError, match=r"lisa/v1/booth/sim-1/cmd: payload is not valid JSON"):
        validate_message(T.cmd, b"{id: 1}")
    with pytest.raises(ValueError, match="no channel"):
        validate_message("lisa/v1/booth/sim-1/unknown", b"{}")
    with pytest.raises(ValueError, match="no channel"):
        validate_message("lisa/v1/booth/Bad_Id/state", b"{}")
    with pytest.raises(ValueError, match="no channel"):
        validate_message("lisa/v1/booth/sim-1/cmd/result/extra", b"{}")
    with pytest.raises(ValueError, match="not UTF-8"):
        validate_message(T.availability, b"\xff")


def test_channel_for_topic_distinguishes_cmd_and_result() -> None:
    assert channel_for_topic(T.cmd).channel == "cmd"
    assert channel_for_topic(T.cmd_result).channel == "cmdResult"
    assert channel_for_topic(lm.BRIDGE_AVAILABILITY).channel == "bridgeAvailability"
    assert channel_for_topic(lm.Topics("b-2").availability).channel == "availability"


# ------------------------------------------------------------------------------------ protocol.md
EXAMPLE = re.compile(r"^Topic `([^`]+)`:\n\n```(json|text)\n(.*?)\n```$", re.M | re.S)


def test_protocol_md_examples_match_the_contract() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    examples = EXAMPLE.findall(text)
    assert len(examples) == text.count("Topic `") >= 10  # none of them mis-formatted
    for topic, _, body in examples:
        validate_message(topic, body.encode())
    names = {channel_for_topic(topic).name for topic, _, _ in examples}
    assert names == {m["name"] for m in asyncapi()["components"]["messages"].values()}


def test_protocol_md_documents_every_command_event_and_call_type() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    for name in lm.COMMAND_ARGS:
        assert f"| `{name}` |" in text, name
    for event_type in lm.EVENT_TYPES:
        assert f"| `{event_type}` |" in text, event_type
    call_types = asyncapi()["components"]["schemas"]["CallControl"]["properties"]["type"]["enum"]
    for call_type in call_types:
        assert f"| `{call_type}` |" in text, call_type
    for ch in CHANNELS:
        assert f"| `{ch.address}` |" in text, ch.address


def test_contract_state_list_matches_the_state_machine() -> None:
    """lisa_messages cannot import booth (the bridge must not depend on it): keep both in step."""
    from typing import get_args

    from booth.machine import TOP_STATES
    from lisa_messages import BoothState

    assert list(get_args(BoothState.model_fields["state"].annotation)) == TOP_STATES


def test_the_contract_package_imports_nothing_of_ours() -> None:
    """The bridge depends on lisa_messages (with its generator and checker), never on booth."""
    import subprocess
    import sys

    code = (
        "import sys, lisa_messages.asyncapi, lisa_messages.schema_check\n"
        "ours = ('booth', 'cloud_bridge', 'hal', 'drivers', 'sim', 'lisa_common')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ours))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=DOCS.parent, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
