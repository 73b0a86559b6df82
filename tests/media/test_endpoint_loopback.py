"""The booth's media endpoint ⇄ the Python agent peer on loopback, signalling wired directly
(what the bridge relays, without the bridge): offer/answer, media both ways, real-time text,
a still, a camera failing mid-call, the watchdog's renegotiation, and nothing live after
``stop_all``. The same endpoint behind the real bridge: tests/media/test_media_bridge.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from booth.media.config import MediaConfig
from booth.media.endpoint import MediaEndpoint
from lisa_messages import MediaControl, MediaReport, now_rfc3339
from sim.media_agent import AgentMediaPeer

pytestmark = [pytest.mark.asyncio, pytest.mark.realtime]

SESSION = "s-test"
CALL = "c-test"
PEER = "agent:maria"


class Wire:
    """Relays like the bridge: booth reports → agent items, agent items → booth controls."""

    def __init__(self, config: MediaConfig, devices: dict[str, Any] | None = None) -> None:
        self.endpoint = MediaEndpoint(config, devices or {}, self._from_booth)
        self.agent = AgentMediaPeer(self._from_agent, video=(320, 240, 15.0))
        self.reports: list[MediaReport] = []
        self.drop_answers = False

    def _from_booth(self, report: MediaReport) -> None:
        self.reports.append(report)
        item: dict[str, Any] = {"call": CALL, "booth": "b1"}
        if report.type == "offer":
            item.update(type="media.offer", pc=report.pc, sdp=report.sdp, ice_servers=[])
        elif report.type == "state":
            item.update(type="media.state", state=report.state, devices=report.devices)
        else:
            return
        asyncio.get_running_loop().create_task(self.agent.on_message(item))

    async def _from_agent(self, item: dict[str, Any]) -> None:
        if item["type"] == "media.ready":
            await self.control("join", peer=PEER, role="agent", name="Frau Müller")
        elif item["type"] == "media.answer" and not self.drop_answers:
            await self.control("answer", peer=PEER, pc=item["pc"], sdp=item["sdp"])

    async def control(self, type_: str, **fields: Any) -> None:
        msg = MediaControl(id="x", session=SESSION, type=type_, ts=now_rfc3339(), **fields)
        await self.endpoint.handle(msg)


async def wait_for(check: Any, what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def make_config(**kw: Any) -> MediaConfig:
    base: dict[str, Any] = {
        "sources": "test",
        "host_addresses": ["127.0.0.1"],
        "main": {"width": 320, "height": 240, "fps": 15},
        "document": {"width": 640, "height": 360, "fps": 5},
    }
    base.update(kw)
    return MediaConfig.model_validate(base)


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    w = Wire(make_config())
    yield w
    await w.agent.close()
    await w.endpoint.close()


async def test_media_both_ways_text_still_and_stop(wire: Wire) -> None:
    await wire.agent.ready(CALL)
    await asyncio.wait_for(wire.agent.first_frame.wait(), 10)
    probes = wire.agent.probes
    await wait_for(lambda: "document" in probes and probes["document"].frames > 0, "document")
    await wait_for(lambda: probes["audio"].frames > 20, "audio at the agent")
    peer = wire.endpoint.peers[PEER]
    await wait_for(lambda: peer.stats.get("video") and peer.stats["video"].frames > 5, "video in")
    await wait_for(lambda: wire.endpoint.mixer.frames_in.get(PEER, 0) > 10, "audio at the booth")
    assert peer.state == "connected"
    # the agent's video is on the booth screen's hub, the view lists the peer
    assert wire.endpoint.hub.has(f"{PEER}/video")
    view = wire.endpoint.view()
    assert view["peers"][0]["name"] == "Frau Müller"
    # real-time text: agent → booth as typed, booth → agent
    wire.agent.type_text("Guten Tag")
    await wait_for(lambda: peer.text_in.text == "Guten Tag", "text at the booth")
    wire.endpoint.send_text("Hallo")
    await wait_for(lambda: wire.agent.received_text == "Hallo", "text at the agent")
    # a full-resolution still of the document camera
    still = await wire.agent.request_still("s1")
    assert still.width == 1920 and len(still.data) == still.size > 10_000
    assert bytes(still.data[:2]) == b"\xff\xd8"  # a JPEG
    # the end: nothing stays live, the screen's frames are gone
    await wire.endpoint.stop_all("ended")
    assert wire.endpoint.live_tracks() == 0
    assert not wire.endpoint.hub.keys()
    assert wire.endpoint.view()["active"] is False


async def test_reload_gets_a_fresh_offer(wire: Wire) -> None:
    await wire.agent.ready(CALL)
    await asyncio.wait_for(wire.agent.first_frame.wait(), 10)
    first = wire.agent.pc_id
    await wire.agent.close()  # the page is gone …
    wire.agent = AgentMediaPeer(wire._from_agent, video=(320, 240, 15.0))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await wire.agent.ready(CALL)  # … and back: media within 3 s
    await asyncio.wait_for(wire.agent.first_frame.wait(), 3)
    assert wire.agent.pc_id != first
    assert loop.time() - t0 < 3.0


async def test_unreachable_peer_is_reported() -> None:
    w = Wire(make_config(connect_timeout_s=1.0, retry_s=0.3))
    w.drop_answers = True  # the answers never reach the booth: no media
    try:
        await w.agent.ready(CALL)
        await wait_for(
            lambda: any(r.type == "unreachable" for r in w.reports), f"unreachable {w.reports}", 5
        )
    finally:
        await w.agent.close()
        await w.endpoint.close()


async def test_path_loss_renegotiates(wire: Wire) -> None:
    await wire.agent.ready(CALL)
    await asyncio.wait_for(wire.agent.first_frame.wait(), 10)
    peer = wire.endpoint.peers[PEER]
    first = peer.current.id if peer.current else None
    # the agent's side goes silent (as if the path died): both watchdogs fire
    assert wire.agent.pc is not None
    for t in wire.agent.pc.getTransceivers():
        if t.sender.track is not None:
            t.sender.track.stop()
    if wire.agent.control is not None:
        with contextlib.suppress(Exception):
            wire.agent.control.close()
    await wait_for(lambda: peer.state == "recovering", "recovering", 6)
    await wait_for(
        lambda: peer.state == "connected" and peer.current is not None and peer.current.id != first,
        "a new connection with media",
        8,
    )


async def test_a_camera_failing_mid_call_degrades_the_call() -> None:
    """The booth's HAL devices (simulated cameras and audio): the document camera is unplugged
    mid-call → the agent is told (media.state devices), audio and the main camera go on; it
    comes back → told again."""
    from hal.base import DriverContext
    from hal.clock import LoopClock
    from hal.events import CameraRole
    from sim.devices.audio import SimAudioIO, SimAudioIOOptions
    from sim.devices.camera import SimCamera, SimCameraOptions

    ctx = DriverContext(clock=LoopClock())
    main = SimCamera("camera_main", SimCameraOptions(width=320, height=240, fps=15), ctx)
    doc = SimCamera(
        "camera_document",
        SimCameraOptions(role=CameraRole.DOCUMENT, width=640, height=360, fps=5),
        ctx,
    )
    audio = SimAudioIO("audio", SimAudioIOOptions(), ctx)
    devices = {"camera_main": main, "camera_document": doc, "audio": audio}
    w = Wire(make_config(sources="devices"), devices)
    try:
        await w.agent.ready(CALL)
        await asyncio.wait_for(w.agent.first_frame.wait(), 10)
        probes = w.agent.probes
        await wait_for(lambda: probes["document"].frames > 0, "document frames")
        await wait_for(lambda: audio.played_frames > 0, "the agent's audio on the speaker")
        doc.unplug()
        await wait_for(
            lambda: w.agent.devices.get("camera_document") == "unavailable", "agent told", 6
        )
        audio_before, video_before = probes["audio"].frames, probes["video"].frames
        await wait_for(
            lambda: (
                probes["audio"].frames > audio_before + 25
                and probes["video"].frames > video_before + 10
            ),
            "audio and the main camera going on",
        )
        assert w.endpoint.peers[PEER].state == "connected"
        doc.normal()
        await wait_for(lambda: w.agent.devices.get("camera_document") == "ok", "recovered", 6)
    finally:
        await w.agent.close()
        await w.endpoint.close()
