"""Simulated sonar presence sensor."""

from __future__ import annotations

import math
import random
from collections import deque

from pydantic import Field, model_validator

from hal.base import DriverContext, DriverOptions
from hal.events import DeviceKind, DistanceSample
from hal.health import HealthStatus, SelftestResult
from sim.devices._base import SimDevice

#: What ``garbage()`` makes the sensor read, in turn: negative, NaN, absurdly far, zero, infinite.
GARBAGE_READINGS: tuple[float, ...] = (-1.0, math.nan, 1.0e6, 0.0, math.inf)


class SimPresenceSensorOptions(DriverOptions):
    sample_interval: float = Field(0.1, gt=0.0, description="Seconds between two distance samples.")
    empty_room_distance: float = Field(
        2.4, gt=0.0, description="Reading in metres with nobody inside (the opposite wall)."
    )
    min_range: float = Field(
        0.02, ge=0.0, description="Shortest plausible reading in metres; less is implausible."
    )
    max_range: float = Field(
        4.0, gt=0.0, description="Longest plausible reading in metres; more is implausible."
    )
    noise: float = Field(
        0.0,
        ge=0.0,
        description="Standard deviation in metres of Gaussian noise added to every echo.",
    )
    seed: int = Field(0, description="Seed of the noise generator (runs are reproducible).")
    plausible_to_recover: int = Field(
        3,
        ge=1,
        description="Consecutive plausible readings after which health returns from DEGRADED "
        "('implausible reading') to OK.",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> SimPresenceSensorOptions:
        if self.min_range >= self.max_range:
            raise ValueError("min_range must be below max_range")
        return self


class SimPresenceSensor(SimDevice):
    """A sonar distance sensor that samples every ``sample_interval`` while started.

    Test control:

    - ``person_at(distance)``: somebody is ``distance`` metres away (until changed);
    - ``empty()``: nobody inside, the sensor reads ``empty_room_distance``;
    - ``no_echo()``: readings are ``None`` (no echo) until changed;
    - ``spurious(distance, count=1)``: the next ``count`` samples read ``distance``, then back;
    - ``garbage(count=1)``: the next ``count`` raw readings are nonsense (negative, NaN, ...):
      the driver reports health ``DEGRADED`` "implausible reading" and emits ``None`` samples;
      health returns to ``OK`` after ``plausible_to_recover`` plausible samples;
    - ``fail(reason)`` / ``recover()``: a failed sensor emits no samples.
    """

    kind = DeviceKind.PRESENCE
    Options = SimPresenceSensorOptions

    def __init__(
        self, name: str, options: SimPresenceSensorOptions, context: DriverContext
    ) -> None:
        super().__init__(name, context)
        self.options = options
        self._target: float | None = options.empty_room_distance
        self._spurious: deque[float | None] = deque()
        self._garbage_left = 0
        self._garbage_index = 0
        self._plausible_run = 0
        self._last: float | None = None
        self._random = random.Random(options.seed)
        self.samples_emitted = 0

    # -- protocol ------------------------------------------------------------------------------
    def last_distance(self) -> float | None:
        """Latest reading in metres (``None``: no echo, implausible, or no reading yet)."""
        return self._last

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        if self._health.status is HealthStatus.DEGRADED:
            return self._result(False, f"sensor degraded: {self._health.reason}")
        reading = self._peek()
        if reading is None:
            return self._result(
                False,
                "no echo (with nobody inside the sensor should see the opposite wall at "
                f"{self.options.empty_room_distance:g} m)",
            )
        if not self._plausible(reading):
            return self._result(False, f"implausible reading {reading!r}")
        return self._result(True, f"reading {reading:.2f} m", {"distance": reading})

    # -- test control --------------------------------------------------------------------------
    def person_at(self, distance: float) -> None:
        """Test control: a person is ``distance`` metres from the sensor (until changed)."""
        self._target = float(distance)

    def empty(self) -> None:
        """Test control: nobody inside; the sensor reads ``empty_room_distance``."""
        self._target = self.options.empty_room_distance

    def no_echo(self) -> None:
        """Test control: no echo comes back; samples read ``None`` until changed."""
        self._target = None

    def spurious(self, distance: float | None, count: int = 1) -> None:
        """Test control: the next ``count`` samples read ``distance``, then the normal reading."""
        if count < 1:
            raise ValueError("count must be >= 1")
        self._spurious.extend([distance] * count)

    def garbage(self, count: int = 1) -> None:
        """Test control: the next ``count`` raw readings are nonsense (negative, NaN, huge)."""
        if count < 1:
            raise ValueError("count must be >= 1")
        self._garbage_left += count

    # -- sampling ------------------------------------------------------------------------------
    async def _on_start(self) -> None:
        self._spawn(self._sample_loop())

    async def _sample_loop(self) -> None:
        interval = self.options.sample_interval
        t0 = self.clock.now()
        k = 0
        while True:
            self.sample_now()
            k += 1
            # schedule against the start time so the period does not drift
            await self.clock.sleep(t0 + k * interval - self.clock.now())

    def sample_now(self) -> DistanceSample | None:
        """Take one reading and emit it (the background task calls this every interval).

        Returns the emitted sample, or ``None`` when the sensor is failed (nothing emitted).
        """
        if self.failed:
            self._last = None
            return None
        raw = self._read()
        distance: float | None
        if raw is None:
            distance = None
            self._plausible_run += 1
        elif self._plausible(raw):
            distance = raw
            self._plausible_run += 1
        else:
            distance = None
            self._plausible_run = 0
            self.set_health(HealthStatus.DEGRADED, "implausible reading")
        if (
            self._health.status is HealthStatus.DEGRADED
            and self._plausible_run >= self.options.plausible_to_recover
        ):
            self.set_health(HealthStatus.OK, "")
        self._last = distance
        sample = DistanceSample(self.name, self.clock.now(), distance)
        self.samples_emitted += 1
        self.emit(sample)
        return sample

    def _read(self) -> float | None:
        """The next raw reading (may be nonsense: the caller checks plausibility)."""
        if self._garbage_left > 0:
            self._garbage_left -= 1
            value = GARBAGE_READINGS[self._garbage_index % len(GARBAGE_READINGS)]
            self._garbage_index += 1
            return value
        if self._spurious:
            return self._spurious.popleft()
        if self._target is None:
            return None
        if self.options.noise > 0.0:
            return self._target + self._random.gauss(0.0, self.options.noise)
        return self._target

    def _peek(self) -> float | None:
        """The reading the sensor would take now, without consuming queued test readings."""
        return self._target

    def _plausible(self, value: float) -> bool:
        return math.isfinite(value) and self.options.min_range <= value <= self.options.max_range
