"""Door supervision: what position each state wants, obstruction handling, never blocking egress.

The certified door operator owns hard safety (it stops on obstruction by itself); the controller
asks for a position, reopens on an obstruction while closing, and closes again only after the
obstruction has cleared for ``reclose_delay`` seconds. It never fights the operator: when a
citizen opens the door to leave, the door is not closed on them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from booth.actuators import Actuators
from booth.config import BoothConfig
from booth.trace import Trace
from hal.clock import Clock
from hal.events import DoorPosition


class DoorSupervisor:
    def __init__(
        self,
        actuators: Actuators,
        door: Any,
        clock: Clock,
        config: BoothConfig,
        trace: Trace,
    ) -> None:
        self.actuators = actuators
        self.door = door
        self.clock = clock
        self.config = config
        self.trace = trace
        self.wanted: DoorPosition | None = None
        self._reclose: Any = None

    def _obstructed(self) -> bool:
        return bool(self.door is not None and self.door.obstructed())

    async def want(self, position: DoorPosition | None) -> None:
        """Ask for a position (None: no opinion, e.g. in maintenance)."""
        self._cancel_reclose()
        self.wanted = position
        if position is DoorPosition.OPEN:
            await self.actuators.door_open()
        elif position is DoorPosition.CLOSED:
            if self._obstructed():
                self.trace.record("info", event="door close deferred", reason="obstructed")
                await self.actuators.door_open()
            else:
                await self.actuators.door_close()

    def on_obstruction(self, obstructed: bool) -> None:
        if obstructed:
            self._cancel_reclose()
            if self.door is not None and self.door.position() in (
                DoorPosition.CLOSING,
                DoorPosition.STOPPED,
            ):
                self._task(self.actuators.door_open())
        elif self.wanted is DoorPosition.CLOSED:
            self._cancel_reclose()
            delay = self.config.timing.reclose_delay
            self._reclose = self.clock.call_later(delay, self._reclose_now)

    def _reclose_now(self) -> None:
        self._reclose = None
        if self.wanted is DoorPosition.CLOSED and not self._obstructed():
            self._task(self.actuators.door_close())

    def _cancel_reclose(self) -> None:
        if self._reclose is not None:
            self._reclose.cancel()
            self._reclose = None

    def _task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
