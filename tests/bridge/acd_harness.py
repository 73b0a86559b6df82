"""Test harness for the ACD engine on virtual time.

* :class:`FakeClock` – the driver's virtual clock at ``T0``, epoch seconds you advance by hand;
* :class:`Harness` – wraps a :class:`~cloud_bridge.acd.driver.Driver` (the engine on a
  :class:`~cloud_bridge.acd.driver.VirtualClock`, with the timer table that honours
  ``SetTimer`` / ``CancelTimer``: a later ``SetTimer`` with the same key replaces the earlier
  one): feeds events, and :meth:`Harness.advance` fires the due timers in time order (feeding
  ``TimerFired`` back); all decisions, call-log lines and fired timers are collected;
* :class:`DictStore` – applies :meth:`Engine.take_changes` like the bridge's store does and
  restores a fresh engine from it;
* :func:`check_invariants` – the engine's structural invariants (used after every step of the
  randomized tests);
* helpers to pick decisions by type and fields.

Everything is synchronous: the engine is pure, so no event loop is needed.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from cloud_bridge.acd.driver import Driver, VirtualClock
from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import (
    Accept,
    AgentConnectionLost,
    AgentLogin,
    AgentLogout,
    AgentSpec,
    AgentStatus,
    CallAbandoned,
    CallRequested,
    CallStatus,
    CancelTransfer,
    CompleteTransfer,
    Decision,
    Decline,
    EngineError,
    Event,
    Hangup,
    LogEntry,
    QueueSpec,
    SetNotReady,
    SetReady,
    Strategy,
    TimerFired,
    TimerKey,
    TimerKind,
    Transfer,
)

T0 = 1_767_261_600.0  # 2026-01-01 10:00 UTC: far from 0, so "idle since 0" can never be meant
TERMINAL = frozenset({"ABANDON", "COMPLETEAGENT", "COMPLETECALLER", "UNAVAILABLE"})

D = TypeVar("D")


# ------------------------------------------------------------------------------ clock, hours
class FakeClock(VirtualClock):
    """The driver's virtual clock, at :data:`T0` unless told otherwise; ``t`` is ``now``."""

    __slots__ = ()

    def __init__(self, t: float = T0) -> None:
        super().__init__(t)

    @property
    def t(self) -> float:
        return self.now

    @t.setter
    def t(self, value: float) -> None:
        self.now = value


class FakeHours:
    """Opening hours for tests: open unless switched off, or closed in given time windows."""

    def __init__(
        self,
        text: str = "Mo–Fr 8–12 Uhr",
        *,
        open: bool = True,
        closed: Iterable[tuple[float, float]] = (),
    ) -> None:
        self.text = text
        self.open = open
        self.closed = list(closed)

    def is_open(self, ts: float) -> bool:
        return self.open and not any(a <= ts < b for a, b in self.closed)


# ------------------------------------------------------------------------------ spec builders
def queue(qid: str, **kw: Any) -> QueueSpec:
    kw.setdefault("name", qid.capitalize() + "stelle")
    return QueueSpec(id=qid, **kw)


def agent(aid: str, queues: dict[str, int] | str, **kw: Any) -> AgentSpec:
    if isinstance(queues, str):
        queues = {queues: 1}
    kw.setdefault("display_name", f"Sachbearbeitung {aid.upper()}")
    return AgentSpec(id=aid, queues=queues, **kw)


# ------------------------------------------------------------------------------ decisions
def of(decisions: Iterable[object], kind: type[D], **match: Any) -> list[D]:
    """The decisions of type ``kind`` whose fields equal ``match``."""
    return [
        d
        for d in decisions
        if isinstance(d, kind) and all(getattr(d, k) == v for k, v in match.items())
    ]


def one(decisions: Iterable[object], kind: type[D], **match: Any) -> D:
    found = of(decisions, kind, **match)
    assert len(found) == 1, f"expected one {kind.__name__} {match}, got {found}"
    return found[0]


def none_of(decisions: Iterable[object], kind: type[D], **match: Any) -> None:
    found = of(decisions, kind, **match)
    assert not found, f"expected no {kind.__name__} {match}, got {found}"


def logs(decisions: Iterable[object], event: str | None = None, **match: Any) -> list[LogEntry]:
    out = of(decisions, LogEntry, **match)
    return [e for e in out if event is None or e.event == event]


def call_logs(decisions: Iterable[object]) -> list[LogEntry]:
    return [e for e in of(decisions, LogEntry) if e.event != "AGENTSTATUS"]


# ------------------------------------------------------------------------------ harness
@dataclass
class Harness:
    driver: Driver[None]  # timers only: the tests are the host's actions
    decisions: list[Decision] = field(default_factory=list)  # every decision, in order
    log: list[LogEntry] = field(default_factory=list)  # every call-log line, in order
    fired: list[TimerKey] = field(default_factory=list)  # timer keys fired, in order

    @classmethod
    def build(
        cls,
        queues: Iterable[QueueSpec],
        agents: Iterable[AgentSpec],
        *,
        t: float = T0,
    ) -> Harness:
        return cls(Driver.build(queues, agents, t))

    @property
    def engine(self) -> Engine:
        return self.driver.engine

    @property
    def clock(self) -> VirtualClock:
        return self.driver.clock

    @property
    def timers(self) -> dict[TimerKey, tuple[float, int]]:
        """The live timers: key -> (at, order set)."""
        return self.driver.timers

    # -- time
    @property
    def now(self) -> float:
        return self.driver.now

    def take(self, decisions: list[Decision]) -> list[Decision]:
        """Record decisions (timers, log lines) as the host would."""
        self.driver.take(decisions)
        self.decisions += decisions
        self.log += (d for d in decisions if isinstance(d, LogEntry))
        return decisions

    def handle(self, *events: Event) -> list[Decision]:
        """Feed events in order; returns all decisions they produced."""
        out: list[Decision] = []
        for ev in events:
            out += self.take(self.engine.handle(ev))
        return out

    def advance(self, seconds: float) -> list[Decision]:
        """Move the clock forward, firing every due timer at its time, in time order."""
        return self.advance_to(self.now + seconds)

    def advance_to(self, target: float) -> list[Decision]:
        out: list[Decision] = []
        while (entry := self.driver.pop(target)) is not None:
            fired = entry[1]
            assert isinstance(fired, TimerFired)
            self.fired.append(fired.key)
            out += self.take(self.engine.handle(fired))
        self.driver.advance_to(target)
        return out

    def timer_at(self, key: TimerKey) -> float | None:
        return self.driver.timer_at(key)

    # -- shortcuts
    def ready(self, *agents: str) -> list[Decision]:
        return self.handle(*(SetReady(a) for a in agents))

    def call(
        self, call: str, queue: str, *, booth: str | None = None, priority: int = 0, **kw: Any
    ) -> list[Decision]:
        booth = booth or f"booth-{call}"
        return self.handle(
            CallRequested(call, booth, f"sess-{call}", queue, priority=priority, **kw)
        )

    def status(self, agent: str) -> AgentStatus:
        return self.engine.agents[agent].status

    def reason(self, agent: str) -> str | None:
        return self.engine.agents[agent].reason

    def call_status(self, call: str) -> CallStatus:
        c = self.engine.calls.get(call)
        return CallStatus.ENDED if c is None else c.status

    def waiting(self, queue: str) -> list[str]:
        return [c.id for c in self.engine.queues[queue].waiting]

    def ready_count(self, queue: str) -> int:
        return int(next(q["ready"] for q in self.engine.queues_view() if q["id"] == queue))

    def snapshot(self) -> tuple[Any, ...]:
        """Everything observable from outside (views) plus the internal orderings."""
        e = self.engine
        return (
            e.agents_view(),
            e.queues_view(),
            sorted(e.calls_view(), key=lambda c: c["id"]),
            internal_state(e),
            dict(e.by_booth),
        )


def internal_state(e: Engine) -> dict[str, Any]:
    """The parts of the state that views do not show (wait origins, orders, deadlines)."""
    return {
        "calls": {
            cid: {f.name: getattr(c, f.name) for f in fields(c)} for cid, c in e.calls.items()
        },
        "waiting": {qid: [c.id for c in q.waiting] for qid, q in e.queues.items()},
        "pinned": {k: [c.id for c in v] for k, v in e.pinned.items() if v},
        "agents": {
            aid: (
                a.status,
                a.reason,
                a.call,
                a.pending,
                a.since,
                a.idle_since,
                a.calls_taken,
                a.rr,
                a.wrap_until,
            )
            for aid, a in e.agents.items()
        },
        "rr_counter": {qid: q.rr_counter for qid, q in e.queues.items()},
        "aht": {qid: q.aht for qid, q in e.queues.items()},
    }


# ------------------------------------------------------------------------------ persistence
@dataclass
class DictStore:
    """What the bridge's store does with :meth:`Engine.take_changes`, in three dicts."""

    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, engine: Engine) -> bool:
        """Store the changes since the last call; True if there were any."""
        calls, agents, queues = engine.take_changes()
        for cid, data in calls.items():
            if data is None:
                self.calls.pop(cid, None)
            else:
                self.calls[cid] = _json_roundtrip(data)
        for aid, adata in agents.items():
            self.agents[aid] = _json_roundtrip(adata)
        for qid, qdata in queues.items():
            self.queues[qid] = _json_roundtrip(qdata)
        return bool(calls or agents or queues)

    def restore(
        self,
        queues: Iterable[QueueSpec],
        agents: Iterable[AgentSpec],
        clock: VirtualClock,
    ) -> tuple[Harness, list[Decision]]:
        """A fresh engine on ``clock``, restored from the store; its restore decisions are
        taken by the new harness (timers armed)."""
        h = Harness(Driver(Engine(list(queues), list(agents), clock), clock))
        out = h.engine.restore(
            list(self.calls.values()), list(self.agents.values()), dict(self.queues)
        )
        h.take(out)
        h.engine.take_changes()
        return h, out


def _json_roundtrip(data: dict[str, Any]) -> dict[str, Any]:
    """Through JSON, as the bridge's store keeps it (tuples become lists)."""
    out: dict[str, Any] = json.loads(json.dumps(data, separators=(",", ":")))
    return out


# ------------------------------------------------------------------------------ invariants
def check_invariants(
    h: Harness,
    *,
    ready_counters: bool = True,
    work_conserving: bool = True,
    timers: bool = True,
) -> None:
    """Assert the engine's structural invariants (see the module docstring of the tests)."""
    e = h.engine
    calls = e.calls
    # -- agents vs calls
    for aid, a in e.agents.items():
        if a.status == AgentStatus.OFFERED:
            ringing = [c.id for c in calls.values() if aid in c.ringing]
            assert ringing == [a.call], f"{aid} offered {a.call} but listed by {ringing}"
            assert calls[a.call or ""].status == CallStatus.RINGING, f"{aid}: not ringing"
        else:
            rung_by = [c.id for c in calls.values() if aid in c.ringing]
            assert not rung_by, f"{aid} is {a.status} but rung by {rung_by}"
        if a.status == AgentStatus.BUSY:
            c = calls.get(a.call or "")
            assert c is not None, f"{aid} busy with a call that is gone ({a.call})"
            assert c.status == CallStatus.CONNECTED, f"{aid} busy, {c.id} is {c.status}"
            assert c.agent == aid, f"{aid} busy with {c.id} whose agent is {c.agent}"
        if a.status in (AgentStatus.LOGGED_OUT, AgentStatus.NOT_READY, AgentStatus.READY):
            assert a.call is None, f"{aid} {a.status} still has call {a.call}"
        if a.status == AgentStatus.WRAP_UP:
            assert a.wrap_until is not None, f"{aid} in wrap-up without an end"
            if timers:
                wrap = h.timer_at(TimerKey(TimerKind.WRAP_UP, aid))
                assert wrap == a.wrap_until, f"{aid}: no wrap timer"
        if a.status != AgentStatus.WRAP_UP:
            assert a.wrap_until is None
        if a.spec.id in e.pinned and a.status == AgentStatus.LOGGED_OUT:
            raise AssertionError(f"calls wait for logged-out clerk {aid}")
    # -- calls
    listed: Counter[str] = Counter()
    for q in e.queues.values():
        assert q.waiting == sorted(q.waiting, key=lambda c: c.key()), f"{q.spec.id} unsorted"
        for i, c in enumerate(q.waiting):
            listed[c.id] += 1
            assert c.queue == q.spec.id
            assert c.clerk is None
            if c.kind == "call":
                assert c.position == i + 1, f"{c.id}: told {c.position}, is {i + 1}"
    for clerk, lst in e.pinned.items():
        for c in lst:
            listed[c.id] += 1
            assert c.clerk == clerk
    assert all(n == 1 for n in listed.values()), f"listed twice: {listed}"
    for cid, c in calls.items():
        assert c.status != CallStatus.ENDED
        if c.status == CallStatus.WAITING:
            assert listed[cid] == 1, f"{cid} waits but is in no list"
            if timers and c.clerk_deadline is not None:
                assert h.timer_at(TimerKey(TimerKind.CLERK_WAIT, cid)) == c.clerk_deadline
            if timers and c.max_deadline is not None:
                assert h.timer_at(TimerKey(TimerKind.MAX_WAIT, cid)) == c.max_deadline
        else:
            assert listed[cid] == 0, f"{cid} is {c.status} and in a waiting list"
        if c.status == CallStatus.RINGING:
            assert c.ringing, f"{cid} rings nobody"
            assert len(set(c.ringing)) == len(c.ringing)
            for aid in c.ringing:
                assert e.agents[aid].status == AgentStatus.OFFERED
                assert e.agents[aid].call == cid
            if timers:
                ring = h.timer_at(TimerKey(TimerKind.RING, cid))
                assert ring == c.ring_deadline, f"{cid}: no ring timer"
        else:
            assert not c.ringing
        if c.status == CallStatus.CONNECTED:
            assert c.agent is not None
            a = e.agents[c.agent]
            assert a.status == AgentStatus.BUSY and a.call == cid, f"{cid}: agent {a}"
        if c.kind == "consult":
            assert c.parent is not None and c.parent in calls, f"orphan leg {cid}"
            parent = calls[c.parent]
            assert parent.consult == cid
            assert parent.status == CallStatus.CONNECTED
            assert c.asker == parent.agent
            assert c.asker not in c.ringing and c.agent != c.asker
        elif c.consult is not None:
            assert c.consult in calls and calls[c.consult].parent == cid
    # -- booths
    live = {c.booth: cid for cid, c in calls.items() if c.kind == "call"}
    assert len(live) == sum(1 for c in calls.values() if c.kind == "call"), "two calls, one booth"
    assert e.by_booth == live, f"by_booth {e.by_booth} != live {live}"
    # -- queue counters
    for qid, q in e.queues.items():
        members = [e.agents[m] for m in q.members]
        assert q.logged_in == sum(a.status != AgentStatus.LOGGED_OUT for a in members)
        if ready_counters:
            for level in q.levels:
                truth = sum(
                    1
                    for a in members
                    if a.status == AgentStatus.READY and a.spec.queues[qid] == level
                )
                assert q.ready[level] == truth, f"{qid} level {level}: {q.ready[level]} != {truth}"
        if work_conserving:
            for c in q.waiting:
                idle = [
                    a.spec.id
                    for a in members
                    if a.status == AgentStatus.READY and e._eligible(c, a)
                ]
                assert not idle, f"{c.id} waits in {qid} while {idle} are ready for it"
    # -- the call log
    terminal = Counter(x.call for x in h.log if x.event in TERMINAL)
    assert all(n == 1 for n in terminal.values()), f"terminal lines twice: {terminal}"
    for cid in terminal:
        assert cid not in calls, f"{cid} has a terminal line but lives on"


# ------------------------------------------------------------------------------ random runs
def random_config() -> tuple[list[QueueSpec], list[AgentSpec]]:
    """Four queues with every strategy and option, eight agents in overlapping queues and
    levels (one with a skill, one in no queue at all: only reachable as a named clerk)."""
    closed = [(T0 + k * 7200 + 3600, T0 + k * 7200 + 4500) for k in range(200)]
    queues = [
        queue("wg", strategy=Strategy.LONGEST_IDLE, wrapup_s=10, max_wait_s=240, overflow="bb"),
        queue(
            "bb",
            strategy=Strategy.ROUND_ROBIN,
            ring_timeout_s=15,
            no_answer_not_ready=False,
            decline_block_s=20,
            clerk_wait_s=60,
            hours=FakeHours("Mo–Fr 8–18 Uhr", closed=closed),
            phone="0800 123",
        ),
        queue("kfz", strategy=Strategy.RING_ALL, ring_timeout_s=15, wrapup_s=5, max_wait_s=180),
        queue(
            "bau",
            strategy=Strategy.FEWEST_CALLS,
            ring_timeout_s=25,
            decline_block_s=0,
            clerk_wait_s=None,
            transfer_priority=3,
        ),
    ]
    agents = [
        agent("a1", {"wg": 1, "bb": 2}),
        agent("a2", {"wg": 1}),
        agent("a3", {"bb": 1, "kfz": 1}),
        agent("a4", {"kfz": 1, "bau": 2}),
        agent("a5", {"bau": 1, "wg": 2}, skills=frozenset({"tr"})),
        agent("a6", {"kfz": 2}),
        agent("a7", {"bb": 1, "bau": 1}),
        agent("a8", {}),
    ]
    return queues, agents


@dataclass
class RandomRun:
    """Random valid and invalid events against a harness, one step at a time."""

    h: Harness
    rng: random.Random
    booths: int = 10
    consultant_disconnects: bool = True  # see test_consultant_connection_lost_while_calls_wait
    store: DictStore = field(default_factory=DictStore)  # every step's changes, applied
    n: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    handled: Counter[str] = field(default_factory=Counter)

    def event(self) -> Event | float:
        """The next event, or a float: seconds to advance the clock."""
        rng, e = self.rng, self.h.engine
        agents = list(e.agents)
        queues = list(e.queues)
        calls = [c for c in e.calls.values() if c.kind == "call"]
        offered = [a for a in e.agents.values() if a.status == AgentStatus.OFFERED]
        if offered and rng.random() < 0.4:
            a = rng.choice(offered)
            assert a.call is not None
            return (Accept if rng.random() < 0.85 else Decline)(a.spec.id, a.call)
        r = rng.random()
        if r < 0.12:
            self.n += 1
            cid = f"c{self.n}"
            if rng.random() < 0.03 and calls:
                cid = rng.choice(calls).id  # duplicate id: refused
            q = rng.choice(queues) if rng.random() > 0.02 else "nope"
            return CallRequested(
                cid,
                f"b{rng.randrange(self.booths)}",
                f"s{self.n}",
                q,
                priority=rng.choice((0, 0, 0, 5)),
                skills=frozenset({"tr"}) if rng.random() < 0.1 else frozenset(),
            )
        if r < 0.24:
            return self.status_change()
        if r < 0.40:
            return rng.uniform(0.5, 10)
        if r < 0.56:
            busy = [a for a in e.agents.values() if a.status == AgentStatus.BUSY]
            if busy:
                a = rng.choice(busy)
                assert a.call is not None
                c = e.calls[a.call]
                if c.kind == "consult" and rng.random() < 0.7:
                    if c.asker is not None and rng.random() < 0.7:
                        return CompleteTransfer(c.asker, c.parent or "")
                    return Hangup(a.spec.id, c.id)  # the consultant hangs up
                if c.kind == "consult" and self.consultant_disconnects:
                    return AgentConnectionLost(a.spec.id)
                return Hangup(a.spec.id, c.id)
            return rng.uniform(0.5, 10)
        if r < 0.61:
            if calls:
                return CallAbandoned(rng.choice(calls).id)
            return rng.uniform(0.5, 10)
        if r < 0.71:
            talking = [c for c in calls if c.status == CallStatus.CONNECTED and c.agent is not None]
            if talking:
                c = rng.choice(talking)
                assert c.agent is not None
                if c.consult is not None:
                    if rng.random() < 0.6:
                        return CompleteTransfer(c.agent, c.id)
                    return CancelTransfer(c.agent, c.id)
                how = rng.random()
                target_q = rng.choice(queues)
                clerk = rng.choice(agents)
                consult = rng.random() < 0.5
                if how < 0.5:
                    return Transfer(c.agent, c.id, queue=target_q, consult=consult)
                if how < 0.8:
                    return Transfer(c.agent, c.id, clerk=clerk, consult=consult)
                return Transfer(c.agent, c.id, queue=target_q, clerk=clerk, consult=consult)
            return rng.uniform(0.5, 10)
        if r < 0.77:
            return self.invalid()
        return rng.choice((rng.uniform(0.1, 5), rng.uniform(5, 30), rng.uniform(30, 130)))

    def status_change(self) -> Event:
        rng, e = self.rng, self.h.engine
        a = rng.choice(list(e.agents))
        kind = rng.random()
        if kind < 0.5:
            return SetReady(a)
        if kind < 0.68:
            return SetNotReady(a, rng.choice(("break", "meeting")))
        if kind < 0.76:
            return AgentLogin(a)
        if kind < 0.88:
            return AgentLogout(a)
        st = e.agents[a]
        leg = e.calls.get(st.call or "")
        if (
            not self.consultant_disconnects
            and st.status == AgentStatus.BUSY
            and leg is not None
            and leg.kind == "consult"
        ):
            return SetReady(a)  # see test_consultant_connection_lost_while_calls_wait
        return AgentConnectionLost(a)

    def invalid(self) -> Event:
        """Mostly nonsense: unknown ids, wrong agents, stale timers."""
        rng, e, h = self.rng, self.h.engine, self.h
        agents = [*e.agents, "ghost"]
        call_ids = [*e.calls, "gone", f"c{max(1, self.n - rng.randrange(5))}"]
        a, c = rng.choice(agents), rng.choice(call_ids)
        kind = rng.randrange(10)
        if kind == 0:
            return Accept(a, c)
        if kind == 1:
            return Decline(a, c)
        if kind == 2:
            return Hangup(a, c)
        if kind == 3:
            return Transfer(a, c, queue=rng.choice([*e.queues, "nope", None]))
        if kind == 4:
            return CompleteTransfer(a, c)
        if kind == 5:
            return CancelTransfer(a, c)
        if kind == 6:
            return CallAbandoned(c)
        if kind == 7:
            return AgentLogin(a)
        if h.fired and kind == 8:
            return TimerFired(rng.choice(h.fired[-50:]))  # stale / repeated
        timer = rng.choice((*TimerKind, None))
        target = rng.choice([*call_ids, *agents])
        if timer is None:  # a key of no timer the engine sets: an unblock for nobody it blocked
            return TimerFired(TimerKey(TimerKind.UNBLOCK, target, "bogus"))
        return TimerFired(TimerKey(timer, target))

    def step(self) -> tuple[Event | float, list[Decision] | EngineError]:
        """One random step: advance the clock or handle an event. A refused event must change
        nothing (views, internal state, pending changes, timers)."""
        ev = self.event()
        if isinstance(ev, float):
            self.handled["advance"] += 1
            out = self.h.advance(ev)
            self.store.apply(self.h.engine)
            return ev, out
        before = self.h.snapshot()
        timers = dict(self.h.timers)
        try:
            out = self.h.handle(ev)
        except EngineError as exc:
            self.refused[exc.code] += 1
            assert self.h.snapshot() == before, f"refused {ev} ({exc.code}) changed the state"
            assert self.h.engine.take_changes() == ({}, {}, {}), f"refused {ev}: changes"
            assert self.h.timers == timers
            return ev, exc
        self.handled[type(ev).__name__] += 1
        self.store.apply(self.h.engine)
        return ev, out
