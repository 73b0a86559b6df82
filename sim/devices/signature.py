"""Simulated signature pad."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.events import DeviceKind, PenSample, PenSamples
from hal.health import SelftestResult
from sim.devices._base import SimDevice

PRESSURE_MAX = 1023


class _Polyline:
    """A pen path; ``at(s)`` is the point at arc-length fraction ``s`` (0..1), rounded."""

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        self.points = list(points)
        self.lengths = [math.dist(a, b) for a, b in zip(self.points, self.points[1:], strict=False)]
        self.total = sum(self.lengths)

    def at(self, s: float) -> tuple[int, int]:
        target = s * self.total
        for i, length in enumerate(self.lengths):
            if target <= length and length > 0.0:
                (ax, ay), (bx, by) = self.points[i], self.points[i + 1]
                f = target / length
                return round(ax + (bx - ax) * f), round(ay + (by - ay) * f)
            target -= length
        x, y = self.points[-1] if self.total > 0.0 else self.points[0]
        return round(x), round(y)


class SimSignaturePadOptions(DriverOptions):
    sample_rate_hz: int = Field(500, ge=500, description="Pen samples per second (>= 500).")
    width: int = Field(10000, gt=0, description="Pad width in pad units.")
    height: int = Field(6000, gt=0, description="Pad height in pad units.")
    batch_interval: float = Field(
        0.02, gt=0.0, le=0.5, description="Seconds of samples per emitted PenSamples batch."
    )


class SimSignaturePad(SimDevice):
    """A pen pad; while enabled, pen movement arrives as ``PenSamples`` batches.

    Test control:

    - ``await draw_stroke(points, duration, pressure=512)``: the pen moves at constant speed
      along the polyline ``points`` (pad units) in ``duration`` seconds. While enabled it emits
      samples at ``sample_rate_hz`` (both end points included), batched every
      ``batch_interval``, timestamped from the clock. It takes ``duration`` on the clock also
      when disabled, but then produces nothing (disabling mid-stroke drops the rest);
    - ``samples_emitted``: samples emitted so far; ``ink()``: samples since the last ``clear()``;
    - ``fail(reason)`` / ``recover()``: a failed pad refuses requests and emits nothing.
    """

    kind = DeviceKind.SIGNATURE
    Options = SimSignaturePadOptions

    def __init__(self, name: str, options: SimSignaturePadOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.sample_rate_hz = options.sample_rate_hz
        self.width = options.width
        self.height = options.height
        self.samples_emitted = 0
        self._enabled = False
        self._ink: list[PenSample] = []

    # -- protocol ------------------------------------------------------------------------------
    async def enable(self) -> None:
        self._record("enable")
        self._check()
        self._enabled = True

    async def disable(self) -> None:
        self._record("disable")
        self._check()
        self._enabled = False

    async def clear(self) -> None:
        """Clear the pad's display (the ink of the current signature)."""
        self._record("clear")
        self._check()
        self._ink.clear()

    def enabled(self) -> bool:
        return self._enabled

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        return self._result(
            True,
            f"pad {self.width}x{self.height} at {self.sample_rate_hz} Hz",
            {"sample_rate_hz": self.sample_rate_hz, "width": self.width, "height": self.height},
        )

    # -- test control --------------------------------------------------------------------------
    def ink(self) -> list[PenSample]:
        """Test helper: the samples emitted since the last ``clear()``."""
        return list(self._ink)

    async def draw_stroke(
        self,
        points: Sequence[tuple[float, float]],
        duration: float,
        pressure: int = 512,
    ) -> int:
        """Test control: draw one stroke; returns the number of samples emitted."""
        if not points:
            raise ValueError("a stroke needs at least one point")
        if not (math.isfinite(duration) and duration > 0.0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        if not 0 <= pressure <= PRESSURE_MAX:
            raise ValueError(f"pressure must be within 0..{PRESSURE_MAX}, got {pressure}")
        for x, y in points:
            if not (0 <= x <= self.width and 0 <= y <= self.height):
                raise ValueError(f"point ({x}, {y}) is outside the pad {self.width}x{self.height}")

        path = _Polyline(points)
        n = max(1, round(duration * self.sample_rate_hz))  # intervals; n + 1 samples
        t0 = self.clock.now()
        emitted = 0
        next_index = 0
        k = 0
        while next_index <= n:
            k += 1
            batch_end = min(t0 + k * self.options.batch_interval, t0 + duration)
            await self.clock.sleep(batch_end - self.clock.now())
            if batch_end >= t0 + duration:
                last = n
            else:
                last = min(n, math.floor((batch_end - t0) * n / duration + 1e-9))
            indices = range(next_index, last + 1)
            next_index = last + 1
            if not indices or not self._enabled or self.failed:
                continue
            samples = tuple(
                PenSample(*path.at(i / n), pressure, t0 + i * duration / n) for i in indices
            )
            emitted += len(samples)
            self.samples_emitted += len(samples)
            self._ink.extend(samples)
            self.emit(PenSamples(self.name, self.clock.now(), samples))
        return emitted
