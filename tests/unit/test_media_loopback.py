"""aiortc <-> aiortc in one process over loopback: the test sources arrive, measurable.

One peer sends a :class:`PatternTrack` and a :class:`ToneTrack` (VP8 + Opus over real UDP on
127.0.0.1); the other measures them with :class:`VideoProbe` / :class:`AudioProbe`. Real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aioice.ice
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from booth.media.tracks import AudioProbe, PatternTrack, ToneTrack, VideoProbe

pytestmark = pytest.mark.realtime


class Limited(MediaStreamTrack):
    """Passes ``count`` frames of ``track`` on, then ends (so ``probe.run`` returns)."""

    def __init__(self, track: MediaStreamTrack, count: int) -> None:
        super().__init__()
        self.kind = track.kind
        self.track = track
        self.left = count

    async def recv(self) -> Any:
        if self.left <= 0:
            raise MediaStreamError
        self.left -= 1
        return await self.track.recv()


async def test_pattern_and_tone_arrive_over_webrtc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda *a, **k: ["127.0.0.1"])
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    video, audio = PatternTrack(640, 480, 25.0), ToneTrack()
    video_probe, audio_probe = VideoProbe(), AudioProbe()
    runs: list[asyncio.Task[None]] = []

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":
            runs.append(asyncio.ensure_future(video_probe.run(Limited(track, 75))))
        else:
            runs.append(asyncio.ensure_future(audio_probe.run(Limited(track, 125))))

    try:
        sender.addTrack(video)
        sender.addTrack(audio)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)

        await asyncio.wait_for(video_probe.first_frame.wait(), 5.0)
        await asyncio.wait_for(audio_probe.first_frame.wait(), 5.0)
        assert len(runs) == 2
        await asyncio.wait_for(asyncio.gather(*runs), 15.0)  # 3 s of video, 2.5 s of audio
        levels = {f: audio_probe.power_dbfs(f) for f in (440.0, 7000.0)}
    finally:
        video.stop()
        audio.stop()
        for pc in (sender, receiver):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pc.close(), 5.0)
        for run in runs:
            run.cancel()

    assert (video_probe.width, video_probe.height) == (640, 480)
    assert video_probe.stamped >= 0.9 * video_probe.frames
    assert video_probe.last_seq is not None and video_probe.last_seq >= 70
    assert 0.0 <= min(video_probe.latency_ms) and max(video_probe.latency_ms) < 1000.0
    assert all(level > -30.0 for level in levels.values()), levels  # sent at -20 dBFS
    assert audio_probe.burst_onsets, "no burst onset detected"
    assert all(-20.0 <= v < 500.0 for v in audio_probe.burst_latency_ms)
