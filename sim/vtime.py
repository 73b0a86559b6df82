"""A virtual-time asyncio event loop.

``loop.time()`` is virtual. Whenever the loop has nothing ready to run, instead of blocking in
``select()`` until the next timer it jumps virtual time to that timer. Every ``asyncio.sleep``,
``call_later`` and ``wait_for`` timeout therefore completes at once in wall time while keeping
their order and spacing in virtual time. Real I/O still works (it is polled without blocking),
but scenario runs and unit tests keep everything in-process.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self, start: float) -> None:
        super().__init__()
        self.virtual_time = start

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # nothing scheduled at all: wait for real I/O
            real: list[tuple[selectors.SelectorKey, int]] = super().select(None)
            return real
        self.virtual_time += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when the loop would otherwise wait."""

    def __init__(self, start: float = 0.0) -> None:
        self._vselector = _VirtualSelector(start)
        super().__init__(selector=self._vselector)

    def time(self) -> float:
        return self._vselector.virtual_time


def run_virtual(coro: Coroutine[Any, Any, T], start: float = 0.0) -> T:
    """Run ``coro`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop(start)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
