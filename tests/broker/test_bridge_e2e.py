"""Booth, Mosquitto and bridge as real, separate processes; agents over the real HTTP/WS API.

* a citizen walks in → the front desk agent gets the offer → talks → transfers to the
  Wohngeldstelle → the clerk answers, sends a booth command, hangs up → the booth says goodbye;
  every booth command is checked (agent not in the call: denied) and audited;
* SIGKILL of the bridge with a waiting call and with a call in progress: after the restart the
  call is still there (same position and waiting time), the booth never dropped the citizen, and
  the call goes on to its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from booth_process import BoothProcess, wait_for
from bridge_process import BridgeProcess, wait_status
from mosquitto_harness import MosquittoBroker

from cloud_bridge.agent_client import AgentClient, ApiError

BOOTH = "gartz-1"
PASSWORD = "correct horse battery"


@pytest.fixture
def system(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> Iterator[tuple[BoothProcess, BridgeProcess]]:
    bridge = BridgeProcess(tmp_path / "bridge", mosquitto, [BOOTH])
    for name, role in (("clearing1", "agent"), ("wohngeld1", "agent"), ("super1", "supervisor")):
        bridge.add_user(name, role, PASSWORD)
    bridge.start()
    (tmp_path / "booth").mkdir()
    booth = BoothProcess(tmp_path / "booth", mosquitto, mosquitto.provision(BOOTH), BOOTH)
    try:
        booth.start()
        wait_for(lambda: booth.state() == "idle", "the booth to be idle (bridge online)", 30)
        yield booth, bridge
    finally:
        booth.stop()
        bridge.stop()


async def agent(bridge: BridgeProcess, name: str) -> AgentClient:
    client = AgentClient(bridge.url, name)
    await client.login(PASSWORD)
    await client.connect()
    return client


async def booth_state(booth: BoothProcess, want: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    def check() -> bool:
        return booth.state() == want or booth_detail(booth) == want

    await asyncio.to_thread(wait_for, check, f"booth state {want}", timeout)


def booth_detail(booth: BoothProcess) -> str:
    from booth.control_client import ControlClient

    with ControlClient(booth.socket, timeout=10) as c:
        return str(c.call("status").get("detail"))


@pytest.mark.realtime
async def test_walk_in_offer_transfer_hangup(system: tuple[BoothProcess, BridgeProcess]) -> None:
    booth, bridge = system
    second = await asyncio.to_thread(bridge.lisa, "run", "--config", str(bridge.config))
    assert second.returncode == 1 and "already running" in second.stderr
    desk = await agent(bridge, "clearing1")
    clerk = await agent(bridge, "wohngeld1")
    try:
        await desk.set_status("ready")
        await clerk.set_status("ready")
        booth.inject("person.enter")
        offer = await desk.wait_for("offer", 20)
        assert offer["booth"] == BOOTH and offer["queue"] == "clearing"
        await desk.accept(offer["call"])
        await booth_state(booth, "in_call.talking")
        status = await asyncio.to_thread(bridge.status)
        call = next(c for c in status["calls"] if c["id"] == offer["call"])
        assert call["status"] == "connected" and call["agent"] == "clearing1"
        assert next(b for b in status["booths"] if b["id"] == BOOTH)["call"] == offer["call"]

        await desk.transfer("wohngeld", call=offer["call"])
        offer2 = await clerk.wait_for("offer", 20)
        assert offer2["call"] == offer["call"]
        await clerk.accept(offer2["call"])
        await booth_state(booth, "in_call.talking")

        # booth commands: the clerk in the call may, the desk agent (no longer in it) may not
        answer = await clerk.booth_command(BOOTH, "ping", {})
        assert answer["ok"] is True
        with pytest.raises(ApiError) as denied:
            await desk.booth_command(BOOTH, "ping", {})
        assert denied.value.status == 403
        boss = await agent(bridge, "super1")
        try:
            audit = await boss.audit(booth=BOOTH)
        finally:
            await boss.close()
        outcomes = [(line["user"], line["outcome"].split()[0]) for line in audit]
        assert ("wohngeld1", "ok") in outcomes and ("wohngeld1", "sent") in outcomes
        assert ("clearing1", "denied:") in outcomes

        await clerk.hangup(offer2["call"])
        await booth_state(booth, "farewell")
        booth.inject("person.leave")
        await booth_state(booth, "idle", 30)
        final = await asyncio.to_thread(bridge.status)
        assert final["calls"] == []
        agents = {a["id"]: a["status"] for a in final["agents"]}
        assert agents == {"clearing1": "ready", "wohngeld1": "ready"}
    finally:
        await desk.close()
        await clerk.close()


@pytest.mark.realtime
async def test_bridge_sigkill_keeps_waiting_and_connected_calls(
    system: tuple[BoothProcess, BridgeProcess],
) -> None:
    booth, bridge = system
    desk = await agent(bridge, "clearing1")
    try:
        await desk.set_status("not_ready", "meeting")  # logged in, so the call waits
        booth.inject("person.enter")
        await booth_state(booth, "queued")
        before = await asyncio.to_thread(
            wait_status, bridge, lambda s: len(s["calls"]) == 1, "the waiting call"
        )
        waiting = before["calls"][0]
        assert waiting["status"] == "waiting" and waiting["position"] == 1

        bridge.kill()
        bridge.start()
        after = await asyncio.to_thread(bridge.status)
        (again,) = after["calls"]
        assert (again["id"], again["created"], again["position"]) == (
            waiting["id"],
            waiting["created"],
            1,
        )
        assert again["wait_s"] >= waiting["wait_s"]
        assert {a["id"]: a["status"] for a in after["agents"]}["clearing1"] == "not_ready"
        assert booth.state() == "queued"  # the booth kept the citizen through the restart

        await desk.connect()  # the token survives the restart
        await desk.set_status("ready")
        offer = await desk.wait_for("offer", 20)
        assert offer["call"] == waiting["id"]
        await desk.accept(offer["call"])
        await booth_state(booth, "in_call.talking")

        bridge.kill()
        bridge.start()
        during = await asyncio.to_thread(bridge.status)
        (live,) = during["calls"]
        assert live["status"] == "connected" and live["agent"] == "clearing1"
        assert booth_detail(booth) == "in_call.talking"
        await desk.connect()
        await desk.hangup(live["id"])
        await booth_state(booth, "farewell")
    finally:
        await desk.close()
