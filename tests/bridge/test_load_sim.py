"""``lisa sim load``: determinism, option errors, and the real ACD engine against queueing theory.

The statistical checks use one fixed seed each, so they are deterministic; their tolerances are
about 4–5 standard deviations of the figure at that run length, measured over 40 seeds (M/M/2,
1,000 h) and 20 seeds (the 400 h runs) and cross-checked with two 20,000 h runs (≈ 360,000
calls each: P(wait) 0.641 / 0.642, ASA 375 / 383 s, SL 0.381 / 0.379, occupancy 0.749 / 0.751
against 0.643, 386 s, 0.378, 0.750). See ``docs/load-simulator.md``. A changed engine (other tie
breaks, other timers) changes the random path but should stay inside them; a wrong engine
(calls not offered to ready agents, waits measured wrongly, lost calls) does not.

Besides the statistics, :func:`test_engine_is_an_exact_fcfs_queue` recomputes every call's wait
from the log with an independent first-come-first-served c-server model (arrival times and talk
times are the inputs): with identical agents any work-conserving strategy must give exactly
those waits.
"""

from __future__ import annotations

import heapq
import json
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from cloud_bridge.acd.model import LogEntry
from sim.cli import app
from sim.load import T0, LoadParamError, LoadParams, LoadResult, run_load


def erlang_c(c: int, a: float) -> float:
    """P(wait) of M/M/c with offered load ``a`` Erlang."""
    b = 1.0  # Erlang B by the recursion B(k) = a B(k-1) / (k + a B(k-1))
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1 - rho * (1 - b))


def erlang_a(c: int, lam: float, mu: float, theta: float) -> tuple[float, float]:
    """M/M/c+M (exponential patience): (P(wait), P(abandon)) from the birth-death chain."""
    weights = [1.0]
    for n in range(1, 1000):
        weights.append(weights[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
    total = sum(weights)
    p = [w / total for w in weights]
    p_wait = sum(p[c:])
    queue_len = sum((n - c) * p[n] for n in range(c, len(p)))
    return p_wait, theta * queue_len / lam


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["load", *args])


# --------------------------------------------------------------------------- M/M/2, 1,000 h
RATE, AHT, AGENTS = 18.0, 300.0, 2  # 1.5 Erlang on 2 agents: rho 0.75
MMC = LoadParams(booths=100_000, agents=AGENTS, rate=RATE, aht=AHT, hours=1000.0, seed=1)


@pytest.fixture(scope="module")
def mmc() -> LoadResult:
    return run_load(MMC)


def test_mmc_matches_erlang_c(mmc: LoadResult) -> None:
    a = RATE * AHT / 3600
    c_wait = erlang_c(AGENTS, a)  # 9/14 = 0.643
    asa = c_wait * AHT / (AGENTS - a)  # 385.7 s
    sl = 1 - c_wait * math.exp(-(AGENTS - a) * 20 / AHT)  # 0.378
    k = mmc.kpi
    # sd over 40 seeds at 1,000 h: P(wait) 0.0077, ASA 21 s (5.4 %), SL 0.008, occupancy 0.0052
    assert k["p_wait"] == pytest.approx(c_wait, abs=0.035)
    assert k["asa_s"] == pytest.approx(asa, rel=0.25)
    assert k["service_level"] == pytest.approx(sl, abs=0.04)
    assert k["occupancy"] == pytest.approx(a / AGENTS, abs=0.025)
    assert k["aht_s"] == pytest.approx(AHT, rel=0.03)  # sd 0.5 %


def test_mmc_without_patience_answers_every_call(mmc: LoadResult) -> None:
    k = mmc.kpi
    assert k["offered"] == pytest.approx(RATE * MMC.hours, rel=0.04)  # Poisson: sd 0.75 %
    assert k["offered"] == k["answered"]
    assert k["abandoned"] == 0
    assert mmc.unfinished == 0 and mmc.unavailable == 0 and mmc.refused == {}
    assert mmc.blocked < 0.001 * mmc.arrivals  # 100,000 booths: practically no blocking
    assert mmc.arrivals == k["offered"] + mmc.blocked


# ------------------------------------------------------------------ exact FCFS cross-check
def fcfs_waits(log: list[LogEntry], agents: int, wrapup: float, delay: float) -> dict[str, float]:
    """Each call's wait (queue entry → connect) in a FCFS queue with ``agents`` servers, each
    busy from the offer until the hangup plus wrap-up. Inputs from the log: when each call
    entered, how long each talk lasted (hangup − connect; set by the simulated agent)."""
    entered: dict[str, float] = {}
    connected: dict[str, float] = {}
    talk: dict[str, float] = {}
    for e in log:
        if e.event == "ENTERQUEUE":
            entered.setdefault(e.call, e.ts)
        elif e.event == "CONNECT":
            connected[e.call] = e.ts
        elif e.event == "COMPLETEAGENT":
            talk[e.call] = e.ts - connected[e.call]
    free = [T0] * agents
    waits = {}
    for call, arrived in sorted(entered.items(), key=lambda kv: kv[1]):
        offered = max(arrived, heapq.heappop(free))
        connect = offered + delay
        waits[call] = connect - arrived
        heapq.heappush(free, connect + talk[call] + wrapup)
    return waits


@pytest.mark.parametrize(
    ("strategy", "delay"),
    [("longest_idle", 4.0), ("round_robin", 4.0), ("fewest_calls", 4.0), ("ring_all", 0.0)],
)
def test_engine_is_an_exact_fcfs_queue(strategy: str, delay: float) -> None:
    p = LoadParams(
        booths=100_000,
        agents=3,
        rate=30.0,
        aht=300.0,
        answer_delay=delay,
        wrapup=15.0,
        hours=100.0,
        seed=3,
        strategy=strategy,  # type: ignore[arg-type]
    )
    r = run_load(p)
    expected = fcfs_waits(r.log, 3, 15.0, delay)
    entered = {e.call: e.ts for e in r.log if e.event == "ENTERQUEUE"}
    actual = {e.call: e.ts - entered[e.call] for e in r.log if e.event == "CONNECT"}
    assert len(expected) > 2500
    assert actual.keys() == expected.keys()
    worst = max(abs(actual[c] - expected[c]) for c in expected)
    assert worst < 1e-6, f"waits differ from FCFS by up to {worst:.3f} s"
    assert sum(w > 0 for w in expected.values()) > 500  # there was queueing to get right


# ------------------------------------------------------------------ patience: M/M/2+M
def test_patience_matches_erlang_a() -> None:
    patience = 120.0
    r = run_load(
        LoadParams(
            booths=100_000, agents=2, rate=RATE, aht=AHT, patience=patience, hours=400.0, seed=1
        )
    )
    p_wait, p_abandon = erlang_a(2, RATE / 3600, 1 / AHT, 1 / patience)  # 0.389, 0.236
    k = r.kpi
    assert k["abandoned"] > 0
    assert k["offered"] == k["answered"] + k["abandoned"]
    # sd over 20 seeds at 400 h: abandon rate 0.0055, P(wait) 0.0076, occupancy 0.0059
    assert k["abandon_rate"] == pytest.approx(p_abandon, abs=0.025)
    assert k["p_wait"] == pytest.approx(p_wait, abs=0.035)
    assert k["occupancy"] == pytest.approx((1 - p_abandon) * RATE * AHT / 3600 / 2, abs=0.03)


# ------------------------------------------------------------------ handle time distributions
def test_handle_time_distributions() -> None:
    base = {"booths": 100_000, "agents": 2, "rate": RATE, "aht": AHT, "hours": 400.0, "seed": 2}
    runs = {
        dist: run_load(LoadParams(**base, handle_dist=dist)).kpi  # type: ignore[arg-type]
        for dist in ("exp", "const", "lognormal")
    }
    assert runs["const"]["aht_s"] == AHT
    # sd of the mean at 400 h (≈ 7,200 talks): exp 1.0 %, lognormal (cv 0.53) 0.8 %
    assert runs["exp"]["aht_s"] == pytest.approx(AHT, rel=0.04)
    assert runs["lognormal"]["aht_s"] == pytest.approx(AHT, rel=0.04)
    # the same citizens arrive in the three runs (common random numbers); less variable talk
    # times, shorter waits: Allen–Cunneen ASA ≈ ASA(M/M/c) · (1 + cv²) / 2 (cv² = 0 const,
    # e^0.25 − 1 lognormal); simulated over 20 seeds at 400 h: 196 ± 14 s and 246 ± 24 s
    # against 193 s and 248 s
    asa_mmc = erlang_c(2, 1.5) * AHT / 0.5
    assert runs["const"]["asa_s"] == pytest.approx(asa_mmc * 0.5, rel=0.3)
    assert runs["lognormal"]["asa_s"] == pytest.approx(asa_mmc * math.exp(0.25) / 2, rel=0.4)
    assert runs["const"]["asa_s"] < runs["exp"]["asa_s"]
    assert runs["lognormal"]["asa_s"] < runs["exp"]["asa_s"]


# ------------------------------------------------------------------ wrap-up and transfers
def test_wrapup_and_transfers_load_the_agents() -> None:
    p = LoadParams(
        booths=100_000,
        agents=3,
        rate=RATE,
        aht=AHT,
        wrapup=30.0,
        transfer_prob=0.25,
        hours=300.0,
        seed=4,
    )
    k = run_load(p).kpi
    assert k["offered"] == k["answered"]
    assert k["transfer_rate"] == pytest.approx(0.25, abs=0.03)  # binomial sd 0.006
    assert k["transfers"] == pytest.approx(0.25 * k["answered"], rel=0.12)
    # every talk segment (clearing and service) is followed by the wrap-up
    assert k["aht_s"] == pytest.approx(AHT + 30.0, rel=0.04)
    load = RATE / 3600 * 1.25 * (AHT + 30.0)  # 2.06 Erlang on 3 agents
    assert k["occupancy"] == pytest.approx(load / 3, abs=0.04)


def test_booth_blocking_and_warmup() -> None:
    few = run_load(LoadParams(booths=2, agents=1, rate=30.0, hours=8.0, seed=5))
    assert few.blocked > 0
    assert few.arrivals == few.blocked + few.kpi["offered"]
    later = run_load(LoadParams(booths=2, agents=1, rate=30.0, hours=8.0, seed=5, warmup=4.0))
    assert 0 < later.kpi["offered"] < few.kpi["offered"]
    assert later.blocked == few.blocked  # the same run, only the KPI window differs


# ------------------------------------------------------------------ CLI
ARGS = [
    "--json",
    "--no-timing",
    "--booths",
    "8",
    "--agents",
    "3",
    "--rate",
    "40",
    "--patience",
    "90",
    "--answer-delay",
    "4",
    "--wrapup",
    "20",
    "--transfer-prob",
    "0.3",
    "--handle-dist",
    "lognormal",
    "--hours",
    "6",
    "--warmup",
    "1",
    "--strategy",
    "round_robin",
    "--seed",
    "11",
]


def test_same_seed_same_output() -> None:
    first, second = cli(*ARGS), cli(*ARGS)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    d = json.loads(first.stdout)
    for key in (
        "offered",
        "answered",
        "abandoned",
        "asa_s",
        "service_level",
        "p_wait",
        "occupancy",
        "blocked",
        "aht_s",
        "transfer_rate",
        "params",
        "sim_seconds",
        "events",
    ):
        assert key in d
    assert "wall_s" not in d
    assert d["params"]["strategy"] == "round_robin" and d["params"]["seed"] == 11
    assert d["abandoned"] > 0 and d["transfer_rate"] > 0 and d["blocked"] > 0
    other = cli(*ARGS[:-1], "12")
    assert json.loads(other.stdout)["params"]["seed"] == 12
    assert other.stdout != first.stdout


def test_wall_time_comes_last_and_table_output() -> None:
    res = cli("--json", "--hours", "2")
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout))[-1] == "wall_s"
    table = cli("--hours", "2")
    assert table.exit_code == 0, table.output
    assert "offered" in table.stdout and "service level" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-1"], "--rate must not be negative"),
        (["--rate", "nan"], "--rate must be a finite number"),
        (["--agents", "0"], "--agents must be at least 1"),
        (["--booths", "0"], "--booths must be at least 1"),
        (["--aht", "0"], "--aht must be positive"),
        (["--patience", "-5"], "--patience must be positive"),
        (["--answer-delay", "-1"], "--answer-delay must not be negative"),
        (["--answer-delay", "30"], "must be shorter than the ring"),
        (["--wrapup", "-2"], "--wrapup must not be negative"),
        (["--transfer-prob", "1.5"], "--transfer-prob must be between 0 and 1"),
        (["--sl-threshold", "-1"], "--sl-threshold must not be negative"),
        (["--hours", "0"], "--hours must be positive"),
        (["--warmup", "8"], "--warmup (8 h) must be shorter than --hours (8 h)"),
        (["--strategy", "random"], "Invalid value for '--strategy'"),
        (["--handle-dist", "weibull"], "Invalid value for '--handle-dist'"),
        (["--rate", "lots"], "Invalid value for '--rate'"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    res = cli(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert res.stdout == ""


def test_python_api_rejects_bad_params() -> None:
    with pytest.raises(LoadParamError, match="--rate must not be negative"):
        run_load(LoadParams(rate=-1))
    with pytest.raises(LoadParamError, match="--strategy must be one of"):
        run_load(LoadParams(strategy="random"))  # type: ignore[arg-type]
