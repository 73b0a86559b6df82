"""The media tracks and probes, track -> probe directly (no WebRTC), on virtual time.

Sources pace on the loop clock and the probes take ``time_source=loop.time`` here, so pacing,
stamps and latencies are exact and nothing waits in wall time.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from booth.media.pattern import PatternStamp, decode_frame
from booth.media.tracks import (
    AudioProbe,
    CameraTrack,
    MicrophoneTrack,
    PatternTrack,
    SpeakerSink,
    ToneTrack,
    VideoProbe,
    mono_samples,
)
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import AudioStreams, DeviceError
from hal.events import Frame
from sim.devices.audio import SimAudioIO, SimAudioIOOptions
from sim.devices.camera import SimCamera, SimCameraOptions

#: Probe clocks start here: not on a full second, so the first burst comes after a quiet spell.
EPOCH = 1_767_225_600.37


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


class Frames(MediaStreamTrack):
    """A received-like track from a list of frames (then it ends)."""

    kind = "audio"

    def __init__(self, frames: list[Any]) -> None:
        super().__init__()
        self.frames = frames

    async def recv(self) -> Any:
        if not self.frames:
            raise MediaStreamError
        await asyncio.sleep(0.02)
        return self.frames.pop(0)


class Silent(MediaStreamTrack):
    """A track that never delivers a frame."""

    kind = "audio"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


def clock() -> Callable[[], float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    return lambda: EPOCH + loop.time() - start


@pytest.fixture
async def camera() -> AsyncIterator[SimCamera]:
    cam = SimCamera("camera", SimCameraOptions(width=320, height=240, fps=30.0), _context())
    await cam.start()
    yield cam
    await cam.stop()


@pytest.fixture
async def audio() -> AsyncIterator[SimAudioIO]:
    device = SimAudioIO("audio", SimAudioIOOptions(), _context())
    await device.start()
    yield device
    await device.stop()


def _context() -> DriverContext:
    return DriverContext(clock=LoopClock())


# --- PatternTrack ----------------------------------------------------------------------------


async def test_pattern_track_paces_and_stamps() -> None:
    loop = asyncio.get_running_loop()
    now = clock()
    track = PatternTrack(320, 240, 25.0, time_source=now)
    t0 = loop.time()
    frames = [await track.recv() for _ in range(50)]
    assert loop.time() - t0 == pytest.approx(49 / 25, abs=1e-6)
    assert track.frames_sent == 50
    assert [f.pts for f in frames] == [n * 3600 for n in range(50)]
    assert all(f.time_base == fractions.Fraction(1, 90_000) for f in frames)
    assert (frames[0].width, frames[0].height, frames[0].format.name) == (320, 240, "yuv420p")
    stamps = [decode_frame(f) for f in frames]
    assert stamps[0] == PatternStamp(0, int(EPOCH * 1000))
    assert stamps[-1] == PatternStamp(49, int((EPOCH + 49 / 25) * 1000))


async def test_video_probe_measures_a_pattern_track() -> None:
    now = clock()
    probe = VideoProbe(time_source=now)
    run = asyncio.ensure_future(probe.run(Limited(PatternTrack(640, 480, 25.0, now), 75)))
    await asyncio.wait_for(probe.first_frame.wait(), 1.0)
    assert probe.first_frame_at == pytest.approx(EPOCH)
    await asyncio.wait_for(run, 10.0)
    assert (probe.frames, probe.stamped, probe.last_seq, probe.skipped) == (75, 75, 74, 0)
    assert (probe.width, probe.height) == (640, 480)
    assert probe.fps(2.0) == pytest.approx(25.0, rel=0.02)
    assert max(abs(v) for v in probe.latency_ms) <= 1.0  # same clock, no network


async def test_video_probe_sees_latency_and_gaps() -> None:
    now = clock()
    late = 0.120

    class Lossy(Limited):
        async def recv(self) -> Any:
            frame = await super().recv()
            if self.left % 10 == 0:  # every 10th frame lost
                frame = await super().recv()
            return frame

    probe = VideoProbe(time_source=lambda: now() + late)
    await asyncio.wait_for(probe.run(Lossy(PatternTrack(320, 240, 25.0, now), 50)), 10.0)
    assert probe.skipped >= 4
    assert all(abs(v - 120.0) <= 1.0 for v in probe.latency_ms)


async def test_pattern_generation_is_cheap() -> None:
    track = PatternTrack(640, 480, 25.0)
    await track.recv()
    cpu = time.process_time()
    for _ in range(50):
        await track.recv()
    per_second = (time.process_time() - cpu) / 2.0  # 50 frames = 2 s of video
    assert per_second < 0.10, f"{per_second:.1%} of a core for 640x480@25"


async def test_stopped_tracks_end() -> None:
    for track in (PatternTrack(320, 240), ToneTrack()):
        await track.recv()
        track.stop()
        with pytest.raises(MediaStreamError):
            await track.recv()
    probe = VideoProbe()
    track = PatternTrack(320, 240)
    track.stop()
    await asyncio.wait_for(probe.run(track), 1.0)
    assert probe.frames == 0


# --- ToneTrack / AudioProbe ------------------------------------------------------------------


async def test_tone_track_frames() -> None:
    loop = asyncio.get_running_loop()
    track = ToneTrack(time_source=clock())
    t0 = loop.time()
    frames = [await track.recv() for _ in range(10)]
    assert loop.time() - t0 == pytest.approx(0.18, abs=1e-6)
    for n, frame in enumerate(frames):
        assert (frame.format.name, frame.layout.name, frame.samples) == ("s16", "mono", 960)
        assert (frame.sample_rate, frame.pts) == (48_000, n * 960)
        assert frame.time_base == fractions.Fraction(1, 48_000)
    assert track.frames_sent == 10


async def test_audio_probe_hears_tones_and_bursts() -> None:
    now = clock()
    probe = AudioProbe(freqs=(440.0, 7000.0, 1000.0), time_source=now)
    await asyncio.wait_for(probe.run(Limited(ToneTrack(time_source=now), 175)), 10.0)  # 3.5 s
    assert probe.frames == 175 and probe.samples == 175 * 960
    assert probe.tone_ok(440.0) and probe.tone_ok(7000.0)
    assert probe.power_dbfs(440.0) == pytest.approx(-20.0, abs=2.0)
    assert probe.power_dbfs(7000.0) == pytest.approx(-20.0, abs=2.0)
    assert not probe.tone_ok(1000.0)
    assert probe.power_dbfs(1000.0) < -60.0
    # bursts at every full second after the start (EPOCH + 0.37): 3
    assert [round(t) for t in probe.burst_onsets] == [math.ceil(EPOCH) + i for i in range(3)]
    assert all(abs(v) <= 5.0 for v in probe.burst_latency_ms), list(probe.burst_latency_ms)
    with pytest.raises(KeyError):
        probe.power_dbfs(123.0)


async def test_audio_probe_measures_burst_latency() -> None:
    now = clock()
    probe = AudioProbe(time_source=lambda: now() + 0.150)
    await asyncio.wait_for(probe.run(Limited(ToneTrack(time_source=now), 150)), 10.0)
    assert len(probe.burst_latency_ms) >= 2
    assert all(abs(v - 150.0) <= 5.0 for v in probe.burst_latency_ms), probe.burst_latency_ms


async def test_audio_probe_power_fades_without_audio() -> None:
    now = clock()
    probe = AudioProbe(time_source=now)
    await asyncio.wait_for(probe.run(Limited(ToneTrack(time_source=now), 25)), 10.0)
    assert probe.tone_ok(440.0)
    await asyncio.sleep(1.0)  # virtual: a second without frames
    assert probe.power_dbfs(440.0) == -120.0


async def test_probe_stop_ends_run_while_waiting() -> None:
    probe = AudioProbe()
    run = asyncio.ensure_future(probe.run(Silent()))
    await asyncio.sleep(0)
    assert probe.running
    probe.stop()
    await asyncio.wait_for(run, 1.0)
    assert not probe.running and probe.frames == 0


def _stereo(samples: np.ndarray, rate: int = 48_000, planar: bool = False) -> av.AudioFrame:
    if planar:
        frame = av.AudioFrame.from_ndarray(
            np.stack([samples, samples]), format="s16p", layout="stereo"
        )
    else:
        frame = av.AudioFrame.from_ndarray(
            np.repeat(samples, 2).reshape(1, -1), format="s16", layout="stereo"
        )
    frame.sample_rate = rate
    return frame


def _sine(
    frequency: float, count: int, rate: int = 48_000, level_dbfs: float = -20.0
) -> np.ndarray:
    amplitude = math.sqrt(2) * 10 ** (level_dbfs / 20) * 32767
    n = np.arange(count)
    return np.round(amplitude * np.sin(2 * math.pi * frequency * n / rate)).astype(np.int16)


def test_mono_samples_downmixes() -> None:
    tone = _sine(1000.0, 960)
    for frame in (_stereo(tone), _stereo(tone, planar=True)):
        mono = mono_samples(frame)
        assert mono.shape == (960,)
        assert np.allclose(mono * 32768.0, tone, atol=1.0)
    flt = av.AudioFrame.from_ndarray(
        (tone / 32768.0).astype(np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    assert np.allclose(mono_samples(flt), tone / 32768.0, atol=1e-6)


# --- CameraTrack -----------------------------------------------------------------------------


async def test_camera_track_sends_camera_frames(camera: SimCamera) -> None:
    loop = asyncio.get_running_loop()
    track = CameraTrack(camera, fps=25.0)
    t0 = loop.time()
    frames = [await track.recv() for _ in range(26)]
    assert loop.time() - t0 >= 25 / 25 - 1e-6  # never faster than fps (the camera does 30)
    assert all((f.width, f.height, f.format.name) == (320, 240, "gray") for f in frames)
    pts = [f.pts for f in frames]
    assert pts == sorted(set(pts))
    assert track.frames_sent == 26 and not track.failed
    gray = frames[3].to_ndarray()
    assert gray.shape == (240, 320) and int(gray.max()) > 200  # the sim's bright bar
    track.stop()


async def test_camera_track_survives_an_unplugged_camera(camera: SimCamera) -> None:
    loop = asyncio.get_running_loop()
    health: list[tuple[bool, str]] = []
    track = CameraTrack(camera, fps=25.0, on_health=lambda ok, why: health.append((ok, why)))
    await track.recv()
    camera.unplug()
    placeholder = await track.recv()
    assert track.failed and health == [(False, "camera: camera unplugged")]
    assert (placeholder.width, placeholder.height, placeholder.format.name) == (320, 240, "yuv420p")
    luma = placeholder.to_ndarray()[:240]
    assert int(luma.min()) == int(luma.max()) == 40
    times, pts = [], [placeholder.pts]
    for _ in range(3):
        frame = await track.recv()
        times.append(loop.time())
        pts.append(frame.pts)
    assert np.allclose(np.diff(times), 1.0, atol=0.05)  # about once a second
    assert len(health) == 1 and track.placeholders_sent == 4
    camera.normal()
    t_back = loop.time()
    frame = await track.recv()
    assert loop.time() - t_back <= 1.05
    assert (frame.width, frame.format.name) == (320, "gray")
    assert health == [(False, "camera: camera unplugged"), (True, "")]
    assert not track.failed
    pts.append(frame.pts)
    assert pts == sorted(set(pts))
    track.stop()


class GatedCamera:
    """A camera whose grab waits until the test opens the gate (a stalled driver), in bgr24."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.grabs = 0

    async def grab(self) -> Frame:
        await self.gate.wait()
        self.grabs += 1
        data = np.full((120, 160, 3), (255, 0, 0), dtype=np.uint8).tobytes()  # blue
        return Frame(160, 120, "bgr24", data, 0.0, self.grabs)


async def test_camera_track_survives_a_stalled_camera() -> None:
    loop = asyncio.get_running_loop()
    cam = GatedCamera()
    health: list[tuple[bool, str]] = []
    track = CameraTrack(cam, fps=10.0, on_health=lambda ok, why: health.append((ok, why)))
    frame = await track.recv()
    assert (frame.width, frame.height, frame.format.name) == (160, 120, "bgr24")
    cam.gate.clear()
    t0 = loop.time()
    placeholder = await track.recv()
    assert loop.time() - t0 == pytest.approx(2.0 + 0.1, abs=0.01)  # pacing + stall timeout
    assert (placeholder.width, placeholder.height) == (160, 120)
    assert health == [(False, "camera delivered no frame for 2 s")]
    await track.recv()  # another placeholder a second later; still one grab pending
    assert cam.grabs == 1
    cam.gate.set()
    frame = await track.recv()
    assert frame.format.name == "bgr24" and health[-1] == (True, "")
    assert cam.grabs == 2
    track.stop()


async def test_camera_track_rejects_odd_frames_as_failure() -> None:
    class Broken:
        async def grab(self) -> Frame:
            return Frame(4, 4, "yuyv", b"\0" * 32, 0.0, 1)

    health: list[tuple[bool, str]] = []
    track = CameraTrack(Broken(), fps=5.0, on_health=lambda ok, why: health.append((ok, why)))
    frame = await track.recv()
    assert (frame.width, frame.height) == (640, 480)  # placeholder of the default size
    assert health == [(False, "unsupported camera pixel format 'yuyv'")]


async def test_camera_track_probe_sees_placeholders_flow(camera: SimCamera) -> None:
    now = clock()
    probe = VideoProbe(time_source=now)
    track = CameraTrack(camera, fps=15.0)
    camera.unplug()
    await asyncio.wait_for(probe.run(Limited(track, 4)), 10.0)
    assert probe.frames == 4 and probe.stamped == 0
    assert probe.fps(3.0) == pytest.approx(1.0, rel=0.05)


# --- MicrophoneTrack / SpeakerSink -----------------------------------------------------------


async def test_microphone_track_sends_the_device_stream(audio: SimAudioIO) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(audio, AudioStreams)
    now = clock()
    probe = AudioProbe(freqs=(1000.0, 440.0), time_source=now)
    track = MicrophoneTrack(audio)
    t0 = loop.time()
    await asyncio.wait_for(probe.run(Limited(track, 50)), 10.0)
    assert loop.time() - t0 == pytest.approx(1.0, abs=1e-6)  # paced by the device
    assert track.frames_sent == 50 and probe.samples == 50 * 960
    assert probe.power_dbfs(1000.0) == pytest.approx(-20.0, abs=1.5)
    assert not probe.tone_ok(440.0)


async def test_microphone_track_sends_silence_while_the_device_fails(audio: SimAudioIO) -> None:
    loop = asyncio.get_running_loop()
    health: list[tuple[bool, str]] = []
    track = MicrophoneTrack(audio, on_health=lambda ok, why: health.append((ok, why)))
    await track.recv()
    audio.fail("sound card gone")
    t0 = loop.time()
    silent = [await track.recv() for _ in range(25)]
    assert loop.time() - t0 == pytest.approx(24 * 0.02, abs=1e-6)  # silence paced by the loop
    assert health == [(False, "audio: sound card gone")] and track.failed
    assert all(not f.to_ndarray().any() for f in silent)
    audio.recover()
    for _ in range(60):  # within ~1 s the device is tried again
        frame = await track.recv()
        if not track.failed:
            break
    assert health[-1] == (True, "") and frame.to_ndarray().any()
    pts = [f.pts for f in silent]
    assert np.all(np.diff(pts) == 960)


async def test_speaker_sink_plays_a_received_track(audio: SimAudioIO) -> None:
    sink = SpeakerSink(audio)
    frames = [_stereo(_sine(1000.0, 960)[:]) for _ in range(30)]
    for n, frame in enumerate(frames):
        frame.pts = n * 960
    await asyncio.wait_for(sink.run(Frames(frames)), 5.0)
    assert sink.frames == 30 and sink.errors == 0
    assert audio.played_frames == 30 * 960
    assert audio.played_level_dbfs() == pytest.approx(-20.0, abs=0.5)
    await asyncio.sleep(0.5)
    assert audio.played_level_dbfs() == -120.0  # nothing played lately


async def test_speaker_sink_resamples_and_survives_device_errors(audio: SimAudioIO) -> None:
    sink = SpeakerSink(audio)
    frames = []
    for _ in range(20):
        frame = av.AudioFrame.from_ndarray(
            _sine(500.0, 320, rate=16_000).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 16_000
        frames.append(frame)
    audio.fail("amplifier off")
    run = asyncio.ensure_future(sink.run(Frames(frames)))
    await asyncio.sleep(0.1)
    audio.recover()
    await asyncio.wait_for(run, 5.0)
    assert sink.frames == 20 and sink.errors >= 1
    assert 0 < audio.played_frames <= 20 * 960


async def test_speaker_sink_from_tone_track(audio: SimAudioIO) -> None:
    now = clock()
    sink = SpeakerSink(audio)
    await asyncio.wait_for(sink.run(Limited(ToneTrack(freqs=(440.0,), time_source=now), 50)), 5.0)
    assert audio.played_frames == 50 * 960
    assert -22.0 <= audio.played_level_dbfs() <= -15.0
    sink.stop()
    await asyncio.wait_for(sink.run(Silent()), 1.0)  # stopped: returns at once


async def test_sim_audio_streams_bound_the_queue(audio: SimAudioIO) -> None:
    await audio.write_audio(bytes(2 * 48_000))  # 1 s at once
    assert audio.played_frames == 48_000
    assert audio.dropped_frames == 48_000 - 9_600
    with pytest.raises(ValueError):
        await audio.write_audio(b"\0")
    audio.mute_microphone()
    assert not any(await audio.read_audio(960))
    audio.fail("broken")
    with pytest.raises(DeviceError):
        await audio.read_audio(960)
    audio.stop_streams()
    audio.stop_streams()
