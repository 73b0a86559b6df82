"""The booth's media sources and sinks as aiortc tracks, and probes that measure received media.

Sources (``aiortc.MediaStreamTrack`` subclasses, handed to ``RTCPeerConnection.addTrack``):

- :class:`PatternTrack`: the test pattern of :mod:`booth.media.pattern`, stamped with a frame
  counter and the send time, paced in real time;
- :class:`CameraTrack`: a HAL camera; a failing camera keeps the track alive with a dark
  placeholder once a second (RTP keeps flowing, the peer does not renegotiate);
- :class:`ToneTrack`: steady sine tones plus a short burst at every full second of the clock
  (the burst onset gives the audio latency as the pattern's stamp gives the video latency);
- :class:`MicrophoneTrack`: the HAL audio device's microphone stream.

Sinks and probes (consume a received track with ``await x.run(track)`` until it ends or
``x.stop()``):

- :class:`SpeakerSink`: to the HAL audio device's loudspeaker stream;
- :class:`VideoProbe`: frame rate, size, pattern stamps and latency;
- :class:`AudioProbe`: per-frequency power and burst onsets (audio latency).

Pacing uses the running loop's clock (``loop.time()``); stamps and probe times use
``time_source`` (wall time by default, so both ends of a call agree when their clocks do). All
sample handling is vectorised numpy; all kept history is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from booth.media.pattern import PatternStamp, decode_frame, encode_pattern
from hal.devices import DeviceError

log = logging.getLogger("lisa.booth.media")

TimeSource = Callable[[], float]
HealthCallback = Callable[[bool, str], None]

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
AUDIO_BLOCK = 960  # samples in 20 ms at 48 kHz
#: A source more than this far behind its schedule restarts the schedule instead of bursting.
MAX_LAG = 0.5
#: A failed camera/microphone: placeholder interval and retry interval (s).
RETRY_INTERVAL = 1.0
#: A camera whose grab has not returned after this long (s, at least 3 frame times) has failed.
CAMERA_STALL = 2.0
#: Size of the placeholder before the camera ever delivered a frame.
DEFAULT_SIZE = (640, 480)
#: Luma of the placeholder (dark grey).
PLACEHOLDER_LUMA = 40
#: Burst length of :class:`ToneTrack` (s).
BURST_S = 0.060
#: :class:`AudioProbe`: quiet spell before an onset counts (s), sub-block for onsets (s),
#: onsets up to this long before a full second count as early (negative latency).
BURST_QUIET_S = 0.5
BURST_BLOCK_S = 0.005
BURST_EARLY_S = 0.1
SILENCE_DBFS = -120.0


# --- sources ----------------------------------------------------------------------------------


class _Pacer:
    """Schedule ``t0 + n * interval`` on the loop clock (restarts when far behind)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.t0: float | None = None
        self.n = 0

    async def wait(self) -> int:
        """Sleep until slot ``n`` is due; returns ``n`` and moves on to the next slot."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.t0 is None:
            self.t0 = now
        due = self.t0 + self.n * self.interval
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > MAX_LAG:
            self.t0 = now - self.n * self.interval
        n = self.n
        self.n += 1
        return n


class _Source(MediaStreamTrack):
    """A local track: ``recv()`` raises ``MediaStreamError`` once stopped."""

    def _check_live(self) -> None:
        if self.readyState != "live":
            raise MediaStreamError


class PatternTrack(_Source):
    """The stamped test pattern at ``width`` x ``height``, ``fps`` frames per second."""

    kind = "video"

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 25.0,
        time_source: TimeSource = time.time,
    ) -> None:
        super().__init__()
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be > 0, got {fps!r}")
        encode_pattern(width, height, 0, 0)  # validates the size, warms the cache
        self.width = width
        self.height = height
        self.fps = float(fps)
        self._time_source = time_source
        self._pacer = _Pacer(1.0 / self.fps)
        self._sent = 0

    @property
    def frames_sent(self) -> int:
        return self._sent

    async def recv(self) -> av.VideoFrame:
        self._check_live()
        n = await self._pacer.wait()
        self._check_live()
        t_ms = int(self._time_source() * 1000)
        frame = av.VideoFrame.from_ndarray(
            encode_pattern(self.width, self.height, n, t_ms), format="yuv420p"
        )
        frame.pts = round(n * VIDEO_CLOCK / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self._sent += 1
        return frame


@lru_cache(maxsize=8)
def _placeholder_yuv(width: int, height: int) -> Any:
    yuv = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
    yuv[:height] = PLACEHOLDER_LUMA
    return yuv


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _call_health(callback: HealthCallback | None, ok: bool, reason: str) -> None:
    if callback is None:
        return
    try:
        callback(ok, reason)
    except Exception:  # a broken observer must not end the track
        log.exception("on_health callback failed")


class CameraTrack(_Source):
    """Frames of a HAL ``Camera``: paced by ``grab()``, never faster than ``fps``.

    When the camera fails (``DeviceError``, or no frame for :data:`CAMERA_STALL` s) the track
    goes on: ``on_health(False, reason)`` once, then a dark-grey placeholder of the last size
    about once a second, with a new ``grab()`` each second; ``on_health(True, "")`` when frames
    come back. A grab still pending is never cancelled nor doubled (no concurrent grabs).
    """

    kind = "video"

    def __init__(self, camera: Any, fps: float, on_health: HealthCallback | None = None) -> None:
        super().__init__()
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.camera = camera
        self.fps = float(fps)
        self.on_health = on_health
        self._grab: asyncio.Future[Any] | None = None
        self._failure: str | None = None
        self._placeholder_at = 0.0  # loop time of the last placeholder
        self._last_at: float | None = None  # loop time of the last frame sent
        self._t0: float | None = None
        self._pts = -1
        self._size = DEFAULT_SIZE
        self._sent = 0
        self._placeholders = 0

    @property
    def frames_sent(self) -> int:
        """Frames sent, camera frames and placeholders."""
        return self._sent

    @property
    def placeholders_sent(self) -> int:
        return self._placeholders

    @property
    def failed(self) -> bool:
        """True while the camera delivers no frames (placeholders are sent)."""
        return self._failure is not None

    def stop(self) -> None:
        super().stop()
        if self._grab is not None and not self._grab.done():
            self._grab.cancel()
        self._grab = None

    async def recv(self) -> av.VideoFrame:
        self._check_live()
        loop = asyncio.get_running_loop()
        if self._failure is None and self._last_at is not None:
            delay = self._last_at + 1.0 / self.fps - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        frame = await (self._next_while_failed() if self._failure else self._next())
        self._check_live()
        now = loop.time()
        if self._t0 is None:
            self._t0 = now
        self._pts = max(self._pts + 1, round((now - self._t0) * VIDEO_CLOCK))
        frame.pts = self._pts
        frame.time_base = VIDEO_TIME_BASE
        self._last_at = now
        self._sent += 1
        return frame

    async def _next(self) -> av.VideoFrame:
        task = self._start_grab()
        done, _ = await asyncio.wait({task}, timeout=max(CAMERA_STALL, 3.0 / self.fps))
        if not done:
            self._fail(f"camera delivered no frame for {max(CAMERA_STALL, 3.0 / self.fps):g} s")
            return self._placeholder()
        frame, reason = self._take_grab()
        if frame is not None:
            return frame
        self._fail(reason)
        return self._placeholder()

    async def _next_while_failed(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        due = self._placeholder_at + RETRY_INTERVAL
        while True:
            task = self._start_grab()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, due - loop.time()))
            if not done:
                return self._placeholder()
            frame, _reason = self._take_grab()
            if frame is not None:
                self._recover()
                return frame
            if loop.time() >= due:
                return self._placeholder()
            await asyncio.sleep(due - loop.time())  # retry once a second, not in a loop
            self._check_live()

    def _start_grab(self) -> asyncio.Future[Any]:
        if self._grab is None:
            self._grab = asyncio.ensure_future(self.camera.grab())
        return self._grab

    def _take_grab(self) -> tuple[av.VideoFrame | None, str]:
        """The finished grab as a video frame, or ``(None, why not)``."""
        task, self._grab = self._grab, None
        assert task is not None and task.done()
        try:
            return self._to_video(task.result()), ""
        except asyncio.CancelledError:
            return None, "camera grab cancelled"
        except DeviceError as exc:
            return None, str(exc) or "camera error"
        except Exception as exc:  # a driver bug must not end the call's video
            log.exception("camera grab failed")
            return None, f"camera error: {exc!r}"

    def _to_video(self, image: Any) -> av.VideoFrame:
        width, height, fmt = int(image.width), int(image.height), image.pixel_format
        channels = {"gray8": 1, "bgr24": 3}.get(fmt)
        if channels is None:
            raise DeviceError(f"unsupported camera pixel format {fmt!r}")
        if len(image.data) != width * height * channels:
            raise DeviceError(
                f"camera frame of {len(image.data)} bytes does not fit {width}x{height} {fmt}"
            )
        pixels = np.frombuffer(image.data, dtype=np.uint8)
        if channels == 1:
            frame = av.VideoFrame.from_ndarray(pixels.reshape(height, width), format="gray")
        else:
            frame = av.VideoFrame.from_ndarray(pixels.reshape(height, width, 3), format="bgr24")
        self._size = (width, height)
        return frame

    def _placeholder(self) -> av.VideoFrame:
        self._placeholder_at = asyncio.get_running_loop().time()
        self._placeholders += 1
        width, height = (_even(v) for v in self._size)
        return av.VideoFrame.from_ndarray(_placeholder_yuv(width, height), format="yuv420p")

    def _fail(self, reason: str) -> None:
        if self._failure is None:
            self._failure = reason
            log.warning("camera failed: %s", reason)
            _call_health(self.on_health, False, reason)

    def _recover(self) -> None:
        if self._failure is not None:
            self._failure = None
            log.info("camera delivers frames again")
            _call_health(self.on_health, True, "")


def _audio_frame(samples: Any, pts: int, sample_rate: int) -> av.AudioFrame:
    """A mono s16 ``AudioFrame`` of ``samples`` (int16)."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, sample_rate)
    return frame


class ToneTrack(_Source):
    """Sine tones at ``freqs`` (each at RMS ``level_dbfs``), 20 ms frames of mono s16, plus a
    60 ms burst of ``burst_hz`` (same level) whose onset is the sample sent at each full second
    of ``time_source()``. A frame returned at time ``t`` holds the samples of ``[t - 20 ms,
    t)``, so the burst onset is placed inside the frame where that second falls."""

    kind = "audio"

    def __init__(
        self,
        freqs: Sequence[float] = (440.0, 7000.0),
        sample_rate: int = AUDIO_RATE,
        level_dbfs: float = -20.0,
        burst_hz: float = 2000.0,
        time_source: TimeSource = time.time,
    ) -> None:
        super().__init__()
        if sample_rate <= 0 or not all(0 < f < sample_rate / 2 for f in (*freqs, burst_hz)):
            raise ValueError(f"frequencies must be within 0..{sample_rate / 2:g} Hz")
        self.freqs = tuple(float(f) for f in freqs)
        self.sample_rate = int(sample_rate)
        self.level_dbfs = float(level_dbfs)
        self.burst_hz = float(burst_hz)
        self._time_source = time_source
        self._amplitude = math.sqrt(2.0) * 10.0 ** (self.level_dbfs / 20.0)
        self._block = round(self.sample_rate * AUDIO_PTIME)
        self._burst_len = round(self.sample_rate * BURST_S)
        self._burst_start: int | None = None  # sample index of the latest burst onset
        self._pacer = _Pacer(AUDIO_PTIME)
        self._sent = 0

    @property
    def frames_sent(self) -> int:
        return self._sent

    async def recv(self) -> av.AudioFrame:
        self._check_live()
        n = await self._pacer.wait()
        self._check_live()
        samples = self._samples(n * self._block, self._time_source())
        self._sent += 1
        return _audio_frame(samples, n * self._block, self.sample_rate)

    def _samples(self, start: int, t_end: float) -> Any:
        rate, count = self.sample_rate, self._block
        t_start = t_end - count / rate
        second = math.ceil(t_start)
        if second < t_end:  # a full second falls inside this frame: the burst starts there
            self._burst_start = start + min(count - 1, max(0, round((second - t_start) * rate)))
        n = np.arange(start, start + count, dtype=np.float64)
        wave = np.zeros(count, dtype=np.float64)
        for freq in self.freqs:
            wave += np.sin(n * (2.0 * math.pi * freq / rate))
        if self._burst_start is not None:
            offset = n - self._burst_start
            inside = (offset >= 0) & (offset < self._burst_len)
            if inside.any():
                wave += np.where(inside, np.sin(offset * (2.0 * math.pi * self.burst_hz / rate)), 0)
        wave *= self._amplitude * 32767.0
        return np.clip(np.round(wave), -32768, 32767).astype(np.int16)


class MicrophoneTrack(_Source):
    """The microphone stream of a HAL ``AudioStreams`` device, 20 ms mono s16 frames at 48 kHz
    (paced by the device). When the device fails the track sends silence (paced by the loop)
    and tries the device again once a second; ``on_health`` hears of both changes.

    Stopping the track does not close the device's streams (``stop_streams()`` is the owner's,
    the loudspeaker may still be playing)."""

    kind = "audio"

    def __init__(self, audio: Any, on_health: HealthCallback | None = None) -> None:
        super().__init__()
        self.audio = audio
        self.on_health = on_health
        self._failure: str | None = None
        self._retry_at = 0.0
        self._silence = _Pacer(AUDIO_PTIME)
        self._pos = 0
        self._sent = 0

    @property
    def frames_sent(self) -> int:
        return self._sent

    @property
    def failed(self) -> bool:
        return self._failure is not None

    async def recv(self) -> av.AudioFrame:
        self._check_live()
        loop = asyncio.get_running_loop()
        samples: Any = None
        if self._failure is None or loop.time() >= self._retry_at:
            try:
                pcm = await self.audio.read_audio(AUDIO_BLOCK)
            except DeviceError as exc:
                self._retry_at = loop.time() + RETRY_INTERVAL
                if self._failure is None:
                    self._failure = str(exc) or "microphone error"
                    log.warning("microphone failed: %s", self._failure)
                    _call_health(self.on_health, False, self._failure)
                self._silence = _Pacer(AUDIO_PTIME)
            else:
                samples = np.frombuffer(pcm, dtype="<i2")
                if self._failure is not None:
                    self._failure = None
                    _call_health(self.on_health, True, "")
        if samples is None:
            await self._silence.wait()
            samples = np.zeros(AUDIO_BLOCK, dtype=np.int16)
        self._check_live()
        frame = _audio_frame(samples, self._pos, AUDIO_RATE)
        self._pos += int(samples.size)
        self._sent += 1
        return frame


# --- consumers --------------------------------------------------------------------------------

_INT_SCALE = {"s16": 32768.0, "s16p": 32768.0, "s32": 2.0**31, "s32p": 2.0**31}
_FLOAT_FORMATS = {"flt", "fltp", "dbl", "dblp"}


def mono_samples(frame: av.AudioFrame) -> Any:
    """An ``av.AudioFrame`` as mono float32 samples in -1..1 (channels averaged)."""
    name = frame.format.name
    data = frame.to_ndarray()
    if name in _INT_SCALE:
        data = data.astype(np.float32) / np.float32(_INT_SCALE[name])
    elif name in _FLOAT_FORMATS:
        data = data.astype(np.float32)
    else:  # u8 and friends: rare; let FFmpeg convert
        resampler = av.AudioResampler(format="flt", layout=frame.layout.name)
        return np.concatenate([mono_samples(f) for f in resampler.resample(frame)])
    channels = frame.layout.nb_channels
    if frame.format.is_planar:
        return data.mean(axis=0) if channels > 1 else data[0]
    flat = data.reshape(-1)
    return flat.reshape(-1, channels).mean(axis=1) if channels > 1 else flat


class _Consumer:
    """Consumes a received track until it ends (``MediaStreamError``) or ``stop()``."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self.running = False

    def stop(self) -> None:
        """End :meth:`run` (at once, also while it waits for a frame)."""
        self._stopping.set()

    async def run(self, track: MediaStreamTrack) -> None:
        """Take every frame of ``track`` until it ends or :meth:`stop`."""
        self.running = True
        stop = asyncio.ensure_future(self._stopping.wait())
        recv: asyncio.Future[Any] | None = None
        try:
            while not self._stopping.is_set():
                recv = asyncio.ensure_future(track.recv())
                await asyncio.wait({recv, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not recv.done():
                    break
                try:
                    frame = recv.result()
                except MediaStreamError:
                    break
                finally:
                    recv = None
                await self._on_frame(frame)
        finally:
            self.running = False
            for future in (recv, stop):
                if future is not None and not future.done():
                    future.cancel()
                    with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                        await future

    async def _on_frame(self, frame: Any) -> None:
        raise NotImplementedError


class SpeakerSink(_Consumer):
    """Plays a received audio track on a HAL ``AudioStreams`` device's loudspeaker (mono s16
    48 kHz; other layouts are averaged to mono, other rates resampled). A failing device
    drops the audio and is tried again with the next frame; the track goes on."""

    def __init__(self, audio: Any) -> None:
        super().__init__()
        self.audio = audio
        self.frames = 0
        self.errors = 0
        self._resampler: Any = None

    async def _on_frame(self, frame: Any) -> None:
        self.frames += 1
        if frame.sample_rate == AUDIO_RATE:
            samples = mono_samples(frame)
        else:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            parts = [mono_samples(f) for f in self._resampler.resample(frame)]
            samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2").tobytes()
        try:
            await self.audio.write_audio(pcm)
        except DeviceError as exc:
            self.errors += 1
            if self.errors == 1 or self.errors % 500 == 0:
                log.warning("speaker failed (%d times): %s", self.errors, exc)


class VideoProbe(_Consumer):
    """Measures a received video track: frames, frame rate, size, pattern stamps, latency.

    ``latency_ms`` holds (bounded) ``now_ms - t_ms`` of every stamped frame, ``now`` being
    ``time_source()`` when the frame arrived; ``skipped`` adds up the gaps in ``seq``.
    """

    def __init__(self, time_source: TimeSource = time.time, max_samples: int = 1000) -> None:
        super().__init__()
        self.time_source = time_source
        self.frames = 0
        self.stamped = 0
        self.skipped = 0
        self.first_frame = asyncio.Event()
        self.first_frame_at: float | None = None
        self.last_seq: int | None = None
        self.last_stamp: PatternStamp | None = None
        self.width: int | None = None
        self.height: int | None = None
        self.latency_ms: deque[float] = deque(maxlen=max_samples)
        self._arrivals: deque[float] = deque(maxlen=max(64, max_samples))

    async def _on_frame(self, frame: Any) -> None:
        now = self.time_source()
        self.frames += 1
        self._arrivals.append(now)
        self.width, self.height = int(frame.width), int(frame.height)
        if self.first_frame_at is None:
            self.first_frame_at = now
            self.first_frame.set()
        stamp = decode_frame(frame)
        if stamp is None:
            return
        self.stamped += 1
        if self.last_seq is not None and stamp.seq > self.last_seq + 1:  # (not after a restart)
            self.skipped += stamp.seq - self.last_seq - 1
        self.last_seq = stamp.seq
        self.last_stamp = stamp
        self.latency_ms.append(now * 1000.0 - stamp.t_ms)

    def fps(self, window_s: float = 2.0) -> float:
        """Frames per second received over the last ``window_s`` (shorter right after the
        first frame; 0.0 without frames in the window)."""
        if self.first_frame_at is None or window_s <= 0:
            return 0.0
        now = self.time_source()
        since = now - window_s
        count = sum(1 for t in self._arrivals if t > since)
        elapsed = now - self.first_frame_at
        if elapsed >= window_s:
            return count / window_s
        return (count - 1) / elapsed if count > 1 and elapsed > 0 else 0.0


@lru_cache(maxsize=32)
def _dft_basis(size: int, rate: int, freqs: tuple[float, ...]) -> Any:
    """Hann-windowed single-bin DFT rows (one per frequency), scaled so ``|row @ x|`` is the
    amplitude of a sine at that frequency."""
    n = np.arange(size)
    window = 0.5 - 0.5 * np.cos(2.0 * math.pi * (n + 0.5) / size)
    phase = np.exp(-2j * math.pi * np.outer(np.asarray(freqs), n) / rate)
    return phase * window * (2.0 / window.sum())


def _dbfs(power: float) -> float:
    return SILENCE_DBFS if power <= 0 else max(SILENCE_DBFS, 10.0 * math.log10(power))


class AudioProbe(_Consumer):
    """Measures a received audio track: frames, per-frequency power, burst onsets.

    Power at each of ``freqs`` (and ``burst_hz``) is the RMS power (dBFS, a full-scale sine is
    -3 dBFS, as the HAL's levels) of that sine component: a Hann-windowed single-bin DFT —
    Goertzel's result — per frame, averaged over the last ``window_s``.

    Onsets: ``burst_hz`` power per 5 ms sub-block rising above ``burst_threshold_dbfs`` after
    >= 500 ms of received audio below it; ``burst_onsets`` are their ``time_source()`` times (a
    frame arriving at ``t`` is taken to hold the samples of ``[t - duration, t)``), and
    ``burst_latency_ms`` each onset minus the full second before it (from -100 ms on).
    """

    def __init__(
        self,
        freqs: Sequence[float] = (440.0, 7000.0),
        burst_hz: float = 2000.0,
        burst_threshold_dbfs: float = -40.0,
        time_source: TimeSource = time.time,
        window_s: float = 0.5,
        max_samples: int = 1000,
    ) -> None:
        super().__init__()
        self.freqs = tuple(float(f) for f in freqs)
        self.burst_hz = float(burst_hz)
        self.burst_threshold_dbfs = float(burst_threshold_dbfs)
        self.time_source = time_source
        self.window_s = float(window_s)
        self.frames = 0
        self.samples = 0
        self.sample_rate: int | None = None
        self.first_frame = asyncio.Event()
        self.burst_onsets: deque[float] = deque(maxlen=max_samples)
        self.burst_latency_ms: deque[float] = deque(maxlen=max_samples)
        self._measured = self.freqs + (() if self.burst_hz in self.freqs else (self.burst_hz,))
        self._power: deque[tuple[float, Any]] = deque(maxlen=500)  # (time, power per freq)
        self._carry = np.zeros(0, dtype=np.float32)
        self._quiet = 0  # samples below the burst threshold since the last loud sub-block

    async def _on_frame(self, frame: Any) -> None:
        now = self.time_source()
        rate = int(frame.sample_rate)
        x = mono_samples(frame)
        if x.size == 0:
            return
        if rate != self.sample_rate:
            self.sample_rate, self._carry, self._quiet = rate, x[:0], 0
        self.frames += 1
        self.samples += int(x.size)
        self.first_frame.set()
        amplitude = np.abs(_dft_basis(int(x.size), rate, self._measured) @ x)
        self._power.append((now, amplitude**2 / 2.0))
        self._detect_bursts(x, rate, now)

    def _detect_bursts(self, x: Any, rate: int, now: float) -> None:
        block = max(8, round(rate * BURST_BLOCK_S))
        data = np.concatenate((self._carry, x)) if self._carry.size else x
        whole = data.size - data.size % block
        self._carry = data[whole:].copy()
        if whole == 0:
            return
        blocks = data[:whole].reshape(-1, block)
        amplitude = np.abs(blocks @ _dft_basis(block, rate, (self.burst_hz,))[0])
        loud = 10.0 * np.log10(np.maximum(amplitude**2 / 2.0, 1e-12)) >= self.burst_threshold_dbfs
        # sample times: the frame's last sample arrived at ``now``
        end_of_data = data.size
        for i, is_loud in enumerate(loud.tolist()):
            if not is_loud:
                self._quiet += block
                continue
            if self._quiet >= BURST_QUIET_S * rate:
                start = i * block
                onset = now - (end_of_data - start - block / 4) / rate
                self.burst_onsets.append(onset)
                second = math.floor(onset + BURST_EARLY_S)
                self.burst_latency_ms.append((onset - second) * 1000.0)
            self._quiet = 0

    def power_dbfs(self, freq: float) -> float:
        """RMS power (dBFS) at ``freq`` over the last ``window_s`` (-120: no audio then)."""
        try:
            index = self._measured.index(float(freq))
        except ValueError:
            raise KeyError(f"{freq:g} Hz is not measured (measured: {self._measured})") from None
        since = self.time_source() - self.window_s
        recent = [p[index] for t, p in self._power if t >= since]
        return _dbfs(float(np.mean(recent))) if recent else SILENCE_DBFS

    def tone_ok(self, freq: float, min_dbfs: float = -45.0) -> bool:
        """True when ``freq`` is received at ``min_dbfs`` or louder."""
        return self.power_dbfs(freq) >= min_dbfs
