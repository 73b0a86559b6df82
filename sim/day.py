"""``lisa sim day``: a whole day of the system in one process, on virtual time.

The real booth controllers (:class:`sim.harness.SimBooth`, simulated devices) and the real
bridge (:class:`cloud_bridge.service.Bridge`: engine, SQLite store in a temporary directory,
timers) run on one :class:`sim.vtime.VirtualTimeLoop`, connected through the in-process broker
stand-in :mod:`sim.bus`: each booth has a :class:`sim.day_link.BusLink` (its central link), the
bridge a :class:`sim.day_link.BusBridgeMqtt`. Nothing sleeps; a day of 50 booths takes minutes.

The model (``docs/load-simulator.md``, section "A simulated day"):

- tenant: the Uckermark config (``cloud_bridge/examples/uckermark.toml``: queues, opening
  hours, agents); for more than 5 booths its booths are repeated (``gartz-02``, …) and its
  agents too (``clearing1-2``, …), one copy of them per :data:`AGENTS_PER_COPY` booths;
- citizens: Poisson arrivals per booth with a daily profile (:data:`PROFILE`: none before 7 or
  after 19 h local, the peak mid-morning), at most one citizen per booth (an arrival at a busy
  booth walks on: ``blocked``). A citizen waits for the agent to end the call and leaves a few
  seconds after the goodbye; with probability ``early_leave`` they leave early, at a stage drawn
  evenly from occupied, queued, ringing, connected, transferring (where a stage never comes, they
  stay). During a fire alarm or in front of an out-of-service screen they leave;
- agents: shifts (one 07:30–18:00 shift with a lunch break for one copy of the agents; early
  07:30–13:00 and late 12:30–18:30 for more), short breaks (not ready) now and then; an offer is
  accepted after a few seconds, sometimes declined or missed (then the agent goes ready again
  after a while); the talk time is lognormal around the queue's ``default_aht_s``; at the front
  desk most calls are transferred (blind, or consultative: the consultation is then completed or
  cancelled), else the agent hangs up;
- faults, at random times and booths while citizens come: a booth's link drops (5–120 s), the
  broker restarts (all links, 3–20 s), the bridge restarts from its store (2–30 s), door faults
  (obstruction, jam until repaired), fire alarms (the PLC's emergency input, 1–5 min), critical
  device failures (1–5 min);
- the last ``quiet_hours`` of the run have no arrivals and no faults.

Invariants checked at the end (exit code 1 if one is broken): every booth idle; every visit
ended and its booth settled (idle, or out of service because of a fault at the time, which has
recovered by the end); no call left in the engine; no agent offered, busy or in wrap-up, and
every agent whose shift is over logged out; every call in the call log has a final line; the
KPIs add up (offered = answered + abandoned + unavailable, per booth summed = total); every call
request of a booth is one offered call; no event left undelivered.

Every random quantity has its own stream (``random.Random(f"{seed}:{name}")``): the same seed
gives the same day.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

import cloud_bridge
from booth.config import deep_merge, parse_config
from booth.devices import force_sim
from cloud_bridge.acd.model import (
    AgentSpec,
    EngineError,
    Event,
)
from cloud_bridge.config import BridgeConfig, load_bridge_config
from cloud_bridge.kpi import summarize
from cloud_bridge.service import Bridge
from cloud_bridge.store import SQLiteStore
from hal.clock import LoopClock
from sim.bus import Bus
from sim.day_agents import AGENTS_PER_COPY, SimAgent
from sim.day_link import BusBridgeMqtt, BusLink
from sim.harness import SimBooth, example_config_data
from sim.vtime import run_virtual

UCKERMARK = Path(cloud_bridge.__file__).parent / "examples" / "uckermark.toml"
TZ = ZoneInfo("Europe/Berlin")
DAY = datetime(2026, 1, 5, tzinfo=TZ)  # a Monday, no holiday
#: relative arrival rate by local hour (1.0 = ``peak_rate``)
PROFILE = {
    7: 0.3, 8: 0.8, 9: 1.0, 10: 1.0, 11: 0.8, 12: 0.5,
    13: 0.6, 14: 0.7, 15: 0.6, 16: 0.4, 17: 0.3, 18: 0.2,
}  # fmt: skip
STAGES = ("occupied", "queued", "ringing", "connected", "transferring")
FINAL_LINES = {"COMPLETEAGENT", "COMPLETECALLER", "ABANDON", "UNAVAILABLE"}
FAULT_KINDS = (
    "link_drop",
    "broker_restart",
    "bridge_restart",
    "door_fault",
    "fire_alarm",
    "device_failure",
)
#: the booths' simulated hardware, tuned for speed (1 sonar sample/s, 5 s main-loop tick)
BOOTH_OVERRIDES: dict[str, Any] = {
    "presence": {"median_window": 3, "delay_on": 2.0, "delay_off": 4.0},
    "devices": {
        "presence": {"options": {"sample_interval": 1.0}},
        "plc": {"options": {"heartbeat_timeout": 20.0}},
    },
    "timing": {"tick": 5.0},
}
OUT_OF_SERVICE = ("offline", "fault", "emergency", "maintenance")
SETTLED = ("idle", *OUT_OF_SERVICE)
EARLY_LIMIT_S = {"queued": 30.0, "ringing": 12.0, "connected": 120.0, "transferring": 20.0}
SETTLE_LIMIT_S = 600.0  # a visit whose booth has not settled this long after the citizen left


@dataclass(frozen=True)
class DayOptions:
    booths: int = 50
    hours: float = 24.0
    seed: int = 1
    start_hour: float | None = None  # local; default 0 for a whole day, else 9
    quiet_hours: float = 1.0
    peak_rate: float = 3.0  # citizens per booth and hour at the peak
    early_leave: float = 0.2
    faults: float = 1.0  # scale of the fault rates (0: none)

    @property
    def start(self) -> float:
        if self.start_hour is not None:
            return self.start_hour
        return 0.0 if self.hours >= 24 else 9.0


@dataclass
class Visit:
    booth: str
    arrived: float
    plan: str | None  # the stage at which the citizen leaves early, or None
    stages: list[str] = field(default_factory=list)
    outcome: str = ""  # served | left_early:<stage> | evacuated | out_of_service | refused
    settled_in: str = ""
    left: float | None = None


@dataclass
class Report:
    options: DayOptions
    wall_s: float = 0.0
    virtual_h: float = 0.0
    booths: int = 0
    agents: int = 0
    arrivals: int = 0
    blocked: int = 0
    visits: Counter[str] = field(default_factory=Counter)
    settled_in: Counter[str] = field(default_factory=Counter)
    agent_actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    calls: dict[str, Any] = field(default_factory=dict)
    kpi: dict[str, Any] = field(default_factory=dict)
    bus: dict[str, int] = field(default_factory=dict)
    bridge_steps: int = 0
    call_requests: int = 0
    broken: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": dataclasses.asdict(self.options),
            "wall_s": round(self.wall_s, 1),
            "virtual_h": self.virtual_h,
            "booths": self.booths,
            "agents": self.agents,
            "arrivals": self.arrivals,
            "blocked": self.blocked,
            "visits": dict(sorted(self.visits.items())),
            "visits_settled_in": dict(sorted(self.settled_in.items())),
            "call_requests": self.call_requests,
            "calls": self.calls,
            "agent_actions": dict(sorted(self.agent_actions.items())),
            "faults": {k: self.faults.get(k, 0) for k in FAULT_KINDS},
            "kpi": self.kpi,
            "bus": self.bus,
            "bridge_steps": self.bridge_steps,
            "broken": self.broken,
            "ok": not self.broken,
        }


# --------------------------------------------------------------------------- the tenant
def tenant(booths: int, db: Path) -> tuple[BridgeConfig, list[str], list[AgentSpec]]:
    """The Uckermark config, its booths repeated to ``booths`` and one copy of its agents per
    :data:`AGENTS_PER_COPY` booths."""
    cfg = load_bridge_config(UCKERMARK, overrides={"bridge": {"database": str(db)}})
    base = [b.id for b in cfg.booths]
    ids = []
    for n in range(booths):
        site, number = base[n % len(base)].rsplit("-", 1)
        ids.append(f"{site}-{int(number) + n // len(base):02d}")
    copies = max(1, round(booths / AGENTS_PER_COPY))
    agents = [
        dataclasses.replace(a, id=a.id if k == 0 else f"{a.id}-{k + 1}")
        for k in range(copies)
        for a in cfg.agent_specs()
    ]
    return cfg, ids, agents


class DayClock:
    """The bridge's clock: epoch seconds that move with the loop (survives bridge restarts)."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch

    def time(self) -> float:
        return self.epoch + asyncio.get_running_loop().time()


# --------------------------------------------------------------------------- the day
class Day:
    def __init__(self, options: DayOptions, workdir: Path) -> None:
        self.o = options
        self.workdir = workdir
        self.db = workdir / "bridge.db"
        self.cfg, self.booth_ids, self.agent_specs = tenant(options.booths, self.db)
        self.t0 = DAY + timedelta(hours=options.start)
        self.end = options.hours * 3600.0
        self.arrivals_end = max(0.0, (options.hours - options.quiet_hours) * 3600.0)
        self.report = Report(options, booths=options.booths, agents=len(self.agent_specs))
        self.bridge: Bridge | None = None
        self.bridge_mqtt: BusBridgeMqtt | None = None
        self.booths: dict[str, SimBooth] = {}
        self.links: dict[str, BusLink] = {}
        self.visits: list[Visit] = []
        self.citizen_in: set[str] = set()
        self.agents: dict[str, SimAgent] = {}
        self.faulty: dict[str, int] = {}  # booth -> faults active on it
        self._tasks: list[asyncio.Task[None]] = []
        self._portal_wake = asyncio.Event()

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.o.seed}:{name}")

    def local_hour(self, t: float) -> float:
        local = self.t0 + timedelta(seconds=t)
        return local.hour + local.minute / 60 + local.second / 3600

    # ------------------------------------------------------------------ set-up
    def _make_bridge(self) -> Bridge:
        cfg = self.cfg
        self.bridge_mqtt = BusBridgeMqtt(self.bus, client_id="lisa-bridge-day")
        return Bridge(
            cfg.queue_specs(),
            self.agent_specs,
            SQLiteStore(self.db),
            booths={b: "clearing" for b in self.booth_ids},
            default_queue=cfg.bridge.default_queue,
            clock=self.clock,
            mqtt=self.bridge_mqtt,  # type: ignore[arg-type]
            agent_grace_s=cfg.bridge.agent_grace_s,
            booth_offline_grace_s=cfg.bridge.booth_offline_grace_s,
        )

    def _make_booth(self, booth_id: str, clock: LoopClock) -> SimBooth:
        data = deep_merge(example_config_data(), BOOTH_OVERRIDES)
        state = self.workdir / booth_id
        data = deep_merge(
            data,
            {
                "state_dir": str(state),
                "booth": {"id": booth_id, "name": booth_id},
                "control": {"socket": str(state / "b.sock")},
            },
        )
        config, options = parse_config(force_sim(data), f"{booth_id} (sim day)")
        link = BusLink(booth_id, self.bus, clock, rng=self.rng(f"link:{booth_id}"))
        self.links[booth_id] = link
        return SimBooth(config, options, clock, central=link)

    async def run(self) -> Report:
        loop = asyncio.get_running_loop()
        self.bus = Bus(loop)
        self.clock = DayClock(self.t0.timestamp() - loop.time())
        booth_clock = LoopClock(epoch=self.t0 - timedelta(seconds=loop.time()))
        booth_clock.now()
        self.bridge = self._make_bridge()
        await self.bridge.start()
        for b in self.booth_ids:
            booth = self._make_booth(b, booth_clock)
            self.booths[b] = booth
            await booth.start()
        for spec in self.agent_specs:
            self.agents[spec.id] = SimAgent(self, spec)
        self._tasks.append(loop.create_task(self._portal(), name="portal"))
        for b in self.booth_ids:
            self._tasks.append(loop.create_task(self._citizens(b), name=f"citizens-{b}"))
        for agent in self.agents.values():
            agent.plan_shift()
        self._plan_faults()
        try:
            await asyncio.sleep(self.end - loop.time())
            self._check()
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for booth in self.booths.values():
                await booth.stop()
            await self._stop_bridge()
        self.report.virtual_h = self.o.hours
        return self.report

    async def _stop_bridge(self) -> None:
        bridge, mqtt = self.bridge, self.bridge_mqtt
        self.bridge = None
        if bridge is None:
            return
        self.report.bridge_steps += bridge.steps
        if mqtt is not None:
            mqtt.shutdown()
        bridge.mqtt = None  # its stop() would wait for a thread: the loop is virtual
        await bridge.stop()

    # ------------------------------------------------------------------ agents' portal
    async def _portal(self) -> None:
        """The agents' live event stream (one subscription for all simulated agents); after a
        bridge restart it subscribes to the new bridge and catches up from the snapshot."""
        while True:
            bridge = self.bridge
            if bridge is None:
                self._portal_wake.clear()
                await self._portal_wake.wait()
                continue
            async for item in bridge.subscribe():
                kind = item.get("type")
                if kind == "snapshot":
                    self._catch_up(item)
                elif kind == "offer":
                    agent = self.agents.get(item["agent"])
                    if agent is not None:
                        agent.offered(item["call"])
                elif kind == "agent":
                    agent = self.agents.get(item["agent"])
                    if agent is not None:
                        agent.changed(item["status"], item["reason"], item["call"])
                elif kind == "consult" and item.get("state") == "connected":
                    agent = self.agents.get(item["agent"])
                    if agent is not None:
                        agent.consult_connected()
            await asyncio.sleep(0)

    def _catch_up(self, snapshot: dict[str, Any]) -> None:
        for view in snapshot["agents"]:
            agent = self.agents.get(view["id"])
            if agent is not None:
                agent.changed(view["status"], view["reason"], view["call"])
        for call in snapshot["calls"]:
            for agent_id in call["ringing"]:
                if agent_id in self.agents:
                    self.agents[agent_id].offered(call["id"])

    def dispatch(self, event: Event) -> bool:
        """An agent's request to the bridge; False when refused (a race) or the bridge is down."""
        if self.bridge is None:
            return False
        try:
            self.bridge.step(event)
        except EngineError as exc:
            self.report.agent_actions[f"refused:{type(event).__name__}:{exc.code}"] += 1
            return False
        self.report.agent_actions[type(event).__name__] += 1
        return True

    # ------------------------------------------------------------------ citizens
    def _arrivals(self, booth: str) -> list[float]:
        """Non-homogeneous Poisson arrivals (thinning) in [0, arrivals_end)."""
        rng = self.rng(f"arrivals:{booth}")
        peak = self.o.peak_rate / 3600.0
        out: list[float] = []
        t = 0.0
        if peak <= 0:
            return out
        while True:
            t += rng.expovariate(peak)
            if t >= self.arrivals_end:
                return out
            if rng.random() < PROFILE.get(int(self.local_hour(t)), 0.0):
                out.append(t)

    async def _citizens(self, booth_id: str) -> None:
        loop = asyncio.get_running_loop()
        rng = self.rng(f"citizens:{booth_id}")
        for at in self._arrivals(booth_id):
            # every citizen's draws are made at the arrival, whether needed or not
            early = rng.random() < self.o.early_leave
            stage = rng.choice(STAGES)
            draws = (rng.uniform(0, 1), rng.uniform(3, 12), rng.uniform(5, 30))
            if at > loop.time():
                await asyncio.sleep(at - loop.time())
            self.report.arrivals += 1
            booth = self.booths[booth_id]
            if booth_id in self.citizen_in or booth.controller.state != "idle":
                if booth.controller.state in OUT_OF_SERVICE:
                    self.report.visits["out_of_service_seen"] += 1
                else:
                    self.report.blocked += 1
                continue
            visit = Visit(booth_id, at, stage if early else None)
            self.visits.append(visit)
            self.citizen_in.add(booth_id)
            try:
                await self._visit(booth, visit, draws)
            finally:
                self.citizen_in.discard(booth_id)

    def _stage(self, booth: SimBooth) -> str:
        state = booth.controller.state
        if state == "queued":
            bridge = self.bridge
            call = bridge.engine.by_booth.get(booth.config.booth.id) if bridge else None
            if call is not None and bridge is not None:
                c = bridge.engine.calls.get(call)
                if c is not None and c.status.value == "ringing":
                    return "ringing"
            return "queued"
        if state == "in_call.transferring":
            return "transferring"
        if state.startswith("in_call"):
            return "connected"
        return state

    async def _visit(self, booth: SimBooth, visit: Visit, draws: tuple[float, ...]) -> None:
        loop = asyncio.get_running_loop()
        frac, goodbye_s, oos_s = draws
        if booth.inject("person.enter").startswith("entry refused"):
            visit.outcome = "refused"
            self.report.visits["refused"] += 1
            return
        since: dict[str, float] = {}
        leave = asyncio.Event()
        planned = False

        def maybe_leave(stage: str) -> None:
            nonlocal planned
            if leave.is_set():
                return
            if self._stage(booth) != stage:
                planned = False  # that stage is over: perhaps it comes again
                return
            visit.outcome = f"left_early:{stage}"
            leave.set()

        def observe() -> None:
            nonlocal planned
            stage = self._stage(booth)
            if not visit.stages or visit.stages[-1] != stage:
                visit.stages.append(stage)
                since[stage] = loop.time()
            if visit.plan == stage and not planned:
                planned = True
                if stage == "occupied":  # a moment only: the bridge answers at once
                    maybe_leave(stage)
                else:
                    loop.call_later(EARLY_LIMIT_S[stage] * frac, maybe_leave, stage)

        def listener(state: str) -> None:
            loop.call_soon(observe)

        booth.controller.state_listeners.append(listener)
        try:
            while not leave.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(leave.wait(), 1.0)
                if leave.is_set():
                    break
                observe()
                now = loop.time()
                stage = visit.stages[-1]
                in_stage = now - since[stage]
                if stage == "farewell" and in_stage >= goodbye_s:
                    visit.outcome = "served" if "connected" in visit.stages else "not_served"
                    break
                if stage == "emergency" and in_stage >= 5.0:
                    visit.outcome = "evacuated"
                    break
                if stage in ("fault", "offline", "idle") and in_stage >= oos_s:
                    visit.outcome = f"left_{stage}"
                    break
                if now - visit.arrived > 3 * 3600:
                    visit.outcome = "stuck"
                    self.report.broken.append(
                        f"visit at {visit.booth} (t={visit.arrived:.0f} s) lasted over 3 h; "
                        f"stages {' > '.join(visit.stages)}"
                    )
                    break
        finally:
            booth.controller.state_listeners.remove(listener)
        booth.inject("person.leave")
        visit.left = loop.time()
        self.report.visits[visit.outcome] += 1
        # the visit ends when the booth has settled again
        while True:
            await asyncio.sleep(1.0)
            state = booth.controller.state
            if state in SETTLED:
                visit.settled_in = state
                break
            if loop.time() - visit.left > SETTLE_LIMIT_S:
                visit.settled_in = f"unsettled:{state}"
                break
        self.report.settled_in[visit.settled_in] += 1
        if visit.settled_in != "idle" and not self.faulty.get(visit.booth):
            if visit.settled_in != "offline" or not self._link_trouble(visit.booth):
                self.report.broken.append(
                    f"visit at {visit.booth} (t={visit.arrived:.0f} s) ended in "
                    f"{visit.settled_in} without a fault on the booth"
                )

    def _link_trouble(self, booth: str) -> bool:
        return not self.links[booth].is_up()

    # ------------------------------------------------------------------ faults
    def _plan_faults(self) -> None:
        loop = asyncio.get_running_loop()
        rng = self.rng("faults")
        # per hour of the day with citizens (scaled by booths where it is a booth's fault)
        per_booth_hour = {
            "link_drop": 0.04,
            "door_fault": 0.02,
            "fire_alarm": 0.004,
            "device_failure": 0.02,
        }
        per_hour = {"broker_restart": 0.1, "bridge_restart": 0.1}
        first, last = 1800.0, self.arrivals_end - 600.0
        if last <= first or self.o.faults <= 0:
            return
        for kind in FAULT_KINDS:
            rate = per_hour.get(kind, per_booth_hour.get(kind, 0.0) * self.o.booths)
            rate *= self.o.faults / 3600.0
            # at least one of each kind in every run
            times = [rng.uniform(first, last)]
            t = first
            while True:
                t += rng.expovariate(rate)
                if t >= last:
                    break
                times.append(t)
            for at in times[: 1 + int(rate * (last - first) * 3)]:
                booth = rng.choice(self.booth_ids)
                duration = rng.random()
                sub = rng.random()
                loop.call_at(at, self._fault, kind, booth, duration, sub)

    def _fault(self, kind: str, booth_id: str, u: float, sub: float) -> None:
        loop = asyncio.get_running_loop()
        booth = self.booths[booth_id]
        self.report.faults[kind] += 1

        def mark(seconds: float) -> None:
            self.faulty[booth_id] = self.faulty.get(booth_id, 0) + 1

            def unmark() -> None:
                self.faulty[booth_id] -= 1

            loop.call_later(seconds + 300.0, unmark)  # plus the time to settle again

        if kind == "link_drop":
            seconds = 5 + 115 * u
            client = self.links[booth_id].client.client_id
            self.bus.drop(client)
            mark(seconds)
            loop.call_later(seconds, self.bus.unblock, client)
        elif kind == "broker_restart":
            seconds = 3 + 17 * u
            self.bus.restart(seconds)
            for b in self.booth_ids:
                self.faulty[b] = self.faulty.get(b, 0) + 1
                loop.call_later(seconds + 300.0, self._unmark, b)
        elif kind == "bridge_restart":
            seconds = 2 + 28 * u
            for b in self.booth_ids:
                self.faulty[b] = self.faulty.get(b, 0) + 1
                loop.call_later(seconds + 300.0, self._unmark, b)
            self._tasks.append(loop.create_task(self._restart_bridge(seconds)))
        elif kind == "door_fault":
            seconds = 5 + 175 * u
            mark(seconds)
            if sub < 0.5:
                booth.inject("door.obstruct")
                loop.call_later(min(seconds, 30.0), booth.inject, "door.clear")
            else:
                self.report.faults["door_jam"] += 1
                booth.inject("door.jam")
                loop.call_later(seconds, booth.inject, "device.recover", {"device": "door"})
        elif kind == "fire_alarm":
            seconds = 60 + 240 * u
            mark(seconds)
            booth.inject("emergency.on")
            loop.call_later(seconds, booth.inject, "emergency.off")
        elif kind == "device_failure":
            seconds = 60 + 240 * u
            device = ("camera_main", "audio", "presence")[int(sub * 3) % 3]
            self.report.faults[f"device_failure:{device}"] += 1
            mark(seconds)
            booth.inject("device.fail", {"device": device, "reason": "sim day"})
            loop.call_later(seconds, booth.inject, "device.recover", {"device": device})

    def _unmark(self, booth_id: str) -> None:
        self.faulty[booth_id] -= 1

    async def _restart_bridge(self, down_s: float) -> None:
        await self._stop_bridge()
        await asyncio.sleep(down_s)
        self.bridge = self._make_bridge()
        await self.bridge.start()
        self._portal_wake.set()

    # ------------------------------------------------------------------ the end
    def _check(self) -> None:
        r = self.report
        broken = r.broken
        bridge = self.bridge
        assert bridge is not None
        for b, booth in self.booths.items():
            if booth.controller.state != "idle":
                broken.append(f"booth {b} ends in {booth.controller.state}, not idle")
            if self.links[b].pending:
                broken.append(f"booth {b} has {self.links[b].pending} undelivered events")
            r.call_requests += self.links[b].call_requests
        for v in self.visits:
            if v.left is None or not v.settled_in:
                broken.append(f"visit at {v.booth} (t={v.arrived:.0f} s) never ended")
        for view in bridge.engine.calls_view():
            broken.append(f"call {view['id']} of {view['booth']} is still {view['status']}")
        for a in bridge.engine.agents_view():
            if a["status"] in ("offered", "busy", "wrap_up"):
                broken.append(f"agent {a['id']} is still {a['status']}")
            elif a["status"] != "logged_out" and self.agents[a["id"]].shift_over:
                broken.append(f"agent {a['id']} is {a['status']} after the end of the shift")
        entries = list(bridge.store.log_entries())
        last: dict[str, str] = {}
        for e in entries:
            if e.call and e.event != "AGENTSTATUS":
                last[e.call] = e.event
        entered = {e.call for e in entries if e.event == "ENTERQUEUE"}
        for call in sorted(entered):
            if last.get(call) not in FINAL_LINES:
                broken.append(f"call {call} has no final line (last: {last.get(call)})")
        kpi = summarize(entries, sl_threshold_s=self.cfg.kpi.sl_threshold_s, tz=str(TZ))
        total = kpi.total
        r.kpi = {
            k: total.get(k)
            for k in (
                "offered",
                "answered",
                "abandoned",
                "unavailable",
                "turned_away",
                "timeouts",
                "service_level",
                "asa_s",
                "max_wait_s",
                "abandon_rate",
                "aht_s",
                "transfers",
                "no_answer",
                "declined",
            )
        }
        r.kpi["occupancy"] = total.get("occupancy")
        parts = total["answered"] + total["abandoned"] + total["unavailable"]
        if total["offered"] != parts:
            broken.append(
                f"KPIs do not add up: offered {total['offered']} != answered "
                f"{total['answered']} + abandoned {total['abandoned']} + unavailable "
                f"{total['unavailable']}"
            )
        by_booth = sum(v["offered"] for v in kpi.by_booth.values())
        if by_booth != total["offered"]:
            broken.append(f"offered per booth sums to {by_booth}, total is {total['offered']}")
        if total["offered"] != r.call_requests:
            broken.append(
                f"{r.call_requests} call requests from booths, {total['offered']} calls offered"
            )
        transfers = Counter(str(e.data.get("mode")) for e in entries if e.event == "TRANSFER")
        r.calls = {
            "offered": total["offered"],
            "answered": total["answered"],
            "abandoned": total["abandoned"],
            "unavailable": total["unavailable"],
            "transfers_blind": transfers.get("blind", 0),
            "transfers_consult": transfers.get("consult", 0),
            "log_lines": len(entries),
        }
        s = self.bus.stats
        r.bus = dataclasses.asdict(s)
        r.bus["retained"] = len(self.bus.retained)


# --------------------------------------------------------------------------- entry points
async def run_day_async(options: DayOptions, workdir: Path | None = None) -> Report:
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lisa-day-")))
        return await Day(options, workdir).run()


def run_day(options: DayOptions, workdir: Path | None = None) -> Report:
    """Run one simulated day on a fresh virtual-time loop (quiet logs); the report has the wall
    time."""
    lisa = logging.getLogger("lisa")
    level = lisa.level
    lisa.setLevel(logging.CRITICAL)
    t = time.perf_counter()
    try:
        report = run_virtual(run_day_async(options, workdir))
    finally:
        lisa.setLevel(level)
    report.wall_s = time.perf_counter() - t
    return report


def format_report(r: Report) -> str:
    """The report as text (``lisa sim day`` without ``--json``)."""
    d = r.to_dict()
    o = r.options
    lines = [
        f"lisa sim day: {o.booths} booths, {o.hours:g} h from {o.start:g}:00, seed {o.seed}: "
        f"{'OK' if d['ok'] else 'BROKEN'}",
        f"  wall time       {d['wall_s']:.1f} s for {d['virtual_h']:g} h virtual "
        f"({r.agents} agents, {d['bridge_steps']} bridge steps)",
        f"  arrivals        {r.arrivals} (blocked {r.blocked})",
        "  visits          " + ", ".join(f"{k} {v}" for k, v in d["visits"].items()),
        "  booth settled   " + ", ".join(f"{k} {v}" for k, v in d["visits_settled_in"].items()),
        "  calls           " + ", ".join(f"{k} {v}" for k, v in d["calls"].items()),
        "  faults          " + ", ".join(f"{k} {v}" for k, v in d["faults"].items()),
        "  kpi             " + ", ".join(f"{k} {v}" for k, v in d["kpi"].items() if v is not None),
        "  bus             " + ", ".join(f"{k} {v}" for k, v in d["bus"].items()),
    ]
    lines += [f"  BROKEN: {b}" for b in r.broken[:50]]
    if len(r.broken) > 50:
        lines.append(f"  … and {len(r.broken) - 50} more")
    return "\n".join(lines)


def day_command(
    booths: Annotated[int, typer.Option("--booths", min=1, help="Simulated booths.")] = 50,
    hours: Annotated[
        float, typer.Option("--hours", min=0.5, help="Virtual hours (the last one quiet).")
    ] = 24.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same day).")] = 1,
    start_hour: Annotated[
        float | None,
        typer.Option(
            "--start-hour",
            min=0,
            max=23,
            help="Local start time (default 0 for a whole day, else 9).",
            show_default=False,
        ),
    ] = None,
    peak_rate: Annotated[
        float, typer.Option("--peak-rate", min=0, help="Citizens per booth and hour at the peak.")
    ] = 3.0,
    faults: Annotated[
        float, typer.Option("--faults", min=0, help="Scale of the fault rates (0: none).")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """A simulated day: real booth controllers and the real bridge on virtual time, joined by
    an in-process broker, with citizens, agents and injected faults. Exit 1 when an invariant
    is broken (docs/load-simulator.md)."""
    options = DayOptions(
        booths=booths,
        hours=hours,
        seed=seed,
        start_hour=start_hour,
        peak_rate=peak_rate,
        faults=faults,
    )
    report = run_day(options)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        print(format_report(report))
    raise typer.Exit(1 if report.broken else 0)
