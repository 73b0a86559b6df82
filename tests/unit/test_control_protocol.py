"""Control socket protocol without a subprocess: request checking, redaction, topic filter, and
the ops against a simulated booth on virtual time (one test also over a real Unix socket)."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from booth.control import (
    ACTIONS,
    ControlServer,
    RequestError,
    parse_actuate,
    parse_request,
    redact,
    topic_matches,
)
from booth.control_client import MAX_REQUEST_LINE
from booth.trace import TraceRecord
from hal.clock import LoopClock
from hal.events import LightScene
from sim.harness import SimBooth

SALT = "sim-salt-not-secret"
ALL_SLOTS = [*ACTIONS, "presence", "nfc"]


# ------------------------------------------------------------------------------------ requests
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"hello", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"status"', "must be a JSON object"),
        (b"{}", 'has no "op"'),
        (b'{"op": 3}', '"op" must be a string'),
        (b'{"op": "reboot"}', "unknown op 'reboot' (ops: status, selftest"),
        (b'{"op": "status", "verbose": true}', "op 'status' has no argument 'verbose'"),
        (b'{"op": "watch", "topik": "door"}', "it takes: samples, topic"),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
)
def test_malformed_requests_name_the_problem(line: bytes, expected: str) -> None:
    with pytest.raises(RequestError, match=None) as info:
        parse_request(line)
    assert expected in str(info.value)


def test_request_too_long() -> None:
    line = json.dumps({"op": "status", "pad": "x" * MAX_REQUEST_LINE}).encode()
    with pytest.raises(RequestError, match="request too long"):
        parse_request(line)


def test_valid_request() -> None:
    assert parse_request(b'{"op": "selftest", "device": "door"}') == {
        "op": "selftest",
        "device": "door",
    }


# ------------------------------------------------------------------------------------ actuate
def test_actuate_unknown_device_lists_devices() -> None:
    with pytest.raises(RequestError) as info:
        parse_actuate("toaster", "open", [], ALL_SLOTS)
    msg = str(info.value)
    assert "unknown device 'toaster'" in msg
    for slot in ("door", "light", "audio", "camera_main", "signature", "plc"):
        assert slot in msg


def test_actuate_unconfigured_device() -> None:
    with pytest.raises(RequestError, match="not configured in this booth"):
        parse_actuate("signature", "clear", [], ["door", "plc", "presence"])


def test_actuate_unknown_action_lists_actions() -> None:
    with pytest.raises(RequestError, match=r"unknown action 'fly' for door \(actions: open, close"):
        parse_actuate("door", "fly", [], ALL_SLOTS)


@pytest.mark.parametrize(
    ("device", "action", "args", "expected"),
    [
        ("door", "open", ["now"], "wrong number of arguments (1); usage: door open"),
        ("light", "scene", [], "usage: light scene <off|standby|"),
        ("light", "scene", ["disco"], "unknown light scene 'disco'"),
        ("light", "scene", ["standby", 1.5], "brightness must be within 0..1"),
        ("light", "sign", ["maybe"], "unknown sign state 'maybe' (states: free, occupied"),
        ("audio", "loop", ["sometimes"], "loop must be on or off"),
        ("camera_main", "zoom", ["x"], "zoom must be a number within 0..1"),
        ("plc", "output", ["door_release"], "usage: plc output <name> <on|off>"),
        ("door", "open", "not a list", "'args' must be an array"),
    ],
)
def test_actuate_bad_arguments(device: str, action: str, args: Any, expected: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_actuate(device, action, args, ALL_SLOTS)
    assert expected in str(info.value)


def test_actuate_parses_arguments() -> None:
    cmd = parse_actuate("light", "scene", ["consultation", "0.4"], ALL_SLOTS)
    assert cmd.params == {"scene": LightScene.CONSULTATION, "brightness": 0.4}
    cmd = parse_actuate("plc", "output", ["door_release", "on"], ALL_SLOTS)
    assert cmd.params == {"name": "door_release", "on": True}
    assert parse_actuate("audio", "tone", [], ALL_SLOTS).params["frequency"] == 1000.0


# ------------------------------------------------------------------------------------ helpers
def test_redact() -> None:
    data: dict[str, Any] = {
        "maintenance": {"uid_salt": SALT, "badge_hashes": ["ab", "cd"]},
        "mqtt": {"password": "pw", "Access_Token": "t", "user": "booth-1"},
        "records": [{"kind": "input", "uid": "04A1B2C3D4E5F6"}],
        "control": {"socket": "/run/lisa/booth.sock"},
        "secret_unset": None,
    }
    out = redact(data)
    assert out["maintenance"] == {"uid_salt": "***", "badge_hashes": ["***", "***"]}
    assert out["mqtt"] == {"password": "***", "Access_Token": "***", "user": "booth-1"}
    assert out["records"][0]["uid"] == "***"
    assert out["control"] == data["control"]
    assert out["secret_unset"] is None
    assert data["maintenance"]["uid_salt"] == SALT  # the original is untouched


def test_topic_filter() -> None:
    door = TraceRecord(1.0, "actuator", {"device": "door", "action": "open"})
    cam = TraceRecord(1.0, "health", {"device": "camera_document", "status": "ok"})
    state = TraceRecord(1.0, "state", {"state": "idle"})
    err = TraceRecord(1.0, "error", {"where": "door.open", "error": "jammed"})
    assert topic_matches(door, "door") and not topic_matches(door, "light")
    assert topic_matches(cam, "camera")
    assert topic_matches(state, "state") and not topic_matches(state, "door")
    assert topic_matches(err, "door") and not topic_matches(err, "plc")
    assert all(topic_matches(r, "all") for r in (door, cam, state, err))


# ------------------------------------------------------------------------------------ ops
async def _until(booth: SimBooth, *states: str) -> None:
    async with asyncio.timeout(60.0):
        while booth.controller.state.split(".")[0] not in states:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SimBooth, ControlServer]]:
    booth = SimBooth.from_example(LoopClock())
    await booth.start()
    await _until(booth, "idle")
    server = ControlServer(booth.controller, booth.config, inject=booth.inject)
    try:
        yield booth, server
    finally:
        await booth.stop()


async def test_status_has_versions_and_uptime(sim: tuple[SimBooth, ControlServer]) -> None:
    _, server = sim
    st = await server.handle({"op": "status"})
    assert st["ok"] and st["state"] == "idle" and st["simulated"] is True
    assert st["versions"]["lisa"] and st["versions"]["python"]
    assert st["uptime"] >= 0
    assert st["sign"] == "free" and st["distance"] == pytest.approx(2.4)


async def test_actuate_refused_while_citizen_inside_then_accepted_in_maintenance(
    sim: tuple[SimBooth, ControlServer],
) -> None:
    booth, server = sim
    booth.inject("person.enter", {})
    await _until(booth, "occupied", "queued")
    with pytest.raises(RequestError) as info:
        await server.handle({"op": "actuate", "device": "door", "action": "open"})
    assert "refused: a citizen is in the booth (state" in str(info.value)
    assert "switch to maintenance first" in str(info.value)
    with pytest.raises(RequestError, match="refused: a citizen"):
        await server.handle({"op": "selftest"})

    answer = await server.handle({"op": "maintenance", "enter": True})
    assert answer["reached"] and answer["state"] == "maintenance"
    answer = await server.handle({"op": "actuate", "device": "door", "action": "open"}, uid=1000)
    assert answer == {"ok": True, "device": "door", "action": "open"}
    audit = [r for r in booth.trace.history if r.data.get("event") == "diag actuate"]
    assert audit[-1].data == {
        "event": "diag actuate",
        "device": "door",
        "action": "open",
        "by_uid": 1000,
    }
    await asyncio.sleep(3)
    assert booth.devices["door"].position().value == "open"  # type: ignore[attr-defined]


async def test_actuate_device_failure_is_an_error(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, server = sim
    booth.inject("device.fail", {"device": "light", "reason": "lamp driver dead"})
    with pytest.raises(RequestError, match=r"light sign failed: .*lamp driver dead"):
        await server.handle(
            {"op": "actuate", "device": "light", "action": "sign", "args": ["occupied"]}
        )
    grab = await server.handle({"op": "actuate", "device": "camera_main", "action": "grab"})
    assert grab["result"]["width"] == 320 and 0 < grab["result"]["mean_brightness"] < 256


async def test_selftest_and_unknown_device(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, server = sim
    with pytest.raises(RequestError, match=r"unknown device 'toaster' \(devices: presence, door"):
        await server.handle({"op": "selftest", "device": "toaster"})
    booth.inject("device.fail", {"device": "camera_document"})
    answer = await server.handle({"op": "selftest", "device": "camera_document"})
    assert answer["passed"] is False
    assert answer["results"]["camera_document"]["outcome"] == "fail"


async def test_inject_errors(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, server = sim
    with pytest.raises(RequestError, match=r"unknown input 'person\.fly'"):
        await server.handle({"op": "inject", "input": "person.fly"})
    with pytest.raises(RequestError, match="needs argument 'queue'"):
        await server.handle({"op": "inject", "input": "agent.transfer", "args": {}})
    with pytest.raises(RequestError, match="'args' must be an object"):
        await server.handle({"op": "inject", "input": "person.enter", "args": [1]})
    real = ControlServer(booth.controller, booth.config, inject=None)
    with pytest.raises(RequestError, match=r"only accepted by a simulated booth \(--sim\)"):
        await real.handle({"op": "inject", "input": "person.enter"})


async def test_bundle_is_redacted(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, server = sim
    booth.inject("nfc.tap", {"uid": "04A1B2C3D4E5F6"})
    await asyncio.sleep(1)
    bundle = await server.handle({"op": "bundle"})
    text = json.dumps(bundle)
    assert SALT not in text
    assert "04A1B2C3D4E5F6" not in text
    for badge in booth.config.maintenance.badge_hashes:
        assert badge not in text
    assert bundle["config"]["maintenance"]["uid_salt"] == "***"
    assert len(bundle["trace"]) <= 500 and bundle["selftest"]["door"]["outcome"] == "pass"
    assert bundle["versions"]["lisa"]


async def test_log_lines(sim: tuple[SimBooth, ControlServer]) -> None:
    _, server = sim
    answer = await server.handle({"op": "log", "lines": 5})
    assert len(answer["records"]) == 5
    with pytest.raises(RequestError, match="'lines' must be a whole number"):
        await server.handle({"op": "log", "lines": "many"})


# ------------------------------------------------------------------------------------ socket
async def test_socket_survives_garbage(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, _ = sim
    with tempfile.TemporaryDirectory(prefix="lisa-") as tmp:
        config = booth.config.model_copy(
            update={
                "control": booth.config.control.model_copy(
                    update={"socket": Path(tmp) / "sub" / "c.sock"}
                )
            }
        )
        server = ControlServer(booth.controller, config, inject=booth.inject)
        await server.start()
        try:
            path = Path(tmp) / "sub" / "c.sock"
            assert path.stat().st_mode & 0o777 == 0o660
            reader, writer = await asyncio.open_unix_connection(str(path))

            async def ask(data: bytes) -> dict[str, Any]:
                writer.write(data)
                await writer.drain()
                answer: dict[str, Any] = json.loads(await reader.readline())
                return answer

            assert "not valid JSON" in (await ask(b"{nope\n"))["error"]
            assert "too long" in (await ask(b"x" * (MAX_REQUEST_LINE + 10) + b"\n"))["error"]
            assert (await ask(b'{"op": "status"}\n'))["state"] == "idle"
            writer.close()
            await writer.wait_closed()

            # a second server refuses to take over a live socket
            other = ControlServer(booth.controller, config)
            with pytest.raises(OSError, match="already listens"):
                await other.start()
        finally:
            await server.stop()
        assert not path.exists()


def _with_socket(booth: SimBooth, sock: Path, group: str | None) -> Any:
    control = booth.config.control.model_copy(update={"socket": sock, "group": group})
    return booth.config.model_copy(update={"control": control})


async def test_socket_group(sim: tuple[SimBooth, ControlServer]) -> None:
    booth, _ = sim
    with tempfile.TemporaryDirectory(prefix="lisa-") as tmp:
        sock = Path(tmp) / "g.sock"
        missing = ControlServer(booth.controller, _with_socket(booth, sock, "no-such-group-xyz"))
        with pytest.raises(OSError, match=r"control\.group 'no-such-group-xyz' does not exist"):
            await missing.start()
        assert not sock.exists()

        own = grp.getgrgid(os.getgid())
        server = ControlServer(booth.controller, _with_socket(booth, sock, own.gr_name))
        await server.start()
        try:
            assert sock.stat().st_gid == own.gr_gid
        finally:
            await server.stop()

        sock.write_text("not a socket")
        refused = ControlServer(booth.controller, _with_socket(booth, sock, None))
        with pytest.raises(OSError, match="exists and is not a socket"):
            await refused.start()
        assert sock.read_text() == "not a socket"
