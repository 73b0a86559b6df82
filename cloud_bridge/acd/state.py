"""The ACD engine's state: the records of agents, calls and queues, and their snapshot.

:class:`AcdState` holds every record and the indexes over them (waiting lists, calls waiting for
a named clerk, the live call of each booth), tracks what changed and hands the changes out as
JSON-ready dicts (:meth:`AcdState.take_changes`, what the bridge's store keeps); loading them back
into a fresh state is :meth:`AcdState.load_snapshot`. It makes no decision: the transitions on
top of it (:mod:`cloud_bridge.acd.routing` … :mod:`cloud_bridge.acd.engine`) do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloud_bridge.acd.model import (
    AgentSpec,
    AgentStatus,
    CallStatus,
    EngineError,
    QueueSpec,
)


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


class AcdState:
    """Every record of the engine, built from the config (which is checked: ``ValueError``)."""

    def __init__(self, queues: Iterable[QueueSpec], agents: Iterable[AgentSpec]) -> None:
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
        self._seq = itertools.count(1)
        self._dirty_calls: set[str] = set()
        self._dirty_agents: set[str] = set()
        self._dirty_queues: set[str] = set()

    # ------------------------------------------------------------------ lookups
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

    # ------------------------------------------------------------------ snapshot
    def _dirty(self, c: CallState) -> None:
        self._dirty_calls.add(c.id)

    def take_changes(
        self,
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, dict[str, Any]], dict[str, Any]]:
        """Entities changed since the last call: (calls, agents, queues) as JSON-ready dicts;
        a call that is gone maps to None."""
        calls: dict[str, dict[str, Any] | None] = {}
        for cid in self._dirty_calls:
            c = self.calls.get(cid)
            calls[cid] = export_call(c) if c is not None else None
        agents = {aid: export_agent(self.agents[aid]) for aid in self._dirty_agents}
        queues = {qid: export_queue(self.queues[qid]) for qid in self._dirty_queues}
        self._dirty_calls.clear()
        self._dirty_agents.clear()
        self._dirty_queues.clear()
        return calls, agents, queues

    def load_snapshot(
        self,
        calls: Iterable[dict[str, Any]],
        agents: Iterable[dict[str, Any]],
        queues: dict[str, dict[str, Any]] | None,
        now: float,
    ) -> list[CallState]:
        """Put the records saved by :meth:`take_changes` into this fresh state (agents and
        queues no longer in the config are dropped; a call of a dropped queue moves to the
        first queue). Returns the calls, by age; they are in no waiting list yet."""
        for qid, data in (queues or {}).items():
            if qid in self.queues:
                restore_queue(self.queues[qid], data)
        for data in agents:
            a = self.agents.get(str(data["id"]))
            if a is not None:
                restore_agent(a, data, now)
        restored: list[CallState] = []
        for data in sorted(calls, key=lambda d: int(d.get("seq", 0))):
            c = import_call(data)
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
        return restored


# ====================================================================== (de)serialisation
_CALL_FIELDS = (
    "id booth session queue priority created origin entered seq kind parent asker consult "
    "target_clerk agent ringing ring_start ring_deadline connected_at clerk clerk_deadline "
    "max_deadline excluded offered_once position"
).split()


def export_call(c: CallState) -> dict[str, Any]:
    data = {name: getattr(c, name) for name in _CALL_FIELDS}
    data["status"] = c.status.value
    data["skills"] = sorted(c.skills)
    data["ringing"] = list(c.ringing)
    data["excluded"] = {k: v for k, v in c.excluded.items() if v != float("inf")}
    if c.kind == "consult" and c.asker is not None:
        data["excluded_asker"] = True
    return data


def import_call(data: dict[str, Any]) -> CallState:
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


def export_agent(a: AgentState) -> dict[str, Any]:
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


def restore_agent(a: AgentState, data: dict[str, Any], now: float) -> None:
    a.status = AgentStatus(data["status"])
    a.reason = data.get("reason")
    a.since = float(data.get("since", now))
    a.idle_since = float(data.get("idle_since", a.since))
    a.call = data.get("call")
    pend = data.get("pending")
    a.pending = (AgentStatus(pend[0]), pend[1]) if pend else None
    a.calls_taken = int(data.get("calls_taken", 0))
    a.rr = {k: int(v) for k, v in (data.get("rr") or {}).items()}
    a.wrap_until = data.get("wrap_until")


def export_queue(q: QueueState) -> dict[str, Any]:
    return {"rr_counter": q.rr_counter, "aht": q.aht}


def restore_queue(q: QueueState, data: dict[str, Any]) -> None:
    q.rr_counter = int(data.get("rr_counter", 0))
    q.aht = float(data.get("aht", q.aht))
