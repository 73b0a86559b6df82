"""Shared part of the real sonar (presence) drivers: the sample clock, what a reading means and
the health bookkeeping. The drivers only say how to open the sensor and how to take a reading.

A reading is one of:

- metres: checked against ``max_distance`` (at or beyond: no echo, sample ``None``) and the
  plausible range ``min_range .. max_range`` (outside: sample ``None`` and health ``DEGRADED``
  "implausible reading");
- :class:`UnparseableReading`: the sensor sent something that is not a range (sample ``None``,
  health ``DEGRADED`` "unparseable reading");
- :class:`SonarReadError`: no reading could be taken (no sample; health ``DEGRADED`` with the
  error, ``UNAVAILABLE`` after ``failures_to_unavailable`` failures in a row).

Health returns to ``OK`` after ``plausible_to_recover`` good samples in a row (no echo counts as
good: it is what an empty booth with a far wall can legitimately read).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any, ClassVar

from pydantic import Field, model_validator

from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.events import DeviceKind, DistanceSample
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

#: Readings this close below ``max_distance`` count as "at max_distance" (float rounding).
_AT_MAX_EPSILON = 1e-6


class SonarReadError(Exception):
    """No reading could be taken; the message is the health reason (keep it stable)."""


class UnparseableReading(Exception):
    """The sensor answered with something that is not a distance."""


class SonarOptions(DriverOptions):
    """Options every real sonar driver has."""

    sample_interval: float = Field(
        0.1, gt=0.0, description="Seconds between two distance samples (DistanceSample events)."
    )
    max_distance: float = Field(
        4.0,
        gt=0.0,
        description="Longest range in metres the sensor reports; a reading at (or beyond) it "
        "means no echo and gives the sample None.",
    )
    min_range: float = Field(
        0.02, ge=0.0, description="Shortest plausible reading in metres; less is implausible."
    )
    max_range: float = Field(
        4.0,
        gt=0.0,
        description="Longest plausible reading in metres (at most max_distance); more is "
        "implausible.",
    )
    plausible_to_recover: int = Field(
        3,
        ge=1,
        description="Consecutive good samples after which health returns to OK from DEGRADED "
        "or UNAVAILABLE.",
    )
    failures_to_unavailable: int = Field(
        5,
        ge=1,
        description="Failed readings in a row (one per sample_interval) after which health goes "
        "from DEGRADED to UNAVAILABLE.",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> SonarOptions:
        if self.min_range >= self.max_range:
            raise ValueError("min_range must be below max_range")
        if self.max_range > self.max_distance:
            raise ValueError("max_range must not exceed max_distance")
        return self


class SonarBase(DeviceBase):
    """Sample clock, interpretation of readings and health of a sonar driver.

    Subclasses implement ``start``/``stop`` (calling :meth:`_start_sampling` and
    :meth:`_stop_sampling`) and :meth:`_take_reading`; they may override :meth:`_tick`.
    """

    kind: ClassVar[DeviceKind] = DeviceKind.PRESENCE

    def __init__(self, name: str, options: SonarOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.sonar_options = options
        self._last: float | None = None
        self._plausible_run = 0
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        #: Set when the driver's library is missing (``selftest`` then reports NOT_PRESENT).
        self._missing: str | None = None
        self.samples_emitted = 0

    # -- protocol ------------------------------------------------------------------------------
    def last_distance(self) -> float | None:
        """Latest reading in metres (``None``: no echo, implausible, failed or no reading yet)."""
        return self._last

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()`` (while samples are being taken)."""
        return self._task is not None

    async def selftest(self) -> SelftestResult:
        if self._missing is not None:
            return self._result(SelftestOutcome.NOT_PRESENT, self._missing)
        if not self.running:
            return self._result(SelftestOutcome.FAIL, "sensor not started")
        if self._health.status is HealthStatus.UNAVAILABLE:
            return self._result(SelftestOutcome.FAIL, f"sensor unavailable: {self._health.reason}")
        if self._health.status is HealthStatus.DEGRADED:
            return self._result(SelftestOutcome.FAIL, f"sensor degraded: {self._health.reason}")
        try:
            raw = await self._take_reading()
        except SonarReadError as exc:
            return self._result(SelftestOutcome.FAIL, f"no reading: {exc}")
        except UnparseableReading:
            return self._result(SelftestOutcome.FAIL, "unparseable reading")
        opts = self.sonar_options
        if raw is None or raw >= opts.max_distance - _AT_MAX_EPSILON:
            return self._result(
                SelftestOutcome.FAIL,
                "no echo (with nobody inside, the sensor should see the floor or the opposite "
                f"wall within {opts.max_distance:g} m)",
            )
        if not self._plausible(raw):
            return self._result(SelftestOutcome.FAIL, f"implausible reading {raw!r} m")
        return self._result(
            SelftestOutcome.PASS, f"reading {raw:.2f} m", {"distance": round(raw, 4)}
        )

    # -- for subclasses ------------------------------------------------------------------------
    async def _take_reading(self) -> float | None:
        """One reading in metres (``None``: no echo). Raises :class:`SonarReadError` or
        :class:`UnparseableReading`."""
        raise NotImplementedError

    def _start_sampling(self) -> None:
        """Start the sample clock; the first tick comes one ``sample_interval`` from now."""
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._sample_loop(), name=f"{self.name}-samples")

    async def _stop_sampling(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._last = None

    def _reset_counters(self) -> None:
        self._failures = 0
        self._plausible_run = 0

    async def _tick(self) -> None:
        """Take one reading and emit its sample (or report the failure)."""
        try:
            raw = await self._take_reading()
        except UnparseableReading:
            self._failures = 0
            self._plausible_run = 0
            self.set_health(HealthStatus.DEGRADED, "unparseable reading")
            self._publish(None)
            return
        except SonarReadError as exc:
            self._read_failed(str(exc))
            return
        self._failures = 0
        self._publish(self._interpret(raw))

    # -- internals -----------------------------------------------------------------------------
    async def _sample_loop(self) -> None:
        interval = self.sonar_options.sample_interval
        due = self.clock.now() + interval
        while True:
            await self.clock.sleep(due - self.clock.now())
            await self._tick()
            due += interval
            now = self.clock.now()
            if due < now:  # a slow tick: skip the missed samples instead of bursting
                due += math.ceil((now - due) / interval) * interval

    def _interpret(self, raw: float | None) -> float | None:
        if raw is None or raw >= self.sonar_options.max_distance - _AT_MAX_EPSILON:
            self._plausible_run += 1
            return None
        if self._plausible(raw):
            self._plausible_run += 1
            return raw
        self._plausible_run = 0
        self.set_health(HealthStatus.DEGRADED, "implausible reading")
        return None

    def _publish(self, distance: float | None) -> None:
        if (
            self._health.status is not HealthStatus.OK
            and self._plausible_run >= self.sonar_options.plausible_to_recover
        ):
            self.set_health(HealthStatus.OK, "")
        self._last = distance
        self.samples_emitted += 1
        self.emit(DistanceSample(self.name, self.clock.now(), distance))

    def _read_failed(self, reason: str) -> None:
        self._failures += 1
        self._plausible_run = 0
        self._last = None
        limit = self.sonar_options.failures_to_unavailable
        if self._failures >= limit:
            self.set_health(HealthStatus.UNAVAILABLE, f"{reason} ({limit} readings in a row)")
        elif self._health.status is not HealthStatus.UNAVAILABLE:
            self.set_health(HealthStatus.DEGRADED, reason)

    def _plausible(self, value: float) -> bool:
        opts = self.sonar_options
        return math.isfinite(value) and opts.min_range <= value <= opts.max_range

    def _result(
        self, outcome: SelftestOutcome, message: str, details: dict[str, Any] | None = None
    ) -> SelftestResult:
        return SelftestResult(self.name, outcome, message, details or {})
