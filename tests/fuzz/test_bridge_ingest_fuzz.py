"""Property: whatever bytes arrive on whatever booth topic, the bridge's ingest raises nothing
(and needs no catch-all for it), creates no call and no booth entry for a booth the tenant
config does not name, and keeps its memory bounded (registry, unknown list, faults)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fuzz_counts import COUNTS, EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_bridge.acd.model import AgentSpec, QueueSpec, SetReady
from cloud_bridge.booths import FAULTS_KEPT, UNKNOWN_KEPT
from cloud_bridge.service import Bridge, LoopEpochClock
from cloud_bridge.store import SQLiteStore
from lisa_messages import EVENT_TYPES
from sim.vtime import VirtualTimeLoop

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CONFIGURED = {"gartz-01": "clearing", "lychen-01": "clearing"}
QUEUES = [QueueSpec("clearing", "Empfang", ring_timeout_s=20.0)]
AGENTS = [AgentSpec("clearing1", "Empfang", {"clearing": 1})]
LEAVES = ["event", "availability", "state", "health", "cmd/result", "cmd", "call", "x/y", ""]

booth_ids = st.sampled_from([*CONFIGURED, "made-up-1", "gartz-02", "+", "", "x" * 300]) | st.text(
    max_size=70
).filter(lambda s: "/" not in s)
topics = st.one_of(
    st.builds(
        lambda b, leaf: f"lisa/v1/booth/{b}/{leaf}".rstrip("/"), booth_ids, st.sampled_from(LEAVES)
    ),
    st.sampled_from(["lisa/v1/bridge/availability", "lisa/v1/booth", "other/topic", ""]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
datas = st.fixed_dictionaries(
    {},
    optional={
        "session": st.text(min_size=1, max_size=70),
        "present": st.booleans(),
        "active": st.booleans(),
        "device": st.sampled_from(["door", "audio"]),
        "status": st.sampled_from(["ok", "degraded", "unavailable", "bad"]),
        "outcome": st.sampled_from(["pass", "fail"]),
        "topic": st.text(max_size=400),
        "error": st.text(max_size=400),
        "where": st.text(max_size=20),
        "reason": st.text(max_size=20),
    },
)
events = st.fixed_dictionaries(
    {
        "id": st.text(min_size=8, max_size=12, alphabet="abcdef0123456789") | st.text(max_size=70),
        "booth": booth_ids,
        "seq": st.integers(-2, 10) | st.integers(0, 2**70),
        "ts": st.sampled_from(["2026-11-28T20:10:52.123Z", "2026-02-30T10:00:00Z", "now"]),
        "type": st.sampled_from(EVENT_TYPES) | st.text(max_size=10),
        "data": datas | json_values,
    }
)
retained = st.fixed_dictionaries(
    {"booth": booth_ids, "ts": st.just("2026-11-28T20:10:52.123Z")},
    optional={
        "state": st.sampled_from(["idle", "in_call", "nope"]),
        "detail": st.text(max_size=20),
        "since": st.just("2026-11-28T20:10:52.123Z"),
        "in_service": st.booleans(),
        "devices": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    },
)
payloads = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"online", b"offline", b"[" * 3000 + b"]" * 3000, b'{"id": "\\ud800"}']),
    st.builds(lambda d: json.dumps(d).encode(), events | retained | json_values),
)


VALID_DATA = {
    "call_requested": st.fixed_dictionaries({"session": st.sampled_from(["s1", "s2", "s3"])}),
    "call_ended": st.fixed_dictionaries(
        {"session": st.sampled_from(["s1", "s2"]), "reason": st.sampled_from(["left", ""])}
    ),
    "presence": st.fixed_dictionaries({"present": st.booleans()}),
    "emergency": st.fixed_dictionaries({"active": st.booleans()}),
    "health": st.fixed_dictionaries(
        {"device": st.just("door"), "status": st.sampled_from(["ok", "degraded"])}
    ),
    "protocol_error": st.fixed_dictionaries({"topic": st.text(max_size=500), "error": st.text()}),
}


@st.composite
def coherent(draw: st.DrawFn) -> tuple[str, bytes]:
    """A well-formed event on its own booth's topic: a configured or a made-up booth, ids from
    a small pool (duplicates), seqs in order, backwards or far ahead."""
    booth = draw(st.sampled_from([*CONFIGURED, "made-up-1", "made-up-2"]))
    type_ = draw(st.sampled_from(list(VALID_DATA)))
    event = {
        "id": f"ev-{draw(st.integers(0, 30)):08d}",
        "booth": booth,
        "seq": draw(st.integers(1, 12) | st.integers(1, 2**62)),
        "ts": "2026-11-28T20:10:52.123Z",
        "type": type_,
        "data": draw(VALID_DATA[type_]),
    }
    return f"lisa/v1/booth/{booth}/event", json.dumps(event).encode()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def feed(messages: list[tuple[str, bytes]]) -> dict[str, Any]:
    bridge = Bridge(
        QUEUES,
        AGENTS,
        SQLiteStore(":memory:"),
        booths=dict(CONFIGURED),
        clock=LoopEpochClock(1_790_000_000.0),
    )
    await bridge.start()
    await bridge.dispatch(SetReady("clearing1"))
    for topic, payload in messages:
        bridge._on_mqtt(topic, payload)
    out = {
        "calls": [c["booth"] for c in bridge.status()["calls"]],
        "registry": set(bridge.registry.booths),
        "stored": set(bridge.store.booths()),
        "unknown": len(bridge.registry.unknown),
        "faults": [len(bridge.faults.recent(b, 10_000)) for b in CONFIGURED],
        "fault_booths": set(bridge.faults._faults),
        "cursors": set(bridge.ingest.cursors),
    }
    await bridge.stop()
    return out


@SETTINGS
@given(st.lists(st.tuples(topics, payloads) | coherent(), min_size=1, max_size=25))
def test_any_bytes_on_any_booth_topic(messages: list[tuple[str, bytes]]) -> None:
    records = Records()
    logger = logging.getLogger("lisa.bridge")
    logger.addHandler(records)
    loop = VirtualTimeLoop()
    try:
        out = loop.run_until_complete(feed(messages))
    finally:
        loop.close()
        logger.removeHandler(records)
    COUNTS["booth messages at the bridge"] += len(messages)
    # handled, not caught by the catch-all ("booth message failed")
    assert not records.records, [r.getMessage() for r in records.records]
    assert set(out["calls"]) <= set(CONFIGURED)
    assert out["registry"] == set(CONFIGURED)
    assert out["stored"] <= set(CONFIGURED)
    assert out["fault_booths"] <= set(CONFIGURED)
    assert out["cursors"] <= set(CONFIGURED)
    assert out["unknown"] <= UNKNOWN_KEPT
    assert all(n <= FAULTS_KEPT for n in out["faults"])
