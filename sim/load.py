"""``lisa sim load``: a discrete-event load simulation of the real ACD engine on virtual time.

Citizens arrive at booths (Poisson, spread evenly over the booths), request a call in queue
``clearing`` and are served by simulated agents through the real
:class:`cloud_bridge.acd.engine.Engine`. Nothing sleeps: the engine runs in a
:class:`cloud_bridge.acd.driver.Driver`, whose agenda of the simulated actions and the engine's
timers (``SetTimer`` / ``CancelTimer``, back as ``TimerFired``) moves a virtual clock. The KPIs
are :func:`cloud_bridge.kpi.summarize` of the engine's own ``LogEntry`` decisions, so they mean
exactly what they mean in the reports.

The model (see ``docs/load-simulator.md``):

- arrivals: Poisson with ``rate`` calls per hour in total over ``hours``; each picks a booth
  uniformly at random. A booth holds one citizen from the arrival until the engine finishes the
  call (``CallFinished`` / ``CallerUnavailable``); an arrival at a busy booth is counted as
  ``blocked`` and never reaches the engine;
- agents: all log in and go ready at t=0; they serve ``clearing`` and ``service`` (level 1
  both); an ``Offer`` is accepted after ``answer_delay``; on ``CallerConnected`` the agent talks
  for a handle time (``exp`` / ``const`` / ``lognormal`` with sigma 0.5, mean ``aht``), then
  hangs up or, with probability ``transfer_prob`` for a ``clearing`` call, blind-transfers it to
  ``service``, where it gets a new handle time; wrap-up (``wrapup`` → ``QueueSpec.wrapup_s``)
  ends by the engine's timer;
- patience: with ``patience`` set, every wait (the first one and the one after a transfer) gets
  an exponential patience draw; when it runs out and the call is still waiting or ringing, the
  citizen leaves (``CallAbandoned``);
- after ``hours`` no one arrives; the run goes on until every call has ended (the drain, at most
  :data:`MAX_DRAIN_S`), then all agents log out. KPIs count the calls that entered the queue in
  ``[warmup, hours)``.

Every random quantity has its own stream (``random.Random(f"{seed}:{name}")``) and every
citizen's draws are made at the arrival, whether needed or not: runs with the same seed see the
same citizens (common random numbers), so two runs that differ only in, say, ``--agents``
compare like with like.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
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
    CallerQueued,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    CallRequested,
    Decision,
    EngineError,
    Event,
    Hangup,
    LogEntry,
    Offer,
    OfferWithdrawn,
    QueueSpec,
    SetReady,
    Strategy,
    TimerFired,
    Transfer,
)

if TYPE_CHECKING:
    from cloud_bridge.acd.driver import Driver
    from cloud_bridge.acd.engine import Engine

# Monday, 2 March 2026, 08:00 Europe/Berlin: the simulated day starts at a plausible opening time
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC).timestamp()
MAX_DRAIN_S = 24 * 3600.0  # after the last arrival, the run stops at the latest after this
LOGNORMAL_SIGMA = 0.5
CLEARING = "clearing"
SERVICE = "service"


class HandleDist(StrEnum):
    EXP = "exp"
    CONST = "const"
    LOGNORMAL = "lognormal"


class LoadParamError(ValueError):
    """Bad simulation parameters (the CLI exits 2)."""


@dataclass(frozen=True)
class LoadParams:
    booths: int = 5
    agents: int = 2
    rate: float = 18.0  # calls per hour, all booths together
    aht: float = 300.0  # mean handle (talk) time, seconds
    handle_dist: HandleDist = HandleDist.EXP
    patience: float | None = None  # mean seconds until a waiting citizen leaves; None: never
    answer_delay: float = 0.0
    wrapup: float = 0.0
    transfer_prob: float = 0.0
    sl_threshold: float = 20.0
    hours: float = 8.0
    seed: int = 1
    strategy: Strategy = Strategy.LONGEST_IDLE
    warmup: float = 0.0  # hours at the start excluded from the KPIs
    ring_timeout: float = 20.0  # QueueSpec.ring_timeout_s; answer_delay must be shorter

    def __post_init__(self) -> None:
        # accept plain strings for the enums (Python callers, JSON); problems() reports bad ones
        for name, enum in (("handle_dist", HandleDist), ("strategy", Strategy)):
            value = getattr(self, name)
            if not isinstance(value, enum) and value in {m.value for m in enum}:
                object.__setattr__(self, name, enum(value))

    def problems(self) -> list[str]:
        out: list[str] = []
        if not isinstance(self.handle_dist, HandleDist):
            choices = ", ".join(m.value for m in HandleDist)
            out.append(f"--handle-dist must be one of {choices}, not {self.handle_dist!r}")
        if not isinstance(self.strategy, Strategy):
            choices = ", ".join(m.value for m in Strategy)
            out.append(f"--strategy must be one of {choices}, not {self.strategy!r}")

        def finite(name: str, value: float) -> bool:
            if not math.isfinite(value):
                out.append(f"--{name.replace('_', '-')} must be a finite number, not {value}")
                return False
            return True

        if self.booths < 1:
            out.append(f"--booths must be at least 1, not {self.booths}")
        if self.agents < 1:
            out.append(f"--agents must be at least 1, not {self.agents}")
        if finite("rate", self.rate) and self.rate < 0:
            out.append(f"--rate must not be negative, not {self.rate:g}")
        if finite("aht", self.aht) and self.aht <= 0:
            out.append(f"--aht must be positive, not {self.aht:g}")
        if self.patience is not None and finite("patience", self.patience) and self.patience <= 0:
            out.append(
                f"--patience must be positive (leave it out for 'never'), not {self.patience:g}"
            )
        if finite("ring_timeout", self.ring_timeout) and self.ring_timeout <= 0:
            out.append(f"--ring-timeout must be positive, not {self.ring_timeout:g}")
        if finite("answer_delay", self.answer_delay):
            if self.answer_delay < 0:
                out.append(f"--answer-delay must not be negative, not {self.answer_delay:g}")
            elif self.answer_delay >= self.ring_timeout:
                out.append(
                    f"--answer-delay ({self.answer_delay:g} s) must be shorter than the ring "
                    f"timeout ({self.ring_timeout:g} s): every offer would time out"
                )
        if finite("wrapup", self.wrapup) and self.wrapup < 0:
            out.append(f"--wrapup must not be negative, not {self.wrapup:g}")
        if finite("transfer_prob", self.transfer_prob) and not 0 <= self.transfer_prob <= 1:
            out.append(f"--transfer-prob must be between 0 and 1, not {self.transfer_prob:g}")
        if finite("sl_threshold", self.sl_threshold) and self.sl_threshold < 0:
            out.append(f"--sl-threshold must not be negative, not {self.sl_threshold:g}")
        if finite("hours", self.hours) and self.hours <= 0:
            out.append(f"--hours must be positive, not {self.hours:g}")
        if finite("warmup", self.warmup):
            if self.warmup < 0:
                out.append(f"--warmup must not be negative, not {self.warmup:g}")
            elif math.isfinite(self.hours) and self.warmup >= self.hours:
                out.append(
                    f"--warmup ({self.warmup:g} h) must be shorter than --hours ({self.hours:g} h)"
                )
        return out

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["handle_dist"] = str(self.handle_dist)
        d["strategy"] = str(self.strategy)
        return d


# call states as the simulated host sees them (from the engine's decisions)
WAITING, RINGING, CONNECTED, ENDED = 0, 1, 2, 3

# actions on the driver's agenda: (kind, a, b)
ARRIVAL, ACCEPT, END_TALK, ABANDON, READY = range(5)
Action = tuple[int, Any, Any]


@dataclass(slots=True)
class _Call:
    id: str
    booth: str
    handle: tuple[float, float]  # talk time in clearing, in service (after a transfer)
    patience: tuple[float, float]  # for the first wait and the wait after a transfer
    transfer: bool
    state: int = WAITING
    queue: str = CLEARING
    leg: int = 0  # incremented on every connect: stale END_TALK actions are ignored
    wait_no: int = 0  # incremented on every new wait: stale ABANDON actions are ignored


@dataclass
class LoadResult:
    params: LoadParams
    kpi: dict[str, Any]
    arrivals: int
    blocked: int
    unavailable: int
    unfinished: int
    no_answer: int
    refused: dict[str, int]
    events: int
    decisions: int
    sim_seconds: float
    wall_s: float
    log: list[LogEntry] = field(repr=False, default_factory=list)

    def to_json_dict(self, timing: bool = True) -> dict[str, Any]:
        k = self.kpi
        out: dict[str, Any] = {
            "offered": k["offered"],
            "answered": k["answered"],
            "abandoned": k["abandoned"],
            "asa_s": _round(k["asa_s"]),
            "service_level": _round(k["service_level"]),
            "p_wait": _round(k["p_wait"]),
            "occupancy": _round(k["occupancy"]),
            "aht_s": _round(k["aht_s"]),
            "transfer_rate": _round(k["transfer_rate"]),
            "blocked": self.blocked,
            "arrivals": self.arrivals,
            "unavailable": self.unavailable,
            "unfinished": self.unfinished,
            "no_answer": self.no_answer,
            "refused": dict(sorted(self.refused.items())),
            "kpi": {key: _round(v) for key, v in k.items()},
            "params": self.params.as_dict(),
            "sim_seconds": _round(self.sim_seconds),
            "events": self.events,
            "decisions": self.decisions,
        }
        if timing:
            out["wall_s"] = round(self.wall_s, 3)
        return out


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None
    return v


class _Sim:
    def __init__(self, p: LoadParams) -> None:
        from cloud_bridge.acd.driver import Driver

        self.p = p
        queues = [
            QueueSpec(
                id=q,
                name=name,
                strategy=p.strategy,
                ring_timeout_s=p.ring_timeout,
                wrapup_s=p.wrapup,
                default_aht_s=p.aht,
            )
            for q, name in ((CLEARING, "Clearingstelle"), (SERVICE, "Servicestelle"))
        ]
        width = len(str(p.agents))
        self.agent_ids = [f"agent{i:0{width}d}" for i in range(1, p.agents + 1)]
        agents = [
            AgentSpec(id=a, display_name="Sachbearbeitung", queues={CLEARING: 1, SERVICE: 1})
            for a in self.agent_ids
        ]
        self.driver: Driver[Action] = Driver.build(queues, agents, T0)
        self.engine: Engine = self.driver.engine
        self.clock = self.driver.clock
        width = len(str(p.booths))
        self.booth_ids = [f"booth{i:0{width}d}" for i in range(1, p.booths + 1)]
        self.busy_booths: set[str] = set()
        self.calls: dict[str, _Call] = {}
        self.pending_offer: dict[str, str] = {}  # agent -> call offered, not yet accepted
        self.log: list[LogEntry] = []
        self.events = 0
        self.arrivals = 0
        self.blocked = 0
        self.unavailable = 0
        self.no_answer = 0
        self.refused: Counter[str] = Counter()
        self.end_arrivals = T0 + p.hours * 3600.0
        # one stream per random quantity (common random numbers across runs)
        s = p.seed
        self.r_arrival = random.Random(f"{s}:arrival")
        self.r_booth = random.Random(f"{s}:booth")
        self.r_handle = random.Random(f"{s}:handle")
        self.r_transfer = random.Random(f"{s}:transfer")
        self.r_patience = random.Random(f"{s}:patience")
        self.mean_gap = 3600.0 / p.rate if p.rate > 0 else math.inf

    # ------------------------------------------------------------------ plumbing
    def push(self, at: float, kind: int, a: Any = None, b: Any = None) -> None:
        self.driver.schedule(at, (kind, a, b))

    def handle(self, event: Event) -> None:
        self.events += 1
        try:
            decisions = self.driver.handle(event)
        except EngineError as exc:
            self.refused[exc.code] += 1
            return
        self.react(decisions)

    def draw_handle(self) -> float:
        p = self.p
        r = self.r_handle
        if p.handle_dist is HandleDist.EXP:
            return r.expovariate(1.0 / p.aht)
        if p.handle_dist is HandleDist.LOGNORMAL:
            mu = math.log(p.aht) - LOGNORMAL_SIGMA**2 / 2  # so that the mean is p.aht
            return r.lognormvariate(mu, LOGNORMAL_SIGMA)
        return p.aht

    def draw_patience(self) -> float:
        x = self.r_patience.expovariate(1.0)  # drawn even without patience (same streams)
        return math.inf if self.p.patience is None else x * self.p.patience

    # ------------------------------------------------------------------ decisions
    def react(self, decisions: list[Decision]) -> None:
        now = self.clock.now
        for d in decisions:
            if isinstance(d, LogEntry):
                self.log.append(d)
            elif isinstance(d, Offer):
                call = self.calls.get(d.call)
                if call is not None:
                    call.state = RINGING
                self.pending_offer[d.agent] = d.call
                self.push(now + self.p.answer_delay, ACCEPT, d.agent, d.call)
            elif isinstance(d, OfferWithdrawn):
                if self.pending_offer.get(d.agent) == d.call:
                    del self.pending_offer[d.agent]
                call = self.calls.get(d.call)
                if call is not None and call.state == RINGING:
                    call.state = WAITING  # offered again, or ended (CallFinished follows)
            elif isinstance(d, CallerConnected):
                call = self.calls.get(d.call)
                if call is None:
                    continue
                call.state = CONNECTED
                call.queue = d.queue
                call.leg += 1
                talk = call.handle[0 if d.queue == CLEARING else 1]
                self.push(now + talk, END_TALK, d.call, (d.agent, call.leg))
            elif isinstance(d, CallerQueued):
                call = self.calls.get(d.call)
                if call is not None and call.state != RINGING:
                    call.state = WAITING
            elif isinstance(d, CallerTransferring):
                call = self.calls.get(d.call)
                if call is None:
                    continue
                call.state = WAITING
                self.start_wait(call, call.patience[1])
            elif isinstance(d, CallFinished):
                self.finish(d.call)
            elif isinstance(d, CallerUnavailable):
                self.unavailable += 1
                self.finish(d.call)
            elif isinstance(d, AgentChanged):
                if d.status is AgentStatus.NOT_READY and d.reason == NO_ANSWER:
                    # an offer timed out (answer_delay too close to the ring timeout): ready again
                    self.no_answer += 1
                    self.push(now, READY, d.agent)

    def finish(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is not None:
            call.state = ENDED
            self.busy_booths.discard(call.booth)

    def start_wait(self, call: _Call, patience: float) -> None:
        call.wait_no += 1
        if math.isfinite(patience):
            self.push(self.clock.now + patience, ABANDON, call.id, call.wait_no)

    # ------------------------------------------------------------------ actions
    def arrival(self) -> None:
        now = self.clock.now
        self.arrivals += 1
        n = self.arrivals
        booth = self.booth_ids[self.r_booth.randrange(len(self.booth_ids))]
        handle = (self.draw_handle(), self.draw_handle())
        transfer = self.r_transfer.random() < self.p.transfer_prob
        patience = (self.draw_patience(), self.draw_patience())
        nxt = now + self.r_arrival.expovariate(1.0) * self.mean_gap
        if nxt < self.end_arrivals:
            self.push(nxt, ARRIVAL)
        if booth in self.busy_booths:
            self.blocked += 1
            return
        call = _Call(f"c{n:07d}", booth, handle, patience, transfer)
        self.calls[call.id] = call
        self.busy_booths.add(booth)
        self.start_wait(call, patience[0])
        self.handle(CallRequested(call.id, booth, f"s{n:07d}", CLEARING))

    def run(self) -> LoadResult:
        wall0 = time.perf_counter()
        p = self.p
        for agent in self.agent_ids:
            self.handle(AgentLogin(agent))
            self.handle(SetReady(agent))
        if p.rate > 0:
            first = T0 + self.r_arrival.expovariate(1.0) * self.mean_gap
            if first < self.end_arrivals:
                self.push(first, ARRIVAL)
        stop = self.end_arrivals + MAX_DRAIN_S
        driver = self.driver
        while (entry := driver.pop(stop)) is not None:
            item = entry[1]
            if isinstance(item, TimerFired):
                self.handle(item)
                continue
            kind, a, b = item
            if kind == ARRIVAL:
                self.arrival()
            elif kind == ACCEPT:
                if self.pending_offer.get(a) == b:
                    del self.pending_offer[a]
                    self.handle(Accept(a, b))
            elif kind == END_TALK:
                call = self.calls.get(a)
                agent, leg = b
                if call is None or call.state != CONNECTED or call.leg != leg:
                    continue
                if call.queue == CLEARING and call.transfer:
                    self.handle(Transfer(agent, a, queue=SERVICE))
                else:
                    self.handle(Hangup(agent, a))
            elif kind == ABANDON:
                call = self.calls.get(a)
                if call is None or call.wait_no != b or call.state not in (WAITING, RINGING):
                    continue
                self.handle(CallAbandoned(a))
            elif kind == READY:
                self.handle(SetReady(a))
        driver.advance_to(self.end_arrivals)
        end = self.clock.now
        for agent in self.agent_ids:
            self.handle(AgentLogout(agent))
        kpi = _summarize(self.log, p)
        return LoadResult(
            params=p,
            kpi=kpi,
            arrivals=self.arrivals,
            blocked=self.blocked,
            unavailable=self.unavailable,
            unfinished=len(self.calls),
            no_answer=self.no_answer,
            refused=dict(self.refused),
            events=self.events,
            decisions=self.engine.decisions,
            sim_seconds=end - T0,
            wall_s=time.perf_counter() - wall0,
            log=self.log,
        )


def _summarize(log: list[LogEntry], p: LoadParams) -> dict[str, Any]:
    from cloud_bridge.kpi import summarize

    # calls that entered in [warmup, hours) with all their lines (also those of the drain);
    # agent time clipped to the same window, so the drain does not dilute the occupancy
    report = summarize(
        log,
        sl_threshold_s=p.sl_threshold,
        tz="Europe/Berlin",
        start=T0 + p.warmup * 3600.0,
        end=T0 + p.hours * 3600.0,
    )
    return dict(report.total)


def run_load(params: LoadParams) -> LoadResult:
    """Run one simulation; raises :class:`LoadParamError` for bad parameters."""
    problems = params.problems()
    if problems:
        raise LoadParamError("; ".join(problems))
    return _Sim(params).run()


# ---------------------------------------------------------------------------------- CLI
def load_command(
    booths: Annotated[int, typer.Option(help="Booths (one citizen each at a time).")] = 5,
    agents: Annotated[int, typer.Option(help="Agents, all serving both queues.")] = 2,
    rate: Annotated[
        float, typer.Option(help="Arrivals per hour, all booths together (Poisson).")
    ] = 18.0,
    aht: Annotated[float, typer.Option(help="Mean handle (talk) time in seconds.")] = 300.0,
    handle_dist: Annotated[
        HandleDist, typer.Option(help="Handle time distribution (lognormal: sigma 0.5).")
    ] = HandleDist.EXP,
    patience: Annotated[
        float | None,
        typer.Option(
            help="Mean seconds until a waiting citizen leaves (exponential). Default: never.",
            show_default=False,
        ),
    ] = None,
    answer_delay: Annotated[
        float, typer.Option(help="Seconds from offer to the agent's accept.")
    ] = 0.0,
    wrapup: Annotated[float, typer.Option(help="Wrap-up seconds after each call.")] = 0.0,
    transfer_prob: Annotated[
        float,
        typer.Option(help="Probability that a clearing call is blind-transferred to 'service'."),
    ] = 0.0,
    sl_threshold: Annotated[
        float, typer.Option(help="Service level threshold in seconds of wait.")
    ] = 20.0,
    hours: Annotated[
        float, typer.Option(help="Hours with arrivals (then the queue drains).")
    ] = 8.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 1,
    strategy: Annotated[Strategy, typer.Option(help="Routing strategy of both queues.")] = (
        Strategy.LONGEST_IDLE
    ),
    warmup: Annotated[float, typer.Option(help="Hours at the start excluded from KPIs.")] = 0.0,
    ring_timeout: Annotated[
        float, typer.Option(help="Ring timeout of the queues in seconds.")
    ] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    timing: Annotated[
        bool, typer.Option("--timing/--no-timing", help="Include wall_s in the JSON output.")
    ] = True,
) -> None:
    """Load simulation of the real ACD engine on virtual time: KPIs as in the reports.

    Exit 0; 2 for bad options."""
    params = LoadParams(
        booths=booths,
        agents=agents,
        rate=rate,
        aht=aht,
        handle_dist=HandleDist(handle_dist),
        patience=patience,
        answer_delay=answer_delay,
        wrapup=wrapup,
        transfer_prob=transfer_prob,
        sl_threshold=sl_threshold,
        hours=hours,
        seed=seed,
        strategy=Strategy(strategy),
        warmup=warmup,
        ring_timeout=ring_timeout,
    )
    problems = params.problems()
    if problems:
        for problem in problems:
            print(f"lisa sim load: {problem}", file=sys.stderr)
        raise typer.Exit(2)
    result = _Sim(params).run()
    if as_json:
        print(json.dumps(result.to_json_dict(timing=timing)))
    else:
        print_table(result)


def print_table(result: LoadResult) -> None:
    from rich.console import Console
    from rich.table import Table

    d = result.to_json_dict()
    p = result.params
    table = Table(title="ACD load simulation", title_justify="left")
    table.add_column("KPI")
    table.add_column("value", justify="right")

    def pct(v: Any) -> str:
        return "–" if v is None else f"{100 * v:.1f} %"

    def sec(v: Any) -> str:
        return "–" if v is None else f"{v:.1f} s"

    rows = [
        ("arrivals", str(d["arrivals"])),
        ("blocked (booth busy)", str(d["blocked"])),
        ("offered", str(d["offered"])),
        ("answered", str(d["answered"])),
        ("abandoned", str(d["abandoned"])),
        ("ASA", sec(d["asa_s"])),
        (f"service level ({p.sl_threshold:g} s)", pct(d["service_level"])),
        ("P(wait)", pct(d["p_wait"])),
        ("occupancy", pct(d["occupancy"])),
        ("AHT", sec(d["aht_s"])),
        ("transfer rate", pct(d["transfer_rate"])),
    ]
    if d["unavailable"]:
        rows.append(("unavailable", str(d["unavailable"])))
    if d["unfinished"]:
        rows.append(("unfinished after drain", str(d["unfinished"])))
    for name, value in rows:
        table.add_row(name, value)
    console = Console()
    console.print(table)
    params = ", ".join(f"{k}={v}" for k, v in d["params"].items())
    offered_load = p.rate * p.aht / 3600.0 * (1 + p.transfer_prob)
    console.print(
        f"params: {params}\n"
        f"offered load ≈ {offered_load:.2f} Erlang on {p.agents} agents; "
        f"{d['sim_seconds'] / 3600:.2f} h simulated, {d['events']} engine events, "
        f"{d['decisions']} decisions, {d['wall_s']:.2f} s wall",
        highlight=False,
    )
