"""The bridge service on virtual time: booth messages in (valid, duplicate, garbage), call
messages out, grace periods for booths and agents, booth commands with permissions and audit.

MQTT itself is replaced by a recorder of what the bridge would publish (the real broker path is
covered in tests/broker/test_bridge_e2e.py); the engine, the SQLite store and the timers are real.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from cloud_bridge.acd.model import Accept, AgentSpec, QueueSpec, SetNotReady, SetReady
from cloud_bridge.ports import CommandDenied
from cloud_bridge.service import Bridge, LoopEpochClock
from cloud_bridge.store import SQLiteStore
from lisa_messages import CallControl, Topics, dump_booth_event, now_rfc3339, parse_booth_event

BOOTH = "gartz-01"
QUEUES = [QueueSpec("clearing", "Empfang", ring_timeout_s=20.0)]
AGENTS = [AgentSpec("clearing1", "Bürgerservice – Empfang", {"clearing": 1})]


class Recorder:
    """Stands in for BridgeMqtt: keeps what the bridge publishes."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.connected = True
        self.on_message: Any = None
        self.on_connected: Any = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def stop(self) -> None:
        pass

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        self.published.append((topic, json.loads(payload)))

    def calls(self) -> list[CallControl]:
        return [CallControl.model_validate(p) for t, p in self.published if t == Topics(BOOTH).call]


async def make(tmp_path: Path) -> tuple[Bridge, Recorder]:
    rec = Recorder()
    bridge = Bridge(
        QUEUES,
        AGENTS,
        SQLiteStore(tmp_path / "bridge.db"),
        booths={BOOTH: "clearing"},
        clock=LoopEpochClock(1_790_000_000.0),
        mqtt=rec,  # type: ignore[arg-type]
        agent_grace_s=30,
        booth_offline_grace_s=60,
    )
    await bridge.start()
    return bridge, rec


def event(seq: int, type_: str, **data: Any) -> bytes:
    ev = parse_booth_event(
        {"id": f"ev-{BOOTH}-{seq:06d}", "booth": BOOTH, "seq": seq, "ts": now_rfc3339()}
        | {"type": type_, "data": data}
    )
    return dump_booth_event(ev)


def topic(leaf: str) -> str:
    return f"{Topics(BOOTH).base}/{leaf}"


async def test_call_request_is_queued_once_and_ended_by_the_booth(tmp_path: Path) -> None:
    bridge, rec = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    await bridge.dispatch(SetNotReady("clearing1"))  # logged in: the call waits
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    (call,) = bridge.engine.calls
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))  # duplicate
    assert [c.type for c in rec.calls()] == ["queued"]
    assert rec.calls()[0].position == 1
    assert list(bridge.engine.calls) == [call]
    bridge._on_mqtt(topic("event"), event(2, "call_ended", session="s1", reason="left"))
    assert bridge.engine.calls == {}
    assert [c.type for c in rec.calls()] == ["queued"]  # the booth ended it: nothing to tell
    lines = [e.event for e in bridge.store.log_entries() if e.call]
    assert lines == ["ENTERQUEUE", "ABANDON"]
    await bridge.stop()


async def test_garbage_from_a_booth_is_logged_with_its_topic_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, rec = await make(tmp_path)
    caplog.set_level(logging.WARNING, logger="lisa.bridge")
    for leaf, payload in (
        ("event", b"\xff\xfe not json"),
        ("event", b'{"id": "x"}'),
        ("state", b"[1, 2]"),
        ("health", b'{"booth": "gartz-01"}'),
        ("availability", b"maybe"),
        ("cmd/result", b'{"ok": "yes"}'),
    ):
        bridge._on_mqtt(topic(leaf), payload)
    messages = [r.getMessage() for r in caplog.records]
    assert any("not JSON" in m for m in messages)
    assert any("invalid booth event" in m for m in messages)
    assert any("invalid booth state" in m for m in messages)
    assert any("invalid booth health" in m for m in messages)
    assert any("availability" in m for m in messages)
    assert any("invalid command result" in m for m in messages)
    assert bridge.engine.calls == {} and rec.calls() == []
    # and it still works afterwards
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    assert [c.type for c in rec.calls()] == ["unavailable"]  # nobody logged in
    assert rec.calls()[0].phone is not None or rec.calls()[0].reason == "no_agents"
    await bridge.stop()


async def test_booth_offline_longer_than_the_grace_ends_its_call(tmp_path: Path) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    assert len(bridge.engine.calls) == 1
    bridge._on_mqtt(topic("availability"), b"offline")
    await asyncio.sleep(59)  # virtual time
    assert len(bridge.engine.calls) == 1  # a restart of the booth is not the end of the visit
    bridge._on_mqtt(topic("availability"), b"online")
    await asyncio.sleep(120)
    assert len(bridge.engine.calls) == 1
    bridge._on_mqtt(topic("availability"), b"offline")
    await asyncio.sleep(61)
    assert bridge.engine.calls == {}
    ended = [e for e in bridge.store.log_entries() if e.event == "ABANDON"]
    assert ended and ended[0].data["reason"] == "booth_offline"
    await bridge.stop()


async def test_agent_client_gone_longer_than_the_grace_is_not_ready(tmp_path: Path) -> None:
    bridge, _ = await make(tmp_path)
    bridge.client_connected("clearing1")
    await bridge.dispatch(SetReady("clearing1"))
    bridge.client_disconnected("clearing1")
    await asyncio.sleep(10)
    bridge.client_connected("clearing1")  # a page reload
    await asyncio.sleep(60)
    assert bridge.engine.agents["clearing1"].status == "ready"
    bridge.client_disconnected("clearing1")
    await asyncio.sleep(31)
    agent = bridge.engine.agents["clearing1"]
    assert (agent.status, agent.reason) == ("not_ready", "disconnected")
    await bridge.stop()


async def test_booth_commands_need_the_call_or_a_role_and_are_audited(tmp_path: Path) -> None:
    bridge, rec = await make(tmp_path)
    with pytest.raises(CommandDenied):
        await bridge.booth_command("clearing1", "agent", BOOTH, "door.open", {})
    with pytest.raises(ValueError, match="brightness"):
        await bridge.booth_command("tech1", "technician", BOOTH, "light.set", {"brightness": 7})
    with pytest.raises(KeyError):
        await bridge.booth_command("tech1", "technician", "nowhere-1", "ping", {})

    sent = asyncio.Event()
    publish = rec.publish

    def publish_and_tell(topic_: str, payload: str, *, retain: bool = False) -> None:
        publish(topic_, payload, retain=retain)
        if topic_ == Topics(BOOTH).cmd:
            sent.set()

    rec.publish = publish_and_tell  # type: ignore[method-assign]

    async def answer() -> None:
        await asyncio.wait_for(sent.wait(), 5)
        cmd = next(p for t, p in rec.published if t == Topics(BOOTH).cmd)
        assert cmd["by"] == "tech1" and cmd["cmd"] == "ping"
        result = {"id": cmd["id"], "ok": True, "result": {"pong": True}, "ts": now_rfc3339()}
        bridge._on_mqtt(topic("cmd/result"), json.dumps(result).encode())

    responder = asyncio.create_task(answer())
    got = await bridge.booth_command("tech1", "technician", BOOTH, "ping", {})
    await responder
    assert got["ok"] is True and got["result"] == {"pong": True}
    with pytest.raises(TimeoutError):
        await bridge.booth_command("super1", "supervisor", BOOTH, "ping", {}, timeout=2)
    outcomes = [(a["user"], a["outcome"].split()[0]) for a in bridge.audit(20)]
    assert outcomes[::-1] == [
        ("clearing1", "denied:"),
        ("tech1", "invalid:"),
        ("tech1", "refused:"),
        ("tech1", "sent"),
        ("tech1", "ok"),
        ("super1", "sent"),
        ("super1", "timeout"),
    ]
    await bridge.stop()


async def test_restart_tells_booths_again_where_their_call_stands(tmp_path: Path) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    (call,) = bridge.engine.calls
    await bridge.dispatch(Accept("clearing1", call))
    await bridge.stop()
    again, rec = await make(tmp_path)
    rec.published.clear()
    again._on_mqtt_connected()
    (msg,) = rec.calls()
    assert (msg.type, msg.session, msg.agent) == ("connected", "s1", "Bürgerservice – Empfang")
    # the event cursor survived: the replayed request is not a second call
    again._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    assert list(again.engine.calls) == [call]
    await again.stop()


async def test_a_booth_with_a_new_event_numbering_is_followed(tmp_path: Path) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    for seq in range(1, 6):
        bridge._on_mqtt(topic("event"), event(seq, "presence", present=True))
    assert bridge.store.cursors()[BOOTH] == 5
    # the booth PC was replaced: new ids, seq from 1 again
    fresh = parse_booth_event(
        {"id": "new-pc-000001", "booth": BOOTH, "seq": 1, "ts": now_rfc3339()}
        | {"type": "call_requested", "data": {"session": "s9"}}
    )
    bridge._on_mqtt(topic("event"), dump_booth_event(fresh))
    assert len(bridge.engine.calls) == 1
    assert bridge.store.cursors()[BOOTH] == 1
    await bridge.stop()


async def test_restart_tells_a_waiting_booth_its_position_and_estimate(tmp_path: Path) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetNotReady("clearing1"))  # logged in: the call waits
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="s1"))
    await bridge.stop()
    again, rec = await make(tmp_path)
    rec.published.clear()
    again._on_mqtt_connected()
    (msg,) = rec.calls()
    # position 1, the queue's default talk time (300 s) for its one logged-in agent
    assert (msg.type, msg.position, msg.estimated_wait) == ("queued", 1, 300.0)
    await again.stop()
