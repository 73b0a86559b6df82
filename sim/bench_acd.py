"""``lisa bench acd``: routing decisions per second of the ACD engine, on one core.

Two steady-state workloads of the same shape (each agent in 1–3 queues, so about 2 × agents /
queues members per queue in both):

- **large**: 10,000 booths, 5,000 agents, 100 queues;
- **small**: 1,000 booths, 500 agents, 10 queues;

the ratio of their throughputs shows whether the cost of a decision stays flat as the centre
grows (target ≥ 0.70; target for the large one ≥ 20,000 decisions/s).

How it measures (so that the numbers are the engine's, not the driver's):

1. **record**: a discrete-event driver (``cloud_bridge.acd.driver``) runs the real engine and
   reacts to its decisions like a centre would: Poisson arrivals at free booths into random
   queues, the arrival rate swinging ±20 % around 95 % of the agents' capacity every 20 minutes
   (so queues fill and drain: waiting calls part of the time, idle agents at other times);
   offers accepted after a few seconds, 2 % declined, 1 % left to ring out (the agent goes not
   ready, and ready again 20 s later); talk exponential with mean 180 s; 8 % blind transfers to
   another queue; 3 % of talks ended by the citizen; citizens leave after an exponential
   patience (mean 90 s) while waiting; wrap-up 0/10/30 s by queue, ended by the engine's timer;
   breaks (not ready, about every 20 minutes per agent, mean 3 minutes) and a few log-outs.
   Every event the engine accepted is recorded with its virtual time;
2. **replay**: a fresh engine gets the same events at the same virtual times (the engine is
   pure, so it makes the same decisions — checked: same decision count, no refusal). The first
   ``warmup_s`` of virtual time bring it to the steady state untimed; then the next ``events``
   events are timed with ``time.perf_counter``: a loop of ``clock.now = t; engine.handle(ev)``.
   The recorded stream is frozen out of the garbage collector's way (``gc.freeze``) first.

Decisions are counted by ``engine.decisions`` (its own counter); events/s are reported too. The
best of ``repeat`` replays is the result (the median is reported alongside).
"""

from __future__ import annotations

import gc
import json
import math
import platform
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cloud_bridge.acd.model import (
    NO_ANSWER,
    Accept,
    AgentChanged,
    AgentLogin,
    AgentLogout,
    AgentSpec,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    CallRequested,
    Decision,
    Decline,
    EngineError,
    Event,
    Hangup,
    Offer,
    OfferWithdrawn,
    QueueSpec,
    SetNotReady,
    SetReady,
    Strategy,
    TimerFired,
    Transfer,
)
from sim.load import T0

if TYPE_CHECKING:
    from cloud_bridge.acd.driver import Driver

TARGETS = {"large_decisions_per_s": 20_000.0, "ratio_large_small": 0.70}

# the centre's behaviour (see the module docstring)
AHT_S = 180.0
PATIENCE_S = 90.0
ACCEPT_MEAN_S = 3.0
RING_TIMEOUT_S = 15.0
WRAPUPS_S = (0.0, 10.0, 30.0)
P_DECLINE = 0.02
P_NO_ANSWER = 0.01
P_TRANSFER = 0.08
P_CALLER_ENDS = 0.03
BREAK_EVERY_S = 1200.0
BREAK_MEAN_S = 180.0
P_LOGOUT = 0.05  # of the breaks
READY_AFTER_NO_ANSWER_S = 20.0
LOAD = 0.95  # mean arrival rate / capacity
SWING = 0.20
SWING_PERIOD_S = 1200.0
STRATEGIES = (Strategy.LONGEST_IDLE, Strategy.ROUND_ROBIN, Strategy.FEWEST_CALLS)


@dataclass(frozen=True)
class Workload:
    name: str
    booths: int
    agents: int
    queues: int


LARGE = Workload("large", 10_000, 5_000, 100)
SMALL = Workload("small", 1_000, 500, 10)


def scaled(w: Workload, scale: float) -> Workload:
    return Workload(
        w.name,
        max(1, round(w.booths * scale)),
        max(1, round(w.agents * scale)),
        max(1, round(w.queues * scale)),
    )


def build_config(w: Workload, seed: int) -> tuple[list[QueueSpec], list[AgentSpec]]:
    rng = random.Random(f"{seed}:config:{w.name}")
    queues = [
        QueueSpec(
            id=f"q{i:03d}",
            name=f"Fachbereich {i}",
            strategy=STRATEGIES[i % len(STRATEGIES)],
            ring_timeout_s=RING_TIMEOUT_S,
            wrapup_s=WRAPUPS_S[i % len(WRAPUPS_S)],
            default_aht_s=AHT_S,
        )
        for i in range(w.queues)
    ]
    ids = [q.id for q in queues]
    agents = []
    for i in range(w.agents):
        k = min(len(ids), rng.randint(1, 3))
        chosen = rng.sample(ids, k)
        levels = {q: 1 if j == 0 else rng.choice((1, 2)) for j, q in enumerate(chosen)}
        agents.append(AgentSpec(id=f"a{i:05d}", display_name="Sachbearbeitung", queues=levels))
    return queues, agents


# actions on the driver's agenda: (kind, a, b)
ARRIVAL, ACCEPT, DECLINE, END_TALK, ABANDON, READY, BREAK, BACK = range(8)
Action = tuple[int, Any, Any]
WAITING, RINGING, CONNECTED = 0, 1, 2


class _CallState:
    __slots__ = ("booth", "leg", "queue", "state", "transferred", "wait_no")

    def __init__(self, booth: str, queue: str) -> None:
        self.booth = booth
        self.queue = queue
        self.state = WAITING
        self.leg = 0
        self.wait_no = 0
        self.transferred = False


@dataclass
class Recording:
    workload: Workload
    queues: list[QueueSpec]
    agents: list[AgentSpec]
    times: list[float]
    events: list[Event]
    warm_idx: int  # events[:warm_idx] bring the engine to the steady state (untimed)
    decisions_total: int
    decisions_warm: int
    stats: dict[str, Any]


class _Recorder:
    """Runs the real engine under the centre's behaviour and records the accepted events."""

    def __init__(self, w: Workload, seed: int) -> None:
        from cloud_bridge.acd.driver import Driver

        self.w = w
        self.queues, self.agents = build_config(w, seed)
        self.queue_ids = [q.id for q in self.queues]
        self.driver: Driver[Action] = Driver.build(self.queues, self.agents, T0)
        self.engine = self.driver.engine
        self.clock = self.driver.clock
        self.rng = random.Random(f"{seed}:run:{w.name}")
        self.free_booths = [f"b{i:05d}" for i in range(w.booths)]
        self.calls: dict[str, _CallState] = {}
        self.pending: dict[str, str] = {}  # agent -> call offered
        self.status: dict[str, AgentStatus] = {}
        self.reason: dict[str, str | None] = {}
        self.times: list[float] = []
        self.events: list[Event] = []
        self.n_calls = 0
        self.waiting = 0
        self.counts: Counter[str] = Counter()
        self.timed = False
        self.wait_samples = 0
        self.wait_sum = 0
        self.wait_nonzero = 0
        # capacity: agents × availability / agent-seconds per call
        availability = BREAK_EVERY_S / (BREAK_EVERY_S + BREAK_MEAN_S)
        per_call = ACCEPT_MEAN_S + AHT_S * (1 + P_TRANSFER) + sum(WRAPUPS_S) / len(WRAPUPS_S)
        self.base_rate = LOAD * w.agents * availability / per_call  # arrivals per second
        self.max_rate = self.base_rate * (1 + SWING)

    def push(self, at: float, kind: int, a: Any = None, b: Any = None) -> None:
        self.driver.schedule(at, (kind, a, b))

    def handle(self, event: Event) -> list[Decision] | None:
        try:
            decisions = self.driver.handle(event)
        except EngineError as exc:
            self.counts[f"refused:{exc.code}"] += 1
            return None
        self.times.append(self.clock.now)
        self.events.append(event)
        if self.timed:
            self.counts[type(event).__name__] += 1
        self.react(decisions)
        return decisions

    def set_state(self, call: _CallState, state: int) -> None:
        if call.state == WAITING:
            self.waiting -= 1
        if state == WAITING:
            self.waiting += 1
        call.state = state

    def new_wait(self, call_id: str, call: _CallState) -> None:
        call.wait_no += 1
        self.push(
            self.clock.now + self.rng.expovariate(1 / PATIENCE_S), ABANDON, call_id, call.wait_no
        )

    def react(self, decisions: list[Decision]) -> None:
        now = self.clock.now
        rng = self.rng
        for d in decisions:
            if isinstance(d, Offer):
                call = self.calls.get(d.call)
                if call is not None and call.state == WAITING:
                    self.set_state(call, RINGING)
                self.pending[d.agent] = d.call
                u = rng.random()
                if u < P_DECLINE:
                    self.push(now + rng.uniform(1, 5), DECLINE, d.agent, d.call)
                elif u >= P_DECLINE + P_NO_ANSWER:
                    delay = min(rng.expovariate(1 / ACCEPT_MEAN_S), RING_TIMEOUT_S - 3)
                    self.push(now + delay, ACCEPT, d.agent, d.call)
                # else: nobody answers, the ring timer fires
            elif isinstance(d, OfferWithdrawn):
                if self.pending.get(d.agent) == d.call:
                    del self.pending[d.agent]
                call = self.calls.get(d.call)
                if call is not None and call.state == RINGING:
                    self.set_state(call, WAITING)
            elif isinstance(d, CallerConnected):
                call = self.calls.get(d.call)
                if call is None:
                    continue
                self.set_state(call, CONNECTED)
                call.leg += 1
                talk = rng.expovariate(1 / AHT_S)
                self.push(now + talk, END_TALK, d.call, (d.agent, call.leg))
            elif isinstance(d, CallerTransferring):
                call = self.calls.get(d.call)
                if call is not None:
                    self.set_state(call, WAITING)
                    self.new_wait(d.call, call)
            elif isinstance(d, CallFinished | CallerUnavailable):
                call = self.calls.pop(d.call, None)
                if call is not None:
                    if call.state == WAITING:
                        self.waiting -= 1
                    self.free_booths.append(call.booth)
                if isinstance(d, CallerUnavailable):
                    self.counts["unavailable"] += 1
            elif isinstance(d, AgentChanged):
                self.status[d.agent] = d.status
                self.reason[d.agent] = d.reason
                if d.status is AgentStatus.NOT_READY and d.reason == NO_ANSWER:
                    self.push(now + READY_AFTER_NO_ANSWER_S, READY, d.agent)

    def arrival(self) -> None:
        rng = self.rng
        now = self.clock.now
        self.push(now + rng.expovariate(self.max_rate), ARRIVAL)
        rate = self.base_rate * (1 + SWING * math.sin(2 * math.pi * (now - T0) / SWING_PERIOD_S))
        if rng.random() * self.max_rate > rate:
            return  # thinning: a non-homogeneous Poisson process
        if self.timed:
            self.wait_samples += 1
            self.wait_sum += self.waiting
            self.wait_nonzero += self.waiting > 0
        if not self.free_booths:
            self.counts["no_free_booth"] += 1
            return
        i = rng.randrange(len(self.free_booths))
        booths = self.free_booths
        booths[i], booths[-1] = booths[-1], booths[i]
        booth = booths.pop()
        self.n_calls += 1
        call_id = f"c{self.n_calls:08d}"
        queue = self.queue_ids[rng.randrange(len(self.queue_ids))]
        call = _CallState(booth, queue)
        self.calls[call_id] = call
        self.waiting += 1
        self.new_wait(call_id, call)
        decisions = self.handle(CallRequested(call_id, booth, f"s{self.n_calls:08d}", queue))
        if self.timed and decisions is not None:
            self.counts["arrivals"] += 1
            if not any(isinstance(d, Offer) for d in decisions):
                self.counts["arrivals_queued"] += 1

    def record(self, events: int, warmup_s: float) -> Recording:
        rng = self.rng
        for a in self.agents:
            self.handle(AgentLogin(a.id))
            self.handle(SetReady(a.id))
            self.push(T0 + rng.expovariate(1 / BREAK_EVERY_S), BREAK, a.id)
        self.push(T0 + rng.expovariate(self.max_rate), ARRIVAL)
        warm_until = T0 + warmup_s
        warm_idx = -1
        decisions_warm = 0
        driver = self.driver
        while (entry := driver.pop()) is not None:
            at, item = entry
            if warm_idx < 0 and at >= warm_until:
                warm_idx = len(self.events)
                decisions_warm = self.engine.decisions
                self.timed = True
            if warm_idx >= 0 and len(self.events) - warm_idx >= events:
                break
            if isinstance(item, TimerFired):
                self.handle(item)
                continue
            kind, a, b = item
            if kind == ARRIVAL:
                self.arrival()
            elif kind == ACCEPT or kind == DECLINE:
                if self.pending.get(a) == b:
                    del self.pending[a]
                    self.handle(Accept(a, b) if kind == ACCEPT else Decline(a, b))
            elif kind == END_TALK:
                call = self.calls.get(a)
                agent, leg = b
                if call is None or call.state != CONNECTED or call.leg != leg:
                    continue
                u = rng.random()
                if u < P_TRANSFER and not call.transferred:
                    call.transferred = True
                    target = self.queue_ids[rng.randrange(len(self.queue_ids))]
                    if target == call.queue and len(self.queue_ids) > 1:
                        target = self.queue_ids[
                            (self.queue_ids.index(target) + 1) % len(self.queue_ids)
                        ]
                    call.queue = target
                    self.handle(Transfer(agent, a, queue=target))
                elif u < P_TRANSFER + P_CALLER_ENDS:
                    self.handle(CallAbandoned(a))
                else:
                    self.handle(Hangup(agent, a))
            elif kind == ABANDON:
                call = self.calls.get(a)
                if call is not None and call.wait_no == b and call.state != CONNECTED:
                    self.handle(CallAbandoned(a))
            elif kind == READY:
                if self.status.get(a) is AgentStatus.NOT_READY and self.reason.get(a) == NO_ANSWER:
                    self.handle(SetReady(a))
            elif kind == BREAK:
                if self.status.get(a) is not AgentStatus.READY:
                    self.push(at + 30.0, BREAK, a)  # busy: try again a little later
                    continue
                logout = rng.random() < P_LOGOUT
                self.handle(AgentLogout(a) if logout else SetNotReady(a, "break"))
                self.push(at + rng.expovariate(1 / BREAK_MEAN_S), BACK, a, logout)
            elif kind == BACK:
                if b:
                    self.handle(AgentLogin(a))
                self.handle(SetReady(a))
                self.push(at + rng.expovariate(1 / BREAK_EVERY_S), BREAK, a)
        if warm_idx < 0:
            warm_idx = len(self.events)
            decisions_warm = self.engine.decisions
        timed_events = len(self.events) - warm_idx
        virtual_s = self.times[-1] - self.times[warm_idx] if timed_events else 0.0
        arrivals = self.counts.pop("arrivals", 0)
        queued = self.counts.pop("arrivals_queued", 0)
        stats = {
            "virtual_s_timed": round(virtual_s, 1),
            "arrivals": arrivals,
            "arrivals_queued_share": round(queued / arrivals, 3) if arrivals else None,
            "mean_waiting_calls": (
                round(self.wait_sum / self.wait_samples, 1) if self.wait_samples else None
            ),
            "arrivals_seeing_waiting_share": (
                round(self.wait_nonzero / self.wait_samples, 3) if self.wait_samples else None
            ),
            "events_by_kind": dict(sorted(self.counts.items())),
        }
        return Recording(
            workload=self.w,
            queues=self.queues,
            agents=self.agents,
            times=self.times,
            events=self.events,
            warm_idx=warm_idx,
            decisions_total=self.engine.decisions,
            decisions_warm=decisions_warm,
            stats=stats,
        )


def record(w: Workload, events: int, warmup_s: float, seed: int) -> Recording:
    return _Recorder(w, seed).record(events, warmup_s)


def replay(rec: Recording) -> tuple[float, int, int, bool]:
    """Fresh engine, same events: (seconds, decisions, events) of the timed part, identical?"""
    from cloud_bridge.acd.driver import VirtualClock
    from cloud_bridge.acd.engine import Engine

    clock = VirtualClock(T0)
    engine = Engine(rec.queues, rec.agents, clock)
    handle = engine.handle
    identical = True
    try:
        for i in range(rec.warm_idx):
            clock.now = rec.times[i]
            handle(rec.events[i])
        identical = engine.decisions == rec.decisions_warm
        timed = list(zip(rec.times[rec.warm_idx :], rec.events[rec.warm_idx :], strict=True))
        d0 = engine.decisions
        gc.collect()
        t0 = time.perf_counter()
        for t, ev in timed:
            clock.now = t
            handle(ev)
        dt = time.perf_counter() - t0
    except EngineError as exc:
        raise RuntimeError(f"the replay diverged from the recording: {exc}") from exc
    identical = identical and engine.decisions == rec.decisions_total
    return dt, engine.decisions - d0, len(timed), identical


def measure(w: Workload, events: int, warmup_s: float, repeat: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    rec = record(w, events, warmup_s, seed)
    record_s = time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # the recorded stream is not the engine's garbage
    try:
        runs = [replay(rec) for _ in range(max(1, repeat))]
    finally:
        gc.unfreeze()
    per_s = [(d / s if s > 0 else math.inf, n / s if s > 0 else math.inf) for s, d, n, _ in runs]
    best = max(range(len(runs)), key=lambda i: per_s[i][0])
    seconds, decisions, n_events, _ = runs[best]
    return {
        "booths": w.booths,
        "agents": w.agents,
        "queues": w.queues,
        "events": n_events,
        "decisions": decisions,
        "seconds": round(seconds, 4),
        "events_per_s": round(per_s[best][1]),
        "decisions_per_s": round(per_s[best][0]),
        "decisions_per_s_median": round(statistics.median(x[0] for x in per_s)),
        "us_per_decision": round(1e6 * seconds / decisions, 2) if decisions else None,
        "decisions_per_event": round(decisions / n_events, 2) if n_events else None,
        "warmup_events": rec.warm_idx,
        "replay_identical": all(r[3] for r in runs),
        "record_s": round(record_s, 2),
        "workload": rec.stats,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_acd_bench(
    events: int = 200_000,
    warmup_s: float = 900.0,
    repeat: int = 3,
    scale: float = 1.0,
    seed: int = 1,
) -> dict[str, Any]:
    large = measure(scaled(LARGE, scale), events, warmup_s, repeat, seed)
    small = measure(scaled(SMALL, scale), events, warmup_s, repeat, seed)
    ratio = (
        large["decisions_per_s"] / small["decisions_per_s"] if small["decisions_per_s"] else None
    )
    return {
        "large": large,
        "small": small,
        "ratio_large_small": round(ratio, 3) if ratio is not None else None,
        "targets": TARGETS,
        "params": {
            "events": events,
            "warmup_s": warmup_s,
            "repeat": repeat,
            "scale": scale,
            "seed": seed,
        },
        "python": platform.python_version(),
        "cpu": _cpu_model(),
    }


def print_report(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ACD engine throughput (one core, replayed event stream)")
    table.add_column("")
    table.add_column("large", justify="right")
    table.add_column("small", justify="right")
    big, small = result["large"], result["small"]

    def row(label: str, fmt: str, key: str) -> None:
        table.add_row(label, *(fmt.format(r[key]) for r in (big, small)))

    def wrow(label: str, fmt: str, key: str) -> None:
        values = (r["workload"][key] for r in (big, small))
        table.add_row(label, *("–" if v is None else fmt.format(v) for v in values))

    row("booths", "{:,}", "booths")
    row("agents", "{:,}", "agents")
    row("queues", "{:,}", "queues")
    row("timed events", "{:,}", "events")
    row("decisions", "{:,}", "decisions")
    row("seconds", "{:.3f}", "seconds")
    row("events/s", "{:,}", "events_per_s")
    row("decisions/s (best)", "{:,}", "decisions_per_s")
    row("decisions/s (median)", "{:,}", "decisions_per_s_median")
    row("µs per decision", "{}", "us_per_decision")
    row("decisions per event", "{}", "decisions_per_event")
    wrow("virtual seconds timed", "{:,.0f}", "virtual_s_timed")
    wrow("arrivals", "{:,}", "arrivals")
    wrow("arrivals queued", "{:.1%}", "arrivals_queued_share")
    wrow("mean waiting calls", "{}", "mean_waiting_calls")
    wrow("arrivals seeing a wait", "{:.1%}", "arrivals_seeing_waiting_share")
    row("replay identical", "{}", "replay_identical")
    console = Console()
    console.print(table)
    t = result["targets"]
    ok_rate = result["large"]["decisions_per_s"] >= t["large_decisions_per_s"]
    ratio = result["ratio_large_small"]
    ok_ratio = ratio is not None and ratio >= t["ratio_large_small"]
    console.print(
        f"large: {result['large']['decisions_per_s']:,} decisions/s "
        f"(target ≥ {t['large_decisions_per_s']:,.0f}: {'ok' if ok_rate else 'MISSED'}); "
        f"ratio large/small {ratio} (target ≥ {t['ratio_large_small']}: "
        f"{'ok' if ok_ratio else 'MISSED'})",
        highlight=False,
    )
    for name in ("large", "small"):
        mix = ", ".join(f"{k} {v:,}" for k, v in result[name]["workload"]["events_by_kind"].items())
        console.print(f"{name} mix: {mix}", highlight=False)
    console.print(f"Python {result['python']} on {result['cpu']}", highlight=False)


def acd_command(
    events: Annotated[
        int, typer.Option(min=1, help="Timed events per workload (after the warm-up).")
    ] = 200_000,
    warmup_s: Annotated[
        float,
        typer.Option(min=0.0, help="Virtual seconds replayed untimed to reach the steady state."),
    ] = 900.0,
    repeat: Annotated[int, typer.Option(min=1, help="Timed replays; the best counts.")] = 3,
    scale: Annotated[
        float,
        typer.Option(
            min=0.0001, help="Scale booths, agents and queues of both workloads (tests: small)."
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the workload.")] = 1,
    e2e: Annotated[
        bool,
        typer.Option(
            "--e2e",
            help="Instead: booth presence → offer at the agent, through Mosquitto, with booth, "
            "broker and bridge as separate processes (needs the mosquitto binary).",
        ),
    ] = False,
    booths: Annotated[int, typer.Option(min=1, help="--e2e: booths in parallel.")] = 3,
    visits: Annotated[int, typer.Option(min=1, help="--e2e: visits per booth.")] = 40,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """ACD engine: routing decisions per second on one core, 5,000 vs 500 agents."""
    if e2e:
        from sim.bench import lisa_executable
        from sim.bench_e2e import run_e2e

        try:
            e2e_result = run_e2e(booths, visits, lisa_executable())
        except (FileNotFoundError, TimeoutError, RuntimeError) as exc:
            print(f"lisa bench acd --e2e: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        if as_json:
            print(json.dumps(e2e_result))
        else:
            from rich.console import Console

            console = Console()
            console.print(
                f"booth presence → offer at the agent ({e2e_result['booths']} booths, "
                f"{e2e_result['visits']} visits): p50 {e2e_result['p50_ms']} ms, "
                f"p90 {e2e_result['p90_ms']} ms, p99 {e2e_result['p99_ms']} ms "
                f"(target < {e2e_result['target_p99_ms']:g}), max {e2e_result['max_ms']} ms",
                highlight=False,
            )
        return
    result = run_acd_bench(events, warmup_s, repeat, scale, seed)
    if as_json:
        print(json.dumps(result))
    else:
        print_report(result)
