"""Answering remote commands (booth/remote_commands.py) without a broker: every command with a
usable id gets exactly one answer, whatever it holds; everything else a protocol_error; a
repeated id never runs twice, also while the first run is still going; echoed input is capped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from booth.central import BoothBinding
from booth.outbox import Outbox
from booth.remote_commands import ECHO_MAX, MAX_COMMAND_BYTES, RemoteCommands
from hal.clock import LoopClock
from lisa_messages import CommandAudit, EventBody, Message

EPOCH = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


class FakeExecutor:
    """Stands in for booth.commands.CommandExecutor: a self-test takes 2 s, ping answers."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    async def execute(self, cmd: str, args: Message, by: str = "") -> dict[str, Any]:
        self.runs.append(cmd)
        if cmd == "selftest.run":
            await asyncio.sleep(2.0)
            return {"results": {"audio": {"outcome": "pass"}}}
        return {"pong": True}


class Rig:
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.events: list[EventBody] = []
        self.errors: list[str] = []
        self.executor = FakeExecutor()
        binding = BoothBinding(commands=self.executor, status=dict, settled=self._settled)
        self.commands = RemoteCommands(
            clock=LoopClock(EPOCH),
            outbox=Outbox(":memory:"),
            booth=lambda: binding,
            publish=self.results.append,
            emit=self.events.append,
            protocol_error=self.errors.append,
        )

    @staticmethod
    async def _settled() -> None:
        return None

    async def send(self, payload: bytes | str | dict[str, Any]) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        await self.commands.answer(payload)

    def audits(self) -> list[CommandAudit]:
        return [e for e in self.events if isinstance(e, CommandAudit)]


@pytest.fixture
def rig() -> Rig:
    return Rig()


async def test_a_ping_is_answered_and_audited(rig: Rig) -> None:
    await rig.send({"id": "p1", "cmd": "ping"})
    (result,) = rig.results
    assert result["id"] == "p1" and result["ok"] is True and result["result"] == {"pong": True}
    assert [a.id for a in rig.audits()] == ["p1"]


# ------------------------------------------------------------------ defect 1: nothing vanishes
async def test_an_impossible_expiry_date_gets_a_result(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lisa.booth.mqtt")
    await rig.send({"id": "c1", "cmd": "ping", "args": {}, "expires_at": "2026-02-30T10:00:00Z"})
    (result,) = rig.results
    assert result["id"] == "c1" and result["ok"] is False
    assert "expires_at" in result["error"]
    assert rig.executor.runs == []
    assert [a.ok for a in rig.audits()] == [False]


async def test_a_deeply_nested_document_is_a_protocol_error(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lisa.booth.mqtt")
    deep = '{"id": "n1", "cmd": "ping", "args": {"a": ' + "[" * 1000 + "]" * 1000 + "}}"
    await rig.send(deep)
    assert rig.results == []
    (error,) = rig.errors
    assert "nested" in error
    assert any("nested" in r.getMessage() for r in caplog.records)


async def test_a_deeply_nested_document_without_json_limits_is_a_protocol_error(
    rig: Rig,
) -> None:
    await rig.send("[" * 100_000 + "]" * 100_000)
    assert rig.results == [] and len(rig.errors) == 1


async def test_an_id_with_a_lone_surrogate_is_a_protocol_error(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lisa.booth.mqtt")
    await rig.send(b'{"id": "\\ud800", "cmd": "ping"}')
    assert rig.results == []
    (error,) = rig.errors
    assert "id" in error
    assert caplog.records  # logged


async def test_an_unexpected_failure_still_answers_and_is_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="lisa.booth.mqtt")

    def broken(*args: Any) -> None:
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr(rig.commands.outbox, "command_result", broken)
    await rig.send({"id": "x1", "cmd": "ping", "by": "Erika Mustermann"})
    (result,) = rig.results
    assert result["id"] == "x1" and result["ok"] is False and "internal error" in result["error"]
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    text = record.getMessage() + str(record.__dict__)
    assert "x1" in text and "RuntimeError" in text
    assert "Erika" not in text and "the disk is gone" not in text  # no data from the message


async def test_a_non_object_and_a_missing_id_are_protocol_errors(rig: Rig) -> None:
    for payload in (
        "[1, 2]",
        "not json",
        b"\xff\xfe",
        '{"cmd": "ping"}',
        '{"id": 7}',
        '{"id": ""}',
    ):
        await rig.send(payload)
    assert rig.results == [] and len(rig.errors) == 6


# ------------------------------------------------------------------ defect 2: concurrent repeats
async def test_a_repeated_id_waits_for_the_first_run(rig: Rig) -> None:
    cmd = {"id": "r1", "cmd": "selftest.run", "args": {"device": "audio"}}
    await asyncio.gather(rig.send(cmd), rig.send(cmd), rig.send(cmd))
    assert rig.executor.runs == ["selftest.run"]  # one self-test, not three
    assert len(rig.results) == 3 and all(r == rig.results[0] for r in rig.results)
    assert rig.results[0]["ok"] is True
    assert len(rig.audits()) == 1
    assert rig.commands.pending() == 0
    await rig.send(cmd)  # later: the stored answer
    assert rig.executor.runs == ["selftest.run"] and rig.results[-1] == rig.results[0]


# ------------------------------------------------------------------ defect 3: echo is capped
async def test_an_unknown_command_name_is_echoed_truncated(rig: Rig) -> None:
    await rig.send({"id": "u0", "cmd": "x" * 200_000})  # the tester's: too large, a short answer
    assert rig.results[0]["ok"] is False and len(json.dumps(rig.results[0])) < 1_000
    rig.results.clear()
    rig.events.clear()
    name = "x" * 60_000
    await rig.send({"id": "u1", "cmd": name})
    (result,) = rig.results
    assert result["ok"] is False and "unknown command" in result["error"]
    assert len(json.dumps(result)) < 2_000
    assert "…" in result["error"]
    (audit,) = rig.audits()
    assert audit.cmd is not None and len(audit.cmd) <= ECHO_MAX + 1
    assert len(audit.model_dump_json()) < 2_000


async def test_an_oversized_command_is_refused_with_a_short_reason(rig: Rig) -> None:
    big = {"id": "big1", "cmd": "display.show", "args": {"page": "call", "params": {}}}
    big["args"]["params"] = {"text": "y" * (MAX_COMMAND_BYTES + 10)}  # type: ignore[index]
    await rig.send(big)
    (result,) = rig.results
    assert result["id"] == "big1" and result["ok"] is False and "too large" in result["error"]
    assert len(json.dumps(result)) < 1_000
    assert rig.executor.runs == []
    await rig.send(b"[" + b"1," * MAX_COMMAND_BYTES + b"1]")  # no id to answer to
    (error,) = rig.errors
    assert "too large" in error and len(error) < 200


async def test_long_field_names_and_a_long_by_are_not_echoed_whole(rig: Rig) -> None:
    await rig.send({"id": "f1", "cmd": "ping", "z" * 30_000: 1, "by": "b" * 30_000})
    (result,) = rig.results
    assert result["ok"] is False and len(json.dumps(result)) < 2_000
    (audit,) = rig.audits()
    assert len(audit.model_dump_json()) < 2_000


async def test_a_failing_audit_does_not_answer_twice(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: EventBody) -> None:
        raise OSError("database is locked")

    rig.commands._emit = broken
    await rig.send({"id": "a1", "cmd": "ping"})
    (result,) = rig.results
    assert result["ok"] is True
    assert any("audit" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
