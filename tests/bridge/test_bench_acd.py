"""``lisa bench acd`` runs at tiny sizes and prints its numbers (no timing assertions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.bench import app
from sim.bench_acd import LARGE, SMALL, build_config, record, replay, scaled

TINY = ["--scale", "0.01", "--events", "3000", "--warmup-s", "600", "--repeat", "2"]


def test_bench_json() -> None:
    res = CliRunner().invoke(app, ["acd", *TINY, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    for name, agents in (("large", 50), ("small", 5)):
        r = d[name]
        assert r["agents"] == agents
        assert r["events"] == 3000
        assert r["decisions"] > r["events"]  # each event decides something (timers, logs, …)
        assert r["decisions_per_s"] > 0 and r["events_per_s"] > 0
        assert r["replay_identical"] is True
        mix = r["workload"]["events_by_kind"]
        for kind in ("CallRequested", "Accept", "Hangup", "TimerFired", "CallAbandoned"):
            assert mix.get(kind, 0) > 0, (name, kind, mix)
        assert not [k for k in mix if k.startswith("refused:")]
    assert d["ratio_large_small"] > 0
    assert d["targets"] == {"large_decisions_per_s": 20_000.0, "ratio_large_small": 0.7}


def test_bench_table() -> None:
    res = CliRunner().invoke(app, ["acd", *TINY])
    assert res.exit_code == 0, res.output
    assert "decisions/s (best)" in res.stdout
    assert "ratio large/small" in res.stdout


@pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="needs the mosquitto binary (make test installs it)",
)
def test_e2e_measures_presence_to_offer() -> None:
    res = CliRunner().invoke(app, ["acd", "--e2e", "--booths", "1", "--visits", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["visits"] == 3 and 0 < data["p50_ms"] <= data["max_ms"]


def test_workload_shapes() -> None:
    assert (LARGE.booths, LARGE.agents, LARGE.queues) == (10_000, 5_000, 100)
    assert (SMALL.booths, SMALL.agents, SMALL.queues) == (1_000, 500, 10)
    queues, agents = build_config(scaled(LARGE, 0.02), seed=1)
    assert len(queues) == 2 and len(agents) == 100
    assert all(1 <= len(a.queues) <= 2 for a in agents)  # 1–3 queues, at most all there are
    assert {lvl for a in agents for lvl in a.queues.values()} == {1, 2}


def test_replay_reproduces_the_recording() -> None:
    rec = record(scaled(SMALL, 0.02), events=2000, warmup_s=300, seed=3)
    assert len(rec.events) - rec.warm_idx == 2000
    seconds, decisions, events, identical = replay(rec)
    assert identical and events == 2000
    assert decisions == rec.decisions_total - rec.decisions_warm
    assert seconds > 0
