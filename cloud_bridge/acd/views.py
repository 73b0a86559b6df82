"""Read views of the ACD state: what the agents' API, the supervisor screens and the booths see.

Plain JSON-ready dicts built from the records of :mod:`cloud_bridge.acd.state` at a given time;
nothing here changes the state. :class:`~cloud_bridge.acd.engine.Engine` offers them as methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cloud_bridge.acd.model import CallStatus
from cloud_bridge.acd.state import AgentState, CallState, QueueState


def agents_view(agents: Iterable[AgentState], now: float) -> list[dict[str, Any]]:
    return [agent_view(a, now) for a in agents]


def agent_view(a: AgentState, now: float) -> dict[str, Any]:
    return {
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
        "wrap_until": a.wrap_until,
    }


def queues_view(
    queues: dict[str, QueueState], calls: Iterable[CallState], now: float
) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, int]] = {q: {"ringing": 0, "connected": 0} for q in queues}
    for c in calls:
        if c.kind == "call" and c.status in (CallStatus.RINGING, CallStatus.CONNECTED):
            counts[c.queue][c.status.value] += 1
    out = []
    for qid, q in queues.items():
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
                "wrapup_s": q.spec.wrapup_s,
            }
        )
    return out


def call_view(c: CallState, calls: dict[str, CallState], now: float) -> dict[str, Any]:
    """``c`` with its consult leg (looked up in ``calls``), if it has one."""
    consult = None
    if c.consult is not None and c.consult in calls:
        leg = calls[c.consult]
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


def estimated_wait(c: CallState | None, queues: dict[str, QueueState]) -> float:
    """What the booth is told: position × the queue's average talk time ÷ agents in it
    (0 while the call rings or talks)."""
    if c is None or c.status != CallStatus.WAITING or c.position is None:
        return 0.0
    q = queues[c.queue]
    return round(c.position * q.aht / max(1, q.logged_in), 1)
