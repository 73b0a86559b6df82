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


# ------------------------------------------------------------------ seq jumps, unknown booths
def presence(seq: int, event_id: str | None = None) -> bytes:
    ev = parse_booth_event(
        {"id": event_id or f"ev-{BOOTH}-{seq:06d}", "booth": BOOTH, "seq": seq}
        | {"ts": now_rfc3339(), "type": "presence", "data": {"present": seq % 2 == 0}}
    )
    return dump_booth_event(ev)


async def test_a_far_ahead_seq_is_alerted_and_does_not_silence_the_booth(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    caplog.set_level(logging.INFO, logger="lisa.bridge")
    for seq in range(1, 4):
        bridge._on_mqtt(topic("event"), presence(seq))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    bridge._on_mqtt(topic("event"), presence(1003, "forged-1"))  # current + 1000
    # the real events go on: handled, not dropped
    bridge._on_mqtt(topic("event"), presence(4))
    bridge._on_mqtt(topic("event"), event(5, "call_requested", session="s1"))
    assert len(bridge.engine.calls) == 1
    bridge._on_mqtt(topic("event"), event(5, "call_requested", session="s1"))  # duplicate id
    assert len(bridge.engine.calls) == 1
    jumps = [r for r in caplog.records if "numbering jumped" in r.getMessage()]
    assert jumps and jumps[0].levelno == logging.WARNING
    first = jumps[0].__dict__
    assert first["booth"] == BOOTH and first["previous_seq"] == 3 and first["seq"] == 1003
    assert first["gap"] == 999
    # alerted: the booth's faults and its view in the status (also the stored one)
    faults = bridge.booth_faults(BOOTH)
    assert any(f["type"] == "seq_jump" and "999" in f["detail"] for f in faults)
    (view,) = [b for b in bridge.status()["booths"] if b["id"] == BOOTH]
    assert view["seq_jumps"] >= 1 and view["last_seq_jump"]["to"] in (1003, 4)
    assert bridge.store.booths()[BOOTH]["seq_jumps"] == view["seq_jumps"]
    # later consecutive events raise no further alert
    count = len(jumps)
    for seq in range(6, 10):
        bridge._on_mqtt(topic("event"), presence(seq))
    assert len([r for r in caplog.records if "numbering jumped" in r.getMessage()]) == count
    assert bridge.store.cursors()[BOOTH] == 9
    await bridge.stop()


async def test_a_far_ahead_seq_is_no_reason_to_drop_events_after_a_restart(
    tmp_path: Path,
) -> None:
    bridge, _ = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    bridge._on_mqtt(topic("event"), presence(1))
    bridge._on_mqtt(topic("event"), presence(5000, "forged-2"))
    await bridge.stop()
    again, _ = await make(tmp_path)
    again._on_mqtt(topic("event"), event(2, "call_requested", session="s2"))
    assert len(again.engine.calls) == 1
    again._on_mqtt(topic("event"), presence(1))  # a replay: known by its id
    assert again.store.cursors()[BOOTH] == 2
    await again.stop()


def unknown_topic(booth: str, leaf: str) -> str:
    return f"{Topics(booth).base}/{leaf}"


async def test_calls_from_booths_not_in_the_tenant_config_are_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, rec = await make(tmp_path)
    await bridge.dispatch(SetReady("clearing1"))
    caplog.set_level(logging.INFO, logger="lisa.bridge")
    for i in range(300):
        booth = f"made-up-{i:03d}"
        ev = parse_booth_event(
            {"id": f"ev-{booth}-000001", "booth": booth, "seq": 1, "ts": now_rfc3339()}
            | {"type": "call_requested", "data": {"session": f"s{i}"}}
        )
        bridge._on_mqtt(unknown_topic(booth, "event"), dump_booth_event(ev))
        for leaf, payload in (
            ("availability", b"online"),
            ("state", b'{"booth": "x"}'),
            ("health", b"{}"),
            ("cmd/result", b"{}"),
        ):
            bridge._on_mqtt(unknown_topic(booth, leaf), payload)
    bridge._on_mqtt(topic("event"), event(1, "call_requested", session="real"))
    assert [c["booth"] for c in bridge.status()["calls"]] == [BOOTH]
    assert list(bridge.registry.booths) == [BOOTH]  # no entry for made-up booths
    assert set(bridge.store.booths()) <= {BOOTH}
    assert not [t for t, _ in rec.published if "made-up" in t]  # nothing sent to them
    unknown = bridge.status()["unknown_booths"]
    assert len(unknown) == 50  # bounded: the last 50
    assert unknown[0]["id"] == "made-up-299" and unknown[0]["count"] == 5
    assert {"id", "count", "first_seen", "last_seen"} <= set(unknown[0])
    refusals = [r for r in caplog.records if "not in the tenant config" in r.getMessage()]
    assert 1 <= len(refusals) <= 3  # logged, rate-limited
    assert refusals[0].levelno == logging.WARNING and refusals[0].__dict__["booth"]
    await bridge.stop()
    # the refusals are in the database for `lisa bridge status`
    with SQLiteStore(tmp_path / "bridge.db") as store:
        stored = store.unknown_booths()
    assert [b["id"] for b in stored] == [b["id"] for b in unknown]


async def test_a_booth_view_of_an_unknown_booth_is_not_restored(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "bridge.db") as store:  # written by an older bridge
        store.put_booth("made-up-1", {"id": "made-up-1", "queue": "clearing", "online": True})
    bridge, _ = await make(tmp_path)
    assert list(bridge.registry.booths) == [BOOTH]
    with pytest.raises(KeyError):
        bridge.booth_faults("made-up-1")
    await bridge.stop()


async def test_bridge_status_shows_unknown_booths_and_seq_jumps(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cloud_bridge.cli import app
    from cloud_bridge.config import load_bridge_config

    example = Path(__file__).parents[2] / "cloud_bridge" / "examples" / "uckermark.toml"
    config = tmp_path / "bridge.toml"
    config.write_text(
        example.read_text(encoding="utf-8").replace(
            "/var/lib/lisa-bridge/uckermark.db", str(tmp_path / "uckermark.db")
        ),
        encoding="utf-8",
    )
    cfg = load_bridge_config(config)
    bridge = Bridge(
        cfg.queue_specs(),
        cfg.agent_specs(),
        SQLiteStore(cfg.bridge.database),
        booths={b.id: cfg.booth_queue(b.id) for b in cfg.booths},
        clock=LoopEpochClock(1_790_000_000.0),
    )
    await bridge.start()
    bridge._on_mqtt(unknown_topic("intruder-7", "availability"), b"online")
    bridge._on_mqtt(topic("event"), presence(1))
    bridge._on_mqtt(topic("event"), presence(1001, "forged-3"))
    await bridge.stop()
    runner = CliRunner()
    result = runner.invoke(app, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(b["id"], b["count"]) for b in data["unknown_booths"]] == [("intruder-7", 1)]
    (gartz,) = [b for b in data["booths"] if b["id"] == BOOTH]
    assert gartz["seq_jumps"] == 1 and gartz["last_seq_jump"]["gap"] == 999
    assert "intruder-7" not in {b["id"] for b in data["booths"]}
    text = runner.invoke(app, ["status", "--config", str(config)], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "intruder-7" in text.output and "not in the tenant config" in text.output
    assert "seq jump" in text.output
