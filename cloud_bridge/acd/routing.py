"""Routing: where a call goes, on top of :class:`~cloud_bridge.acd.state.AcdState`.

Into a queue's waiting list (the booths told their positions), offered to the best ready
agent(s) of the queue (:mod:`cloud_bridge.acd.ready`), back to waiting when the offer fails, out
of the queue after its longest wait (to the overflow queue, or "unavailable") or when nobody is
left in it, and gone. Also the primitives every transition writes its decisions with (``_emit``,
``_timer_at``, ``_log``, ``_set_status``): they go to the list of the event being handled.

The agents' side (:mod:`cloud_bridge.acd.agents`), transfers (:mod:`cloud_bridge.acd.transfers`)
and the event handlers (:mod:`cloud_bridge.acd.engine`) build on this class, in that order.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any

from cloud_bridge.acd.model import (
    AgentChanged,
    AgentSpec,
    AgentStatus,
    CallerQueued,
    CallerUnavailable,
    CallStatus,
    CancelTimer,
    Clock,
    Decision,
    LogEntry,
    LogEvent,
    Offer,
    QueueSpec,
    SetTimer,
    TimerKey,
    TimerKind,
)
from cloud_bridge.acd.ready import ReadyAgents, eligible
from cloud_bridge.acd.state import AcdState, AgentState, CallState, QueueState

AHT_WEIGHT = 0.1  # weight of the newest talk time in a queue's running average
RING, MAX_WAIT, CLERK_WAIT, UNBLOCK = (
    TimerKind.RING,
    TimerKind.MAX_WAIT,
    TimerKind.CLERK_WAIT,
    TimerKind.UNBLOCK,
)


class Routing(AcdState):
    """The state, the clock, the decisions of the event being handled and the routing of calls.

    ``decisions`` counts every decision made (for benchmarks)."""

    def __init__(
        self, queues: Iterable[QueueSpec], agents: Iterable[AgentSpec], clock: Clock
    ) -> None:
        self.clock = clock
        super().__init__(queues, agents)
        self._ready = ReadyAgents(self.queues, self.agents)
        self.decisions = 0
        self.now = clock.time()
        self._out: list[Decision] = []

    # ================================================================== decisions out
    def _emit(self, d: Decision) -> None:
        self._out.append(d)

    def _timer_at(self, key: TimerKey, at: float) -> None:
        self._out.append(SetTimer(key, at))

    def _log(self, event: LogEvent, c: CallState, *, agent: str = "", **data: Any) -> None:
        if c.kind != "call":
            return
        self._out.append(LogEntry(self.now, c.id, c.queue, agent, c.booth, event, data))

    def _set_status(
        self, a: AgentState, status: AgentStatus, reason: str | None, call: str | None
    ) -> None:
        previous, prev_call, prev_s = a.status, a.call, self.now - a.since
        if previous == AgentStatus.READY and status != AgentStatus.READY:
            self._ready.remove(a)
        a.status, a.reason, a.call, a.since = status, reason, call, self.now
        if status != AgentStatus.WRAP_UP:
            a.wrap_until = None
        self._dirty_agents.add(a.spec.id)
        self._emit(AgentChanged(a.spec.id, status, reason, call))
        self._out.append(
            LogEntry(
                self.now,
                call or "",
                "",
                a.spec.id,
                "",
                "AGENTSTATUS",
                {
                    "status": status.value,
                    "reason": reason,
                    "previous": previous.value,
                    "previous_s": round(max(0.0, prev_s), 3),
                    "previous_call": prev_call,
                },
            )
        )

    def _eligible(self, c: CallState, a: AgentState) -> bool:
        return eligible(c, a, self.now)

    # ================================================================== calls in queues
    def _closed_reason(self, q: QueueState) -> str | None:
        if q.spec.hours is not None and not q.spec.hours.is_open(self.now):
            return "closed"
        if q.logged_in == 0:
            return "no_agents"
        return None

    def _unavailable(self, c: CallState, q: QueueState, reason: str) -> None:
        self._log("UNAVAILABLE", c, reason=reason)
        self._emit(
            CallerUnavailable(
                c.id,
                c.booth,
                c.session,
                q.spec.id,
                reason,
                q.spec.hours.text if q.spec.hours is not None else "",
                q.spec.phone,
            )
        )
        self._drop_call(c)

    def _enter_queue(self, c: CallState, q: QueueState, *, new_origin: bool) -> None:
        """Put a (new, transferred or overflowing) call into ``q``: offer at once if an agent
        is free, else wait."""
        c.queue = q.spec.id
        c.entered = self.now
        if new_origin:
            c.origin = self.now
        c.status = CallStatus.WAITING
        c.clerk = None
        self._dirty(c)
        if q.spec.max_wait_s is not None and c.kind == "call":
            c.max_deadline = self.now + q.spec.max_wait_s
            self._timer_at(TimerKey(MAX_WAIT, c.id), c.max_deadline)
        elif c.max_deadline is not None:
            c.max_deadline = None
            self._emit(CancelTimer(TimerKey(MAX_WAIT, c.id)))
        self._dispatch_call(c, q)

    def _dispatch_call(self, c: CallState, q: QueueState) -> None:
        """Offer a waiting call to the best free agent(s), or (re)insert it in the queue."""
        agents = self._ready.best(q, c, self.now)
        if agents:
            self._remove_waiting(c)
            self._offer(c, agents)
            return
        if not c.in_queue:
            insort(q.waiting, c, key=CallState.key)
            c.in_queue = True
            self._tell_positions(q)

    def _insert_waiting(self, c: CallState) -> None:
        insort(self.queues[c.queue].waiting, c, key=CallState.key)
        c.in_queue = True

    def _remove_waiting(self, c: CallState) -> None:
        if c.clerk is not None:
            lst = self.pinned.get(c.clerk)
            if lst is not None and c in lst:
                lst.remove(c)
                if not lst:
                    del self.pinned[c.clerk]
            return
        if not c.in_queue:
            return
        q = self.queues[c.queue]
        idx = bisect_left(q.waiting, c.key(), key=CallState.key)
        if idx >= len(q.waiting) or q.waiting[idx] is not c:  # pragma: no cover - defensive
            idx = q.waiting.index(c)
        del q.waiting[idx]
        c.in_queue = False
        self._tell_positions(q, start=idx)

    def _tell_positions(self, q: QueueState, start: int = 0, *, force: bool = False) -> None:
        staffed = max(1, q.logged_in)
        for i in range(start, len(q.waiting)):
            c = q.waiting[i]
            pos = i + 1
            if c.kind != "call" or (c.position == pos and not force):
                continue
            c.position = pos
            self._dirty(c)
            est = round(pos * q.aht / staffed, 1)
            self._emit(CallerQueued(c.id, c.booth, c.session, q.spec.id, pos, est))

    # ================================================================== offers
    def _offer(self, c: CallState, agents: list[AgentState]) -> None:
        q = self.queues[c.queue]
        c.status = CallStatus.RINGING
        c.ringing = [a.spec.id for a in agents]
        c.ring_start = self.now
        c.ring_deadline = self.now + q.spec.ring_timeout_s
        self._dirty(c)
        self._timer_at(TimerKey(RING, c.id), c.ring_deadline)
        if c.kind == "call" and c.position != 1 and not c.offered_once:
            # the booth keeps its waiting screen; tell it it is next
            c.position = 1
            est = 0.0
            self._emit(CallerQueued(c.id, c.booth, c.session, q.spec.id, 1, est))
        c.offered_once = True
        q.rr_counter += 1
        self._dirty_queues.add(q.spec.id)
        for a in agents:
            a.rr[q.spec.id] = q.rr_counter
            self._set_status(a, AgentStatus.OFFERED, None, c.id)
            self._emit(Offer(c.id, a.spec.id, q.spec.id, c.booth, q.spec.ring_timeout_s, c.asker))
            if c.kind == "call":
                self._log(
                    "OFFER",
                    c,
                    agent=a.spec.id,
                    ring_timeout_s=q.spec.ring_timeout_s,
                    wait_s=round(self.now - c.entered, 3),
                )

    def _ring_failed(self, c: CallState, reason: str) -> None:
        """Every ringing agent failed (timeout, declines): the call waits again."""
        c.status = CallStatus.WAITING
        c.ringing = []
        c.ring_deadline = None
        self._dirty(c)
        self._emit(CancelTimer(TimerKey(RING, c.id)))
        if c.kind == "call" and c.max_deadline is not None and self.now >= c.max_deadline:
            self._max_wait(c)
            return
        if c.clerk is not None:
            self.pinned.setdefault(c.clerk, []).append(c)
            self.pinned[c.clerk].sort(key=CallState.key)
            return
        self._dispatch_call(c, self.queues[c.queue])

    def _exclude(self, c: CallState, a: AgentState, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self.now + seconds
        c.excluded[a.spec.id] = until
        self._timer_at(TimerKey(UNBLOCK, c.id, a.spec.id), until)

    # ================================================================== calls leaving
    def _learn_aht(self, c: CallState) -> None:
        q = self.queues[c.queue]
        talk = self.now - c.connected_at
        q.aht = (1 - AHT_WEIGHT) * q.aht + AHT_WEIGHT * talk
        self._dirty_queues.add(q.spec.id)

    def _drop_call(self, c: CallState) -> None:
        for kind in (RING, MAX_WAIT, CLERK_WAIT):
            self._emit(CancelTimer(TimerKey(kind, c.id)))
        for aid in c.excluded:
            self._emit(CancelTimer(TimerKey(UNBLOCK, c.id, aid)))
        c.status = CallStatus.ENDED
        self.calls.pop(c.id, None)
        if c.kind == "call" and self.by_booth.get(c.booth) == c.id:
            del self.by_booth[c.booth]
        self._dirty_calls.add(c.id)

    def _max_wait(self, c: CallState, event: LogEvent = "EXITWITHTIMEOUT") -> None:
        """The call leaves its queue (max wait, or ``EXITEMPTY``: nobody left in it) for the
        overflow queue, or is told nobody can take it."""
        q = self.queues[c.queue]
        wait_s = round(self.now - c.entered, 3)
        overflow = q.spec.overflow
        self._log(event, c, wait_s=wait_s, overflow=overflow)
        self._remove_waiting(c)
        c.max_deadline = None
        if overflow is not None:
            oq = self.queues[overflow]
            if self._closed_reason(oq) is None:
                c.queue = overflow
                c.position = None
                self._log("ENTERQUEUE", c, booth=c.booth, priority=c.priority, transfer=True)
                self._enter_queue(c, oq, new_origin=False)
                return
        self._unavailable(c, q, "max_wait")

    def _clerk_fallback(self, c: CallState) -> None:
        clerk = c.clerk
        self._remove_waiting(c)
        c.clerk = None
        c.clerk_deadline = None
        if c.kind == "call":
            self._log("CLERKFALLBACK", c, clerk=clerk, wait_s=round(self.now - c.entered, 3))
        q = self.queues[c.queue]
        if c.kind == "call" and self._closed_reason(q) is not None:
            self._unavailable(c, q, self._closed_reason(q) or "no_agents")
            return
        c.position = None
        self._enter_queue(c, q, new_origin=False)
