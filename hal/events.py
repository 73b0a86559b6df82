"""Value types and the events devices report to whoever subscribed (the booth controller)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hal.health import Health


class DeviceKind(enum.StrEnum):
    PRESENCE = "presence"
    DOOR = "door"
    LIGHT = "light"
    PLC = "plc"
    NFC = "nfc"
    SIGNATURE = "signature"
    CAMERA = "camera"
    AUDIO = "audio"


class DoorPosition(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    OPENING = "opening"
    CLOSING = "closing"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


class LightScene(enum.StrEnum):
    """Inside light scenes."""

    OFF = "off"
    STANDBY = "standby"
    CONSULTATION = "consultation"
    MAINTENANCE = "maintenance"
    EMERGENCY = "emergency"


class SignState(enum.StrEnum):
    """Outside status light / sign."""

    FREE = "free"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out-of-service"


class CameraRole(enum.StrEnum):
    MAIN = "main"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class CameraControls:
    """Normalised camera controls, each 0.0 .. 1.0 (None: the device has no such control)."""

    zoom: float | None = None
    focus: float | None = None
    brightness: float | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera frame. ``data`` is raw pixels in ``pixel_format`` (``gray8`` or ``bgr24``)."""

    width: int
    height: int
    pixel_format: str
    data: bytes
    t: float
    seq: int


@dataclass(frozen=True, slots=True)
class PenSample:
    """One signature pad sample: position in pad units, pressure 0..1023, time in seconds."""

    x: int
    y: int
    pressure: int
    t: float


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device: str
    t: float


@dataclass(frozen=True, slots=True)
class HealthChanged(DeviceEvent):
    health: Health


@dataclass(frozen=True, slots=True)
class DistanceSample(DeviceEvent):
    """A sonar reading in metres; ``None`` means no echo."""

    distance: float | None


@dataclass(frozen=True, slots=True)
class DoorPositionChanged(DeviceEvent):
    position: DoorPosition


@dataclass(frozen=True, slots=True)
class DoorObstructionChanged(DeviceEvent):
    obstructed: bool


@dataclass(frozen=True, slots=True)
class EmergencyChanged(DeviceEvent):
    """The emergency / fire input (through the PLC) changed."""

    active: bool


@dataclass(frozen=True, slots=True)
class PlcInputChanged(DeviceEvent):
    input: str
    value: bool


@dataclass(frozen=True, slots=True)
class CardPresented(DeviceEvent):
    """A card was presented. Only the salted hash of the UID ever leaves the driver."""

    uid_hash: str
    atr: str


@dataclass(frozen=True, slots=True)
class CardRemoved(DeviceEvent):
    pass


@dataclass(frozen=True, slots=True)
class PenSamples(DeviceEvent):
    """A batch of pen samples (drivers batch them; a pad samples at >= 500 Hz)."""

    samples: tuple[PenSample, ...]


@dataclass(frozen=True, slots=True)
class PenContactChanged(DeviceEvent):
    """Stroke boundary of a pen pad that reports the pen's state: ``down`` the pen touches the
    pad (a stroke begins; the ``PenSamples`` that follow belong to it) or left it (the stroke
    ended); ``in_range`` the pen is near enough to be tracked (hovering)."""

    down: bool
    in_range: bool


@dataclass(frozen=True, slots=True)
class SignatureInterrupted(DeviceEvent):
    """The pad was lost while a signature was being captured (unplugged, read error): the ink
    captured since the last ``enable()``/``clear()`` is void (``samples_discarded`` of it), so
    nothing may be signed with it; the signature must be taken again (``clear()``, ``enable()``)."""

    reason: str
    samples_discarded: int
