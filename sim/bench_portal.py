"""``lisa bench portal``: the agents' portal against a real bridge process on loopback.

A private Mosquitto (``sim.brokers.MosquittoBroker``) and ``lisa bridge run`` with a tenant
config of ``--booths`` booths (50) and ``--accounts`` ACD agent accounts, everything on
127.0.0.1:

(a) **page load to interactive**, in Debian's Chromium through Playwright (a fresh context per
    sample, so nothing is cached): navigation start → the login form rendered (the user-name
    field in the DOM), and for a logged-in agent navigation start → the workspace rendered
    (its status panel) and → the live event stream open (``conn-status`` ``data-state=open``).
    A MutationObserver installed before the page's scripts takes ``performance.now()`` (whose
    zero is the navigation start) when the element appears. Median of ``--loads`` (10).
(b) **a state change reaches every agent WebSocket**: ``--sockets`` (200) WebSocket clients
    (python ``websockets``, ``?token=``; each its own session: ``--accounts`` accounts logged in
    ``sockets / accounts`` times) on ``/api/v1/events``; one agent's status is changed with
    ``POST /agent/status`` (ready ↔ not ready, ``--changes`` times); latency = from just before
    the HTTP request until each socket has received that agent's event. p50 / p99 / max over all
    sockets and changes.
(c) **bridge memory** with those sessions open and ``--booths`` booths online: each booth is a
    paho MQTT client publishing what a booth publishes on start (retained ``availability``
    ``online``, ``state``, ``health`` with eight devices) plus a few state changes; once the
    bridge reports every booth online, its VmRSS from ``/proc/PID/status`` (also before the
    load, for comparison).

Targets: (a) < 500 ms, (b) p99 < 100 ms, (c) < 300 MB. Benchmarks print numbers; no test runs
this (``make bench`` does).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sim.brokers import MosquittoBroker, free_port, rss_kb, stop_process

PASSWORD = "bench-portal-pass"
CHROMIUM = "/usr/bin/chromium"
TARGETS = {"page_load_ms": 500.0, "ws_p99_ms": 100.0, "bridge_rss_mb": 300.0}
DEVICES = (
    "door",
    "presence",
    "camera_agent",
    "camera_document",
    "display",
    "touch",
    "signature",
    "plc",
)

#: runs before the page's own scripts: notes when the login form / the workspace / the open
#: event stream first appear (performance.now() counts from the navigation start)
MARKS_SCRIPT = """
(() => {
  window.__lisaMarks = {};
  const wanted = {
    login: '[data-testid=login-user]',
    workspace: '[data-testid=status-panel]',
    live: '[data-testid=conn-status][data-state=open]',
  };
  const look = () => {
    for (const [k, sel] of Object.entries(wanted)) {
      if (!(k in window.__lisaMarks) && document.querySelector(sel)) {
        window.__lisaMarks[k] = performance.now();
      }
    }
  };
  new MutationObserver(look).observe(document, {
    childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'],
  });
})();
"""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50_ms": round(statistics.median(values_ms), 2),
        "p99_ms": round(_pct(values_ms, 99), 2),
        "max_ms": round(max(values_ms), 2),
    }


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------------------ the stack
def bridge_config(workdir: Path, booths: list[str], agents: list[str], url: str, port: int) -> str:
    lines = [
        "[bridge]",
        'name = "bench portal"',
        f'database = "{workdir / "bridge.db"}"',
        'phone = "0"',
        'default_queue = "clearing"',
        "[mqtt]",
        f'url = "{url}"',
        'username = ""',
        "[http]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[[site]]",
        'id = "bench"',
        'name = "Bench"',
        "[[queue]]",
        'id = "clearing"',
        'name = "Bürgerservice – Empfang"',
    ]
    for b in booths:
        lines += ["[[booth]]", f'id = "{b}"', 'site = "bench"', f'name = "Bürgerbüro {b}"']
    for a in agents:
        lines += ["[[agent]]", f'id = "{a}"', 'display_name = "Empfang"']
        lines += ["queues = { clearing = 1 }"]
    return "\n".join(lines) + "\n"


class Stack:
    """Mosquitto + ``lisa bridge run`` in a temporary directory."""

    def __init__(self, lisa: str, booths: int, accounts: int) -> None:
        self.lisa = lisa
        self.workdir = Path(tempfile.mkdtemp(prefix="lisa-bench-portal-"))
        self.booths = [f"bench-{i + 1:03d}" for i in range(booths)]
        self.agents = [f"agent-{i + 1:03d}" for i in range(accounts)]
        self.broker = MosquittoBroker(workdir=self.workdir / "mosquitto")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from cloud_bridge.users import UserStore

        self.broker.start()
        config = self.workdir / "bridge.toml"
        config.write_text(
            bridge_config(self.workdir, self.booths, self.agents, self.broker.url, self.port),
            "utf-8",
        )
        users = UserStore(self.workdir / "bridge.db")
        try:
            for a in self.agents:
                users.add(a, "agent", PASSWORD)
        finally:
            users.close()
        log = (self.workdir / "bridge.log").open("ab")
        self.proc = subprocess.Popen(
            [self.lisa, "bridge", "run", "--config", str(config), "--log-level", "warning"],
            stdout=log,
            stderr=log,
        )
        import httpx

        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bridge exited; see {self.workdir / 'bridge.log'}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the bridge did not answer /healthz within 30 s")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)
        self.broker.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ------------------------------------------------------------------------- (a) page load
def page_load(url: str, user: str, loads: int) -> dict[str, Any]:
    """Median navigation start → login form / workspace / live stream, in ms."""
    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} not found (Debian package 'chromium')"}
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    samples: dict[str, list[float]] = {"login": [], "workspace": [], "live": [], "dcl": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            for _ in range(loads + 1):  # the first of each is a warm-up (Chromium, the bridge)
                for logged_in in (False, True):
                    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                    try:
                        ctx.add_init_script(MARKS_SCRIPT)
                        if logged_in:
                            r = ctx.request.post(
                                f"{url}/api/v1/session",
                                data={"username": user, "password": PASSWORD},
                            )
                            if not r.ok:
                                raise RuntimeError(f"portal login failed: {r.status}")
                        page = ctx.new_page()
                        page.goto(f"{url}/#/arbeitsplatz" if logged_in else f"{url}/")
                        keys = ("workspace", "live") if logged_in else ("login",)
                        page.wait_for_function(
                            "keys => keys.every(k => k in (window.__lisaMarks || {}))",
                            arg=list(keys),
                            timeout=15_000,
                        )
                        marks = page.evaluate("() => window.__lisaMarks")
                        dcl = page.evaluate(
                            "() => performance.getEntriesByType('navigation')[0]"
                            ".domContentLoadedEventEnd"
                        )
                        for k in keys:
                            samples[k].append(float(marks[k]))
                        if not logged_in:
                            samples["dcl"].append(float(dcl))
                    finally:
                        ctx.close()
        finally:
            browser.close()
    out: dict[str, Any] = {}
    for k, values in samples.items():
        values = values[1:]  # drop the warm-up
        out[k] = {
            "n": len(values),
            "median_ms": round(statistics.median(values), 1),
            "max_ms": round(max(values), 1),
        }
    return out


# ------------------------------------------------------------------- (b) WebSocket fan-out
async def _login_tokens(url: str, agents: list[str], sockets: int) -> list[str]:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one(name: str) -> str:
            r = await http.post("/api/v1/login", json={"username": name, "password": PASSWORD})
            r.raise_for_status()
            return str(r.json()["token"])

        names = [agents[i % len(agents)] for i in range(sockets)]
        tokens: list[str] = []
        for i in range(0, len(names), 20):  # 20 logins at a time (Argon2id each)
            tokens += await asyncio.gather(*(one(n) for n in names[i : i + 20]))
        return tokens


class Listener:
    """One portal WebSocket: notes when it sees the awaited agent event."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.want: tuple[str, str] | None = None
        self.seen_at: float | None = None
        self.got = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async for raw in self.ws:
            t = time.perf_counter()
            if self.want is None or self.seen_at is not None:
                continue
            ev = json.loads(raw)
            if ev.get("type") == "agent" and (ev.get("agent"), ev.get("status")) == self.want:
                self.seen_at = t
                self.got.set()

    def expect(self, agent: str, status: str) -> None:
        self.want = (agent, status)
        self.seen_at = None
        self.got = asyncio.Event()


async def open_sockets(url: str, tokens: list[str]) -> list[Listener]:
    import websockets

    base = url.replace("http://", "ws://")
    listeners: list[Listener] = []
    for i in range(0, len(tokens), 50):

        async def one(token: str) -> Listener:
            ws = await websockets.connect(
                f"{base}/api/v1/events?token={quote(token, safe='')}",
                max_size=None,
                open_timeout=30,
            )
            await asyncio.wait_for(ws.recv(), 30)  # the snapshot
            lis = Listener(ws)
            lis.task = asyncio.create_task(lis.run())
            return lis

        listeners += await asyncio.gather(*(one(t) for t in tokens[i : i + 50]))
    return listeners


async def fan_out(url: str, token: str, agent: str, listeners: list[Listener], changes: int) -> Any:
    import httpx

    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        await http.post("/api/v1/agent/status", json={"status": "not_ready", "reason": "break"})
        await asyncio.sleep(0.5)  # let that change reach everyone before timing the next
        for i in range(changes):
            status = "ready" if i % 2 == 0 else "not_ready"
            for lis in listeners:
                lis.expect(agent, status)
            t0 = time.perf_counter()
            body: dict[str, str] = {"status": status}
            if status == "not_ready":
                body["reason"] = "break"
            r = await http.post("/api/v1/agent/status", json=body)
            r.raise_for_status()
            await asyncio.wait_for(asyncio.gather(*(lis.got.wait() for lis in listeners)), 30)
            these = [((lis.seen_at or t0) - t0) * 1000 for lis in listeners]
            latencies += these
            await asyncio.sleep(0.2)  # changes one at a time, not a burst
    return {**_summary(latencies), "changes": changes, "sockets": len(listeners)}


# ------------------------------------------------------------------------ (c) 50 booths
class FakeBooths:
    """One paho client per booth id publishing availability, state and health (retained)."""

    def __init__(self, host: str, port: int, booths: list[str]) -> None:
        self.host, self.port, self.booths = host, port, booths
        self.clients: list[Any] = []

    def start(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from lisa_messages import Topics

        for b in self.booths:
            topics = Topics(b)
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{b}")
            c.will_set(topics.availability, "offline", qos=1, retain=True)
            c.connect(self.host, self.port, keepalive=30)
            c.loop_start()
            now = _now_rfc3339()
            health = {
                "booth": b,
                "ts": now,
                "in_service": True,
                "devices": {d: {"status": "ok", "since": now} for d in DEVICES},
            }
            c.publish(topics.health, json.dumps(health), qos=1, retain=True)
            for state in ("selftest", "idle", "occupied", "idle"):
                body = {
                    "booth": b,
                    "ts": _now_rfc3339(),
                    "state": state,
                    "detail": state,
                    "since": _now_rfc3339(),
                    "door": "closed",
                    "sign": "free",
                    "software": "bench",
                }
                c.publish(topics.state, json.dumps(body), qos=1, retain=True)
            c.publish(topics.availability, "online", qos=1, retain=True).wait_for_publish(10)
            self.clients.append(c)

    def stop(self) -> None:
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


async def _booths_online(url: str, token: str, want: int, within: float = 60.0) -> int:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        while True:
            booths = (await http.get("/api/v1/status")).json()["booths"]
            online = sum(1 for b in booths if b.get("online") and b.get("state") == "idle")
            if online >= want or time.monotonic() > deadline:
                return online
            await asyncio.sleep(0.2)


async def _sessions_and_booths(
    stack: Stack, sockets: int, changes: int, settle_s: float
) -> dict[str, Any]:
    tokens = await _login_tokens(stack.url, stack.agents, sockets)
    t_open = time.perf_counter()
    listeners = await open_sockets(stack.url, tokens)
    opened_s = time.perf_counter() - t_open
    result: dict[str, Any] = {"sockets_opened_s": round(opened_s, 2)}
    try:
        result["fan_out"] = await fan_out(stack.url, tokens[0], stack.agents[0], listeners, changes)
        rss_sessions = rss_kb(stack.pid)
        booths = FakeBooths(stack.broker.host, stack.broker.port, stack.booths)
        await asyncio.to_thread(booths.start)
        try:
            online = await _booths_online(stack.url, tokens[0], len(stack.booths))
            await asyncio.sleep(settle_s)  # the bridge settles (events fanned out, GC)
            rss = rss_kb(stack.pid)
            status = len(json.dumps(await asyncio.to_thread(_status_json, stack.url, tokens[0])))
        finally:
            await asyncio.to_thread(booths.stop)
        result["memory"] = {
            "sessions": len(listeners),
            "booths_online": online,
            "booths": len(stack.booths),
            "rss_mb_sessions_only": round(rss_sessions / 1024, 1),
            "rss_mb": round(rss / 1024, 1),
            "status_bytes": status,
        }
    finally:
        for lis in listeners:
            await lis.ws.close()
            if lis.task is not None:
                lis.task.cancel()
    return result


def _status_json(url: str, token: str) -> Any:
    import httpx

    return httpx.get(
        f"{url}/api/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()


# ----------------------------------------------------------------------------------- run
def run_portal_bench(
    lisa: str,
    *,
    loads: int = 10,
    sockets: int = 200,
    accounts: int = 20,
    changes: int = 20,
    booths: int = 50,
    settle_s: float = 3.0,
) -> dict[str, Any]:
    stack = Stack(lisa, booths, accounts)
    try:
        stack.start()
        time.sleep(1.0)  # start-up settles before the baseline memory
        result: dict[str, Any] = {"rss_mb_idle": round(rss_kb(stack.pid) / 1024, 1)}
        result["page_load"] = page_load(stack.url, stack.agents[-1], loads)
        result.update(asyncio.run(_sessions_and_booths(stack, sockets, changes, settle_s)))
    finally:
        stack.stop()
    result["targets"] = TARGETS
    return result


def print_report(r: dict[str, Any]) -> None:
    t = r["targets"]

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    pl = r["page_load"]
    if "skipped" in pl:
        print(f"page load: skipped ({pl['skipped']})")
    else:
        target = t["page_load_ms"]
        print(
            f"page load → login form       n={pl['login']['n']:<3} median="
            f"{pl['login']['median_ms']:.1f} ms  max={pl['login']['max_ms']:.1f} ms   "
            f"(target < {target:g} ms: {mark(pl['login']['median_ms'] < target)}); "
            f"DOMContentLoaded {pl['dcl']['median_ms']:.1f} ms"
        )
        print(
            f"page load → workspace        n={pl['workspace']['n']:<3} median="
            f"{pl['workspace']['median_ms']:.1f} ms  max={pl['workspace']['max_ms']:.1f} ms   "
            f"(target < {target:g} ms: {mark(pl['workspace']['median_ms'] < target)}); "
            f"live stream open {pl['live']['median_ms']:.1f} ms"
        )
    f = r["fan_out"]
    print(
        f"agent status → {f['sockets']} sockets  n={f['n']:<5} p50={f['p50_ms']:.2f} ms  "
        f"p99={f['p99_ms']:.2f} ms  max={f['max_ms']:.2f} ms   (target p99 < "
        f"{t['ws_p99_ms']:g} ms: {mark(f['p99_ms'] < t['ws_p99_ms'])}); {f['changes']} changes, "
        f"sockets opened in {r['sockets_opened_s']} s"
    )
    m = r["memory"]
    print(
        f"bridge rss with {m['sessions']} sessions + {m['booths_online']}/{m['booths']} booths "
        f"online: {m['rss_mb']:.1f} MB (target < {t['bridge_rss_mb']:g} MB: "
        f"{mark(m['rss_mb'] < t['bridge_rss_mb'])}); idle {r['rss_mb_idle']:.1f} MB, "
        f"sessions only {m['rss_mb_sessions_only']:.1f} MB; /status {m['status_bytes']} bytes"
    )
