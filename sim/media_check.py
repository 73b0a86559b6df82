"""``lisa sim media-check`` and ``lisa bench media``: a simulated booth and an agent's media
peer through the real signalling path, on loopback.

An embedded MQTT broker (amqtt, in this process), the real bridge (``lisa bridge run``) and a
simulated booth (``lisa booth run --sim``, media sources ``test``: a moving pattern carrying a
frame counter and a timestamp, and a tone) as processes; the agent is
:class:`sim.media_agent.AgentMediaPeer` (aiortc) on the bridge's WebSocket. A citizen walks
in, the agent accepts, says ``media.ready``, and the media is measured for ``seconds``:

* ``setup_ms``: accept → the first video frame at the agent;
* ``booth_to_agent_fps`` / ``document_fps`` / ``agent_to_booth_fps``: frame rates (the booth's
  own count of the agent's video comes from its status);
* ``audio_ok``: the booth's tones (440 Hz and 7 kHz: Opus wideband) arrive at the agent, and
  the agent's audio arrives at the booth;
* ``glass_to_glass_ms``: the pattern's timestamp → decoded at the agent (median);
* ``av_offset_ms``: audio latency (the tone's burst at every full second) − video latency;
* ``rtt_char_ms``: a character typed by the agent → shown in the booth's screen state;
* ``booth_cpu_pct`` / ``booth_rss_mb``: the booth process while it sends (``/proc``).
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
from typing import Any

import httpx

from sim.booth_files import booth_config_text, fast_timing
from sim.brokers import EmbeddedBroker, free_port, stop_process

PASSWORD = "media-check-pass"
BOOTH = "medien-01"
AGENT = "empfang1"
TARGETS = {
    "setup_ms": 1000.0,
    "glass_to_glass_ms": 200.0,
    "av_offset_ms": 100.0,
    "rtt_char_ms": 100.0,
    "booth_cpu_pct": 60.0,
    "booth_rss_mb": 250.0,
}


def _lisa() -> str:
    exe = Path(sys.executable).with_name("lisa")
    return str(exe) if exe.exists() else (shutil.which("lisa") or "lisa")


def bridge_config(workdir: Path, url: str, port: int, ice: str = "") -> str:
    return (
        "\n".join(
            [
                "[bridge]",
                'name = "Medienprüfung"',
                f'database = "{workdir / "bridge.db"}"',
                'phone = "0"',
                'default_queue = "clearing"',
                "[mqtt]",
                f'url = "{url}"',
                'username = ""',
                "[http]",
                'host = "127.0.0.1"',
                f"port = {port}",
                "[media]",
                f"ice_servers = [{ice}]",
                "[[site]]",
                'id = "check"',
                'name = "Prüfung"',
                "[[queue]]",
                'id = "clearing"',
                'name = "Bürgerservice – Empfang"',
                "[[booth]]",
                f'id = "{BOOTH}"',
                'site = "check"',
                'name = "Prüfkabine"',
                "[[agent]]",
                f'id = "{AGENT}"',
                'display_name = "Empfang"',
                "queues = { clearing = 1 }",
            ]
        )
        + "\n"
    )


def media_section(main: tuple[int, int, float], document: tuple[int, int, float]) -> str:
    return (
        '\n[media]\nsources = "test"\nhost_addresses = ["127.0.0.1"]\n'
        f"main = {{ width = {main[0]}, height = {main[1]}, fps = {main[2]} }}\n"
        f"document = {{ width = {document[0]}, height = {document[1]}, fps = {document[2]} }}\n"
    )


class CpuMeter:
    """CPU share (% of one core) and resident memory of a process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self._t0 = time.monotonic()
        self._c0 = self._cpu()

    def _cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def reset(self) -> None:
        self._t0, self._c0 = time.monotonic(), self._cpu()

    def percent(self) -> float:
        return 100.0 * (self._cpu() - self._c0) / max(1e-6, time.monotonic() - self._t0)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


class MediaRig:
    """Broker, bridge and booth for one media check (``start()`` / ``stop()``)."""

    def __init__(
        self,
        main: tuple[int, int, float] = (640, 480, 25.0),
        document: tuple[int, int, float] = (1280, 720, 5.0),
        ice: str = "",
        extra_booth: str = "",
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="lisa-media-"))
        self.broker = EmbeddedBroker()
        self.port = free_port()
        self.screen_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.main, self.document, self.ice, self.extra_booth = main, document, ice, extra_booth
        self.bridge: subprocess.Popen[bytes] | None = None
        self.booth: subprocess.Popen[bytes] | None = None
        self.socket = self.workdir / "booth.sock"

    def start(self) -> None:
        from cloud_bridge.users import UserStore

        self.broker.start()
        config = self.workdir / "bridge.toml"
        config.write_text(bridge_config(self.workdir, self.broker.url, self.port, self.ice))
        users = UserStore(self.workdir / "bridge.db")
        try:
            users.add(AGENT, "agent", PASSWORD)
            users.add("aufsicht", "supervisor", PASSWORD)
        finally:
            users.close()
        lisa = _lisa()
        log = (self.workdir / "bridge.log").open("ab")
        self.bridge = subprocess.Popen(
            [lisa, "bridge", "run", "--config", str(config), "--log-level", "warning"],
            stdout=log,
            stderr=log,
        )
        booth_cfg = self.workdir / "booth.toml"
        booth_cfg.write_text(
            booth_config_text(
                BOOTH,
                self.workdir / "state",
                self.socket,
                mqtt_central=True,
                timing=fast_timing(),
                screens=True,
                extra=media_section(self.main, self.document) + self.extra_booth,
            )
        )
        blog = (self.workdir / "booth.log").open("ab")
        self.booth = subprocess.Popen(
            [
                *(lisa, "booth", "run", "--sim", "--config", str(booth_cfg)),
                *("--broker", self.broker.url, "--screen-port", str(self.screen_port)),
            ],
            stdout=blog,
            stderr=blog,
        )
        self._wait(self._bridge_up, "the bridge's /healthz", 30)

    def _bridge_up(self) -> bool:
        assert self.bridge is not None
        if self.bridge.poll() is not None:
            raise RuntimeError(f"the bridge exited; see {self.workdir / 'bridge.log'}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @staticmethod
    def _wait(check: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def inject(self, name: str, **args: Any) -> None:
        from booth.control_client import ControlClient

        with ControlClient(self.socket, timeout=10) as c:
            c.call("inject", input=name, args=args)

    def screen_state(self) -> dict[str, Any]:
        r = httpx.get(f"http://127.0.0.1:{self.screen_port}/api/state", timeout=5)
        data: dict[str, Any] = r.json()
        return data

    async def screen_socket(self) -> Any:
        """The monitor's WebSocket of the booth screen server (its state on every change)."""
        import websockets

        return await websockets.connect(f"ws://127.0.0.1:{self.screen_port}/ws?screen=monitor")

    def media_stats(self) -> dict[str, Any]:
        r = httpx.get(f"http://127.0.0.1:{self.screen_port}/api/media", timeout=5)
        data: dict[str, Any] = r.json()
        return data

    def stop(self) -> None:
        for proc in (self.booth, self.bridge):
            if proc is not None and proc.poll() is None:
                stop_process(proc)
        self.broker.stop()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


class AgentSession:
    """The agent: logged in, on the events WebSocket, with its media peer."""

    def __init__(self, url: str, relay_only: bool = False) -> None:
        from sim.media_agent import AgentMediaPeer

        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)
        self.token = ""
        self.ws: Any = None
        self.items: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.peer = AgentMediaPeer(self._send, relay_only=relay_only)
        self._reader: asyncio.Task[None] | None = None

    async def _send(self, item: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(item))

    async def start(self) -> None:
        import websockets

        r = await self.http.post("/api/v1/login", json={"username": AGENT, "password": PASSWORD})
        r.raise_for_status()
        self.token = r.json()["token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        ws_url = self.url.replace("http://", "ws://") + f"/api/v1/events?token={self.token}"
        self.ws = await websockets.connect(ws_url, max_size=2**22)
        self._reader = asyncio.create_task(self._read())
        r = await self.http.post("/api/v1/agent/status", json={"status": "ready"})
        r.raise_for_status()

    async def _read(self) -> None:
        async for text in self.ws:
            item = json.loads(text)
            if str(item.get("type", "")).startswith("media."):
                await self.peer.on_message(item)
            await self.items.put(item)

    async def wait_item(self, pred: Any, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("no such live event")
            item = await asyncio.wait_for(self.items.get(), left)
            if pred(item):
                return item

    async def accept(self, call: str) -> None:
        r = await self.http.post(f"/api/v1/calls/{call}/accept")
        r.raise_for_status()

    async def invite(self, call: str, role: str = "interpreter") -> str:
        """An invitation link for ``call``; returns its token."""
        r = await self.http.post(
            f"/api/v1/calls/{call}/invitations", json={"role": role, "name": "Dolmetscherin"}
        )
        r.raise_for_status()
        return str(r.json()["url"]).split("#", 1)[1]

    async def hangup(self, call: str) -> None:
        await self.http.post(f"/api/v1/calls/{call}/hangup")

    async def close(self) -> None:
        await self.peer.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()


class GuestSession:
    """An invited guest (interpreter): the guest WebSocket with its token, and a media peer."""

    def __init__(self, url: str, token: str) -> None:
        from sim.media_agent import AgentMediaPeer

        self.url, self.token = url, token
        self.ws: Any = None
        self.peer = AgentMediaPeer(self._send)
        self._reader: asyncio.Task[None] | None = None

    async def _send(self, item: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(item))

    async def start(self) -> None:
        import websockets

        ws_url = self.url.replace("http://", "ws://") + f"/api/v1/guest/media?token={self.token}"
        self.ws = await websockets.connect(ws_url, max_size=2**22)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            item = json.loads(text)
            if str(item.get("type", "")).startswith("media."):
                await self.peer.on_message(item)

    async def close(self) -> None:
        await self.peer.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()


async def connect_call(rig: MediaRig, agent: AgentSession) -> tuple[str, float]:
    """A citizen walks in, the agent accepts and says ready: (call, accept time)."""
    await asyncio.to_thread(
        rig._wait, lambda: _booth_online(rig, agent), "the booth online at the bridge", 60
    )
    await asyncio.to_thread(rig.inject, "person.enter")
    offer = await agent.wait_item(lambda i: i.get("type") == "offer" and i.get("agent") == AGENT)
    call = str(offer["call"])
    t_accept = time.monotonic()
    await agent.accept(call)
    await agent.wait_item(
        lambda i: i.get("type") == "call" and i.get("id") == call and i.get("status") == "connected"
    )
    await agent.peer.ready(call)
    return call, t_accept


def _booth_online(rig: MediaRig, agent: AgentSession) -> bool:
    r = httpx.get(
        f"{rig.url}/api/v1/status",
        headers={"Authorization": f"Bearer {agent.token}"},
        timeout=5,
    )
    booths = r.json().get("booths", [])
    return any(b["id"] == BOOTH and b.get("online") and b.get("state") == "idle" for b in booths)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


async def measure(
    seconds: float = 5.0, rig_kwargs: dict[str, Any] | None = None, guest: bool = False
) -> dict[str, Any]:
    """One call: setup, then ``seconds`` of measurement; with ``guest`` a third participant
    (an interpreter invited by link) joins and the booth is measured again (``with_guest``)."""
    rig = MediaRig(**(rig_kwargs or {}))
    agent: AgentSession | None = None
    visitor: GuestSession | None = None
    try:
        await asyncio.to_thread(rig.start)
        agent = AgentSession(rig.url)
        await agent.start()
        call, t_accept = await connect_call(rig, agent)
        peer = agent.peer
        await asyncio.wait_for(peer.first_frame.wait(), 15)
        assert peer.first_frame_at is not None
        result: dict[str, Any] = {"setup_ms": round((peer.first_frame_at - t_accept) * 1000, 1)}
        result.update(await _phase(rig, peer, seconds))
        if guest:
            visitor = GuestSession(rig.url, await agent.invite(call))
            await visitor.start()
            t_join = time.monotonic()
            await visitor.peer.ready(call)
            await asyncio.wait_for(visitor.peer.first_frame.wait(), 15)
            assert visitor.peer.first_frame_at is not None
            second = await _phase(rig, peer, seconds, text=False)
            second["guest_setup_ms"] = round((visitor.peer.first_frame_at - t_join) * 1000, 1)
            g_video: Any = visitor.peer.probes.get("video")
            second["guest_fps"] = round(g_video.fps(2.0), 1) if g_video is not None else 0.0
            result["with_guest"] = second
        await agent.hangup(call)
        await asyncio.wait_for(peer.stopped.wait(), 10)
        result["live_tracks_after"] = peer.live_tracks()
        if visitor is not None:
            await asyncio.wait_for(visitor.peer.stopped.wait(), 10)
            result["live_tracks_after"] += visitor.peer.live_tracks()
        return result
    finally:
        if visitor is not None:
            await visitor.close()
        if agent is not None:
            await agent.close()
        await asyncio.to_thread(rig.stop)
        rig.cleanup()


async def _phase(rig: MediaRig, peer: Any, seconds: float, text: bool = True) -> dict[str, Any]:
    assert rig.booth is not None
    meter = CpuMeter(rig.booth.pid)
    await asyncio.sleep(1.0)  # settle: the encoders ramp up
    meter.reset()
    video, doc, audio = _probes(peer)
    v0 = video.frames if video else 0
    d0 = doc.frames if doc else 0
    t0 = time.monotonic()
    rtt: list[float] = []
    typed = ""
    n = max(1, int(seconds))
    screen = await rig.screen_socket() if text else None
    try:
        for i in range(n):
            if screen is not None:
                ch = "abcdefghij"[i % 10]
                typed += ch
                t_key = time.monotonic()
                peer.type_text(ch)
                await _screen_shows(screen, typed, 5.0)
                rtt.append((time.monotonic() - t_key) * 1000)
            await asyncio.sleep(max(0.0, t0 + (i + 1) * seconds / n - time.monotonic()))
    finally:
        if screen is not None:
            await screen.close()
    elapsed = time.monotonic() - t0
    cpu, rss = meter.percent(), meter.rss_mb()
    stats = rig.media_stats()
    out: dict[str, Any] = {
        "booth_to_agent_fps": round(((video.frames if video else 0) - v0) / elapsed, 1),
        "document_fps": round(((doc.frames if doc else 0) - d0) / elapsed, 1),
        "agent_to_booth_fps": stats.get("agent_video_fps"),
        "audio_ok": bool(
            audio is not None
            and audio.tone_ok(440.0)
            and audio.tone_ok(7000.0)
            and stats.get("agent_audio_frames", 0) > 0
        ),
        "audio_7khz_dbfs": round(audio.power_dbfs(7000.0), 1) if audio else None,
        "glass_to_glass_ms": _median(list(video.latency_ms)) if video else None,
        "av_offset_ms": _av_offset(video, audio),
        "booth_cpu_pct": round(cpu, 1),
        "booth_rss_mb": round(rss, 1),
        "main": "{}x{}@{:g}".format(*rig.main),
        "document": "{}x{}@{:g}".format(*rig.document),
        "seconds": round(elapsed, 1),
    }
    if text:
        out["rtt_char_ms"] = _median(rtt)
    return out


async def bench(seconds: float = 10.0) -> dict[str, Any]:
    """``lisa bench media``: the measurement with a third participant joining half-way."""
    return await measure(seconds, guest=True)


def print_bench(result: dict[str, Any]) -> None:
    guest = result.pop("with_guest", None)
    print("agent and booth:")
    print_result(result)
    if guest is not None:
        print("\nwith a third participant (interpreter, mesh from the booth):")
        for key in ("guest_setup_ms", "guest_fps", "booth_cpu_pct", "booth_rss_mb"):
            print(f"{key:22} {guest.get(key)}")


async def _screen_shows(screen: Any, text: str, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until the booth screen's state (pushed on its WebSocket, as the kiosk gets it)
    shows ``text`` as received real-time text."""
    async with asyncio.timeout(timeout):
        while True:
            state = json.loads(await screen.recv())
            if _received(state) == text:
                return


def _received(state: dict[str, Any]) -> str:
    media = state.get("media") or {}
    parts = (media.get("rtt") or {}).get("received") or []
    return "".join(p.get("text", "") for p in parts)


def _probes(peer: Any) -> tuple[Any, Any, Any]:
    return tuple(peer.probes.get(k) for k in ("video", "document", "audio"))


def _av_offset(video: Any, audio: Any) -> float | None:
    if video is None or audio is None or not audio.burst_latency_ms or not video.latency_ms:
        return None
    a = float(statistics.median(audio.burst_latency_ms))
    return round(a - float(statistics.median(video.latency_ms)), 1)


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for key, limit in TARGETS.items():
        value = result.get(key)
        if isinstance(value, int | float):
            out[key] = abs(value) < limit if key == "av_offset_ms" else value < limit
    out["main_fps_ge_20"] = (result.get("booth_to_agent_fps") or 0) >= 20
    out["audio_ok"] = bool(result.get("audio_ok"))
    return out


def print_result(result: dict[str, Any]) -> None:
    ok = verdicts(result)
    for key, value in result.items():
        mark = "" if key not in ok else ("  ok" if ok[key] else "  FAIL")
        print(f"{key:22} {value}{mark}")
