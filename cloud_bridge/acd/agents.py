"""The agents' side of the engine: logging in and out, ready and not ready, what an agent asks
for while busy (applied after the call), wrap-up, and a ready agent finding its next call.

On top of :class:`~cloud_bridge.acd.routing.Routing` (see there for the order of the layers).
"""

from __future__ import annotations

from cloud_bridge.acd.model import (
    AgentStatus,
    CancelTimer,
    OfferWithdrawn,
    TimerKey,
    TimerKind,
)
from cloud_bridge.acd.ready import eligible
from cloud_bridge.acd.routing import Routing
from cloud_bridge.acd.state import AgentState, CallState, QueueState

WRAP_UP, CLERK_WAIT = TimerKind.WRAP_UP, TimerKind.CLERK_WAIT


class AgentCycle(Routing):
    """An agent's way through the statuses, and the calls it takes on the way."""

    def _login(self, a: AgentState) -> None:
        if a.status != AgentStatus.LOGGED_OUT:
            return  # already logged in: nothing to do (idempotent)
        for qid in a.spec.queues:
            self.queues[qid].logged_in += 1
        self._set_status(a, AgentStatus.NOT_READY, "login", None)

    def _set_ready(self, a: AgentState) -> None:
        if a.status == AgentStatus.LOGGED_OUT:
            self._login(a)
        if a.status in (AgentStatus.OFFERED, AgentStatus.BUSY):
            a.pending = None  # "ready after this call": drop a pending pause
            self._dirty_agents.add(a.spec.id)
            return
        if a.status == AgentStatus.READY:
            return
        if a.status == AgentStatus.WRAP_UP:
            self._emit(CancelTimer(TimerKey(WRAP_UP, a.spec.id)))
            a.wrap_until = None
        self._become_ready(a, keep_idle=False)

    def _request_status(self, a: AgentState, status: AgentStatus, reason: str | None) -> None:
        if a.status == AgentStatus.LOGGED_OUT:
            if status == AgentStatus.NOT_READY:
                self._login(a)
                self._set_status(a, AgentStatus.NOT_READY, reason, None)
            return
        if a.status == AgentStatus.BUSY:
            a.pending = (status, reason)
            self._dirty_agents.add(a.spec.id)
            return
        if a.status == AgentStatus.OFFERED:
            assert a.call is not None
            c = self.calls[a.call]
            a.pending = (status, reason)
            self._withdraw_one(c, a, "declined" if status == AgentStatus.READY else "not_ready")
            self._apply_pending(a)
            return
        if a.status == AgentStatus.WRAP_UP:
            self._emit(CancelTimer(TimerKey(WRAP_UP, a.spec.id)))
            a.wrap_until = None
        self._leave(a, status, reason)

    def _leave(self, a: AgentState, status: AgentStatus, reason: str | None) -> None:
        """To not ready or logged out (from ready, not ready, wrap-up)."""
        if status == AgentStatus.LOGGED_OUT:
            self._set_status(a, AgentStatus.LOGGED_OUT, reason, None)
            for qid in a.spec.queues:
                q = self.queues[qid]
                q.logged_in -= 1
                if q.logged_in == 0:
                    self._queue_emptied(q)
            # calls waiting for this clerk go to their queue at once
            for c in list(self.pinned.get(a.spec.id, [])):
                self._clerk_fallback(c)
        else:
            self._set_status(a, status, reason, None)

    def _queue_emptied(self, q: QueueState) -> None:
        """The last agent of a queue logged out: nobody will come for the waiting calls."""
        for c in list(q.waiting):
            if c.kind != "call":
                continue
            if (
                q.spec.overflow is not None
                and self._closed_reason(self.queues[q.spec.overflow]) is None
            ):
                self._max_wait(c, "EXITEMPTY")
            else:
                self._remove_waiting(c)
                self._unavailable(c, q, "no_agents")

    def _withdraw_one(self, c: CallState, a: AgentState, reason: str) -> None:
        """One ringing agent drops out (declined / disconnected / went not ready)."""
        q = self.queues[c.queue]
        if c.kind == "call":
            self._log("DECLINE", c, agent=a.spec.id, ring_s=round(self.now - c.ring_start, 3))
        c.ringing.remove(a.spec.id)
        self._exclude(c, a, q.spec.decline_block_s)
        self._emit(OfferWithdrawn(c.id, a.spec.id, reason))
        if not c.ringing:
            self._ring_failed(c, reason)
        else:
            self._dirty(c)
        if reason == "declined":
            self._back_to_ready(a, keep_idle=True)

    def _after_call(self, a: AgentState, c: CallState, *, wrapup: bool = True) -> None:
        """The agent's part of a call is over: wrap-up (timer of the call's queue), then ready
        (or what they asked for meanwhile)."""
        seconds = self.queues[c.queue].spec.wrapup_s if wrapup else 0.0
        if seconds > 0:
            a.wrap_until = self.now + seconds
            self._set_status(a, AgentStatus.WRAP_UP, None, c.id)
            self._timer_at(TimerKey(WRAP_UP, a.spec.id), a.wrap_until)
            return
        self._after_work(a)

    def _after_work(self, a: AgentState) -> None:
        if a.pending is not None:
            self._apply_pending(a)
        else:
            self._become_ready(a, keep_idle=False)

    def _apply_pending(self, a: AgentState) -> None:
        status, reason = a.pending or (AgentStatus.READY, None)
        a.pending = None
        if status == AgentStatus.READY:
            self._become_ready(a, keep_idle=False)
        else:
            self._leave(a, status, reason)

    def _back_to_ready(self, a: AgentState, *, keep_idle: bool) -> None:
        """An offer to ``a`` is over without a call (taken by another, abandoned, declined)."""
        if a.pending is not None:
            self._apply_pending(a)
        else:
            self._become_ready(a, keep_idle=keep_idle)

    def _become_ready(self, a: AgentState, *, keep_idle: bool) -> None:
        idle = a.idle_since
        self._set_status(a, AgentStatus.READY, None, None)
        a.idle_since = idle if keep_idle and idle else self.now
        self._ready.add(a)  # first: an offer from _find_work takes it out again
        self._find_work(a)

    def _find_work(self, a: AgentState) -> None:
        """A ready agent looks for the call waiting longest among its clerk list and queues."""
        aid = a.spec.id
        pinned = self.pinned.get(aid)
        if pinned:
            c = pinned.pop(0)
            if not pinned:
                del self.pinned[aid]
            if c.clerk_deadline is not None:
                self._emit(CancelTimer(TimerKey(CLERK_WAIT, c.id)))
                c.clerk_deadline = None
            c.clerk = None
            self._offer(c, [a])
            return
        best: CallState | None = None
        for qid in a.spec.queues:
            for c in self.queues[qid].waiting:
                if eligible(c, a, self.now):
                    if best is None or c.key() < best.key():
                        best = c
                    break
                if best is not None and c.key() >= best.key():
                    break
        if best is not None:
            self._remove_waiting(best)
            self._offer(best, [a])
