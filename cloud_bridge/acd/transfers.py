"""Transfers: blind (to a queue, or to a named clerk with the queue as the fallback) and with a
consultation first (a consult leg offered like a call; completed, cancelled, or ended by either
agent or by the citizen leaving).

On top of :class:`~cloud_bridge.acd.agents.AgentCycle` (see
:mod:`cloud_bridge.acd.routing` for the order of the layers).
"""

from __future__ import annotations

from cloud_bridge.acd.agents import AgentCycle
from cloud_bridge.acd.model import (
    AgentStatus,
    CallerConnected,
    CallerQueued,
    CallerTransferring,
    CallStatus,
    CancelTransfer,
    CompleteTransfer,
    ConsultEnded,
    EngineError,
    OfferWithdrawn,
    TimerKey,
    TimerKind,
    Transfer,
)
from cloud_bridge.acd.state import AgentState, CallState, QueueState

CONSULT_PRIORITY = 100  # consultations jump every queue: an agent and a citizen are waiting
CLERK_WAIT = TimerKind.CLERK_WAIT


class Transfers(AgentCycle):
    """Moving a connected citizen to another queue or clerk."""

    def _connected_call(self, agent: str, call: str) -> tuple[AgentState, CallState]:
        a = self._agent(agent)
        c = self._call(call)
        if c.kind != "call" or c.status != CallStatus.CONNECTED or c.agent != a.spec.id:
            raise EngineError("not_your_call", f"{a.spec.id!r} is not talking in {c.id!r}")
        return a, c

    def _transfer(self, ev: Transfer) -> None:
        a, c = self._connected_call(ev.agent, ev.call)
        if c.consult is not None:
            raise EngineError("bad_state", "finish or cancel the consultation first")
        if ev.queue is None and ev.clerk is None:
            raise EngineError("bad_request", "a transfer needs a queue or a clerk")
        clerk = None
        if ev.clerk is not None:
            clerk = self.agents.get(ev.clerk)
            if clerk is None:
                raise EngineError("unknown_agent", f"clerk {ev.clerk!r} is unknown")
            if clerk is a:
                raise EngineError("bad_request", "a call cannot be transferred to oneself")
        fallback = ev.queue
        if fallback is None and clerk is not None:
            fallback = min(clerk.spec.queues, key=lambda k: clerk.spec.queues[k], default=None)
        if fallback is not None and fallback not in self.queues:
            raise EngineError("unknown_queue", f"queue {fallback!r} is unknown")
        if clerk is not None and clerk.status == AgentStatus.LOGGED_OUT and fallback is None:
            raise EngineError("clerk_unavailable", f"{clerk.spec.id!r} is not logged in")
        target_q = self.queues[fallback] if fallback is not None else None
        if clerk is None or clerk.status == AgentStatus.LOGGED_OUT:
            # into a closed or empty queue the citizen would be stranded: refuse
            assert target_q is not None
            reason = self._closed_reason(target_q)
            if reason is not None:
                raise EngineError(
                    "queue_unavailable", f"queue {target_q.spec.id!r}: {reason.replace('_', ' ')}"
                )
        if ev.consult:
            self._start_consult(a, c, target_q, clerk)
            return
        self._log(
            "TRANSFER",
            c,
            agent=a.spec.id,
            mode="blind",
            target_queue=fallback,
            target_clerk=ev.clerk,
            talk_s=round(self.now - c.connected_at, 3),
        )
        self._learn_aht(c)
        c.agent = None
        target_name = clerk.spec.display_name if clerk is not None else ""
        if target_q is not None and not target_name:
            target_name = target_q.spec.name
        self._emit(CallerTransferring(c.id, c.booth, c.session, target_name))
        self._after_call(a, c)
        c.priority += target_q.spec.transfer_priority if target_q is not None else 0
        c.offered_once = False
        c.position = None
        c.excluded.clear()
        self._route_transferred(c, target_q, clerk)

    def _route_transferred(
        self, c: CallState, target_q: QueueState | None, clerk: AgentState | None
    ) -> None:
        """After a blind transfer: to the clerk if free, wait for them if busy, else queue."""
        if target_q is not None and c.kind == "call":
            c.queue = target_q.spec.id
            self._log("ENTERQUEUE", c, booth=c.booth, priority=c.priority, transfer=True)
        if clerk is not None and clerk.status != AgentStatus.LOGGED_OUT:
            c.status = CallStatus.WAITING
            c.entered = self.now
            c.origin = self.now
            if target_q is not None:
                c.queue = target_q.spec.id
            self._dirty(c)
            if clerk.status == AgentStatus.READY:
                self._offer(c, [clerk])
                return
            c.clerk = clerk.spec.id
            wait = target_q.spec.clerk_wait_s if target_q is not None else None
            c.clerk_deadline = self.now + wait if wait is not None else None
            if c.clerk_deadline is not None:
                self._timer_at(TimerKey(CLERK_WAIT, c.id), c.clerk_deadline)
            self.pinned.setdefault(clerk.spec.id, []).append(c)
            self.pinned[clerk.spec.id].sort(key=CallState.key)
            if c.kind == "call":
                c.position = 1
                est = round(self.queues[c.queue].aht / 2, 1)
                self._emit(CallerQueued(c.id, c.booth, c.session, c.queue, 1, est))
            return
        assert target_q is not None
        self._enter_queue(c, target_q, new_origin=True)

    def _start_consult(
        self, a: AgentState, c: CallState, target_q: QueueState | None, clerk: AgentState | None
    ) -> None:
        leg_id = f"{c.id}~{next(self._seq)}"
        q = target_q if target_q is not None else self.queues[c.queue]
        leg = CallState(
            id=leg_id,
            booth=c.booth,
            session=c.session,
            queue=q.spec.id,
            priority=CONSULT_PRIORITY + c.priority,
            skills=frozenset(),
            created=self.now,
            origin=self.now,
            entered=self.now,
            seq=next(self._seq),
            kind="consult",
            parent=c.id,
            asker=a.spec.id,
            target_clerk=clerk.spec.id if clerk is not None else None,
        )
        leg.excluded[a.spec.id] = float("inf")  # never offered to the asking agent
        self.calls[leg.id] = leg
        c.consult = leg.id
        self._dirty(c)
        self._dirty(leg)
        target = clerk.spec.display_name if clerk is not None else q.spec.name
        self._emit(CallerTransferring(c.id, c.booth, c.session, target))
        self._route_transferred(leg, target_q, clerk)

    def _complete_transfer(self, ev: CompleteTransfer) -> None:
        a, c = self._connected_call(ev.agent, ev.call)
        leg = self.calls.get(c.consult) if c.consult is not None else None
        if leg is None or leg.status != CallStatus.CONNECTED or leg.agent is None:
            raise EngineError("no_consult", "no consultation is connected for this call")
        b = self.agents[leg.agent]
        self._log(
            "TRANSFER",
            c,
            agent=a.spec.id,
            mode="consult",
            target_queue=leg.queue,
            target_clerk=leg.target_clerk,
            talk_s=round(self.now - c.connected_at, 3),
        )
        self._learn_aht(c)
        self._emit(ConsultEnded(c.id, a.spec.id, b.spec.id, "completed"))
        c.consult = None
        self._drop_call(leg)
        self._after_call(a, c)
        c.queue = leg.queue
        c.agent = b.spec.id
        self._log("ENTERQUEUE", c, booth=c.booth, priority=c.priority, transfer=True)
        c.entered = leg.entered
        c.connected_at = self.now
        self._dirty(c)
        self._set_status(b, AgentStatus.BUSY, None, c.id)  # from the leg to the citizen's call
        self._log(
            "CONNECT",
            c,
            agent=b.spec.id,
            wait_s=round(leg.connected_at - leg.entered, 3),
            ring_s=0.0,
        )
        self._emit(
            CallerConnected(c.id, c.booth, c.session, c.queue, b.spec.id, b.spec.display_name)
        )

    def _cancel_transfer(self, ev: CancelTransfer) -> None:
        _, c = self._connected_call(ev.agent, ev.call)
        if c.consult is None:
            raise EngineError("no_consult", "no consultation for this call")
        self._end_consult(c, "cancelled")

    def _end_consult(self, c: CallState, reason: str, *, tell_booth: bool = True) -> None:
        """End the consult leg of ``c`` (if any); the citizen stays with c.agent (the booth is
        told so unless ``tell_booth`` is False: the call is ending or moving anyway)."""
        if c.consult is None:
            return
        leg = self.calls.get(c.consult)
        c.consult = None
        self._dirty(c)
        if leg is None:
            return
        consultant = leg.agent
        if leg.status == CallStatus.WAITING:
            self._remove_waiting(leg)
        elif leg.status == CallStatus.RINGING:
            for aid in list(leg.ringing):
                self._emit(OfferWithdrawn(leg.id, aid, "cancelled"))
                self._back_to_ready(self.agents[aid], keep_idle=True)
            leg.ringing = []
        elif leg.status == CallStatus.CONNECTED and consultant is not None:
            b = self.agents[consultant]
            self._after_work(b)
        assert leg.asker is not None
        self._emit(ConsultEnded(c.id, leg.asker, consultant, reason))
        self._drop_call(leg)
        if tell_booth and reason != "abandoned" and c.agent is not None:
            agent = self.agents[c.agent]
            self._emit(
                CallerConnected(
                    c.id, c.booth, c.session, c.queue, agent.spec.id, agent.spec.display_name
                )
            )
