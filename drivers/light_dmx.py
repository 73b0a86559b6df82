"""Inside light and outside sign on DMX512 through a USB–DMX interface (pyserial).

Two interface types (option ``interface``):

- ``"open"`` — Enttec Open DMX USB and clones (a bare FTDI UART): the PC makes the DMX signal.
  The port runs at 250 000 baud, 8N2; every frame is a break (``serial.break_condition`` =
  ``TIOCSBRK``/``TIOCCBRK`` for ``break_time``), a mark-after-break (``mab_time``), then start
  code 0 and 512 slots. Break and MAB lengths are only as exact as the OS sleep (≥ the DMX
  minimum of 92 µs / 12 µs, often a little longer, which DMX allows). We do *not* use the
  "send 0x00 at a lower baud rate" break trick: switching the baud rate costs a USB round trip
  per frame on FTDI adapters and pyserial's break control does the job on a real tty.
- ``"pro"`` — Enttec DMX USB Pro and compatibles: the widget makes the timing; the PC sends
  "Output Only Send DMX Packet" messages ``0x7E, label 6, len LSB, len MSB, 0x00 + 512 slots,
  0xE7``. The more robust choice when the PC is busy (video call), because DMX timing does not
  depend on the PC's scheduler.

Both are supported because both are cheap and common; ``"open"`` is the default as the bare
adapters are what the brief assumed; choose ``"pro"`` for a widget with its own timing.

DMX needs continuous refresh: a background task resends the whole universe ``refresh_hz``
times a second (also with the Pro, which would repeat on its own: the resend doubles as the
check that the interface is still there). A failed open or write makes health ``unavailable``
with the reason; the task reopens the port every ``reconnect_interval`` seconds and health goes
back to ``ok``. Requests while unavailable are kept (sent once it is back) and raise
``DeviceError``.

Channels (1-based DMX addresses): ``inside_channels`` all get the inside level (8 bit,
``round(level * 255)``); ``sign_channels`` are the sign fixture's red, green, blue. Levels per
scene and colours per sign state: :mod:`drivers._lighting`. Blinking is done frame by frame.
``stop()`` stops sending: the fixtures then apply their own DMX-loss behaviour (set them to
"hold last look" or a safe level).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from drivers._lighting import (
    RGB,
    SignStyleOptions,
    blink_phase_on,
    check_brightness,
    output_level,
    sign_look,
)
from hal.base import DeviceBase, DriverContext
from hal.devices import DeviceError
from hal.events import DeviceKind, LightScene, SignState
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

Channel = Annotated[int, Field(ge=1, le=512)]

UNIVERSE = 512
PRO_START = 0x7E
PRO_END = 0xE7
PRO_SEND_DMX = 6


class DmxLightOptions(SignStyleOptions):
    port: str = Field("/dev/ttyUSB0", description="Serial device of the USB–DMX interface.")
    interface: Literal["open", "pro"] = Field(
        "open", description="open: Enttec Open DMX (PC timing); pro: Enttec DMX USB Pro."
    )
    inside_channels: list[Channel] = Field(
        default_factory=lambda: [1],
        min_length=1,
        description="DMX channels (1..512) of the inside dimmer(s); all get the same level.",
    )
    sign_channels: tuple[Channel, Channel, Channel] | None = Field(
        (2, 3, 4), description="DMX channels of the sign's red, green, blue (none: no sign)."
    )
    refresh_hz: float = Field(
        30.0, gt=0.0, le=44.0, description="Universe resends per second (DMX max is about 44)."
    )
    break_time: float = Field(
        0.0002, ge=0.000092, le=0.1, description="Break length, open interface only (s)."
    )
    mab_time: float = Field(
        0.00002, ge=0.000012, le=0.1, description="Mark after break, open interface only (s)."
    )
    write_timeout: float = Field(1.0, gt=0.0, description="A frame write blocked longer fails.")
    reconnect_interval: float = Field(
        2.0, gt=0.0, description="Seconds between attempts to reopen a failed interface."
    )

    @model_validator(mode="after")
    def _distinct_channels(self) -> Self:
        used = [*self.inside_channels, *(self.sign_channels or ())]
        if len(set(used)) != len(used):
            raise ValueError(f"DMX channels must be distinct, got {used}")
        return self


def pro_message(universe: bytes) -> bytes:
    """An Enttec Pro "Output Only Send DMX Packet" (label 6) with start code 0 + ``universe``."""
    payload = b"\x00" + universe
    n = len(payload)
    return bytes([PRO_START, PRO_SEND_DMX, n & 0xFF, n >> 8]) + payload + bytes([PRO_END])


class DmxLight(DeviceBase):
    """Inside dimmer(s) and RGB sign on a DMX universe (see the module docstring)."""

    kind = DeviceKind.LIGHT
    Options = DmxLightOptions

    def __init__(self, name: str, options: DmxLightOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._serial: Any = None
        self._unavailable: str | None = "not started"
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._scene = LightScene.OFF
        self._brightness = 0.0
        self._sign = SignState.OUT_OF_SERVICE
        self._sign_since = 0.0
        self.frames_sent = 0
        self._last_sent: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the port (a missing / wrong port: health ``unavailable``) and start refreshing."""
        if self._task is not None:
            return
        self._sign_since = self.clock.now()
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-dmx")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await asyncio.wait({inflight})  # let a frame being written finish before closing
        self._close_port()
        self._unavailable = "stopped"

    async def _connect(self) -> bool:
        try:
            self._serial = await asyncio.to_thread(self._open_port)
        except Exception as exc:
            self._serial = None
            self._unavailable = f"cannot open DMX port {self.options.port!r}: {exc}"
            self.set_health(HealthStatus.UNAVAILABLE, self._unavailable)
            return False
        self._unavailable = None
        self._last_sent = self.clock.now()
        self.set_health(HealthStatus.OK, "")
        return True

    def _open_port(self) -> Any:
        try:
            import serial
        except ImportError as exc:
            raise RuntimeError(f"pyserial is not installed ({exc})") from None
        if self.options.interface == "open":
            return serial.Serial(
                self.options.port,
                baudrate=250000,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_TWO,
                timeout=0,
                write_timeout=self.options.write_timeout,
            )
        # the Pro is a USB device; the baud rate of its virtual port does not matter
        return serial.Serial(
            self.options.port, baudrate=57600, timeout=0, write_timeout=self.options.write_timeout
        )

    def _close_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    async def _run(self) -> None:
        period = 1.0 / self.options.refresh_hz
        while True:
            if self._serial is None and not await self._connect():
                await self.clock.sleep(self.options.reconnect_interval)
                continue
            started = self.clock.now()
            await self._send(self.universe(started))
            await self.clock.sleep(max(0.0, period - (self.clock.now() - started)))

    async def _send(self, universe: bytes) -> None:
        port = self._serial
        inflight = asyncio.get_running_loop().run_in_executor(None, self._write, port, universe)
        self._inflight = inflight
        try:
            await asyncio.shield(inflight)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._close_port()
            self._unavailable = f"DMX interface on {self.options.port!r} failed: {exc}"
            self.set_health(HealthStatus.UNAVAILABLE, self._unavailable)
            return
        finally:
            if self._inflight is inflight and inflight.done():
                self._inflight = None
        self.frames_sent += 1
        self._last_sent = self.clock.now()

    def _write(self, port: Any, universe: bytes) -> None:
        """One frame (runs in a worker thread: a DMX frame takes ~23 ms on the wire)."""
        if self.options.interface == "pro":
            port.write(pro_message(universe))
            return
        port.break_condition = True
        time.sleep(self.options.break_time)
        port.break_condition = False
        time.sleep(self.options.mab_time)
        port.write(b"\x00" + universe)
        port.flush()  # the frame is out before the next break

    # -- the universe --------------------------------------------------------------------------
    def universe(self, now: float | None = None) -> bytes:
        """The 512 slot values sent at clock time ``now`` (default: now)."""
        if now is None:
            now = self.clock.now()
        data = bytearray(UNIVERSE)
        level = round(output_level(self._scene, self._brightness) * 255)
        for channel in self.options.inside_channels:
            data[channel - 1] = level
        if self.options.sign_channels is not None:
            colour, blinking = sign_look(self._sign, self.options)
            lit = not blinking or blink_phase_on(now - self._sign_since, self.options.blink_period)
            rgb = RGB[colour] if lit else RGB["off"]
            for channel, value in zip(self.options.sign_channels, rgb, strict=True):
                data[channel - 1] = round(value * 255)
        return bytes(data)

    # -- protocol ------------------------------------------------------------------------------
    async def set_scene(self, scene: LightScene, brightness: float) -> None:
        """Set the inside scene (sent with the next frame); ``ValueError`` unless 0..1."""
        scene = LightScene(scene)
        brightness = check_brightness(brightness)
        self._scene, self._brightness = scene, brightness
        self._check()

    async def set_sign(self, sign: SignState) -> None:
        sign = SignState(sign)
        if sign is not self._sign:
            self._sign = sign
            self._sign_since = self.clock.now()
        self._check()

    def scene(self) -> tuple[LightScene, float]:
        return self._scene, self._brightness

    def sign(self) -> SignState:
        return self._sign

    def _check(self) -> None:
        if self._serial is None or self._task is None:
            raise DeviceError(
                f"{self.name}: {self._unavailable}; the value is sent once the interface is back"
            )

    async def selftest(self) -> SelftestResult:
        details: dict[str, Any] = {
            "port": self.options.port,
            "interface": self.options.interface,
            "frames_sent": self.frames_sent,
            "scene": self._scene.value,
            "brightness": self._brightness,
            "sign": self._sign.value,
        }
        if self._serial is None or self._task is None:
            message = f"device unavailable: {self._unavailable}"
            return SelftestResult(self.name, SelftestOutcome.FAIL, message, details)
        age = self.clock.now() - (self._last_sent or 0.0)
        limit = max(1.0, 5.0 / self.options.refresh_hz)
        if age > limit:
            message = f"DMX refresh stalled: no frame for {age:.1f} s"
            return SelftestResult(self.name, SelftestOutcome.FAIL, message, details)
        message = (
            f"DMX {self.options.interface} on {self.options.port} at "
            f"{self.options.refresh_hz:g} Hz; scene {self._scene.value} at "
            f"{self._brightness:.0%}, sign {self._sign.value} (output only: lamps not verified)"
        )
        return SelftestResult(self.name, SelftestOutcome.PASS, message, details)
