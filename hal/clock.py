"""Injected time.

Everything with time in it takes a :class:`Clock`. In production that is a :class:`LoopClock`
on the normal asyncio loop; in tests and simulators the same ``LoopClock`` runs on a virtual-time
event loop (``sim.vtime``), so timers fire at once and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic seconds plus wall time and timers."""

    def now(self) -> float:
        """Monotonic seconds (virtual in simulations)."""
        ...

    def wall(self) -> datetime:
        """Current UTC wall time (virtual in simulations)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...


class LoopClock:
    """A clock backed by the running asyncio loop's ``time()``.

    With ``epoch`` given, wall time is ``epoch + (now - start)``: used on virtual time so that
    wall time moves with the virtual loop. Without it, wall time is the system's UTC time.
    """

    def __init__(self, epoch: datetime | None = None) -> None:
        self._epoch = epoch
        self._start: float | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def now(self) -> float:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        t = loop.time()
        if self._start is None:
            self._start = t
        return t

    def wall(self) -> datetime:
        if self._epoch is None:
            return datetime.now(UTC)
        t = self.now()
        assert self._start is not None
        return self._epoch + timedelta(seconds=t - self._start)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return self._loop().call_later(max(0.0, delay), callback)


def rfc3339(dt: datetime) -> str:
    """RFC 3339 UTC timestamp with milliseconds, e.g. ``2026-11-28T20:10:52.123Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
