"""Contract rigs of the real presence (sonar) drivers.

- ``hcsr04``: gpiozero's ``MockFactory``; the sensor's far side is a ``MockTriggerPin`` that
  answers every trigger pulse with an echo pulse of ``2 d / c`` on the echo pin.
- ``maxbotix``: a pseudo-terminal pair; the peer is a thread that writes ``R%04d\\r`` (mm) into
  the master side at a steady rate, the driver opens the slave side's path.

Both run on real time (the ping thread and the pty are real). The peers' timing is what a real
sensor does; see :data:`HCSR04_PARAMS` for why the HC-SR04 rig samples every 0.2 s.
"""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind
from hal.registry import load_driver_class

#: gpiozero's speed of sound (m/s), so an echo of ``2 d / SPEED_OF_SOUND`` reads exactly ``d``.
SPEED_OF_SOUND = 343.26
TRIGGER_PIN = 23
ECHO_PIN = 24
EMPTY_DISTANCE = 2.4
#: What an HC-SR04 answers when nothing reflects: a ~38 ms echo pulse (~6.5 m, beyond 4 m).
HCSR04_NO_ECHO_PULSE = 0.038

#: gpiozero pings every 60 ms + echo time, and a sample is the latest ping: after the peer
#: changes the scene a sample can still carry the ping in flight (up to ~40 ms) and only the
#: ping after it (60 ms wait + up to 38 ms echo) is sure to be new, ~140 ms in all. The
#: contract's "the first sample after the stimulus shows it" therefore needs a sample_interval
#: well above that. Measured (40 scene changes each, idle and with two CPU hogs): at 0.1 s 2-4
#: first samples were still the old scene, at 0.15 s and 0.2 s none. The rig uses 0.2 s; the
#: driver's default 0.1 s is fine for the booth, whose median filter and 1.5 s delay do not care
#: about one sample of latency.
HCSR04_PARAMS: dict[str, Any] = {"sample_interval": 0.2, "max_range": 4.0}

#: The MaxBotix peer writes a line every 20 ms (a real LV-MaxSonar: 50 ms, HRLV: ~150 ms); the
#: driver's default sample_interval of 0.1 s then always has a line newer than the stimulus.
MAXBOTIX_PARAMS: dict[str, Any] = {"sample_interval": 0.1, "max_range": 4.0}
MAXBOTIX_LINE_PERIOD = 0.02
#: HRLV-MaxSonar prints its maximum range, R5000 (mm), when nothing is in range.
MAXBOTIX_NO_TARGET_MM = 5000


# --- HC-SR04 on gpiozero's MockFactory ------------------------------------------------------------


def timestamped_pin_classes() -> tuple[type, type]:
    """``(trigger pin class, echo pin class)``: a ``MockTriggerPin`` and a ``MockPin`` whose echo
    edges carry the time they happen at the sensor, not the time the mock's thread gets to run.

    The stock pins stamp each edge with ``monotonic()`` when the echo thread wakes up from
    ``sleep(echo_time)``: 0.1-0.3 ms late when idle (2-5 cm), up to ~10 ms on a busy machine
    (with two CPU hogs one reading in three was off by more than 5 cm, the worst by 1.5 m).
    Real pin libraries (lgpio, pigpio) stamp edges in the kernel or by DMA, so exact stamps are
    the truer model; the pulse still takes ``echo_time`` of real time, so reads are paced like
    the hardware.
    """
    from gpiozero.pins.mock import MockPin, MockTriggerPin, PinState

    class TimestampedEchoPin(MockPin):
        def drive_at(self, state: bool, t: float) -> None:
            assert self._function == "input"
            if self._state == state:
                return
            self.states.append(PinState(t - self._last_change, state))
            self._state = state
            self._last_change = t
            edges = ("both", "rising") if state else ("both", "falling")
            if self._edges in edges and self._when_changed is not None:
                self._call_when_changed()

    class TimestampedTriggerPin(MockTriggerPin):
        def _echo(self) -> None:
            echo_time = self.echo_time
            time.sleep(0.001)
            rise = time.monotonic()
            self.echo_pin.drive_at(True, rise)
            time.sleep(echo_time)
            self.echo_pin.drive_at(False, rise + echo_time)

    return TimestampedTriggerPin, TimestampedEchoPin


class HcSr04Peer:
    """The scene in front of the sonar, expressed as the echo time of the mock trigger pin."""

    def __init__(self, trigger_pin: Any) -> None:
        self.pin = trigger_pin

    def person_at(self, distance: float) -> None:
        self.pin.echo_time = 2 * distance / SPEED_OF_SOUND

    def empty(self) -> None:
        self.person_at(EMPTY_DISTANCE)

    def no_echo(self) -> None:
        self.pin.echo_time = HCSR04_NO_ECHO_PULSE


@asynccontextmanager
async def mock_gpio_sonar() -> AsyncIterator[tuple[Any, Any, HcSr04Peer]]:
    """The sonar's two pins on the driver's mock pin factory: ``(factory, echo pin, peer)``.
    The factory is reset afterwards."""
    from drivers.presence_gpio import mock_pin_factory

    factory = mock_pin_factory()
    factory.reset()
    trigger_class, echo_class = timestamped_pin_classes()
    echo = factory.pin(ECHO_PIN, pin_class=echo_class)
    trigger = factory.pin(
        TRIGGER_PIN,
        pin_class=trigger_class,
        echo_pin=echo,
        echo_time=2 * EMPTY_DISTANCE / SPEED_OF_SOUND,
    )
    try:
        yield factory, echo, HcSr04Peer(trigger)
    finally:
        factory.reset()


def hcsr04_factory(rig_cls: Callable[..., Any]) -> Callable[[DeviceKind], Any]:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        async with mock_gpio_sonar() as (_, _, peer):
            cls = load_driver_class(kind, "hcsr04")
            options = cls.Options(
                trigger_pin=TRIGGER_PIN,
                echo_pin=ECHO_PIN,
                pin_factory="mock",
                max_distance=4.0,
                **HCSR04_PARAMS,
            )
            device = cls("presence-hcsr04", options, DriverContext(clock=LoopClock()))
            await device.start()
            try:
                yield rig_cls(device=device, peer=peer, params=dict(HCSR04_PARAMS))
            finally:
                await device.stop()

    return rig


# --- MaxBotix on a pseudo-terminal ----------------------------------------------------------------


class PtySonar:
    """A MaxBotix on the master side of a pty: writes ``R%04d\\r`` (mm) every ``period`` s.

    ``path`` is the slave side for the driver. ``write`` sends raw bytes (garbage), ``hold()`` /
    ``resume()`` pause the steady lines, ``close()`` hangs up (the port disappears).
    """

    def __init__(self, period: float = MAXBOTIX_LINE_PERIOD) -> None:
        self.period = period
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR translation before the driver opens it
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.reading_mm = round(EMPTY_DISTANCE * 1000)
        self.lines_written = 0
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-sonar", daemon=True)
        self._thread.start()

    # peer API
    def person_at(self, distance: float) -> None:
        self.reading_mm = round(distance * 1000)

    def empty(self) -> None:
        self.person_at(EMPTY_DISTANCE)

    def no_echo(self) -> None:
        self.reading_mm = MAXBOTIX_NO_TARGET_MM

    # test control
    def hold(self) -> None:
        """Stop the steady lines; when this returns no further line is written."""
        with self._lock:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def write(self, data: bytes) -> None:
        """Write bytes now; dropped when nobody reads (the pty buffer is full), like on a wire."""
        try:
            os.write(self.master, data)
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        self._closed.set()
        self._running.set()
        self._thread.join()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def _run(self) -> None:
        while not self._closed.wait(self.period):
            with self._lock:
                if self._running.is_set() and not self._closed.is_set():
                    self.write(b"R%04d\r" % self.reading_mm)
                    self.lines_written += 1


def maxbotix_factory(rig_cls: Callable[..., Any]) -> Callable[[DeviceKind], Any]:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        peer = PtySonar()
        try:
            cls = load_driver_class(kind, "maxbotix")
            options = cls.Options(port=peer.path, unit="mm", max_distance=5.0, **MAXBOTIX_PARAMS)
            device = cls("presence-maxbotix", options, DriverContext(clock=LoopClock()))
            await device.start()
            try:
                yield rig_cls(device=device, peer=peer, params=dict(MAXBOTIX_PARAMS))
            finally:
                await device.stop()
        finally:
            peer.close()

    return rig


RigFactory = Callable[[DeviceKind], AbstractAsyncContextManager[Any]]


def register_rigs(register: Callable[[DeviceKind, str, RigFactory], None]) -> None:
    # the Rig dataclass lives in the contract conftest, whose module name depends on pytest's
    # import mode: take it from the module that hands us ``register``
    rig_cls = register.__globals__["Rig"]
    register(DeviceKind.PRESENCE, "hcsr04", hcsr04_factory(rig_cls))
    register(DeviceKind.PRESENCE, "maxbotix", maxbotix_factory(rig_cls))
