"""The ready-agent index: per queue and level, a heap of the ready agents.

Each heap is keyed by its queue's strategy (longest idle, round robin with memory, fewest calls;
ring all picks every eligible agent of the first level that has one). Deletion is lazy: an entry
is valid while the agent's ``version`` is unchanged and the agent is still ready, so leaving
READY costs one counter per queue, and a heap is compacted when stale entries pile up. The
heaps and the ready counters live in :class:`~cloud_bridge.acd.state.QueueState`.
"""

from __future__ import annotations

import heapq

from cloud_bridge.acd.model import AgentStatus, Strategy
from cloud_bridge.acd.state import AgentState, CallState, QueueState

Entry = tuple[tuple[float, ...], int, str]  # (strategy key, agent version, agent id)


def eligible(c: CallState, a: AgentState, now: float) -> bool:
    """May ``a`` take ``c`` now (not blocked after declining it, has the skills)?"""
    if c.excluded:
        until = c.excluded.get(a.spec.id)
        if until is not None and until > now:
            return False
    return not c.skills or c.skills <= a.spec.skills


def strategy_key(q: QueueState, a: AgentState) -> tuple[float, ...]:
    s = q.spec.strategy
    if s == Strategy.FEWEST_CALLS:
        return (a.calls_taken, a.idle_since, a.order)
    if s == Strategy.ROUND_ROBIN:
        return (a.rr.get(q.spec.id, -1), a.order)
    return (a.idle_since, a.order)


class ReadyAgents:
    """The index over the engine's queues and agents (the same dicts, shared)."""

    __slots__ = ("agents", "queues")

    def __init__(self, queues: dict[str, QueueState], agents: dict[str, AgentState]) -> None:
        self.queues = queues
        self.agents = agents

    def add(self, a: AgentState) -> None:
        """``a`` became READY: an entry in the heap of each of its queues."""
        a.version += 1
        for qid, level in a.spec.queues.items():
            q = self.queues[qid]
            heap = q.heaps[level]
            heapq.heappush(heap, (strategy_key(q, a), a.version, a.spec.id))
            q.ready[level] += 1
            if len(heap) > 4 * q.ready[level] + 64:
                q.heaps[level] = heap = [e for e in heap if self._valid(e)]
                heapq.heapify(heap)

    def remove(self, a: AgentState) -> None:
        """``a`` leaves READY: its heap entries become stale (removed lazily)."""
        a.version += 1
        for qid, level in a.spec.queues.items():
            self.queues[qid].ready[level] -= 1

    def _valid(self, entry: Entry) -> bool:
        a = self.agents[entry[2]]
        return a.version == entry[1] and a.status == AgentStatus.READY

    def best(self, q: QueueState, c: CallState, now: float) -> list[AgentState]:
        """The agent(s) of ``q`` to offer ``c`` to: the first by the strategy on the first
        level that has an eligible one (all eligible ones of it for ring all); [] if none."""
        ring_all = q.spec.strategy == Strategy.RING_ALL and c.kind == "call"
        for level in q.levels:
            if q.ready[level] <= 0:
                continue
            heap = q.heaps[level]
            skipped: list[Entry] = []
            found: list[AgentState] = []
            while heap:
                entry = heap[0]
                if not self._valid(entry):
                    heapq.heappop(heap)
                    continue
                a = self.agents[entry[2]]
                if eligible(c, a, now):
                    found.append(a)
                    if not ring_all:
                        break
                skipped.append(heapq.heappop(heap))
            for entry in skipped:
                heapq.heappush(heap, entry)
            if found:
                return found
        return []
