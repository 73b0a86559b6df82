"""The MQTT contract v1 between booths and the cloud bridge: topics and message models.

The one small module ``booth/`` and ``cloud_bridge/`` both depend on (they never import each
other). MQTT 3.1.1 features only: QoS 1, retained messages, last will. ``docs/asyncapi.yaml`` is
generated from these models (``lisa booth asyncapi``); a test fails when it is stale.

Topic root ``lisa/v1/booth/{booth_id}/``:

============================  ===========  =========  ==========================================
topic                         direction    QoS/ret.   payload
============================  ===========  =========  ==========================================
``availability``              booth→       1, ret.    ``online`` / ``offline`` (last will)
``state``                     booth→       1, ret.    :class:`BoothState`
``health``                    booth→       1, ret.    :class:`BoothHealth`
``event``                     booth→       1          :class:`BoothEvent` (unique id, per-booth seq)
``cmd``                       →booth       1          :class:`Command`
``cmd/result``                booth→       1          :class:`CommandResult`
``call``                      →booth       1          :class:`CallControl`
``media``                     →booth       1          :class:`MediaControl` (WebRTC signalling)
``media/out``                 booth→       1          :class:`MediaReport` (WebRTC signalling)
``lisa/v1/bridge/availability``  bridge→   1, ret.    ``online`` / ``offline`` (last will)
============================  ===========  =========  ==========================================

Timestamps are RFC 3339 UTC strings (``2026-11-28T20:10:52.123Z``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

PROTOCOL_VERSION = "v1"
ROOT = f"lisa/{PROTOCOL_VERSION}"
BOOTH_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
BRIDGE_AVAILABILITY = f"{ROOT}/bridge/availability"
ONLINE = "online"
OFFLINE = "offline"
#: MQTT keepalive (s) of a booth unless its config says otherwise (booth config ``mqtt.keepalive``)
DEFAULT_KEEPALIVE = 15

#: how many characters of a received value an answer, an error or an audit entry echoes
ECHO_MAX = 64


def shorten(value: object, limit: int = ECHO_MAX) -> str:
    """``value`` as text for echoing it back: at most ``limit`` characters (then "…"), and
    always encodable as UTF-8 (lone surrogates are escaped)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _real_time(text: str) -> str:
    """A timestamp that matches the pattern must also be a real time (no 30 February)."""
    try:
        parse_rfc3339(text)
    except ValueError:
        raise ValueError("not a valid date and time") from None
    return text


BoothId = Annotated[str, Field(pattern=BOOTH_ID_PATTERN, description="Booth id")]
Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
        description="RFC 3339 UTC timestamp",
        examples=["2026-11-28T20:10:52.123Z"],
    ),
    AfterValidator(_real_time),
]


def now_rfc3339(dt: datetime | None = None) -> str:
    dt = (dt or datetime.now(UTC)).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class Topics:
    """Topic names of one booth."""

    def __init__(self, booth_id: str) -> None:
        if not re.match(BOOTH_ID_PATTERN, booth_id):
            raise ValueError(f"invalid booth id {booth_id!r}")
        self.booth_id = booth_id
        base = f"{ROOT}/booth/{booth_id}"
        self.base = base
        self.availability = f"{base}/availability"
        self.state = f"{base}/state"
        self.health = f"{base}/health"
        self.event = f"{base}/event"
        self.cmd = f"{base}/cmd"
        self.cmd_result = f"{base}/cmd/result"
        self.call = f"{base}/call"
        self.media = f"{base}/media"
        self.media_out = f"{base}/media/out"

    @staticmethod
    def all_booths(leaf: str) -> str:
        """Wildcard subscription for one leaf of every booth, e.g. ``event``."""
        return f"{ROOT}/booth/+/{leaf}"

    @staticmethod
    def booth_of(topic: str) -> str | None:
        parts = topic.split("/")
        if len(parts) >= 4 and parts[0] == "lisa" and parts[2] == "booth":
            return parts[3]
        return None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


TopState = Literal[
    "booting",
    "selftest",
    "idle",
    "occupied",
    "queued",
    "in_call",
    "farewell",
    "privacy_reset",
    "offline",
    "fault",
    "maintenance",
    "emergency",
]


# --------------------------------------------------------------------------------- booth → bridge
class DeviceHealth(Message):
    status: Literal["ok", "degraded", "unavailable"]
    reason: str = ""
    since: Timestamp | None = None
    critical: bool = False
    selftest: Literal["pass", "fail", "error", "not-present"] | None = None


class BoothHealth(Message):
    """Retained on ``health``: the health of every device."""

    booth: BoothId
    ts: Timestamp
    in_service: bool = Field(description="False when a critical device is unavailable")
    devices: dict[str, DeviceHealth]


class BoothState(Message):
    """Retained on ``state``: what the booth is doing now."""

    booth: BoothId
    ts: Timestamp
    state: TopState
    detail: str = Field(description="Full state incl. sub-state, e.g. in_call.signing")
    since: Timestamp
    session: str | None = Field(None, description="Random id of the current visit, if any")
    door: str | None = None
    sign: str | None = None
    screen: str | None = None
    emergency: bool = False
    software: str = Field("", description="Booth software version")


# ----------------------------------------------------------------------------- booth events
# Every event type has its own model: the ``data`` body (what the booth reports) and the envelope
# (``id``, ``booth``, ``seq``, ``ts``, ``type``, ``data``) that carries it on ``event``. The booth
# controller emits bodies through its central link; the link wraps them (:func:`envelope`); the
# bridge gets the envelope back as a typed object (:func:`parse_booth_event`).


class EventBody(Message):
    """The ``data`` of a booth event; ``event_type`` names the envelope's ``type``."""

    event_type: ClassVar[str]


class StateReport(EventBody):
    """The booth's state changed."""

    event_type: ClassVar[str] = "state"
    state: TopState
    detail: str = Field(description="Full state incl. sub-state, e.g. in_call.signing")


class CallRequest(EventBody):
    """A citizen is in the booth: the booth asks for a call."""

    event_type: ClassVar[str] = "call_requested"
    session: str = Field(min_length=1, max_length=64, description="Random id of the visit")


class CallEnd(EventBody):
    """The booth ended the call (citizen left, emergency, fault, maintenance, link lost)."""

    event_type: ClassVar[str] = "call_ended"
    session: str = Field(min_length=1, max_length=64)
    reason: str = Field(
        "", max_length=64, description="e.g. citizen_left, emergency, link_lost, fault"
    )


class PresenceReport(EventBody):
    """The presence filter decided that someone is (or is no longer) in the booth."""

    event_type: ClassVar[str] = "presence"
    present: bool


class DoorReport(EventBody):
    """The door moved (``position``) or its obstruction sensor changed (``obstructed``)."""

    event_type: ClassVar[str] = "door"
    position: Literal["open", "closed", "opening", "closing", "stopped", "unknown"] | None = None
    obstructed: bool | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DoorReport:
        if (self.position is None) == (self.obstructed is None):
            raise ValueError("a door event has either 'position' or 'obstructed'")
        return self


class EmergencyReport(EventBody):
    """The emergency / fire input of the PLC changed."""

    event_type: ClassVar[str] = "emergency"
    active: bool


class HealthReport(EventBody):
    """A device's health changed."""

    event_type: ClassVar[str] = "health"
    device: str = Field(description="Device slot, e.g. door, camera_document")
    status: Literal["ok", "degraded", "unavailable"]
    reason: str = ""


class SelftestReport(EventBody):
    """A device self-test finished."""

    event_type: ClassVar[str] = "selftest"
    device: str
    outcome: Literal["pass", "fail", "error", "not-present"]
    message: str = ""


class MaintenanceReport(EventBody):
    """A technician started or ended maintenance (badge, diag or a remote command)."""

    event_type: ClassVar[str] = "maintenance"
    enter: bool
    by: str = Field("", max_length=80, description="badge, diag or remote:<account>")


class CommandAudit(EventBody):
    """Audit of a remote command: executed (``ok``) or refused (``error`` says why)."""

    event_type: ClassVar[str] = "command"
    id: str
    cmd: str | None = None
    ok: bool
    error: str | None = None
    by: str = ""


class ProtocolErrorReport(EventBody):
    """A message the booth received could not be used (not JSON, no id, wrong schema)."""

    event_type: ClassVar[str] = "protocol_error"
    topic: str
    error: str


class ErrorReport(EventBody):
    """Something failed at the booth (a device, a transition); no personal data."""

    event_type: ClassVar[str] = "error"
    where: str
    error: str


class _Envelope(Message):
    id: str = Field(min_length=8, max_length=64, description="Unique event id")
    booth: BoothId
    seq: int = Field(ge=1, description="Per-booth sequence number")
    ts: Timestamp


class StateEvent(_Envelope):
    type: Literal["state"]
    data: StateReport


class CallRequestedEvent(_Envelope):
    type: Literal["call_requested"]
    data: CallRequest


class CallEndedEvent(_Envelope):
    type: Literal["call_ended"]
    data: CallEnd


class PresenceEvent(_Envelope):
    type: Literal["presence"]
    data: PresenceReport


class DoorEvent(_Envelope):
    type: Literal["door"]
    data: DoorReport


class EmergencyEvent(_Envelope):
    type: Literal["emergency"]
    data: EmergencyReport


class HealthEvent(_Envelope):
    type: Literal["health"]
    data: HealthReport


class SelftestEvent(_Envelope):
    type: Literal["selftest"]
    data: SelftestReport


class MaintenanceEvent(_Envelope):
    type: Literal["maintenance"]
    data: MaintenanceReport


class CommandEvent(_Envelope):
    type: Literal["command"]
    data: CommandAudit


class ProtocolErrorEvent(_Envelope):
    type: Literal["protocol_error"]
    data: ProtocolErrorReport


class ErrorEvent(_Envelope):
    type: Literal["error"]
    data: ErrorReport


AnyBoothEvent = (
    StateEvent
    | CallRequestedEvent
    | CallEndedEvent
    | PresenceEvent
    | DoorEvent
    | EmergencyEvent
    | HealthEvent
    | SelftestEvent
    | MaintenanceEvent
    | CommandEvent
    | ProtocolErrorEvent
    | ErrorEvent
)
BoothEvent = Annotated[AnyBoothEvent, Field(discriminator="type")]
"""QoS 1 on ``event``: one of the event models, told apart by ``type``. Written to the booth's
outbox before sending; consumers de-duplicate by ``id``; ``seq`` grows by one per event of a
booth, across restarts."""

BOOTH_EVENT: TypeAdapter[AnyBoothEvent] = TypeAdapter(BoothEvent)
EVENT_MODELS: dict[str, type[_Envelope]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(AnyBoothEvent)
}
EVENT_BODIES: dict[str, type[EventBody]] = {
    t: cls.model_fields["data"].annotation  # type: ignore[misc]
    for t, cls in EVENT_MODELS.items()
}
EVENT_TYPES = tuple(EVENT_MODELS)


def envelope(body: EventBody, *, id: str, booth: str, seq: int, ts: str) -> AnyBoothEvent:
    """Wrap an event body for the ``event`` topic."""
    model = EVENT_MODELS[body.event_type]
    fields = {"id": id, "booth": booth, "seq": seq, "ts": ts, "type": body.event_type, "data": body}
    return cast(AnyBoothEvent, model.model_validate(fields))


def parse_booth_event(data: object) -> AnyBoothEvent:
    """A decoded ``event`` payload as its typed model (raises pydantic's ValidationError)."""
    return BOOTH_EVENT.validate_python(data)


def dump_booth_event(event: AnyBoothEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


class CommandResult(Message):
    """QoS 1 on ``cmd/result``: the answer to a command (the first answer again for a
    repeated id)."""

    id: str
    ok: bool
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    ts: Timestamp


# --------------------------------------------------------------------------------- bridge → booth
class PingArgs(Message):
    pass


class SelftestArgs(Message):
    device: str | None = Field(None, description="One device slot, or all")


class EmptyArgs(Message):
    pass


class LightSetArgs(Message):
    scene: Literal["off", "standby", "consultation", "maintenance", "emergency"] | None = None
    brightness: float | None = Field(None, ge=0.0, le=1.0)
    sign: Literal["free", "occupied", "out-of-service"] | None = None


class DoccamSetArgs(Message):
    zoom: float | None = Field(None, ge=0.0, le=1.0)
    focus: float | None = Field(None, ge=0.0, le=1.0)
    brightness: float | None = Field(None, ge=0.0, le=1.0)


class DisplayShowArgs(Message):
    page: str = Field(description="A booth screen page (booth/screens.py)")
    params: dict[str, str | int | float] = Field(default_factory=dict)


class SignatureRequestArgs(Message):
    document: str = Field("", max_length=200, description="Title of the document to sign")


COMMAND_ARGS: dict[str, type[Message]] = {
    "ping": PingArgs,
    "selftest.run": SelftestArgs,
    "door.open": EmptyArgs,
    "door.close": EmptyArgs,
    "light.set": LightSetArgs,
    "doccam.set": DoccamSetArgs,
    "display.show": DisplayShowArgs,
    "signature.request": SignatureRequestArgs,
    "session.end": EmptyArgs,
    "maintenance.enter": EmptyArgs,
    "maintenance.exit": EmptyArgs,
}


class Command(Message):
    """QoS 1 on ``cmd``. Idempotent by ``id``; refused when expired, unknown or invalid."""

    id: str = Field(min_length=1, max_length=64)
    cmd: str = Field(description="One of: " + ", ".join(COMMAND_ARGS))
    args: dict[str, Any] = Field(default_factory=dict)
    expires_at: Timestamp | None = None
    by: str = Field("", max_length=64, description="Who sent it (agent account), for the audit")

    @field_validator("cmd")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in COMMAND_ARGS:
            raise ValueError(
                f"unknown command {shorten(value)!r} (known: {', '.join(COMMAND_ARGS)})"
            )
        return value

    def parsed_args(self) -> Message:
        return COMMAND_ARGS[self.cmd].model_validate(self.args)


class CallControl(Message):
    """QoS 1 on ``call``: the central side tells the booth what happens to its call."""

    id: str = Field(min_length=1, max_length=64)
    session: str = Field(min_length=1, max_length=64)
    type: Literal[
        "queued",
        "connected",
        "transferring",
        "ended",
        "unavailable",
        "signature_requested",
        "signature_finished",
    ]
    position: int | None = Field(None, ge=1)
    estimated_wait: float | None = Field(None, ge=0)
    queue: str | None = None
    agent: str | None = Field(None, description="Display name shown to the citizen")
    reason: str | None = None
    opening_hours: str | None = None
    phone: str | None = None
    ts: Timestamp


# ----------------------------------------------------------------------------- media
#: the longest SDP accepted in a media message (an SDP of our five m-lines is ~6 kB)
SDP_MAX = 60_000
MediaPeerId = Annotated[
    str,
    Field(
        pattern=r"^(agent|guest):[A-Za-z0-9._-]{1,64}$",
        description="The remote media peer: `agent:<agent id>` or `guest:<invitation id>`",
        examples=["agent:maria", "guest:3f9a1c"],
    ),
]


class IceServer(Message):
    """One STUN/TURN server as WebRTC's ``RTCIceServer`` (credentials minted per peer)."""

    urls: list[Annotated[str, Field(pattern=r"^(stun|turns?):", max_length=300)]] = Field(
        min_length=1, max_length=8
    )
    username: str | None = Field(None, max_length=200)
    credential: str | None = Field(None, max_length=200)


class MediaControl(Message):
    """QoS 1 on ``media``: WebRTC signalling from the bridge to the booth.

    ``join``: ``peer`` (the agent connected to the call, or an invited guest) is ready for media
    — the booth makes a fresh offer to it (also when it already has one: a reloaded page, a
    watchdog on the other side). ``answer``: the peer's SDP answer to the offer ``pc``.
    ``leave``: that peer's media stops. ``stop``: all media of the session stops at once.
    Messages for another ``session`` than the booth's current one are ignored."""

    id: str = Field(min_length=1, max_length=64)
    session: str = Field(min_length=1, max_length=64)
    type: Literal["join", "answer", "leave", "stop"]
    peer: MediaPeerId | None = None
    role: Literal["agent", "interpreter", "clerk"] | None = None
    name: str | None = Field(None, max_length=80, description="Display name for the booth screen")
    pc: str | None = Field(None, min_length=1, max_length=64, description="The offer answered")
    sdp: str | None = Field(None, max_length=SDP_MAX)
    ice_servers: list[IceServer] = Field(default_factory=list, max_length=8)
    reason: str | None = Field(None, max_length=200)
    ts: Timestamp

    @model_validator(mode="after")
    def _fields_of_type(self) -> MediaControl:
        need = {"join": ("peer", "role"), "answer": ("peer", "pc", "sdp"), "leave": ("peer",)}
        missing = [f for f in need.get(self.type, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} message needs {', '.join(missing)}")
        return self


class MediaReport(Message):
    """QoS 1 on ``media/out``: WebRTC signalling and media state from the booth.

    ``offer``: the booth's SDP offer ``pc`` for ``peer`` (complete, ICE candidates included:
    no trickle). ``state``: the media of ``peer`` is ``connecting``, ``connected``,
    ``recovering`` (no media for the watchdog's time: a new offer follows) or ``closed``;
    ``devices`` says which media devices work. ``unreachable``: no media with ``peer`` within
    the booth's connect timeout — the bridge offers the call to someone else."""

    id: str = Field(min_length=1, max_length=64)
    session: str = Field(min_length=1, max_length=64)
    type: Literal["offer", "state", "unreachable"]
    peer: MediaPeerId
    pc: str | None = Field(None, min_length=1, max_length=64)
    sdp: str | None = Field(None, max_length=SDP_MAX)
    state: Literal["connecting", "connected", "recovering", "closed"] | None = None
    devices: dict[str, Literal["ok", "degraded", "unavailable"]] = Field(
        default_factory=dict, max_length=16
    )
    reason: str | None = Field(None, max_length=200)
    ts: Timestamp

    @model_validator(mode="after")
    def _fields_of_type(self) -> MediaReport:
        need = {"offer": ("pc", "sdp"), "state": ("state",)}
        missing = [f for f in need.get(self.type, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} message needs {', '.join(missing)}")
        return self


#: the longest :func:`validation_message` (the fields it names come from the message checked)
VALIDATION_MESSAGE_MAX = 500


def validation_message(exc: Exception, limit: int = VALIDATION_MESSAGE_MAX) -> str:
    """A one-line, field-naming summary of a pydantic ValidationError, at most ``limit``
    characters; field names and values from the checked message are shortened."""
    if not isinstance(exc, ValidationError):
        return shorten(exc, limit)
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(shorten(p) for p in err.get("loc", ())) or "(message)"
        msg = "unknown field" if err.get("type") == "extra_forbidden" else err.get("msg", "")
        parts.append(f"{where}: {shorten(msg, limit)}")
    return shorten("; ".join(parts), limit)
