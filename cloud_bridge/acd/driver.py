"""Running the ACD engine on virtual time: the one driver loop of the load simulator, the
benchmark's recorder and the tests.

The engine is pure: events in, decisions out, timers asked for with ``SetTimer`` /
``CancelTimer``. A host that runs it on virtual time needs the same few things every time, and
:class:`Driver` is them:

- a :class:`VirtualClock` the engine reads and the driver moves (never backwards);
- the table of live timers (a later ``SetTimer`` with the same key replaces the earlier one,
  ``CancelTimer`` removes it);
- an agenda in time order, ties in the order things were put on it, that gives each timer back
  as ``TimerFired`` when it is due. A host's own actions (an agent accepts in 3 s, a citizen's
  patience runs out) can share the agenda (:meth:`Driver.schedule`), so that timers and actions
  due at the same time come in the order they were made (the timers an event asks for are on
  it when :meth:`Driver.handle` returns, before the actions the host schedules in reaction).

A host loops ``while (entry := driver.pop(until)) is not None``: an entry is ``(time,
TimerFired)`` to feed back with :meth:`Driver.handle`, or ``(time, action)`` to carry out.

The bridge service (:mod:`cloud_bridge.service`) keeps its timers on the asyncio loop in real
time instead.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from typing import Generic, TypeVar, cast

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import (
    AgentSpec,
    CancelTimer,
    Decision,
    Event,
    QueueSpec,
    SetTimer,
    TimerFired,
    TimerKey,
)

A = TypeVar("A")  # a host action on the agenda
_NOT_SET = (math.nan, 0)  # (at, seq) of no entry: the agenda numbers its entries from 1


class VirtualClock:
    """The engine's :class:`~cloud_bridge.acd.model.Clock`: virtual epoch seconds, ``now``."""

    __slots__ = ("now",)

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


class Driver(Generic[A]):
    """An :class:`Engine` on a :class:`VirtualClock`, with its timers and an agenda of the
    host's actions of type ``A``."""

    def __init__(self, engine: Engine, clock: VirtualClock) -> None:
        self.engine = engine
        self.clock = clock
        #: the live timers: key -> (when, number of its entry on the agenda)
        self.timers: dict[TimerKey, tuple[float, int]] = {}
        self._agenda: list[tuple[float, int, TimerKey | None, A | None]] = []
        self._seq = 0

    @classmethod
    def build(
        cls, queues: Iterable[QueueSpec], agents: Iterable[AgentSpec], start: float
    ) -> Driver[A]:
        """A fresh engine on a virtual clock at ``start``."""
        clock = VirtualClock(start)
        return cls(Engine(list(queues), list(agents), clock), clock)

    @property
    def now(self) -> float:
        return self.clock.now

    # ------------------------------------------------------------------ events in
    def handle(self, event: Event) -> list[Decision]:
        """The engine's decisions on ``event`` at the clock's time (its timers taken). Raises
        :class:`~cloud_bridge.acd.model.EngineError` as the engine does (nothing changed)."""
        return self.take(self.engine.handle(event))

    def take(self, decisions: list[Decision]) -> list[Decision]:
        """Set and cancel the timers ``decisions`` ask for (those of ``Engine.restore`` too)."""
        for d in decisions:
            if isinstance(d, SetTimer):
                self._seq += 1
                self.timers[d.key] = (d.at, self._seq)
                heapq.heappush(self._agenda, (d.at, self._seq, d.key, None))
            elif isinstance(d, CancelTimer):
                self.timers.pop(d.key, None)
        return decisions

    def timer_at(self, key: TimerKey) -> float | None:
        """When the timer ``key`` is due, None if it is not set."""
        entry = self.timers.get(key)
        return entry[0] if entry is not None else None

    # ------------------------------------------------------------------ time
    def schedule(self, at: float, action: A) -> None:
        """Put a host action on the agenda; :meth:`pop` hands it back at ``at``."""
        self._seq += 1
        heapq.heappush(self._agenda, (at, self._seq, None, action))

    def next_due(self) -> float | None:
        """When the next timer or action is due (None: the agenda is empty)."""
        agenda, timers = self._agenda, self.timers
        while agenda:
            at, seq, key, _ = agenda[0]
            if key is None or timers.get(key, _NOT_SET)[1] == seq:
                return at
            heapq.heappop(agenda)  # cancelled or replaced
        return None

    def pop(self, until: float = math.inf) -> tuple[float, TimerFired | A] | None:
        """The next timer or action due by ``until`` (None: nothing is), with the clock moved to
        its time: a timer as the ``TimerFired`` to handle (it is no longer set then), an action
        as it was scheduled. Hosts loop on this."""
        at = self.next_due()
        if at is None or at > until:
            return None
        _, _, key, action = heapq.heappop(self._agenda)
        if at > self.clock.now:
            self.clock.now = at
        if key is not None:
            del self.timers[key]
            return at, TimerFired(key)
        return at, cast(A, action)

    def advance_to(self, until: float) -> None:
        """Move the clock to ``until`` (never backwards), once nothing is due before it."""
        due = self.next_due()
        if due is not None and due < until:
            raise RuntimeError(f"advance_to({until}): something is due at {due}: pop() it first")
        if until > self.clock.now:
            self.clock.now = until
