"""``lisa bench acd --e2e``: booth presence → offer visible to an agent, end to end.

Mosquitto, the bridge (``lisa bridge run``) and ``--booths`` simulated booths (``lisa booth run
--sim``) run as separate processes on loopback; the agents are :class:`AgentClient`s in this
process (HTTP + WebSocket, as the portal will be). One visit: a citizen walks in (control
socket), the booth's presence filter confirms them and the booth publishes ``call_requested``
(its ``ts`` is t0), the bridge offers the call, the offer arrives on the agent's WebSocket (t1);
the agent accepts and hangs up at once, the citizen leaves, the booth resets. Latency = t1 − t0
(both wall clock of this host, t0 with 1 ms resolution).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from booth.control_client import ControlClient, DaemonUnavailable
from sim.booth_files import booth_config_text, fast_timing
from sim.brokers import MosquittoBroker, free_port, stop_process

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"


def _booth_config(workdir: Path, booth: str, url: str) -> Path:
    state = workdir / booth
    state.mkdir(parents=True, exist_ok=True)
    text = booth_config_text(
        booth,
        state,
        state / "b.sock",
        mqtt_central=True,
        timing=fast_timing(delay_on=0.2, delay_off=0.3, privacy_reset=0.1, travel_time=0.1),
        extra=f'\n[mqtt]\nurl = "{url}"\nretry_initial = 0.2\nretry_max = 1.0\n',
    )
    path = state / "booth.toml"
    path.write_text(text, "utf-8")
    return path


def _bridge_config(workdir: Path, booths: list[str], url: str, port: int) -> Path:
    lines = [
        "[bridge]",
        'name = "bench"',
        f'database = "{workdir / "bridge.db"}"',
        'phone = "0"',
        f'default_queue = "q-{booths[0]}"',
        "[mqtt]",
        f'url = "{url}"',
        'username = ""',
        "[http]",
        f"port = {port}",
        "[acd]",
        "wrapup_s = 0",
        "[[site]]",
        'id = "bench"',
        'name = "bench"',
    ]
    # one queue per booth and its own agent: each offer belongs to the visit being timed
    for b in booths:
        lines += ["[[queue]]", f'id = "q-{b}"', f'name = "Empfang {b}"']
        lines += ["[[booth]]", f'id = "{b}"', 'site = "bench"', f'name = "{b}"', f'queue = "q-{b}"']
        lines += [
            "[[agent]]",
            f'id = "agent-{b}"',
            'display_name = "Empfang"',
            f'queues = {{ "q-{b}" = 1 }}',
        ]
    path = workdir / "bridge.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _wait(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _booth_state(socket: Path) -> str:
    try:
        with ControlClient(socket, timeout=5) as c:
            return str(c.call("status").get("state"))
    except DaemonUnavailable:
        return "down"


def _inject(socket: Path, name: str) -> None:
    with ControlClient(socket, timeout=5) as c:
        c.call("inject", input=name, args={})


class RequestWatcher:
    """Records each booth's ``call_requested`` event time (the booth's own ``ts``)."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.requested: dict[str, float] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="lisa-bench-watch")
        self.client.on_connect = lambda c, *_: c.subscribe("lisa/v1/booth/+/event", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        from lisa_messages import parse_rfc3339

        data = json.loads(msg.payload)
        if data.get("type") == "call_requested":
            self.requested[data["booth"]] = parse_rfc3339(data["ts"]).timestamp()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def _run_booth(
    booth: str, socket: Path, client: Any, visits: int, out: list[float], watch: RequestWatcher
) -> None:
    for _ in range(visits):
        await asyncio.to_thread(_wait, lambda: _booth_state(socket) == "idle", "idle", 30)
        mark = len(client.seen("offer"))
        await asyncio.to_thread(_inject, socket, "person.enter")
        offer = await client.wait_for("offer", 20)
        t1 = time.time()
        if len(client.seen("offer")) <= mark:
            raise RuntimeError(f"{booth}: stale offer")
        call = offer["call"]
        if offer["booth"] != booth:
            raise RuntimeError(f"{booth}: got an offer for {offer['booth']}")
        await asyncio.to_thread(_wait, lambda: booth in watch.requested, "the request", 5)
        t0 = watch.requested.pop(booth)
        out.append((t1 - t0) * 1000)
        await client.accept(call)
        await client.hangup(call)
        await asyncio.to_thread(_inject, socket, "person.leave")


async def _agents_and_visits(
    url: str, booths: list[str], sockets: dict[str, Path], visits: int, watch: RequestWatcher
) -> list[float]:
    from cloud_bridge.agent_client import AgentClient

    clients = []
    latencies: list[float] = []
    try:
        for b in booths:
            client = AgentClient(url, f"agent-{b}")
            await client.login(PASSWORD)
            await client.connect()
            await client.set_status("ready")
            clients.append(client)
        await asyncio.gather(
            *(
                _run_booth(b, sockets[b], c, visits, latencies, watch)
                for b, c in zip(booths, clients, strict=True)
            )
        )
    finally:
        for c in clients:
            await c.close()
    return latencies


def run_e2e(booths: int = 4, visits: int = 25, lisa: str = "lisa") -> dict[str, Any]:
    """Start everything, run ``booths × visits`` visits, return the latency summary (ms)."""
    from cloud_bridge.users import UserStore

    workdir = Path(tempfile.mkdtemp(prefix="lisa-bench-e2e-"))
    names = [f"bench-{i + 1:02d}" for i in range(booths)]
    broker = MosquittoBroker(workdir=workdir / "mosquitto")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker.start()
        port = free_port()
        config = _bridge_config(workdir, names, broker.url, port)
        users = UserStore(workdir / "bridge.db")
        for b in names:
            users.add(f"agent-{b}", "agent", PASSWORD)
        users.close()
        log = (workdir / "bridge.log").open("ab")
        procs.append(
            subprocess.Popen(
                [lisa, "bridge", "run", "--config", str(config), "--log-level", "warning"],
                stdout=log,
                stderr=log,
            )
        )
        url = f"http://127.0.0.1:{port}"
        import httpx

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(healthy, "the bridge", 30)
        sockets: dict[str, Path] = {}
        for b in names:
            cfg = _booth_config(workdir, b, broker.url)
            sockets[b] = cfg.parent / "b.sock"
            blog = (cfg.parent / "booth.log").open("ab")
            procs.append(
                subprocess.Popen(
                    [lisa, "booth", "run", "--sim", "--config", str(cfg)],
                    stdout=blog,
                    stderr=blog,
                )
            )
        for b in names:
            _wait(lambda b=b: _booth_state(sockets[b]) == "idle", f"booth {b} idle", 60)
        watch = RequestWatcher(broker.host, broker.port)
        started = time.monotonic()
        try:
            latencies = asyncio.run(_agents_and_visits(url, names, sockets, visits, watch))
        finally:
            watch.stop()
        wall = time.monotonic() - started
    finally:
        for p in reversed(procs):
            stop_process(p)
        broker.stop()
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return round(ordered[k], 2)

    result = {
        "booths": booths,
        "visits": len(latencies),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "target_p99_ms": 50.0,
        "wall_s": round(wall, 1),
    }
    shutil.rmtree(workdir, ignore_errors=True)
    return result


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run_e2e()))
