"""HC-SR04 class ultrasonic sonar on two GPIO pins, through gpiozero's ``DistanceSensor``.

How gpiozero reads the sensor: a background thread pings every 60 ms (trigger pulse, then it
times the echo pulse, up to 100 ms) and keeps the median of the last ``queue_len`` good pings;
``distance`` returns that median, clipped to ``max_distance``. This driver reads ``distance``
in a worker thread once every ``sample_interval`` and emits it as a ``DistanceSample`` on the
event loop. A sample is therefore up to one ping cycle old (~60 ms + echo): keep
``sample_interval`` above ~0.1 s so every sample carries a ping that is newer than the previous
sample.

gpiozero silently drops a ping whose echo pulse never came (no power, broken ECHO wire) and keeps
its last good value, so the driver watches the pings itself (a small subclass of
``DistanceSensor`` that timestamps each ping): no good ping for ``stale_after`` seconds is a
failed reading (health DEGRADED, UNAVAILABLE after ``failures_to_unavailable`` in a row).

A reading at ``max_distance`` means no echo (the HC-SR04 sends a ~38 ms pulse, about 6.5 m, when
nothing reflects) and gives the sample ``None``.

Wiring: VCC 5 V, GND, TRIG straight to ``trigger_pin``, ECHO through a 5 V → 3.3 V divider
(e.g. 1 kΩ / 2 kΩ) to ``echo_pin``. Pins are BCM numbers (``23``) or gpiozero pin names
(``"GPIO23"``, ``"BOARD16"``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import threading
import time
import warnings
from typing import Any, Literal

from pydantic import Field

from drivers._sonar import SonarBase, SonarOptions, SonarReadError
from hal.base import DriverContext
from hal.health import HealthStatus

INSTALL_HINT = "pip install lisa[hardware]"

#: How often the driver tries to open the pins again after opening failed (s).
REOPEN_INTERVAL = 5.0


class HcSr04Options(SonarOptions):
    trigger_pin: int | str = Field(
        23, description="GPIO wired to the sensor's TRIG (BCM number or gpiozero pin name)."
    )
    echo_pin: int | str = Field(
        24,
        description="GPIO wired to the sensor's ECHO through a 5 V → 3.3 V divider (BCM number "
        "or gpiozero pin name).",
    )
    queue_len: int = Field(
        1,
        ge=1,
        le=31,
        description="gpiozero's median window over its pings (one ping per ~60 ms). 1: every "
        "sample is the latest ping; the booth's presence pipeline has its own median.",
    )
    pin_factory: Literal["default", "mock"] = Field(
        "default",
        description="'default': gpiozero's pin factory (lgpio on a Raspberry Pi; env "
        "GPIOZERO_PIN_FACTORY overrides). 'mock': a process-wide gpiozero MockFactory "
        "(tests; see drivers.presence_gpio.mock_pin_factory).",
    )
    stale_after: float = Field(
        0.5,
        ge=0.2,
        description="No good ping (echo pulse) for this long (s) makes a reading fail: sensor "
        "without power or ECHO wire broken.",
    )


class _PingLog:
    """What gpiozero's ping thread saw (written by that thread, read by the worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first_good = threading.Event()
        self.pings = 0
        self.failed_in_a_row = 0
        self.last_good: float | None = None  # time.monotonic() of the last ping with an echo
        self.last_error: str | None = None

    def record(self, value: object, error: str | None = None) -> None:
        with self._lock:
            self.pings += 1
            if value is None:
                self.failed_in_a_row += 1
                self.last_error = error
            else:
                self.failed_in_a_row = 0
                self.last_good = time.monotonic()
                self.first_good.set()

    def since_last_good(self) -> float | None:
        with self._lock:
            return None if self.last_good is None else time.monotonic() - self.last_good


@functools.cache
def _sensor_class(gpiozero: Any) -> Any:
    """gpiozero's DistanceSensor, with every ping recorded in a :class:`_PingLog`."""

    class LoggedDistanceSensor(gpiozero.DistanceSensor):  # type: ignore[misc]
        def __init__(self, *args: Any, ping_log: _PingLog, **kwargs: Any) -> None:
            self.lisa_ping_log = ping_log  # before super().__init__ starts the ping thread
            super().__init__(*args, **kwargs)

        def _read(self) -> float | None:
            try:
                value: float | None = super()._read()
            except Exception as exc:  # a dying ping thread would leave a stale value behind
                self.lisa_ping_log.record(None, f"{type(exc).__name__}: {exc}")
                return None
            self.lisa_ping_log.record(value)
            return value

    return LoggedDistanceSensor


class _Sonar:
    """An open gpiozero sensor and its ping log (all methods block: call them in a thread)."""

    def __init__(self, gpiozero: Any, options: HcSr04Options) -> None:
        self.options = options
        self.log = _PingLog()
        self.sensor = _sensor_class(gpiozero)(
            echo=options.echo_pin,
            trigger=options.trigger_pin,
            queue_len=options.queue_len,
            max_distance=options.max_distance,
            partial=True,  # never block in `distance` (a dead sensor would block forever)
            pin_factory=_pin_factory(options.pin_factory),
            ping_log=self.log,
        )

    def wait_first_ping(self, timeout: float) -> bool:
        return self.log.first_good.wait(timeout)

    def read(self) -> float:
        age = self.log.since_last_good()
        if age is None or age > self.options.stale_after:
            detail = f" ({self.log.last_error})" if self.log.last_error else ""
            raise SonarReadError(
                f"no echo pulse from the sensor for more than {self.options.stale_after:g} s"
                f"{detail}: check power and the ECHO wiring (GPIO {self.options.echo_pin})"
            )
        try:
            return float(self.sensor.distance)
        except Exception as exc:
            raise SonarReadError(f"read failed: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.sensor.close()


_mock_factory: Any = None


def mock_pin_factory() -> Any:
    """The process-wide gpiozero ``MockFactory`` behind ``pin_factory = "mock"``.

    A test creates the sonar's pins on it before starting the driver (the trigger pin as a
    ``MockTriggerPin`` wired to the echo pin: ``factory.pin(pin)`` then returns those) and calls
    ``reset()`` afterwards. It is not gpiozero's global ``Device.pin_factory``, so other GPIO
    drivers in the same process keep theirs.
    """
    global _mock_factory
    if _mock_factory is None:
        _mock_factory = importlib.import_module("gpiozero.pins.mock").MockFactory()
    return _mock_factory


def _pin_factory(which: str) -> Any:
    if which == "mock":
        return mock_pin_factory()
    return None  # gpiozero chooses (lgpio on a Pi; honours GPIOZERO_PIN_FACTORY)


class HcSr04Sensor(SonarBase):
    """HC-SR04 sonar on GPIO (see the module docstring for wiring and timing)."""

    Options = HcSr04Options

    def __init__(self, name: str, options: HcSr04Options, context: DriverContext) -> None:
        super().__init__(name, options, context)
        self.options = options
        self._sonar: _Sonar | None = None
        self._gpiozero: Any = None
        self._next_open = 0.0

    async def start(self) -> None:
        if self.running or self._missing is not None:
            return
        try:
            self._gpiozero = importlib.import_module("gpiozero")
        except ImportError as exc:
            self._missing = f"gpiozero is not installed ({exc}): {INSTALL_HINT}"
            self.set_health(HealthStatus.UNAVAILABLE, self._missing)
            return
        # gpiozero warns on every ping without an echo pulse: the health reports that instead;
        # and it suggests the pigpio pin factory, which does not run on a Raspberry Pi 5
        warnings.filterwarnings("ignore", category=self._gpiozero.DistanceSensorNoEcho)
        warnings.filterwarnings(
            "ignore",
            message="For more accurate readings",
            category=self._gpiozero.PWMSoftwareFallback,
        )
        self._reset_counters()
        if await self._open():
            self.set_health(HealthStatus.OK, "")
            await self._tick()  # the first sample now; the sample clock starts after it
        self._start_sampling()

    async def stop(self) -> None:
        await self._stop_sampling()
        sonar, self._sonar = self._sonar, None
        if sonar is not None:
            await asyncio.to_thread(sonar.close)

    async def _open(self) -> bool:
        self._next_open = self.clock.now() + REOPEN_INTERVAL
        try:
            sonar = await asyncio.to_thread(_Sonar, self._gpiozero, self.options)
        except Exception as exc:  # not a Pi, no permission on /dev/gpiochip*, pin busy, ...
            self.set_health(
                HealthStatus.UNAVAILABLE,
                f"cannot open the HC-SR04 (TRIG {self.options.trigger_pin}, ECHO "
                f"{self.options.echo_pin}): {type(exc).__name__}: {exc}",
            )
            return False
        self._sonar = sonar
        await asyncio.to_thread(sonar.wait_first_ping, self.options.stale_after)
        return True

    async def _tick(self) -> None:
        if self._sonar is None:
            if self.clock.now() >= self._next_open and await self._open():
                self._reset_counters()
            else:
                return
        await super()._tick()

    async def _take_reading(self) -> float | None:
        sonar = self._sonar
        if sonar is None:
            raise SonarReadError("sensor not open")
        return await asyncio.to_thread(sonar.read)
