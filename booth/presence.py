"""Presence pipeline: sonar distance → median window → threshold with hysteresis →
delayed-on / delayed-off, with the door contact as a second signal.

Pure and synchronous: every call gets the time, so it runs on any clock. A single spurious echo
cannot start a call (median + delayed-on), and a citizen sitting still is not taken for gone: the
sonar must report 'far' for ``delay_off`` seconds *and*, with ``door_confirms_absence``, the door
must have been open during that time (nobody leaves a closed booth).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from booth.config import PresenceConfig


class MedianWindow:
    """Running median over the last ``size`` readings; no echo counts as infinitely far."""

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, distance: float | None) -> float:
        value = math.inf if distance is None or math.isnan(distance) else distance
        self._values.append(value)
        ordered = sorted(self._values)
        return ordered[len(ordered) // 2]

    def clear(self) -> None:
        self._values.clear()


class HysteresisThreshold:
    """Near when the value drops to ``on_at`` or below, far when it rises to ``off_at`` or above."""

    def __init__(self, on_at: float, off_at: float) -> None:
        self.on_at = on_at
        self.off_at = off_at
        self.state = False

    def update(self, value: float) -> bool:
        if not self.state and value <= self.on_at:
            self.state = True
        elif self.state and value >= self.off_at:
            self.state = False
        return self.state


@dataclass(frozen=True, slots=True)
class PresenceSnapshot:
    present: bool
    raw: bool
    median: float | None
    door_hold: bool  # 'gone' seen long enough, but held because the door stayed closed


class PresenceFilter:
    """Combines the stages; ``update`` returns True/False when presence changes, else None."""

    def __init__(self, config: PresenceConfig) -> None:
        self.config = config
        self._median = MedianWindow(config.median_window)
        self._threshold = HysteresisThreshold(config.on_distance, config.off_distance)
        self.present = False
        self._raw_since: float | None = None  # when the raw signal last changed
        self._last_median: float | None = None
        self._door_open_at: float | None = None  # last time the door was seen not closed
        self._door_open_now = False
        self._door_hold = False

    # -- door signal ---------------------------------------------------------------------------
    def door_changed(self, t: float, is_closed: bool) -> None:
        if not is_closed:
            if not self._door_open_now and self.present and not self._threshold.state:
                # The sonar lost the citizen while the door was closed (sitting still): this
                # opening is them leaving. Count the absence from now, so the booth does not
                # close the door on them the moment they open it.
                self._raw_since = t
            self._door_open_now = True
            self._door_open_at = t
        else:
            if self._door_open_now:
                self._door_open_at = t
            self._door_open_now = False

    def _door_confirms(self, t: float, gone_since: float) -> bool:
        if not self.config.door_confirms_absence or self._door_open_now:
            return True
        return (
            self._door_open_at is not None
            and self._door_open_at >= gone_since - self.config.door_grace
        )

    # -- samples -------------------------------------------------------------------------------
    def update(self, t: float, distance: float | None) -> bool | None:
        median = self._median.add(distance)
        self._last_median = None if math.isinf(median) else median
        raw_before = self._threshold.state
        raw = self._threshold.update(median)
        if raw != raw_before or self._raw_since is None:
            self._raw_since = t
        return self._decide(t)

    def _decide(self, t: float) -> bool | None:
        raw = self._threshold.state
        since = self._raw_since if self._raw_since is not None else t
        held = t - since
        if raw and not self.present and held >= self.config.delay_on:
            self.present = True
            self._door_hold = False
            return True
        if not raw and self.present and held >= self.config.delay_off:
            if self._door_confirms(t, since):
                self.present = False
                self._door_hold = False
                return False
            self._door_hold = True
        if raw:
            self._door_hold = False
        return None

    def reset(self) -> None:
        """Forget the readings (after a privacy reset the pipeline starts afresh)."""
        self._median.clear()
        self._threshold.state = False
        self._raw_since = None
        self.present = False
        self._door_hold = False

    def snapshot(self) -> PresenceSnapshot:
        return PresenceSnapshot(
            present=self.present,
            raw=self._threshold.state,
            median=self._last_median,
            door_hold=self._door_hold,
        )
