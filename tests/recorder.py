"""Records the events devices publish, for tests: ``Recorder(device, ...)`` subscribes to each.

Importable from every test module as ``from recorder import Recorder`` (``tests/`` is on the path
through ``tests/conftest.py``); the contract tests get it from the ``record`` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hal.events import DeviceEvent


class Recorder:
    """Collects the events of one or more devices, in order; ``wait_for`` waits (on the loop's
    clock) for a match."""

    def __init__(self, *devices: Any) -> None:
        self.events: list[DeviceEvent] = []
        self._changed = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = [
            device.subscribe(self._on_event) for device in devices
        ]

    def _on_event(self, event: DeviceEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def unsubscribe(self) -> None:
        """Stop recording (the events so far stay)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def of(self, event_type: type[Any]) -> list[Any]:
        """The recorded events of this type."""
        return [e for e in self.events if isinstance(e, event_type)]

    def clear(self) -> None:
        self.events.clear()

    async def wait_for(
        self, match: Callable[[DeviceEvent], bool], within: float, start: int = 0
    ) -> DeviceEvent:
        """The first recorded event from index ``start`` on that matches; waits up to
        ``within`` seconds of loop time (raises ``TimeoutError``)."""

        async def scan() -> DeviceEvent:
            index = start
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if match(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within)
