"""``lisa bench …``: benchmarks that print numbers (targets are checked by reading them, not by
timed unit tests).

``lisa bench booth``:
- sensor event → actuator command latency in the real controller on simulated drivers
  (real asyncio loop, real time): emergency input → door-open command, obstruction while closing →
  door-open command; p50 / p99 / max;
- the idle daemon on simulated hardware (a real ``lisa booth run --sim`` process): CPU share of
  one core and resident memory;
- wall time of a 100-step scenario on virtual time.

``lisa bench link`` (:mod:`sim.bench_link`): the booth's MQTT link through a private Mosquitto —
event latency against bare paho, 1,000 events/s without loss, outbox replay after an outage,
booth memory with the link up.

``lisa bench portal`` (:mod:`sim.bench_portal`): the agents' portal against a real bridge
process — page load to interactive in Chromium, an agent state change reaching 200 WebSockets,
bridge memory with 200 sessions and 50 booths.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from booth.trace import TraceRecord
from hal.clock import LoopClock
from hal.events import DeviceEvent, DoorPosition, DoorPositionChanged
from sim.bench_acd import acd_command
from sim.brokers import rss_kb, stop_process
from sim.harness import SimBooth

app = typer.Typer(help="Benchmarks that print numbers.", no_args_is_help=True)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _latency(samples: int) -> dict[str, Any]:
    clock = LoopClock()
    booth = SimBooth.from_example(
        clock,
        {"timing": {"privacy_reset": 0.0}, "devices": {"door": {"options": {"travel_time": 0.05}}}},
    )
    seen: dict[str, float] = {}
    waiter: dict[str, asyncio.Event] = {}

    def on_record(rec: TraceRecord) -> None:
        if rec.kind == "actuator" and rec.data.get("device") == "door":
            key = f"door.{rec.data.get('action')}"
            seen.setdefault(key, time.perf_counter())
            ev = waiter.get(key)
            if ev is not None:
                ev.set()
        if rec.kind == "state":
            ev = waiter.get(f"state.{rec.data.get('state')}")
            if ev is not None:
                ev.set()

    booth.trace.subscribe(on_record)
    await booth.start()

    async def wait_for(key: str, within: float = 10.0) -> None:
        ev = waiter.setdefault(key, asyncio.Event())
        await asyncio.wait_for(ev.wait(), within)

    async def arm(key: str) -> None:
        waiter[key] = asyncio.Event()
        seen.pop(key, None)

    await wait_for("state.idle", 30)
    emergency: list[float] = []
    for _ in range(samples):
        await arm("door.open")
        await arm("state.idle")
        t0 = time.perf_counter()
        booth.inject("emergency.on")
        await wait_for("door.open")
        emergency.append((seen["door.open"] - t0) * 1000)
        booth.inject("emergency.off")
        await wait_for("state.idle")
        await booth.controller.settled()

    obstruction: list[float] = []
    door: Any = booth.devices["door"]
    reached: dict[DoorPosition, asyncio.Event] = {}

    def on_door(event: DeviceEvent) -> None:
        if isinstance(event, DoorPositionChanged) and event.position in reached:
            reached[event.position].set()

    door.subscribe(on_door)

    def expect_door(position: DoorPosition) -> asyncio.Event:
        reached[position] = asyncio.Event()
        return reached[position]

    for _ in range(samples):
        opened = expect_door(DoorPosition.OPEN)
        await door.open()
        if door.position() is not DoorPosition.OPEN:
            await asyncio.wait_for(opened.wait(), 10.0)
        closing = expect_door(DoorPosition.CLOSING)
        await booth.controller.door.want(DoorPosition.CLOSED)
        if door.position() is not DoorPosition.CLOSING:
            await asyncio.wait_for(closing.wait(), 10.0)
        await arm("door.open")
        t0 = time.perf_counter()
        booth.inject("door.obstruct")
        await wait_for("door.open")
        obstruction.append((seen["door.open"] - t0) * 1000)
        booth.inject("door.clear")
        booth.controller.door.wanted = None  # no automatic re-close between samples
    await booth.stop()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "p50_ms": round(statistics.median(values), 3),
            "p99_ms": round(_pct(values, 99), 3),
            "max_ms": round(max(values), 3),
        }

    return {
        "emergency_to_door_open": summary(emergency),
        "obstruction_to_reopen": summary(obstruction),
    }


def lisa_executable() -> str:
    """The ``lisa`` script of this environment (next to the running interpreter)."""
    beside = Path(sys.executable).parent / "lisa"
    return str(beside) if beside.exists() else (shutil.which("lisa") or "lisa")


def _idle_daemon(seconds: float) -> dict[str, Any]:
    example = Path(__file__).resolve().parent.parent / "booth" / "examples" / "booth-sim.toml"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "booth.toml"
        text = example.read_text("utf-8")
        text = text.replace('state_dir = "var/booth-sim"', f'state_dir = "{tmp}/state"')
        text = text.replace('socket = "var/booth-sim/booth.sock"', f'socket = "{tmp}/b.sock"')
        cfg.write_text(text, "utf-8")
        proc = subprocess.Popen(
            [lisa_executable(), "booth", "run", "--sim", "--config", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not (Path(tmp) / "b.sock").exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("booth daemon did not start")
                time.sleep(0.05)
            time.sleep(2.0)  # let start-up settle before measuring the idle state
            tick = os.sysconf("SC_CLK_TCK")

            def cpu() -> float:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / tick

            c0, w0 = cpu(), time.monotonic()
            time.sleep(seconds)
            c1, w1 = cpu(), time.monotonic()
            rss = rss_kb(proc.pid)
        finally:
            stop_process(proc)
    return {
        "seconds": round(w1 - w0, 2),
        "cpu_percent_of_one_core": round(100 * (c1 - c0) / (w1 - w0), 2),
        "rss_mb": round(rss / 1024, 1),
    }


def _scenario_100(repeat: int) -> dict[str, Any]:
    from sim.scenario import parse_scenario, run_scenario

    # whole visits (6 steps each) until at least 100 steps; the booth must end idle
    parts: list[str] = []
    t = 2.0
    steps = 0
    while steps < 100:
        for do, dt in (
            ("person.enter", 5),
            ("agent.answer", 10),
            ("agent.transfer", 5),
            ("agent.answer", 10),
            ("agent.hangup", 3),
            ("person.leave", 20),
        ):
            extra = '\nqueue = "wohngeld"' if do == "agent.transfer" else ""
            parts.append(f'[[step]]\nat = {t}\ndo = "{do}"{extra}\n')
            t += dt
            steps += 1
    parts.append(f'[[expect]]\nat = {t + 30}\nstate = "idle"\n')
    scenario = parse_scenario("bench-100-steps.toml", "\n".join(parts))
    walls = []
    passed = True
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_scenario(scenario)
        walls.append(time.perf_counter() - t0)
        passed &= result.passed
    return {
        "steps": len(scenario.steps),
        "virtual_s": round(scenario.duration, 1),
        "wall_s_median": round(statistics.median(walls), 4),
        "passed": passed,
    }


@app.command("booth")
def bench_booth(
    samples: Annotated[int, typer.Option(help="Latency samples per measurement")] = 200,
    idle_seconds: Annotated[float, typer.Option(help="Idle daemon measurement window")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Booth controller numbers: latency, idle CPU/memory, scenario speed."""
    result = {
        "latency": asyncio.run(_latency(samples)),
        "idle_daemon": _idle_daemon(idle_seconds),
        "scenario_100_steps": _scenario_100(5),
        "targets": {
            "latency_p99_ms": 5.0,
            "idle_cpu_percent": 1.0,
            "idle_rss_mb": 80.0,
            "scenario_100_wall_s": 1.0,
        },
    }
    if as_json:
        print(json.dumps(result))
        return
    lat = result["latency"]
    for name, s in lat.items():
        print(
            f"{name:<26} n={s['n']:<4} p50={s['p50_ms']:.3f} ms  p99={s['p99_ms']:.3f} ms  "
            f"max={s['max_ms']:.3f} ms   (target p99 < 5 ms)"
        )
    idle = result["idle_daemon"]
    print(
        f"idle daemon (sim)          cpu={idle['cpu_percent_of_one_core']:.2f} % of one core "
        f"(target < 1 %)  rss={idle['rss_mb']:.1f} MB (target < 80 MB)  "
        f"over {idle['seconds']} s"
    )
    sc = result["scenario_100_steps"]
    print(
        f"100-step scenario          wall={sc['wall_s_median']:.4f} s for {sc['virtual_s']} s "
        f"virtual (target < 1 s), passed={sc['passed']}"
    )


@app.command("link")
def bench_link(
    samples: Annotated[int, typer.Option(help="Latency samples (one event at a time)")] = 2000,
    seconds: Annotated[float, typer.Option(help="Duration of the 1,000 events/s run")] = 10.0,
    replay_events: Annotated[
        int, typer.Option(help="Events written to the outbox while the broker is down")
    ] = 60_000,
    rss_seconds: Annotated[float, typer.Option(help="Booth daemon run before reading RSS")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """MQTT link numbers through a private Mosquitto: latency, 1,000 events/s, outbox replay
    after an outage, booth memory with the link up."""
    from sim.bench_link import print_report, run_link_bench

    result = run_link_bench(samples, seconds, replay_events, rss_seconds)
    if as_json:
        print(json.dumps(result))
    else:
        print_report(result)


app.command("acd")(acd_command)


@app.command("portal")
def bench_portal(
    loads: Annotated[int, typer.Option(min=1, help="Page loads measured (median)")] = 10,
    sockets: Annotated[int, typer.Option(min=1, help="Agent WebSockets (sessions)")] = 200,
    accounts: Annotated[int, typer.Option(min=1, help="ACD agent accounts")] = 20,
    changes: Annotated[int, typer.Option(min=1, help="Timed agent status changes")] = 20,
    booths: Annotated[int, typer.Option(min=1, help="Booths online (MQTT clients)")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Portal numbers against a real bridge process: page load to interactive (Chromium),
    a state change reaching every agent WebSocket, bridge memory with sessions and booths."""
    from sim.bench_portal import print_report, run_portal_bench

    try:
        result = run_portal_bench(
            lisa_executable(),
            loads=loads,
            sockets=sockets,
            accounts=accounts,
            changes=changes,
            booths=booths,
        )
    except (FileNotFoundError, TimeoutError, RuntimeError) as exc:
        print(f"lisa bench portal: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result))
    else:
        print_report(result)


@app.command("signature")
def bench_signature(
    runs: Annotated[int, typer.Option(min=1, help="Measured sign + verify runs")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sign a 10-page PDF with visible signature and biometrics (PAdES B-B) and verify it:
    p50 (targets: sign < 300 ms, verify < 100 ms)."""
    from sim.sign_demo import bench_signature as run
    from sim.sign_demo import print_bench

    result = run(runs)
    if as_json:
        print(json.dumps(result))
    else:
        print_bench(result)


@app.command("media")
def bench_media(
    seconds: Annotated[float, typer.Option(min=2, help="Measured seconds per run")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Live media on loopback through the real bridge: accept → first frame (< 1 s), the
    booth sending 640×480@25 + 1280×720@5 (< 60 % of one core, < 250 MB), audio/video offset
    (< 100 ms), glass-to-glass (< 200 ms), real-time text (< 100 ms); then with a third
    participant (what the mesh costs the booth)."""
    import asyncio

    from sim.media_check import bench, print_bench

    result = asyncio.run(bench(seconds))
    if as_json:
        print(json.dumps(result))
    else:
        print_bench(result)
