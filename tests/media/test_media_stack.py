"""The whole media stack as processes on loopback, as ``lisa sim media-check`` runs it: an
embedded MQTT broker, ``lisa bridge run``, ``lisa booth run --sim`` (test pattern and tone) and
the agent's media peer in Python (:mod:`sim.media_agent`) on the bridge's WebSocket.

* relayed only: coturn with TURN REST credentials minted by the bridge, both ends relay-only;
  frames flow and the agent's nominated candidate pair is relay ⇄ relay;
* a path outage: coturn down for 5 s and back on the same port — media is back at the agent
  within 3 s of coturn answering, the ACD call stays connected throughout;
* nothing at rest: after a call with real-time text both ways and a still, no typed text, no
  JPEG and no media file in the booth's state directory, the bridge's database or the logs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import aioice.ice
import httpx
import pytest

from booth.media.tracks import VideoProbe
from sim.booth_files import booth_config_text, fast_timing
from sim.media_check import (
    AGENT,
    BOOTH,
    PASSWORD,
    AgentSession,
    MediaRig,
    _lisa,
    bridge_config,
    connect_call,
)

from .coturn import Coturn

pytestmark = pytest.mark.realtime

SECRET_TEXT = "Geheimtext-4711"
MAIN = (320, 240, 15.0)
DOCUMENT = (640, 360, 5.0)
OUTAGE_S = 5.0
BACK_WITHIN_S = 3.0
MEDIA_SUFFIXES = {
    *(".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".mjpg", ".mjpeg"),
    *(".webm", ".mkv", ".mp4", ".mov", ".avi", ".h264", ".ivf", ".y4m", ".raw", ".yuv"),
    *(".wav", ".ogg", ".opus", ".mp3", ".pcm", ".flac"),
}
#: what media files start with: JPEG, PNG, GIF, RIFF (WAV/AVI/WebP), Ogg, Matroska/WebM, FLAC
MEDIA_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"OggS", b"\x1aE\xdf\xa3", b"fLaC")


class StackRig(MediaRig):
    """:class:`MediaRig` whose booth ``[media]`` section is written here (``relay_only``, a
    small test pattern) and whose bridge logs at ``info`` (what it would log in production)."""

    def __init__(self, *, ice: str = "", relay_only: bool = False) -> None:
        super().__init__(main=MAIN, document=DOCUMENT, ice=ice)
        self.relay_only = relay_only
        self._logs: list[IO[bytes]] = []

    def booth_media(self) -> str:
        w, h, fps = self.main
        dw, dh, dfps = self.document
        return (
            '\n[media]\nsources = "test"\nhost_addresses = ["127.0.0.1"]\n'
            f"relay_only = {'true' if self.relay_only else 'false'}\n"
            f"main = {{ width = {w}, height = {h}, fps = {fps} }}\n"
            f"document = {{ width = {dw}, height = {dh}, fps = {dfps} }}\n"
        )

    def start(self) -> None:
        from cloud_bridge.users import UserStore

        self.broker.start()
        config = self.workdir / "bridge.toml"
        config.write_text(bridge_config(self.workdir, self.broker.url, self.port, self.ice))
        users = UserStore(self.workdir / "bridge.db")
        try:
            users.add(AGENT, "agent", PASSWORD)
        finally:
            users.close()
        lisa = _lisa()
        log = self._log("bridge.log")
        self.bridge = subprocess.Popen(
            [lisa, "bridge", "run", "--config", str(config), "--log-level", "info"],
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
                extra=self.booth_media(),
            )
        )
        blog = self._log("booth.log")
        self.booth = subprocess.Popen(
            [
                *(lisa, "booth", "run", "--sim", "--config", str(booth_cfg)),
                *("--broker", self.broker.url, "--screen-port", str(self.screen_port)),
            ],
            stdout=blog,
            stderr=blog,
        )
        self._wait(self._bridge_up, "the bridge's /healthz", 30)

    def _log(self, name: str) -> IO[bytes]:
        handle = (self.workdir / name).open("ab")
        self._logs.append(handle)
        return handle

    def stop(self) -> None:
        super().stop()
        for handle in self._logs:
            handle.close()


class Agent(AgentSession):
    """:class:`AgentSession` that also keeps every item it got (``seen``)."""

    def __init__(self, url: str, relay_only: bool = False) -> None:
        super().__init__(url, relay_only=relay_only)
        self.seen: list[dict[str, Any]] = []

    async def _read(self) -> None:
        async for text in self.ws:
            item = json.loads(text)
            self.seen.append(item)
            if str(item.get("type", "")).startswith("media."):
                await self.peer.on_message(item)
            await self.items.put(item)

    async def call_status(self, call: str) -> str | None:
        r = await self.http.get("/api/v1/status")
        r.raise_for_status()
        return next((c["status"] for c in r.json()["calls"] if c["id"] == call), None)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent's ICE on loopback only (aioice skips 127.0.0.1 when it gathers by itself)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda *a, **k: ["127.0.0.1"])


def ice_entry(turn: Coturn) -> str:
    """The bridge config's ``[media] ice_servers`` entry for ``turn``."""
    return f'{{ urls = ["{turn.url}"], secret = "{turn.secret}" }}'


async def until(check: Callable[[], Any], what: str, timeout: float) -> Any:  # noqa: ASYNC109
    """Poll ``check`` (every 20 ms; it may be a coroutine function) until it returns something
    truthy, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def booth_get(rig: StackRig, path: str) -> dict[str, Any]:
    """A GET on the booth's screen server (without blocking the loop the agent's media runs in)."""
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.get(f"http://127.0.0.1:{rig.screen_port}{path}")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data


@asynccontextmanager
async def media_call(rig: StackRig, relay_only: bool = False) -> AsyncIterator[tuple[Agent, str]]:
    """The rig started, the agent logged in and connected to a citizen's call with media."""
    agent: Agent | None = None
    try:
        await asyncio.to_thread(rig.start)
        agent = Agent(rig.url, relay_only=relay_only)
        await agent.start()
        call, _ = await connect_call(rig, agent)
        await asyncio.wait_for(agent.peer.first_frame.wait(), 20)
        yield agent, call
    finally:
        if agent is not None:
            await agent.close()
        await asyncio.to_thread(rig.stop)


def nominated(pc: Any) -> list[tuple[str, int, str, int]]:
    """(local type, local port, remote type, remote port) of the nominated pair of each ICE
    transport of ``pc`` (aioice internals: aiortc has no selected-pair API)."""
    transports = {
        id(t.receiver.transport.transport): t.receiver.transport.transport
        for t in pc.getTransceivers()
    }
    if pc.sctp is not None:
        transports[id(pc.sctp.transport.transport)] = pc.sctp.transport.transport
    pairs = []
    for ice in transports.values():
        pair = ice._connection._nominated.get(1)
        assert pair is not None, f"no nominated pair (ICE {ice.state})"
        local, remote = pair.local_candidate, pair.remote_candidate
        pairs.append((local.type, local.port, remote.type, remote.port))
    return pairs


def candidate_types(sdp: str) -> set[str]:
    return {
        line.split(" typ ", 1)[1].split()[0]
        for line in sdp.splitlines()
        if line.startswith("a=candidate:")
    }


def assert_relayed(agent: Agent, turn: Coturn) -> None:
    pc = agent.peer.pc
    assert pc is not None
    assert candidate_types(pc.remoteDescription.sdp) == {"relay"}  # the booth's offer
    assert candidate_types(pc.localDescription.sdp) == {"relay"}  # the agent's answer
    relay_ports = range(turn.min_port, turn.max_port + 1)
    pairs = nominated(pc)
    assert pairs
    for local_type, local_port, remote_type, remote_port in pairs:
        assert (local_type, remote_type) == ("relay", "relay"), pairs
        assert local_port in relay_ports and remote_port in relay_ports, (pairs, relay_ports)


def frames(agent: Agent) -> int:
    probe = agent.peer.probes.get("video")
    return probe.frames if probe is not None else 0


# ---------------------------------------------------------------------------------- tests
async def test_media_relayed_through_coturn_only(coturn_secret: Coturn) -> None:
    turn = coturn_secret
    rig = StackRig(ice=ice_entry(turn), relay_only=True)
    try:
        async with media_call(rig, relay_only=True) as (agent, call):
            await until(lambda: frames(agent) >= 15, "15 video frames at the agent", 10)
            await until(lambda: "document" in agent.peer.probes, "the document camera", 5)

            async def booth_gets_video() -> dict[str, Any] | None:
                stats = await booth_get(rig, "/api/media")
                return stats if stats["agent_video_fps"] > 0 else None

            stats = await until(booth_gets_video, "the agent's video at the booth", 10)
            assert stats["peers"][f"agent:{AGENT}"]["state"] == "connected"
            assert_relayed(agent, turn)
            assert await agent.call_status(call) == "connected"
    finally:
        rig.cleanup()


async def test_media_comes_back_after_a_turn_outage(coturn_secret: Coturn) -> None:
    turn = coturn_secret
    rig = StackRig(ice=ice_entry(turn), relay_only=True)
    try:
        async with media_call(rig, relay_only=True) as (agent, call):
            await until(lambda: frames(agent) >= 10, "video at the agent", 10)
            before = agent.peer.probes["video"]
            await asyncio.to_thread(turn.stop)
            stopped = time.monotonic()
            # the path is really gone: no new frame for a second, well within the outage
            count, changed = frames(agent), time.monotonic()
            while time.monotonic() - changed < 1.0:
                assert time.monotonic() - stopped < OUTAGE_S, "video kept coming without TURN"
                await asyncio.sleep(0.05)
                if frames(agent) != count:
                    count, changed = frames(agent), time.monotonic()
            while (left := stopped + OUTAGE_S - time.monotonic()) > 0:
                assert await agent.call_status(call) == "connected"  # the call never drops
                await asyncio.sleep(min(0.5, left))
            await asyncio.to_thread(turn.restart)  # the same port; returns when STUN answers
            assert turn.ready_at is not None

            def back() -> float | None:
                probe = agent.peer.probes.get("video")
                if not isinstance(probe, VideoProbe) or probe is before:
                    return None
                if probe.first_frame_at is None:
                    return None
                return time.monotonic() - (time.time() - probe.first_frame_at)

            back_at = await until(back, "video at the agent again", 15)
            took = back_at - turn.ready_at
            print(
                f"\ncoturn down {turn.ready_at - stopped:.2f} s; media back at the agent "
                f"{took * 1000:.0f} ms after coturn answered (offers: {agent.peer.offers})"
            )
            assert took < BACK_WITHIN_S
            await until(lambda: frames(agent) >= 5, "video flowing again", 5)
            assert_relayed(agent, turn)
            assert "recovering" in agent.peer.states  # the booth said so on the way
            assert await agent.call_status(call) == "connected"
            assert not [i for i in agent.seen if i.get("type") == "call_ended"]
            assert not [i for i in agent.seen if i.get("type") == "media.stop"]
    finally:
        rig.cleanup()


def rest_of(root: Path, still: bytes) -> list[str]:
    """Every place below ``root`` where something of the call was kept: the typed text, pieces of
    the still, JPEG data (a start of image followed by a marker: SQLite's binary pages hold
    random bytes), a media file (by name or by its first bytes)."""
    found = []
    needles = [SECRET_TEXT.encode(), SECRET_TEXT.encode("utf-16-le")]
    needles += [still[i : i + 64] for i in range(0, len(still) - 64, max(64, len(still) // 8))]
    jpeg = re.compile(rb"\xff\xd8\xff[\xc0\xc4\xdb\xe0-\xef\xfe]")
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue  # directories, the control socket
        data = path.read_bytes()
        found += [f"{path}: contains {n[:20]!r}" for n in needles if n in data]
        if jpeg.search(data):
            found.append(f"{path}: contains JPEG data")
        if path.suffix.lower() in MEDIA_SUFFIXES:
            found.append(f"{path}: a media file")
        if data.startswith(MEDIA_MAGIC) or data[4:8] == b"ftyp":
            found.append(f"{path}: starts like a media file ({data[:8]!r})")
    return found


async def test_nothing_of_the_call_is_kept() -> None:
    rig = StackRig()
    try:
        async with media_call(rig) as (agent, call):
            peer = agent.peer
            await until(lambda: peer.t140 is not None and peer.t140.readyState == "open", "t140", 5)
            peer.type_text(SECRET_TEXT)

            async def booth_shows() -> bool:
                received = (await booth_get(rig, "/api/state"))["media"]["rtt"]["received"]
                return any(SECRET_TEXT in r["text"] for r in received)

            await until(booth_shows, "the agent's text on the booth screen", 5)
            async with httpx.AsyncClient(timeout=5) as http:  # the citizen types on the touch
                r = await http.post(
                    f"http://127.0.0.1:{rig.screen_port}/api/rtt", json={"text": SECRET_TEXT}
                )
                assert r.status_code == 200, r.text
            await until(lambda: SECRET_TEXT in peer.received_text, "the booth's text", 5)
            still = await peer.request_still("s1")
            assert still.data[:3] == b"\xff\xd8\xff" and len(still.data) == still.size

            await agent.hangup(call)

            async def media_stopped() -> bool:
                return not (await booth_get(rig, "/api/media"))["active"]

            await until(media_stopped, "the booth's media stopped", 10)
            stats = await booth_get(rig, "/api/media")
            assert stats == {"active": False} or stats.get("live_tracks") == 0
            media = (await booth_get(rig, "/api/state"))["media"]
            assert not media["active"] and media["rtt"] == {"received": [], "sent": ""}
            await until(lambda: not agent.peer.pc or agent.peer.stopped.is_set(), "media.stop", 5)
            db = rig.workdir / "bridge.db"
            assert db.exists() and (rig.workdir / "state").is_dir()
            running = rest_of(
                rig.workdir, bytes(still.data)
            )  # with the database's -wal as it is now
        stored = rest_of(
            rig.workdir, bytes(still.data)
        )  # processes stopped: the WAL checkpointed into the file
        assert running == [] and stored == [], "\n".join(running + stored)
        # not vacuous: the bridge stored the call's log lines, the logs were written
        assert b"COMPLETEAGENT" in db.read_bytes() + _wal(db)
        for log in ("bridge.log", "booth.log"):
            assert (rig.workdir / log).stat().st_size > 0, log
    finally:
        rig.cleanup()


def _wal(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
