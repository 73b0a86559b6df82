"""The demo's supervisor log (:class:`sim.demo_agents.Monitor`): the bridge's live events of a
call that is queued, answered at the front desk, transferred and ended, and of one nobody could
take, become one line each and the summary's counts."""

from __future__ import annotations

from typing import Any

from cloud_bridge.agent_client import AgentClient
from sim.demo_agents import Monitor


def call(cid: str, status: str, queue: str, agent: str | None = None, pos: int | None = 1) -> Any:
    return {
        "type": "call",
        "id": cid,
        "kind": "call",
        "booth": "gartz-01",
        "queue": queue,
        "status": status,
        "agent": agent,
        "position": pos,
    }


def test_a_call_from_queue_to_transfer_to_end() -> None:
    lines: list[str] = []
    monitor = Monitor(AgentClient("http://127.0.0.1:9", "super1"), lines.append)
    events: list[dict[str, Any]] = [
        {
            "type": "snapshot",
            "calls": [],
            "agents": [{"id": "clearing2", "status": "ready"}],
            "booths": [{"id": "gartz-01", "online": True}],
        },
        call("c1aaaaaaaaaa", "ringing", "clearing"),
        {
            "type": "offer",
            "call": "c1aaaaaaaaaa",
            "agent": "clearing2",
            "queue": "clearing",
            "booth": "gartz-01",
        },
        {"type": "agent", "agent": "clearing2", "status": "offered", "reason": None},
        call("c1aaaaaaaaaa", "connected", "clearing", "clearing2", None),
        call("c2bbbbbbbbbb", "waiting", "clearing", pos=1),
        call("c1aaaaaaaaaa", "ringing", "aok"),  # the blind transfer
        call("c1aaaaaaaaaa", "ringing", "aok"),  # the same view again (queued at position 1)
        {
            "type": "offer",
            "call": "c1aaaaaaaaaa",
            "agent": "aok1",
            "queue": "aok",
            "booth": "gartz-01",
        },
        call("c1aaaaaaaaaa", "connected", "aok", "aok1", None),
        {"type": "call_ended", "call": "c1aaaaaaaaaa", "reason": "agent_hangup"},
        {"type": "agent", "agent": "clearing2", "status": "logged_out", "reason": None},
        {"type": "call_ended", "call": "c2bbbbbbbbbb", "reason": "no_agents"},
        {"type": "call_ended", "call": "consult-leg", "reason": "completed"},  # not a citizen's
        {"type": "booth", "id": "gartz-01", "online": False},
    ]
    for item in events:
        monitor.handle(item)
    assert lines == [
        "call c1aaaaaa at gartz-01: queued in clearing, position 1",
        "call c1aaaaaa at gartz-01: offered to clearing2 (clearing)",
        "call c1aaaaaa at gartz-01: connected to clearing2 (clearing)",
        "call c2bbbbbb at gartz-01: queued in clearing, position 1",
        "call c1aaaaaa at gartz-01: transferred by clearing2 to aok",
        "call c1aaaaaa at gartz-01: offered to aok1 (aok)",
        "call c1aaaaaa at gartz-01: connected to aok1 (aok)",
        "call c1aaaaaa at gartz-01: ended (agent hangup)",
        "agent clearing2: logged out",
        "call c2bbbbbb at gartz-01: nobody can take it (no_agents): the booth shows hours and "
        "phone number",
        "booth gartz-01 OFFLINE",
    ]
    stats = monitor.stats
    assert (stats.requested, stats.answered, stats.transferred, stats.ended) == (2, 1, 1, 2)
    assert (stats.unavailable, stats.connections, stats.in_progress) == (1, 2, 0)
    assert "requested=2 answered=1 transferred=1 ended=2" in stats.line()
