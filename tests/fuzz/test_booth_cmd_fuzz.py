"""Property: whatever bytes arrive on a booth's ``cmd`` topic, the MQTT link survives, every
JSON object with a usable id gets exactly one ``cmd/result`` (a repeated id the first answer,
executed once), everything else exactly one ``protocol_error`` event, answers stay small and
nothing is left pending. Driven through the link's message handler, without a broker."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fuzz_counts import COUNTS, EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booth.central import BoothBinding
from booth.commands import CommandRefused
from booth.config import parse_config
from booth.mqtt_link import MqttLink
from booth.outbox import Outbox
from booth.trace import Trace
from hal.clock import LoopClock
from lisa_messages import COMMAND_ARGS, Message
from sim.harness import example_config_data
from sim.vtime import VirtualTimeLoop

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EPOCH = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
CONFIG, _ = parse_config(
    example_config_data()
    | {"booth": {"id": "fuzz-1"}, "central": {"kind": "mqtt"}}
    | {"mqtt": {"url": "mqtt://127.0.0.1:1", "require_bridge": False}}
    | {"state_dir": str(Path("/nonexistent/lisa-fuzz"))},
    "fuzz",
)


class Executor:
    """Answers every command; a self-test takes a while, door.open breaks, door.close is
    refused."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    async def execute(self, cmd: str, args: Message, by: str = "") -> dict[str, Any]:
        self.runs.append(cmd)
        if cmd == "selftest.run":
            await asyncio.sleep(1.5)
        if cmd == "door.open":
            raise OSError("the PLC does not answer")
        if cmd == "door.close":
            raise CommandRefused("the door is obstructed")
        return {"done": cmd}


class Client:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> Any:
        self.published.append((topic, payload.encode() if isinstance(payload, str) else payload))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def usable_id(payload: bytes) -> str | None:
    """The oracle: the id a command can be answered to, or None."""
    if len(payload) > 256 * 1024:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    cid = data.get("id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        return None
    try:
        cid.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return cid


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(["c1", "c2", "r1", "x" * 64, "x" * 65, "", "\ud800", "ü-1"]) | st.text(
    max_size=70
)
timestamps = st.sampled_from(
    [
        "2026-02-30T10:00:00Z",
        "2026-11-28T20:00:05Z",
        "2020-01-01T00:00:00Z",
        "soon",
        "9999-12-31T23:59:59.999Z",
    ]
)
commands = st.fixed_dictionaries(
    {},
    optional={
        "id": ids | json_values,
        "cmd": st.sampled_from(list(COMMAND_ARGS)) | st.text(max_size=300) | json_values,
        "args": st.fixed_dictionaries({}, optional={"device": st.sampled_from(["audio", "door"])})
        | st.dictionaries(st.text(max_size=300), json_values, max_size=3)
        | json_values,
        "expires_at": timestamps | json_values,
        "by": st.text(max_size=200) | json_values,
        "extra": json_values,
    },
)


def encode(doc: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.binary(max_size=200),
    st.builds(encode, commands, st.booleans()),
    st.builds(lambda d, n: encode(d, True)[:n], commands, st.integers(0, 200)),
    st.sampled_from(
        [
            b"[" * 1000 + b"]" * 1000,
            b'{"id": "deep", "args": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            b'{"id": "\\ud800", "cmd": "ping"}',
            b'{"id": "c1", "cmd": "ping", "args": {}, "expires_at": "2026-02-30T10:00:00Z"}',
            b'{"id": "r1", "cmd": "selftest.run", "args": {"device": "audio"}}',
            b"\xef\xbb\xbf{}",
            b"\x00" * 10,
        ]
    ),
)


async def run(batch: list[bytes]) -> tuple[MqttLink, Client, Executor]:
    link = MqttLink(CONFIG, LoopClock(EPOCH), Trace(lambda: 0.0), Outbox(":memory:"))
    executor = Executor()

    async def settled() -> None:
        return None

    link.bind(BoothBinding(commands=executor, status=dict, settled=settled))
    client = Client()
    link._client = client  # type: ignore[assignment]
    link._connected = True
    for payload in batch:  # back to back, as the network thread hands them over
        link._on_message(link.topics.cmd, payload)
    for _ in range(1000):
        if not link.pending_commands():
            break
        await asyncio.sleep(0.5)
    return link, client, executor


@SETTINGS
@given(st.lists(payloads, min_size=1, max_size=12))
def test_any_bytes_on_cmd_get_exactly_one_answer_each(batch: list[bytes]) -> None:
    records = Records()
    logger = logging.getLogger("lisa.booth.mqtt")
    logger.addHandler(records)
    loop = VirtualTimeLoop()
    try:
        link, client, executor = loop.run_until_complete(run(batch))
    finally:
        loop.close()
        logger.removeHandler(records)
    COUNTS["booth commands (cmd topic)"] += len(batch)
    assert link.pending_commands() == 0
    assert link._commands._running == {}
    expected = [usable_id(p) for p in batch]
    results = [json.loads(p) for t, p in client.published if t == link.topics.cmd_result]
    # exactly one answer per usable id message, one protocol_error per other message
    assert sorted(r["id"] for r in results) == sorted(i for i in expected if i is not None)
    events = [json.loads(row.payload) for row in link.outbox.pending(limit=10_000)]
    errors = [e for e in events if e["type"] == "protocol_error"]
    assert len(errors) == sum(1 for i in expected if i is None)
    # a repeated id: one execution, the same answer every time
    by_id: dict[str, dict[str, Any]] = {}
    for r in results:
        assert r == by_id.setdefault(r["id"], r)
        assert isinstance(r["ok"], bool) and (r["ok"] or r["error"])
    assert len(executor.runs) <= len(by_id)
    audits = [e for e in events if e["type"] == "command"]
    assert len(audits) == len(by_id)
    # answers and events stay small whatever came in
    assert all(len(p) < 4_000 for _, p in client.published)
    assert all(len(row.payload) < 4_000 for row in link.outbox.pending(limit=10_000))
    # nothing went down the last-resort path
    bad = [r for r in records.records if r.levelno >= logging.ERROR and "PLC" not in r.getMessage()]
    assert not [r for r in bad if "failed:" not in r.getMessage()], [r.getMessage() for r in bad]
