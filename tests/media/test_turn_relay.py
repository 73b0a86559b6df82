"""aiortc ⇄ aiortc through a real coturn with relay-only ICE (``iceTransportPolicy=RELAY``).

Both peers run in this process; every packet between them goes client → coturn → relay
allocation → coturn → client on 127.0.0.1. Checked: the nominated candidate pair of every ICE
transport is relay ⇄ relay with both relay addresses in coturn's relay port range, video frames
(synthetic 320×240 yuv420p at 25 fps) arrive, and a data channel message makes a round trip.
With static credentials, with TURN REST API credentials minted by
:func:`cloud_bridge.turn.ice_servers_for`, and after a coturn restart with a fresh peer
connection pair (aiortc has no ICE restart; our endpoint renegotiates after its watchdog sees no
media).

The selected pair is read from aioice internals (``RTCIceTransport._connection._nominated``):
aiortc 1.16 has no candidate-pair stats in ``getStats()`` and no public selected-pair API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from fractions import Fraction

import aioice.ice
import numpy as np
import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransport,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from cloud_bridge.turn import IceServerConfig, ice_servers_for

from .coturn import Coturn

pytestmark = pytest.mark.realtime

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 320, 240, 25
VIDEO_CLOCK = 90_000
CONNECT_TIMEOUT = 15.0
FRAME_TIMEOUT = 10.0
ECHO_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0
OUTAGE_S = 2.0  # how long coturn stays down in the restart test
SILENCE_S = 1.0  # the watchdog: no frame for this long means the media path is dead


# ---------------------------------------------------------------------------------- media
class SyntheticVideoTrack(MediaStreamTrack):
    """320×240 yuv420p frames at 25 fps: a diagonal gradient that moves one step a frame."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._n = 0
        self._t0: float | None = None
        ramp = np.add.outer(np.arange(HEIGHT), np.arange(WIDTH)).astype(np.uint16)
        self._luma = ramp
        self._chroma = np.full((HEIGHT // 2, WIDTH), 128, dtype=np.uint8)

    async def recv(self) -> VideoFrame:
        """The next frame, paced to ``t0 + n / FPS``."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        delay = self._t0 + self._n / FPS - now
        if delay > 0:
            await asyncio.sleep(delay)  # frame pacing, not waiting for an event
        luma = ((self._luma + 4 * self._n) % 256).astype(np.uint8)
        frame = VideoFrame.from_ndarray(np.vstack([luma, self._chroma]), format="yuv420p")
        frame.pts = self._n * VIDEO_CLOCK // FPS
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


@dataclass
class FrameSink:
    """Consumes a received video track; counts frames and remembers when they came."""

    count: int = 0
    first_at: float | None = None  # time.monotonic() of the first frame
    last_at: float | None = None
    sizes: set[tuple[int, int]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    _tick: asyncio.Event = field(default_factory=asyncio.Event)

    def attach(self, track: MediaStreamTrack) -> None:
        """Start consuming ``track`` (call from the ``track`` event handler)."""
        self.task = asyncio.ensure_future(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            self.count += 1
            if isinstance(frame, VideoFrame):
                self.sizes.add((frame.width, frame.height))
            self._tick.set()

    async def wait_frames(self, n: int) -> None:
        """Return once ``n`` frames in all have arrived (bound it with a timeout)."""
        while self.count < n:
            self._tick.clear()
            await self._tick.wait()

    async def wait_silence(self, quiet_s: float) -> float:
        """Return (the time of) when no frame has come for ``quiet_s`` seconds: the watchdog
        (bound it with a timeout)."""
        while True:
            self._tick.clear()
            try:
                await asyncio.wait_for(self._tick.wait(), quiet_s)
            except TimeoutError:
                return time.monotonic()

    async def expect_no_frame(self, seconds: float) -> None:
        """Fail if a frame arrives within ``seconds``."""
        self._tick.clear()
        before = self.count
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tick.wait(), seconds)
        assert self.count == before, "a frame arrived while the TURN server was down"

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


# ---------------------------------------------------------------------------------- peers
@dataclass
class Call:
    """A caller (sends video, opens the data channel) and a callee (receives, echoes)."""

    caller: RTCPeerConnection
    callee: RTCPeerConnection
    sink: FrameSink
    channel: RTCDataChannel
    replies: asyncio.Queue[str]
    connected_at: float = 0.0

    async def round_trip(self, text: str) -> str:
        """Send ``text`` over the data channel; the callee's echo (within ECHO_TIMEOUT)."""
        self.channel.send(text)
        return await asyncio.wait_for(self.replies.get(), ECHO_TIMEOUT)

    @property
    def pcs(self) -> tuple[RTCPeerConnection, RTCPeerConnection]:
        return self.caller, self.callee


def relay_config(servers: list[RTCIceServer]) -> RTCConfiguration:
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def wait_state(pc: RTCPeerConnection, wanted: str) -> None:
    """Wait until ``pc.connectionState == wanted`` (bound it with a timeout); fail early on
    ``failed``/``closed``."""
    changed = asyncio.Event()

    def on_change() -> None:
        changed.set()

    pc.on("connectionstatechange", on_change)
    try:
        while pc.connectionState != wanted:
            assert pc.connectionState not in ("failed", "closed"), pc.connectionState
            changed.clear()
            await changed.wait()
    finally:
        pc.remove_listener("connectionstatechange", on_change)


async def open_call(caller_servers: list[RTCIceServer], callee_servers: list[RTCIceServer]) -> Call:
    """Two relay-only peer connections, negotiated and connected (data channel open)."""
    caller = RTCPeerConnection(relay_config(caller_servers))
    callee = RTCPeerConnection(relay_config(callee_servers))
    sink = FrameSink()
    replies: asyncio.Queue[str] = asyncio.Queue()
    caller.addTrack(SyntheticVideoTrack())
    channel = caller.createDataChannel("control")
    opened = asyncio.Event()
    channel.on("open", opened.set)

    @channel.on("message")
    def on_reply(message: str | bytes) -> None:
        replies.put_nowait(message if isinstance(message, str) else message.decode())

    @callee.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":
            sink.attach(track)

    @callee.on("datachannel")
    def on_datachannel(remote: RTCDataChannel) -> None:
        @remote.on("message")
        def on_message(message: str | bytes) -> None:
            # an exception escaping a handler would close the whole peer connection
            try:
                remote.send(f"echo:{message if isinstance(message, str) else message.decode()}")
            except Exception:
                log.exception("echo failed")

    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await asyncio.gather(wait_state(caller, "connected"), wait_state(callee, "connected"))
        await opened.wait()
    return Call(caller, callee, sink, channel, replies, connected_at=time.monotonic())


def ice_transports(pc: RTCPeerConnection) -> list[RTCIceTransport]:
    """Every ICE transport of ``pc`` (media and data channel, bundled or not), once each."""
    found: dict[int, RTCIceTransport] = {}
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        found[id(ice)] = ice
    if pc.sctp is not None:
        ice = pc.sctp.transport.transport
        found[id(ice)] = ice
    return list(found.values())


@dataclass(frozen=True)
class SelectedPair:
    local_type: str
    local_port: int
    remote_type: str
    remote_port: int


def selected_pairs(pc: RTCPeerConnection) -> list[SelectedPair]:
    """The nominated candidate pair (component 1, RTP and RTCP are muxed) of each ICE transport."""
    pairs = []
    for ice in ice_transports(pc):
        pair = ice._connection._nominated.get(1)
        assert pair is not None, f"no nominated pair on {ice!r} (state {ice.state})"
        local, remote = pair.local_candidate, pair.remote_candidate
        pairs.append(SelectedPair(local.type, local.port, remote.type, remote.port))
    return pairs


def assert_relayed(call: Call, turn: Coturn) -> None:
    """Both sides: relay ⇄ relay on every ICE transport, both ends allocated by ``turn``."""
    relay_ports = range(turn.min_port, turn.max_port + 1)
    for name, pc in (("caller", call.caller), ("callee", call.callee)):
        pairs = selected_pairs(pc)
        assert pairs, f"{name}: no ICE transport"
        for pair in pairs:
            assert (pair.local_type, pair.remote_type) == ("relay", "relay"), (name, pair)
            assert pair.local_port in relay_ports and pair.remote_port in relay_ports, (
                name,
                pair,
                relay_ports,
            )


async def close_all(pcs: list[RTCPeerConnection]) -> None:
    """Close every peer connection, none for longer than CLOSE_TIMEOUT (``close()`` blocks
    for tens of seconds while the TURN server is unreachable)."""

    async def close_one(pc: RTCPeerConnection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pc.close(), CLOSE_TIMEOUT)

    await asyncio.gather(*(close_one(pc) for pc in pcs))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 when gathering host addresses: offer loopback only. (With the
    relay policy aioice 0.10 gathers no host candidates at all; this keeps a policy slip from
    binding to other interfaces.)"""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda *a, **k: ["127.0.0.1"])


@pytest.fixture
async def calls() -> AsyncIterator[list[Call]]:
    """Calls opened by a test; all closed (bounded) afterwards."""
    opened: list[Call] = []
    yield opened
    for call in opened:
        call.sink.stop()
    await close_all([pc for call in opened for pc in call.pcs])


def static_servers(turn: Coturn) -> list[RTCIceServer]:
    return [RTCIceServer(turn.url, turn.username, turn.password)]


def minted_servers(turn: Coturn, peer: str, now: float | None = None) -> list[RTCIceServer]:
    """RTCIceServer objects from :func:`ice_servers_for` with ``turn``'s REST secret."""
    assert turn.secret is not None
    configs = [IceServerConfig(urls=[turn.url], secret=turn.secret, ttl_s=600)]
    return [
        RTCIceServer(urls=d["urls"], username=d.get("username"), credential=d.get("credential"))
        for d in ice_servers_for(configs, peer=peer, now=time.time() if now is None else now)
    ]


async def check_media_flows(call: Call, frames: int = 10) -> None:
    await asyncio.wait_for(call.sink.wait_frames(frames), FRAME_TIMEOUT)
    assert call.sink.sizes == {(WIDTH, HEIGHT)}
    assert await call.round_trip("ping-1") == "echo:ping-1"
    assert await call.round_trip("ping-2") == "echo:ping-2"


# ---------------------------------------------------------------------------------- tests
async def test_relay_only_with_static_credentials(coturn: Coturn, calls: list[Call]) -> None:
    call = await open_call(static_servers(coturn), static_servers(coturn))
    calls.append(call)
    assert_relayed(call, coturn)
    await check_media_flows(call)


async def test_relay_only_with_minted_rest_credentials(
    coturn_secret: Coturn, calls: list[Call]
) -> None:
    booth = minted_servers(coturn_secret, peer="booth-07")
    agent = minted_servers(coturn_secret, peer="agent:anna")  # ':' sanitised away
    assert booth[0].username is not None and booth[0].username.endswith(":booth-07")
    assert agent[0].username is not None and agent[0].username.endswith(":agent_anna")
    call = await open_call(booth, agent)
    calls.append(call)
    assert_relayed(call, coturn_secret)
    await check_media_flows(call)


@pytest.mark.parametrize(
    "servers",
    [
        pytest.param(
            lambda turn: [RTCIceServer(turn.url, f"{int(time.time()) + 600}:x", "bogus")],
            id="wrong-secret",
        ),
        pytest.param(
            lambda turn: minted_servers(turn, peer="booth-07", now=time.time() - 3600),
            id="expired",
        ),
    ],
)
async def test_coturn_refuses_bad_rest_credentials(
    coturn_secret: Coturn, servers: Callable[[Coturn], list[RTCIceServer]]
) -> None:
    """No relay candidate (so no way to connect relay-only) with a forged or expired username."""
    pc = RTCPeerConnection(relay_config(servers(coturn_secret)))
    try:
        pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        assert "typ relay" not in pc.localDescription.sdp
    finally:
        await close_all([pc])


async def test_new_peer_connection_after_coturn_restart(coturn: Coturn, calls: list[Call]) -> None:
    old = await open_call(static_servers(coturn), static_servers(coturn))
    calls.append(old)
    await check_media_flows(old)

    await asyncio.to_thread(coturn.stop)
    stopped_at = time.monotonic()
    # our endpoint's watchdog: no frame for SILENCE_S seconds → the media path is dead
    noticed_at = await asyncio.wait_for(old.sink.wait_silence(SILENCE_S), SILENCE_S + 5)
    await old.sink.expect_no_frame(max(0.0, stopped_at + OUTAGE_S - time.monotonic()))

    await asyncio.to_thread(coturn.start)  # returns once coturn answers STUN again
    assert coturn.ready_at is not None
    answering_at = coturn.ready_at
    new = await open_call(static_servers(coturn), static_servers(coturn))
    calls.append(new)
    await asyncio.wait_for(new.sink.wait_frames(1), FRAME_TIMEOUT)
    assert new.sink.first_at is not None
    to_first_frame = new.sink.first_at - answering_at
    print(
        f"\ncoturn down {answering_at - stopped_at:.2f} s (watchdog after "
        f"{noticed_at - stopped_at:.2f} s); coturn answering → new pair connected "
        f"{(new.connected_at - answering_at) * 1000:.0f} ms, → first frame "
        f"{to_first_frame * 1000:.0f} ms"
    )
    assert_relayed(new, coturn)
    await check_media_flows(new)
    assert to_first_frame < 5.0
