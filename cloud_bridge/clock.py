"""The bridge's time sources: wall-clock epoch seconds, and epoch seconds that follow the loop.

Both satisfy :class:`cloud_bridge.acd.model.Clock`.
"""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    """Wall-clock epoch seconds."""

    def time(self) -> float:
        return time.time()


class LoopEpochClock:
    """Epoch seconds that move with the running loop (virtual time in tests)."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        self._start: float | None = None

    def time(self) -> float:
        loop = asyncio.get_event_loop()
        if self._start is None:
            self._start = loop.time()
        return self.epoch + (loop.time() - self._start)
