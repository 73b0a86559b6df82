"""The bridge's narrow read views (one agent, one call, the agents, the queues) are exactly
the matching parts of ``status()``, in every state an agent or a call can be in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from acd_harness import FakeClock

from cloud_bridge.acd.model import (
    Accept,
    AgentSpec,
    Hangup,
    QueueSpec,
    SetNotReady,
    SetReady,
    Transfer,
)
from cloud_bridge.service import Bridge

QUEUES = [
    QueueSpec("clearing", "Clearing", ring_timeout_s=20.0),
    QueueSpec("wohngeld", "Wohngeldstelle", ring_timeout_s=20.0, wrapup_s=30.0),
]
AGENTS = [
    AgentSpec("clearing1", "Bürgerservice", {"clearing": 1}),
    AgentSpec("clearing2", "Bürgerservice", {"clearing": 1, "wohngeld": 2}),
    AgentSpec("wohngeld1", "Wohngeldstelle", {"wohngeld": 1}),
    AgentSpec("idle1", "Never logged in", {"clearing": 2}),
]


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    b = Bridge.in_memory(QUEUES, AGENTS, FakeClock(), path=tmp_path / "bridge.db")
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def assert_views_match(bridge: Bridge) -> None:
    status = bridge.status()
    assert bridge.agents_view() == status["agents"]
    assert bridge.queues_view() == status["queues"]
    for entry in status["agents"]:
        assert bridge.agent_view(entry["id"]) == entry
    for entry in status["calls"]:
        assert bridge.call_view(entry["id"]) == entry
    assert bridge.agent_view("nobody") is None
    assert bridge.call_view("no-such-call") is None


async def test_read_views_are_the_parts_of_status(bridge: Bridge) -> None:
    clock = bridge.clock
    assert isinstance(clock, FakeClock)
    assert_views_match(bridge)  # everyone logged out, no call

    for agent in ("clearing1", "clearing2", "wohngeld1"):
        await bridge.dispatch(SetReady(agent))
    await bridge.dispatch(SetNotReady("wohngeld1", "lunch"))
    clock.t += 5
    call = await bridge.call_requested("booth-1", "s1")
    assert_views_match(bridge)  # ringing, not ready with a reason

    ringing = bridge.call_view(call)
    assert ringing is not None and ringing["ringing"]
    agent = ringing["ringing"][0]
    other = "clearing2" if agent == "clearing1" else "clearing1"
    await bridge.dispatch(Accept(agent, call))
    await bridge.dispatch(SetNotReady(agent, "break"))  # pending after the call
    clock.t += 12.5
    assert_views_match(bridge)  # busy with a pending status
    assert (bridge.agent_view(agent) or {})["pending"] == "not_ready"

    await bridge.dispatch(Transfer(agent, call, clerk=other, consult=True))
    assert_views_match(bridge)  # a consult leg rings at the clerk
    citizen = bridge.call_view(call)
    assert citizen is not None and citizen["consult"] is not None

    await bridge.dispatch(SetReady("wohngeld1"))
    await bridge.call_requested("booth-2", "s2", "wohngeld")
    connected = [c for c in bridge.status()["calls"] if c["queue"] == "wohngeld"]
    await bridge.dispatch(Accept("wohngeld1", connected[0]["id"]))
    await bridge.dispatch(Hangup("wohngeld1", connected[0]["id"]))
    clock.t += 3
    assert_views_match(bridge)  # wrap-up, an ended call is gone
    assert bridge.call_view(connected[0]["id"]) is None
    assert (bridge.agent_view("wohngeld1") or {})["status"] == "wrap_up"
