"""Device interfaces (one ``typing.Protocol`` per device class).

Every device reports health (``ok / degraded / unavailable`` with reason and since), runs an
``async selftest()`` and pushes :mod:`hal.events` to its subscribers. Actuator methods only *ask*
the hardware; the certified door operator and the PLC own hard safety.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from hal.events import (
    CameraControls,
    CameraRole,
    DeviceEvent,
    DeviceKind,
    DoorPosition,
    Frame,
    LightScene,
    SignState,
)
from hal.health import Health, SelftestResult

Listener = Callable[[DeviceEvent], None]


@runtime_checkable
class Device(Protocol):
    name: str
    kind: DeviceKind

    def health(self) -> Health: ...

    async def start(self) -> None:
        """Open the hardware. Must not raise for missing hardware: report health instead."""
        ...

    async def stop(self) -> None: ...

    async def selftest(self) -> SelftestResult: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener for this device's events; returns the unsubscribe function."""
        ...


@runtime_checkable
class PresenceSensor(Device, Protocol):
    """Sonar distance sensor. Emits ``DistanceSample`` events at its sample rate."""

    def last_distance(self) -> float | None:
        """Latest raw reading in metres (``None``: no echo or no reading yet)."""
        ...


@runtime_checkable
class Door(Device, Protocol):
    """Motorised door. Locking means *no entry from outside*; egress is never blocked."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def lock_entry(self) -> None: ...

    async def unlock_entry(self) -> None: ...

    def position(self) -> DoorPosition: ...

    def obstructed(self) -> bool: ...

    def entry_locked(self) -> bool: ...


@runtime_checkable
class LightChannel(Device, Protocol):
    """Inside light (scene + brightness 0..1) and the outside status light."""

    async def set_scene(self, scene: LightScene, brightness: float) -> None: ...

    async def set_sign(self, sign: SignState) -> None: ...

    def scene(self) -> tuple[LightScene, float]: ...

    def sign(self) -> SignState: ...


@runtime_checkable
class Plc(Device, Protocol):
    """PLC: digital I/O, registers, emergency input, dead-man heartbeat."""

    async def read_input(self, name: str) -> bool: ...

    async def write_output(self, name: str, value: bool) -> None: ...

    async def read_register(self, address: int) -> int: ...

    async def write_register(self, address: int, value: int) -> None: ...

    def emergency_active(self) -> bool: ...

    async def heartbeat(self) -> None:
        """Advance the heartbeat the PLC watches; without it the PLC falls back to safe defaults."""
        ...


@runtime_checkable
class NfcReader(Device, Protocol):
    """Emits ``CardPresented`` (salted UID hash + ATR) and ``CardRemoved``."""

    def card_present(self) -> bool: ...


@runtime_checkable
class SignaturePad(Device, Protocol):
    """Pen pad: emits ``PenSamples`` (x, y, pressure 0..1023, t) while enabled."""

    sample_rate_hz: int
    width: int
    height: int

    async def enable(self) -> None: ...

    async def disable(self) -> None: ...

    async def clear(self) -> None: ...

    def enabled(self) -> bool: ...


@runtime_checkable
class Camera(Device, Protocol):
    role: CameraRole

    async def grab(self) -> Frame:
        """Grab one frame; raises ``DeviceError`` when the camera cannot deliver one."""
        ...

    async def set_controls(self, controls: CameraControls) -> CameraControls:
        """Apply the controls that are not None; returns the controls now in effect."""
        ...

    def controls(self) -> CameraControls: ...


@runtime_checkable
class AudioIO(Device, Protocol):
    async def input_level(self, duration: float = 0.2) -> float:
        """Measured input level over ``duration`` seconds in dBFS (-120.0 for silence)."""
        ...

    async def play_test_tone(self, frequency: float = 1000.0, duration: float = 0.5) -> None: ...

    async def set_induction_loop(self, on: bool) -> None: ...

    def induction_loop(self) -> bool: ...


#: Sample rate of :class:`AudioStreams` (mono, signed 16-bit little-endian samples).
STREAM_RATE = 48_000


@runtime_checkable
class AudioStreams(Protocol):
    """Live audio of a call: the microphone as a stream of blocks, the loudspeaker as a queue.

    Both sides are mono s16le at :data:`STREAM_RATE` and open lazily on first use.
    """

    async def read_audio(self, frames: int) -> bytes:
        """The next ``frames`` captured samples (``2 * frames`` bytes); waits until the device
        has captured them, so a caller is paced by the device in real time. Raises
        ``DeviceError`` when the microphone cannot deliver."""
        ...

    async def write_audio(self, pcm: bytes) -> None:
        """Queue ``pcm`` for playback and return at once. At most ~200 ms stay queued (the
        oldest samples are dropped), so the loudspeaker's latency stays bounded."""
        ...

    def stop_streams(self) -> None:
        """Close the streams that are open (idempotent; the next read/write opens again)."""
        ...


class DeviceError(Exception):
    """A device could not do what was asked; the message says what and why."""


PROTOCOLS: dict[DeviceKind, type] = {
    DeviceKind.PRESENCE: PresenceSensor,
    DeviceKind.DOOR: Door,
    DeviceKind.LIGHT: LightChannel,
    DeviceKind.PLC: Plc,
    DeviceKind.NFC: NfcReader,
    DeviceKind.SIGNATURE: SignaturePad,
    DeviceKind.CAMERA: Camera,
    DeviceKind.AUDIO: AudioIO,
}
