"""The ACD engine: automatic call distribution as a pure state machine on an injected clock.

``Engine.handle(event) -> list[Decision]``; nothing else changes its state. A decision is made on
the event that makes it possible (a call arrives, an agent becomes ready, an offer fails, a timer
fires): there is no polling loop. Timers are requested from the host with ``SetTimer`` and come
back as ``TimerFired``; every timer handler re-checks the state, so a stale or repeated timer is
harmless.

Indexes keep the cost per decision flat as the system grows:

- per queue, the waiting calls in one list sorted by (−priority, wait origin, seq): the head is
  the next call, the index is the position shown on the booth;
- per queue and level, a heap of ready agents keyed by the queue's strategy, with lazy deletion
  (an entry is valid while the agent's ``version`` is unchanged and it is still ready);
- calls waiting for a named clerk in a per-clerk list (served before the clerk's queues).

Requests the engine refuses raise :class:`EngineError` before anything is changed.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloud_bridge.acd.model import (
    DISCONNECTED,
    NO_ANSWER,
    Accept,
    AgentChanged,
    AgentConnectionLost,
    AgentLogin,
    AgentLogout,
    AgentSpec,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
    CallerQueued,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    CallRequested,
    CallStatus,
    CancelTimer,
    CancelTransfer,
    Clock,
    CompleteTransfer,
    ConsultConnected,
    ConsultEnded,
    Decision,
    Decline,
    EngineError,
    Event,
    Hangup,
    LogEntry,
    LogEvent,
    Offer,
    OfferWithdrawn,
    QueueSpec,
    SetNotReady,
    SetReady,
    SetTimer,
    Strategy,
    TimerFired,
    Transfer,
)

AHT_WEIGHT = 0.1  # weight of the newest talk time in a queue's running average
CONSULT_PRIORITY = 100  # consultations jump every queue: an agent and a citizen are waiting


@dataclass(slots=True)
class AgentState:
    spec: AgentSpec
    order: int  # position in the config (tie breaker)
    status: AgentStatus = AgentStatus.LOGGED_OUT
    reason: str | None = None
    since: float = 0.0
    idle_since: float = 0.0  # became ready after work (longest-idle key)
    call: str | None = None  # the offered / connected / wrapped-up call (or consult leg)
    pending: tuple[AgentStatus, str | None] | None = None  # asked for while busy
    calls_taken: int = 0
    version: int = 0
    rr: dict[str, int] = field(default_factory=dict)  # queue -> last offer number there
    wrap_until: float | None = None


@dataclass(slots=True, eq=False)  # identity: list lookups must not compare every field
class CallState:
    id: str
    booth: str
    session: str
    queue: str
    priority: int
    skills: frozenset[str]
    created: float
    origin: float  # ordering time in the queue (kept on overflow, reset on transfer)
    entered: float  # entered the current queue (for wait_s)
    seq: int
    status: CallStatus = CallStatus.WAITING
    kind: str = "call"  # call | consult
    parent: str | None = None  # consult leg: the citizen's call
    asker: str | None = None  # consult leg: the agent who asked
    consult: str | None = None  # citizen's call: its consult leg
    target_clerk: str | None = None  # consult leg: the clerk asked for
    agent: str | None = None
    ringing: list[str] = field(default_factory=list)
    ring_start: float = 0.0
    ring_deadline: float | None = None
    connected_at: float = 0.0
    clerk: str | None = None  # waiting for this named clerk
    clerk_deadline: float | None = None
    max_deadline: float | None = None
    excluded: dict[str, float] = field(default_factory=dict)  # agent -> until
    offered_once: bool = False
    position: int | None = None  # last position told to the booth
    in_queue: bool = False  # in its queue's waiting list (not persisted: rebuilt on restore)

    def key(self) -> tuple[int, float, int]:
        return (-self.priority, self.origin, self.seq)


@dataclass(slots=True)
class QueueState:
    spec: QueueSpec
    levels: list[int] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    heaps: dict[int, list[tuple[tuple[float, ...], int, str]]] = field(default_factory=dict)
    ready: dict[int, int] = field(default_factory=dict)  # level -> ready agents
    waiting: list[CallState] = field(default_factory=list)
    logged_in: int = 0
    rr_counter: int = 0
    aht: float = 300.0


class Engine:
    """See the module docstring. ``decisions`` counts every decision made (for benchmarks)."""

    def __init__(
        self, queues: Iterable[QueueSpec], agents: Iterable[AgentSpec], clock: Clock
    ) -> None:
        self.clock = clock
        self.queues: dict[str, QueueState] = {}
        for qs in queues:
            if qs.id in self.queues:
                raise ValueError(f"queue {qs.id!r} declared twice")
            self.queues[qs.id] = QueueState(spec=qs, aht=qs.default_aht_s)
        for state in self.queues.values():
            if state.spec.overflow is not None and state.spec.overflow not in self.queues:
                raise ValueError(
                    f"queue {state.spec.id!r}: overflow {state.spec.overflow!r} is unknown"
                )
        self.agents: dict[str, AgentState] = {}
        for n, spec in enumerate(agents):
            if spec.id in self.agents:
                raise ValueError(f"agent {spec.id!r} declared twice")
            for qid, level in spec.queues.items():
                if qid not in self.queues:
                    raise ValueError(f"agent {spec.id!r}: queue {qid!r} is unknown")
                if level < 1:
                    raise ValueError(f"agent {spec.id!r}: level in {qid!r} must be ≥ 1")
            self.agents[spec.id] = AgentState(spec=spec, order=n)
            for qid, level in spec.queues.items():
                q = self.queues[qid]
                q.members.append(spec.id)
                if level not in q.heaps:
                    q.heaps[level] = []
                    q.ready[level] = 0
                    q.levels = sorted(q.heaps)
        self.calls: dict[str, CallState] = {}
        self.by_booth: dict[str, str] = {}  # booth -> live citizen call
        self.pinned: dict[str, list[CallState]] = {}  # clerk -> calls waiting for them
        self.decisions = 0
        self.now = clock.time()
        self._seq = itertools.count(1)
        self._out: list[Decision] = []
        self._dirty_calls: set[str] = set()
        self._dirty_agents: set[str] = set()
        self._dirty_queues: set[str] = set()

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
    def take_changes(
        self,
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, dict[str, Any]], dict[str, Any]]:
        """Entities changed since the last call: (calls, agents, queues) as JSON-ready dicts;
        a call that is gone maps to None."""
        calls: dict[str, dict[str, Any] | None] = {}
        for cid in self._dirty_calls:
            c = self.calls.get(cid)
            calls[cid] = _export_call(c) if c is not None else None
        agents = {aid: _export_agent(self.agents[aid]) for aid in self._dirty_agents}
        queues = {
            qid: {"rr_counter": self.queues[qid].rr_counter, "aht": self.queues[qid].aht}
            for qid in self._dirty_queues
        }
        self._dirty_calls.clear()
        self._dirty_agents.clear()
        self._dirty_queues.clear()
        return calls, agents, queues

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
        for qid, data in (queues or {}).items():
            if qid in self.queues:
                self.queues[qid].rr_counter = int(data.get("rr_counter", 0))
                self.queues[qid].aht = float(data.get("aht", self.queues[qid].aht))
        for data in agents:
            a = self.agents.get(str(data["id"]))
            if a is None:
                continue
            a.status = AgentStatus(data["status"])
            a.reason = data.get("reason")
            a.since = float(data.get("since", self.now))
            a.idle_since = float(data.get("idle_since", a.since))
            a.call = data.get("call")
            pend = data.get("pending")
            a.pending = (AgentStatus(pend[0]), pend[1]) if pend else None
            a.calls_taken = int(data.get("calls_taken", 0))
            a.rr = {k: int(v) for k, v in (data.get("rr") or {}).items()}
            a.wrap_until = data.get("wrap_until")
        restored: list[CallState] = []
        for data in sorted(calls, key=lambda d: int(d.get("seq", 0))):
            c = _import_call(data)
            if c.queue not in self.queues:
                c.queue = next(iter(self.queues))
            self.calls[c.id] = c
            restored.append(c)
        top = max((c.seq for c in restored), default=0)
        self._seq = itertools.count(top + 1)
        for c in restored:
            if c.kind == "call":
                self.by_booth[c.booth] = c.id
        # agents pointing at calls that no longer exist get their way out
        for a in self.agents.values():
            if a.status != AgentStatus.LOGGED_OUT:
                for qid in a.spec.queues:
                    self.queues[qid].logged_in += 1
            if a.status in (AgentStatus.OFFERED, AgentStatus.BUSY) and (
                a.call is None or a.call not in self.calls
            ):
                a.status, a.call = AgentStatus.READY, None
                self._dirty_agents.add(a.spec.id)
        for c in restored:
            if c.status == CallStatus.WAITING:
                if c.clerk is not None:
                    self.pinned.setdefault(c.clerk, []).append(c)
                    if c.clerk_deadline is not None:
                        self._timer_at(f"clerk:{c.id}", c.clerk_deadline)
                else:
                    self._insert_waiting(c)
            elif c.status == CallStatus.RINGING:
                c.ringing = [
                    aid for aid in c.ringing if aid in self.agents and self.agents[aid].call == c.id
                ]
                if c.ringing and c.ring_deadline is not None:
                    self._timer_at(f"ring:{c.id}", c.ring_deadline)
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
                self._timer_at(f"maxwait:{c.id}", c.max_deadline)
            for aid, until in c.excluded.items():
                if until != float("inf"):
                    self._timer_at(f"unblock:{c.id}:{aid}", until)
        for a in self.agents.values():
            if a.status == AgentStatus.READY:
                self._push_ready(a)
            elif a.status == AgentStatus.WRAP_UP and a.wrap_until is not None:
                self._timer_at(f"wrap:{a.spec.id}", a.wrap_until)
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
        now = self.clock.time()
        return [
            {
                "id": a.spec.id,
                "display_name": a.spec.display_name,
                "status": a.status.value,
                "reason": a.reason,
                "since": a.since,
                "in_status_s": round(max(0.0, now - a.since), 1) if a.since else None,
                "call": a.call,
                "pending": a.pending[0].value if a.pending else None,
                "queues": dict(a.spec.queues),
                "calls_taken": a.calls_taken,
            }
            for a in self.agents.values()
        ]

    def queues_view(self) -> list[dict[str, Any]]:
        now = self.clock.time()
        counts: dict[str, dict[str, int]] = {q: {"ringing": 0, "connected": 0} for q in self.queues}
        for c in self.calls.values():
            if c.kind == "call" and c.status in (CallStatus.RINGING, CallStatus.CONNECTED):
                counts[c.queue][c.status.value] += 1
        out = []
        for qid, q in self.queues.items():
            waiting = len(q.waiting)
            out.append(
                {
                    "id": qid,
                    "name": q.spec.name,
                    "strategy": q.spec.strategy.value,
                    "open": q.spec.hours.is_open(now) if q.spec.hours is not None else True,
                    "waiting": waiting,
                    "ringing": counts[qid]["ringing"],
                    "connected": counts[qid]["connected"],
                    "logged_in": q.logged_in,
                    "ready": sum(q.ready.values()),
                    "oldest_wait_s": round(now - q.waiting[0].entered, 1) if waiting else 0.0,
                    "aht_s": round(q.aht, 1),
                }
            )
        return out

    def calls_view(self) -> list[dict[str, Any]]:
        now = self.clock.time()
        return [self._call_view(c, now) for c in self.calls.values()]

    def call_view(self, call: str) -> dict[str, Any] | None:
        c = self.calls.get(call)
        return self._call_view(c, self.clock.time()) if c is not None else None

    def _call_view(self, c: CallState, now: float) -> dict[str, Any]:
        consult = None
        if c.consult is not None and c.consult in self.calls:
            leg = self.calls[c.consult]
            consult = {
                "id": leg.id,
                "agent": leg.asker,
                "consultant": leg.agent or (leg.ringing[0] if leg.ringing else None),
                "status": leg.status.value,
                "queue": leg.queue,
                "clerk": leg.target_clerk,
            }
        return {
            "id": c.id,
            "kind": c.kind,
            "parent": c.parent,
            "booth": c.booth,
            "session": c.session,
            "queue": c.queue,
            "status": c.status.value,
            "agent": c.agent,
            "ringing": list(c.ringing),
            "priority": c.priority,
            "created": c.created,
            "entered": c.entered,
            "wait_s": round(now - c.entered, 1),
            "position": c.position,
            "clerk": c.clerk,
            "consult": consult,
        }

    def estimated_wait(self, call: str) -> float:
        """What the booth is told: position × the queue's average talk time ÷ agents in it
        (0 while the call rings or talks)."""
        c = self.calls.get(call)
        if c is None or c.status != CallStatus.WAITING or c.position is None:
            return 0.0
        q = self.queues[c.queue]
        return round(c.position * q.aht / max(1, q.logged_in), 1)

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
            self._timer_at(f"maxwait:{c.id}", c.max_deadline)
        elif c.max_deadline is not None:
            c.max_deadline = None
            self._emit(CancelTimer(f"maxwait:{c.id}"))
        self._dispatch_call(c, q)

    def _dispatch_call(self, c: CallState, q: QueueState) -> None:
        """Offer a waiting call to the best free agent(s), or (re)insert it in the queue."""
        agents = self._select_agents(q, c)
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

    def _offer(self, c: CallState, agents: list[AgentState]) -> None:
        q = self.queues[c.queue]
        c.status = CallStatus.RINGING
        c.ringing = [a.spec.id for a in agents]
        c.ring_start = self.now
        c.ring_deadline = self.now + q.spec.ring_timeout_s
        self._dirty(c)
        self._timer_at(f"ring:{c.id}", c.ring_deadline)
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
        self._emit(CancelTimer(f"ring:{c.id}"))
        if c.kind == "call" and c.max_deadline is not None and self.now >= c.max_deadline:
            self._max_wait(c)
            return
        if c.clerk is not None:
            self.pinned.setdefault(c.clerk, []).append(c)
            self.pinned[c.clerk].sort(key=CallState.key)
            return
        self._dispatch_call(c, self.queues[c.queue])

    def _accept(self, ev: Accept) -> None:
        a = self._agent(ev.agent)
        c = self._call(ev.call)
        if a.status != AgentStatus.OFFERED or a.call != c.id or c.status != CallStatus.RINGING:
            raise EngineError("not_offered", f"call {c.id!r} is not offered to {a.spec.id!r}")
        ring_s = round(self.now - c.ring_start, 3)
        others = [self.agents[x] for x in c.ringing if x != a.spec.id]
        c.ringing = []
        c.ring_deadline = None
        self._emit(CancelTimer(f"ring:{c.id}"))
        if c.max_deadline is not None:
            c.max_deadline = None
            self._emit(CancelTimer(f"maxwait:{c.id}"))
        if c.clerk_deadline is not None:
            c.clerk_deadline = None
            self._emit(CancelTimer(f"clerk:{c.id}"))
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

    def _exclude(self, c: CallState, a: AgentState, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self.now + seconds
        c.excluded[a.spec.id] = until
        self._timer_at(f"unblock:{c.id}:{a.spec.id}", until)

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

    def _learn_aht(self, c: CallState) -> None:
        q = self.queues[c.queue]
        talk = self.now - c.connected_at
        q.aht = (1 - AHT_WEIGHT) * q.aht + AHT_WEIGHT * talk
        self._dirty_queues.add(q.spec.id)

    def _drop_call(self, c: CallState) -> None:
        for key in ("ring", "maxwait", "clerk"):
            self._emit(CancelTimer(f"{key}:{c.id}"))
        for aid in c.excluded:
            self._emit(CancelTimer(f"unblock:{c.id}:{aid}"))
        c.status = CallStatus.ENDED
        self.calls.pop(c.id, None)
        if c.kind == "call" and self.by_booth.get(c.booth) == c.id:
            del self.by_booth[c.booth]
        self._dirty_calls.add(c.id)

    # ================================================================== transfers
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
                self._timer_at(f"clerk:{c.id}", c.clerk_deadline)
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

    # ================================================================== max wait, clerk fallback
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

    # ================================================================== agents
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
            self._emit(CancelTimer(f"wrap:{a.spec.id}"))
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
            self._emit(CancelTimer(f"wrap:{a.spec.id}"))
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

    def _after_call(self, a: AgentState, c: CallState, *, wrapup: bool = True) -> None:
        """The agent's part of a call is over: wrap-up (timer of the call's queue), then ready
        (or what they asked for meanwhile)."""
        seconds = self.queues[c.queue].spec.wrapup_s if wrapup else 0.0
        if seconds > 0:
            a.wrap_until = self.now + seconds
            self._set_status(a, AgentStatus.WRAP_UP, None, c.id)
            self._timer_at(f"wrap:{a.spec.id}", a.wrap_until)
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
        self._push_ready(a)  # first: an offer from _find_work takes it out again
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
                self._emit(CancelTimer(f"clerk:{c.id}"))
                c.clerk_deadline = None
            c.clerk = None
            self._offer(c, [a])
            return
        best: CallState | None = None
        for qid in a.spec.queues:
            for c in self.queues[qid].waiting:
                if self._eligible(c, a):
                    if best is None or c.key() < best.key():
                        best = c
                    break
                if best is not None and c.key() >= best.key():
                    break
        if best is not None:
            self._remove_waiting(best)
            self._offer(best, [a])

    def _eligible(self, c: CallState, a: AgentState) -> bool:
        if c.excluded:
            until = c.excluded.get(a.spec.id)
            if until is not None and until > self.now:
                return False
        return not c.skills or c.skills <= a.spec.skills

    # --------------------------------------------------------------- ready-agent heaps
    def _strategy_key(self, q: QueueState, a: AgentState) -> tuple[float, ...]:
        s = q.spec.strategy
        if s == Strategy.FEWEST_CALLS:
            return (a.calls_taken, a.idle_since, a.order)
        if s == Strategy.ROUND_ROBIN:
            return (a.rr.get(q.spec.id, -1), a.order)
        return (a.idle_since, a.order)

    def _push_ready(self, a: AgentState) -> None:
        a.version += 1
        for qid, level in a.spec.queues.items():
            q = self.queues[qid]
            heap = q.heaps[level]
            heapq.heappush(heap, (self._strategy_key(q, a), a.version, a.spec.id))
            q.ready[level] += 1
            if len(heap) > 4 * q.ready[level] + 64:
                q.heaps[level] = heap = [e for e in heap if self._valid(e)]
                heapq.heapify(heap)

    def _valid(self, entry: tuple[tuple[float, ...], int, str]) -> bool:
        a = self.agents[entry[2]]
        return a.version == entry[1] and a.status == AgentStatus.READY

    def _unready(self, a: AgentState) -> None:
        """``a`` leaves READY: its heap entries become stale (removed lazily)."""
        a.version += 1
        for qid, level in a.spec.queues.items():
            self.queues[qid].ready[level] -= 1

    def _select_agents(self, q: QueueState, c: CallState) -> list[AgentState]:
        ring_all = q.spec.strategy == Strategy.RING_ALL and c.kind == "call"
        for level in q.levels:
            if q.ready[level] <= 0:
                continue
            heap = q.heaps[level]
            skipped: list[tuple[tuple[float, ...], int, str]] = []
            found: list[AgentState] = []
            while heap:
                entry = heap[0]
                if not self._valid(entry):
                    heapq.heappop(heap)
                    continue
                a = self.agents[entry[2]]
                if self._eligible(c, a):
                    found.append(a)
                    if not ring_all:
                        break
                skipped.append(heapq.heappop(heap))
            for entry in skipped:
                heapq.heappush(heap, entry)
            if found:
                return found
        return []

    def _set_status(
        self, a: AgentState, status: AgentStatus, reason: str | None, call: str | None
    ) -> None:
        previous, prev_call, prev_s = a.status, a.call, self.now - a.since
        if previous == AgentStatus.READY and status != AgentStatus.READY:
            self._unready(a)
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

    # ================================================================== timers
    def _timer(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        now = self.now
        if kind == "ring":
            c = self.calls.get(rest)
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
        elif kind == "wrap":
            wa = self.agents.get(rest)
            if wa is None or wa.status != AgentStatus.WRAP_UP or wa.wrap_until is None:
                return
            if now + 1e-9 < wa.wrap_until:
                self._timer_at(key, wa.wrap_until)
                return
            wa.wrap_until = None
            self._after_work(wa)
        elif kind == "maxwait":
            c = self.calls.get(rest)
            if c is None or c.max_deadline is None or c.status != CallStatus.WAITING:
                return  # ringing: decided when the ring ends
            if now + 1e-9 < c.max_deadline:
                self._timer_at(key, c.max_deadline)
                return
            self._max_wait(c)
        elif kind == "clerk":
            c = self.calls.get(rest)
            if c is None or c.clerk is None or c.clerk_deadline is None:
                return
            if now + 1e-9 < c.clerk_deadline:
                self._timer_at(key, c.clerk_deadline)
                return
            self._clerk_fallback(c)
        elif kind == "unblock":
            cid, _, aid = rest.rpartition(":")
            c = self.calls.get(cid)
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

    # ================================================================== helpers
    def _agent(self, agent_id: str) -> AgentState:
        a = self.agents.get(agent_id)
        if a is None:
            raise EngineError("unknown_agent", f"agent {agent_id!r} is unknown")
        return a

    def _call(self, call_id: str) -> CallState:
        c = self.calls.get(call_id)
        if c is None:
            raise EngineError("unknown_call", f"call {call_id!r} is unknown or over")
        return c

    def _dirty(self, c: CallState) -> None:
        self._dirty_calls.add(c.id)

    def _emit(self, d: Decision) -> None:
        self._out.append(d)

    def _timer_at(self, key: str, at: float) -> None:
        self._out.append(SetTimer(key, at))

    def _log(self, event: LogEvent, c: CallState, *, agent: str = "", **data: Any) -> None:
        if c.kind != "call":
            return
        self._out.append(LogEntry(self.now, c.id, c.queue, agent, c.booth, event, data))


# ====================================================================== (de)serialisation
_CALL_FIELDS = (
    "id booth session queue priority created origin entered seq kind parent asker consult "
    "target_clerk agent ringing ring_start ring_deadline connected_at clerk clerk_deadline "
    "max_deadline excluded offered_once position"
).split()


def _export_call(c: CallState) -> dict[str, Any]:
    data = {name: getattr(c, name) for name in _CALL_FIELDS}
    data["status"] = c.status.value
    data["skills"] = sorted(c.skills)
    data["ringing"] = list(c.ringing)
    data["excluded"] = {k: v for k, v in c.excluded.items() if v != float("inf")}
    if c.kind == "consult" and c.asker is not None:
        data["excluded_asker"] = True
    return data


def _import_call(data: dict[str, Any]) -> CallState:
    c = CallState(
        id=str(data["id"]),
        booth=str(data["booth"]),
        session=str(data["session"]),
        queue=str(data["queue"]),
        priority=int(data.get("priority", 0)),
        skills=frozenset(data.get("skills") or ()),
        created=float(data["created"]),
        origin=float(data["origin"]),
        entered=float(data["entered"]),
        seq=int(data["seq"]),
    )
    for name in _CALL_FIELDS:
        if name in data and name not in ("skills",):
            setattr(c, name, data[name])
    c.status = CallStatus(data["status"])
    c.ringing = list(data.get("ringing") or [])
    c.excluded = {str(k): float(v) for k, v in (data.get("excluded") or {}).items()}
    if data.get("excluded_asker") and c.asker is not None:
        c.excluded[c.asker] = float("inf")
    return c


def _export_agent(a: AgentState) -> dict[str, Any]:
    return {
        "id": a.spec.id,
        "status": a.status.value,
        "reason": a.reason,
        "since": a.since,
        "idle_since": a.idle_since,
        "call": a.call,
        "pending": [a.pending[0].value, a.pending[1]] if a.pending else None,
        "calls_taken": a.calls_taken,
        "rr": dict(a.rr),
        "wrap_until": a.wrap_until,
    }
