"""The ACD engine: automatic call distribution as a pure state machine on an injected clock.

``Engine.handle(event) -> list[Decision]``; nothing else changes its state. A decision is made on
the event that makes it possible (a call arrives, an agent becomes ready, an offer fails, a timer
fires): there is no polling loop. Timers are requested from the host with ``SetTimer`` and come
back as ``TimerFired`` (named by a :class:`~cloud_bridge.acd.model.TimerKey`); every timer
handler re-checks the state, so a stale or repeated timer is harmless. A host that runs the
engine on virtual time uses :class:`cloud_bridge.acd.driver.Driver`.

Indexes keep the cost per decision flat as the system grows:

- per queue, the waiting calls in one list sorted by (−priority, wait origin, seq): the head is
  the next call, the index is the position shown on the booth;
- per queue and level, a heap of ready agents keyed by the queue's strategy, with lazy deletion
  (:mod:`cloud_bridge.acd.ready`);
- calls waiting for a named clerk in a per-clerk list (served before the clerk's queues).

Requests the engine refuses raise :class:`EngineError` before anything is changed.

:class:`Engine` is the facade, and the event handlers. The transitions they use are in layers,
each a base class of the next: the records and their snapshot (:mod:`cloud_bridge.acd.state`),
routing calls into queues and to agents (:mod:`cloud_bridge.acd.routing`), the agents' statuses
(:mod:`cloud_bridge.acd.agents`), transfers and consultations
(:mod:`cloud_bridge.acd.transfers`). The read views are in :mod:`cloud_bridge.acd.views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cloud_bridge.acd import views
from cloud_bridge.acd.model import (
    DISCONNECTED,
    NO_ANSWER,
    Accept,
    AgentConnectionLost,
    AgentLogin,
    AgentLogout,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
    CallerTransferring,
    CallFinished,
    CallRequested,
    CallStatus,
    CancelTimer,
    CancelTransfer,
    CompleteTransfer,
    ConsultConnected,
    Decision,
    Decline,
    EngineError,
    Event,
    Hangup,
    OfferWithdrawn,
    SetNotReady,
    SetReady,
    TimerFired,
    TimerKey,
    TimerKind,
    Transfer,
)
from cloud_bridge.acd.state import AgentState, CallState
from cloud_bridge.acd.transfers import Transfers

RING, WRAP_UP, MAX_WAIT, CLERK_WAIT, UNBLOCK = (
    TimerKind.RING,
    TimerKind.WRAP_UP,
    TimerKind.MAX_WAIT,
    TimerKind.CLERK_WAIT,
    TimerKind.UNBLOCK,
)


class Engine(Transfers):
    """See the module docstring. ``Engine(queues, agents, clock)``; ``decisions`` counts every
    decision made (for benchmarks)."""

    # ================================================================== public entry point
    def handle(self, event: Event) -> list[Decision]:
        out: list[Decision] = []
        self._out = out
        self.now = self.clock.time()
        match event:
            case CallRequested():
                self._call_requested(event)
            case CallAbandoned():
                self._abandon(event.call, event.reason)
            case AgentLogin():
                self._login(self._agent(event.agent))
            case AgentLogout():
                self._request_status(self._agent(event.agent), AgentStatus.LOGGED_OUT, None)
            case SetReady():
                self._set_ready(self._agent(event.agent))
            case SetNotReady():
                self._request_status(
                    self._agent(event.agent), AgentStatus.NOT_READY, event.reason or "break"
                )
            case AgentConnectionLost():
                self._connection_lost(self._agent(event.agent))
            case Accept():
                self._accept(event)
            case Decline():
                self._decline(event)
            case Hangup():
                self._hangup(event)
            case Transfer():
                self._transfer(event)
            case CompleteTransfer():
                self._complete_transfer(event)
            case CancelTransfer():
                self._cancel_transfer(event)
            case TimerFired():
                self._timer(event.key)
            case _:
                raise EngineError("bad_event", f"unknown event {event!r}")
        self.decisions += len(out)
        return out

    # ================================================================== persistence
    def restore(
        self,
        calls: Iterable[dict[str, Any]],
        agents: Iterable[dict[str, Any]],
        queues: dict[str, dict[str, Any]] | None = None,
    ) -> list[Decision]:
        """Rebuild the state saved by :meth:`take_changes` on a fresh engine (agents and
        queues no longer in the config are dropped; their calls go back to a queue). Returns
        the timers to set and the positions to tell the booths again."""
        out: list[Decision] = []
        self._out = out
        self.now = self.clock.time()
        restored = self.load_snapshot(calls, agents, queues, self.now)
        for c in restored:
            if c.status == CallStatus.WAITING:
                if c.clerk is not None:
                    self.pinned.setdefault(c.clerk, []).append(c)
                    if c.clerk_deadline is not None:
                        self._timer_at(TimerKey(CLERK_WAIT, c.id), c.clerk_deadline)
                else:
                    self._insert_waiting(c)
            elif c.status == CallStatus.RINGING:
                c.ringing = [
                    aid for aid in c.ringing if aid in self.agents and self.agents[aid].call == c.id
                ]
                if c.ringing and c.ring_deadline is not None:
                    self._timer_at(TimerKey(RING, c.id), c.ring_deadline)
                else:
                    c.status, c.ringing = CallStatus.WAITING, []
                    self._insert_waiting(c)
            elif c.status == CallStatus.CONNECTED and (
                c.agent not in self.agents or self.agents[c.agent].call not in (c.id, c.consult)
            ):
                # the agent vanished from the config: the call goes back to its queue
                c.status, c.agent = CallStatus.WAITING, None
                self._insert_waiting(c)
            if c.max_deadline is not None:
                self._timer_at(TimerKey(MAX_WAIT, c.id), c.max_deadline)
            for aid, until in c.excluded.items():
                if until != float("inf"):
                    self._timer_at(TimerKey(UNBLOCK, c.id, aid), until)
        for a in self.agents.values():
            if a.status == AgentStatus.READY:
                self._ready.add(a)
            elif a.status == AgentStatus.WRAP_UP and a.wrap_until is not None:
                self._timer_at(TimerKey(WRAP_UP, a.spec.id), a.wrap_until)
        for q in self.queues.values():
            self._tell_positions(q, force=True)
        for p in self.pinned.values():
            p.sort(key=CallState.key)
        # ready agents may match waiting calls (config changes): dispatch what can be
        for a in list(self.agents.values()):
            if a.status == AgentStatus.READY:
                self._find_work(a)
        self.decisions += len(out)
        return out

    # ================================================================== views
    def agents_view(self) -> list[dict[str, Any]]:
        return views.agents_view(self.agents.values(), self.clock.time())

    def agent_view(self, agent: str) -> dict[str, Any] | None:
        """``agent``'s entry of :meth:`agents_view` (None for an agent not in the config)."""
        a = self.agents.get(agent)
        return views.agent_view(a, self.clock.time()) if a is not None else None

    def queues_view(self) -> list[dict[str, Any]]:
        return views.queues_view(self.queues, self.calls.values(), self.clock.time())

    def calls_view(self) -> list[dict[str, Any]]:
        now = self.clock.time()
        return [views.call_view(c, self.calls, now) for c in self.calls.values()]

    def call_view(self, call: str) -> dict[str, Any] | None:
        c = self.calls.get(call)
        return views.call_view(c, self.calls, self.clock.time()) if c is not None else None

    def estimated_wait(self, call: str) -> float:
        """What the booth is told: position × the queue's average talk time ÷ agents in it
        (0 while the call rings or talks)."""
        return views.estimated_wait(self.calls.get(call), self.queues)

    def agent_of_call(self, call: str) -> str | None:
        c = self.calls.get(call)
        return c.agent if c is not None else None

    # ================================================================== calls
    def _call_requested(self, ev: CallRequested) -> None:
        if ev.call in self.calls:
            raise EngineError("duplicate_call", f"call {ev.call!r} exists already")
        q = self.queues.get(ev.queue)
        if q is None:
            raise EngineError("unknown_queue", f"queue {ev.queue!r} is unknown")
        old = self.by_booth.get(ev.booth)
        if old is not None:  # the booth started over (restart, missed call_ended)
            self._abandon(old, "replaced")
        now = self.now
        c = CallState(
            id=ev.call,
            booth=ev.booth,
            session=ev.session,
            queue=q.spec.id,
            priority=ev.priority,
            skills=ev.skills,
            created=now,
            origin=now,
            entered=now,
            seq=next(self._seq),
        )
        self.calls[c.id] = c
        self.by_booth[c.booth] = c.id
        self._dirty(c)
        self._log("ENTERQUEUE", c, booth=c.booth, priority=c.priority, transfer=False)
        reason = self._closed_reason(q)
        if reason is not None:
            self._unavailable(c, q, reason)
            return
        self._enter_queue(c, q, new_origin=False)

    def _accept(self, ev: Accept) -> None:
        a = self._agent(ev.agent)
        c = self._call(ev.call)
        if a.status != AgentStatus.OFFERED or a.call != c.id or c.status != CallStatus.RINGING:
            raise EngineError("not_offered", f"call {c.id!r} is not offered to {a.spec.id!r}")
        ring_s = round(self.now - c.ring_start, 3)
        others = [self.agents[x] for x in c.ringing if x != a.spec.id]
        c.ringing = []
        c.ring_deadline = None
        self._emit(CancelTimer(TimerKey(RING, c.id)))
        if c.max_deadline is not None:
            c.max_deadline = None
            self._emit(CancelTimer(TimerKey(MAX_WAIT, c.id)))
        if c.clerk_deadline is not None:
            c.clerk_deadline = None
            self._emit(CancelTimer(TimerKey(CLERK_WAIT, c.id)))
        c.status = CallStatus.CONNECTED
        c.agent = a.spec.id
        c.connected_at = self.now
        c.clerk = None
        self._dirty(c)
        a.calls_taken += 1
        self._set_status(a, AgentStatus.BUSY, None, c.id)
        for o in others:
            self._emit(OfferWithdrawn(c.id, o.spec.id, "taken_by_other"))
            self._back_to_ready(o, keep_idle=True)
        if c.kind == "consult":
            assert c.parent is not None and c.asker is not None
            self._emit(ConsultConnected(c.parent, c.asker, a.spec.id))
            return
        self._log(
            "CONNECT", c, agent=a.spec.id, wait_s=round(self.now - c.entered, 3), ring_s=ring_s
        )
        self._emit(
            CallerConnected(c.id, c.booth, c.session, c.queue, a.spec.id, a.spec.display_name)
        )

    def _decline(self, ev: Decline) -> None:
        a = self._agent(ev.agent)
        c = self._call(ev.call)
        if a.status != AgentStatus.OFFERED or a.call != c.id:
            raise EngineError("not_offered", f"call {c.id!r} is not offered to {a.spec.id!r}")
        self._withdraw_one(c, a, "declined")

    def _abandon(self, call_id: str, reason: str) -> None:
        c = self.calls.get(call_id)
        if c is None:
            raise EngineError("unknown_call", f"call {call_id!r} is unknown or over")
        if c.kind == "consult":
            raise EngineError("bad_state", "a consultation is ended with cancel, not abandon")
        wait_s = round(self.now - c.entered, 3)
        if c.status == CallStatus.WAITING:
            position = c.position or 1
            self._remove_waiting(c)
            self._log("ABANDON", c, position=position, wait_s=wait_s, reason=reason)
        elif c.status == CallStatus.RINGING:
            for aid in list(c.ringing):
                self._emit(OfferWithdrawn(c.id, aid, "abandoned"))
                self._back_to_ready(self.agents[aid], keep_idle=True)
            c.ringing = []
            self._log("ABANDON", c, position=1, wait_s=wait_s, reason=reason)
        elif c.status == CallStatus.CONNECTED:
            self._end_consult(c, "abandoned")
            assert c.agent is not None
            self._log(
                "COMPLETECALLER",
                c,
                agent=c.agent,
                wait_s=round(c.connected_at - c.entered, 3),
                talk_s=round(self.now - c.connected_at, 3),
                reason=reason,
            )
            self._learn_aht(c)
            self._after_call(self.agents[c.agent], c)
        self._emit(CallFinished(c.id, c.booth, c.session, reason, True))
        self._drop_call(c)

    def _hangup(self, ev: Hangup) -> None:
        c = self._call(ev.call)
        a = self._agent(ev.agent)
        if c.kind == "consult":
            if c.agent != a.spec.id and c.asker != a.spec.id:
                raise EngineError("not_your_call", f"{a.spec.id!r} is not in {c.id!r}")
            assert c.parent is not None
            self._end_consult(self.calls[c.parent], "consultant_hangup")
            return
        if c.status != CallStatus.CONNECTED or c.agent != a.spec.id:
            raise EngineError("not_your_call", f"{a.spec.id!r} is not talking in {c.id!r}")
        self._end_consult(c, "cancelled", tell_booth=False)
        self._log(
            "COMPLETEAGENT",
            c,
            agent=a.spec.id,
            wait_s=round(c.connected_at - c.entered, 3),
            talk_s=round(self.now - c.connected_at, 3),
            reason=ev.reason,
        )
        self._learn_aht(c)
        self._after_call(a, c)
        self._emit(CallFinished(c.id, c.booth, c.session, ev.reason, False))
        self._drop_call(c)

    # ================================================================== agents
    def _connection_lost(self, a: AgentState) -> None:
        if a.status == AgentStatus.LOGGED_OUT:
            return
        if a.status == AgentStatus.BUSY:
            assert a.call is not None
            c = self.calls.get(a.call)
            if c is not None and c.kind == "call" and c.agent == a.spec.id:
                # the citizen is not left in a dead call: back to the queue, first in line
                self._end_consult(c, "cancelled", tell_booth=False)
                self._log(
                    "TRANSFER",
                    c,
                    agent=a.spec.id,
                    mode="requeue",
                    target_queue=c.queue,
                    target_clerk=None,
                    talk_s=round(self.now - c.connected_at, 3),
                )
                c.agent = None
                self._emit(CallerTransferring(c.id, c.booth, c.session, ""))
                a.pending = (AgentStatus.NOT_READY, DISCONNECTED)
                self._after_call(a, c, wrapup=False)
                c.priority += self.queues[c.queue].spec.transfer_priority
                c.offered_once = False
                c.position = None
                self._exclude(c, a, self.queues[c.queue].spec.decline_block_s)
                # same queue: no second ENTERQUEUE (the call is offered to it once)
                self._enter_queue(c, self.queues[c.queue], new_origin=False)
                return
            a.pending = (AgentStatus.NOT_READY, DISCONNECTED)
            if c is not None and c.kind == "consult":
                assert c.parent is not None
                # ends the leg; the consultant's after-work applies the pending not-ready
                self._end_consult(self.calls[c.parent], "consultant_hangup")
                return
            self._apply_pending(a)
            return
        self._request_status(a, AgentStatus.NOT_READY, DISCONNECTED)

    # ================================================================== timers
    def _timer(self, key: TimerKey) -> None:
        kind = key.kind
        now = self.now
        if kind == RING:
            c = self.calls.get(key.id)
            if c is None or c.status != CallStatus.RINGING or c.ring_deadline is None:
                return
            if now + 1e-9 < c.ring_deadline:
                self._timer_at(key, c.ring_deadline)  # fired early (host clock skew)
                return
            q = self.queues[c.queue]
            for aid in list(c.ringing):
                a = self.agents[aid]
                if c.kind == "call":
                    self._log("RINGNOANSWER", c, agent=aid, ring_s=round(now - c.ring_start, 3))
                self._emit(OfferWithdrawn(c.id, aid, NO_ANSWER))
                c.ringing.remove(aid)
                self._exclude(c, a, q.spec.decline_block_s)
                if q.spec.no_answer_not_ready:
                    a.pending = None
                    self._leave(a, AgentStatus.NOT_READY, NO_ANSWER)
                else:
                    self._back_to_ready(a, keep_idle=True)
            self._ring_failed(c, NO_ANSWER)
        elif kind == WRAP_UP:
            wa = self.agents.get(key.id)
            if wa is None or wa.status != AgentStatus.WRAP_UP or wa.wrap_until is None:
                return
            if now + 1e-9 < wa.wrap_until:
                self._timer_at(key, wa.wrap_until)
                return
            wa.wrap_until = None
            self._after_work(wa)
        elif kind == MAX_WAIT:
            c = self.calls.get(key.id)
            if c is None or c.max_deadline is None or c.status != CallStatus.WAITING:
                return  # ringing: decided when the ring ends
            if now + 1e-9 < c.max_deadline:
                self._timer_at(key, c.max_deadline)
                return
            self._max_wait(c)
        elif kind == CLERK_WAIT:
            c = self.calls.get(key.id)
            if c is None or c.clerk is None or c.clerk_deadline is None:
                return
            if now + 1e-9 < c.clerk_deadline:
                self._timer_at(key, c.clerk_deadline)
                return
            self._clerk_fallback(c)
        elif kind == UNBLOCK:
            aid = key.agent
            c = self.calls.get(key.id)
            if c is None or aid not in c.excluded:
                return
            if now + 1e-9 < c.excluded[aid]:
                self._timer_at(key, c.excluded[aid])
                return
            del c.excluded[aid]
            self._dirty(c)
            ua = self.agents.get(aid)
            if (
                ua is not None
                and ua.status == AgentStatus.READY
                and c.status == CallStatus.WAITING
                and c.clerk is None
                and c.queue in ua.spec.queues
            ):
                self._dispatch_call(c, self.queues[c.queue])
