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
``lisa/v1/bridge/availability``  bridge→   1, ret.    ``online`` / ``offline`` (last will)
============================  ===========  =========  ==========================================

Timestamps are RFC 3339 UTC strings (``2026-11-28T20:10:52.123Z``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROTOCOL_VERSION = "v1"
ROOT = f"lisa/{PROTOCOL_VERSION}"
BOOTH_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
BRIDGE_AVAILABILITY = f"{ROOT}/bridge/availability"
ONLINE = "online"
OFFLINE = "offline"

BoothId = Annotated[str, Field(pattern=BOOTH_ID_PATTERN, description="Booth id")]
Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
        description="RFC 3339 UTC timestamp",
        examples=["2026-11-28T20:10:52.123Z"],
    ),
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
    state: Literal[
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
    detail: str = Field(description="Full state incl. sub-state, e.g. in_call.signing")
    since: Timestamp
    session: str | None = Field(None, description="Random id of the current visit, if any")
    door: str | None = None
    sign: str | None = None
    screen: str | None = None
    emergency: bool = False
    software: str = Field("", description="Booth software version")


EVENT_TYPES = (
    "state",  # {state, detail}
    "call_requested",  # {session}
    "call_ended",  # {session, reason}
    "presence",  # {present}
    "door",  # {position} or {obstructed}
    "emergency",  # {active}
    "health",  # {device, status, reason}
    "selftest",  # {device, outcome, message}
    "maintenance",  # {enter, by}
    "command",  # {id, cmd, ok, error} — audit of remote commands
    "protocol_error",  # {error, topic}
    "error",  # {where, error}
)


class BoothEvent(Message):
    """QoS 1 on ``event``. Written to the booth's outbox before sending; consumers de-duplicate
    by ``id`` (and ``seq``, which grows by one per event of a booth, across restarts)."""

    id: str = Field(min_length=8, max_length=64, description="Unique event id")
    booth: BoothId
    seq: int = Field(ge=1, description="Per-booth sequence number")
    ts: Timestamp
    type: Literal[
        "state",
        "call_requested",
        "call_ended",
        "presence",
        "door",
        "emergency",
        "health",
        "selftest",
        "maintenance",
        "command",
        "protocol_error",
        "error",
    ]
    data: dict[str, Any] = Field(default_factory=dict)


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
            raise ValueError(f"unknown command {value!r} (known: {', '.join(COMMAND_ARGS)})")
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


def validation_message(exc: Exception) -> str:
    """A one-line, field-naming summary of a pydantic ValidationError."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "(message)"
        msg = "unknown field" if err.get("type") == "extra_forbidden" else err.get("msg", "")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
