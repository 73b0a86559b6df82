"""Simulated audio I/O: microphone level, loudspeaker test tone with loopback, induction loop,
and the live streams of a call (a microphone tone, a loudspeaker that measures what it plays)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.events import DeviceKind
from hal.health import SelftestResult
from sim.devices._base import SimDevice

SILENCE_DBFS = -120.0
#: Streams: samples per second (mono s16le, as ``hal.devices.AudioStreams`` says).
STREAM_RATE = 48_000
#: Most samples the loudspeaker queue holds (200 ms); older ones are dropped.
MAX_QUEUED_FRAMES = STREAM_RATE // 5
#: How far a microphone reader may fall behind before the capture buffer overflows (s).
MAX_CAPTURE_BACKLOG = 0.2
#: ``played_level_dbfs()`` measures what was played during the last this many seconds.
PLAYED_LEVEL_WINDOW = 0.25


def _power(dbfs: float) -> float:
    return 0.0 if dbfs <= SILENCE_DBFS else 10.0 ** (dbfs / 10.0)


def _dbfs(power: float) -> float:
    return SILENCE_DBFS if power <= 0.0 else max(SILENCE_DBFS, 10.0 * math.log10(power))


class SimAudioIOOptions(DriverOptions):
    ambient_level_dbfs: float = Field(
        -60.0, le=0.0, description="Microphone level in the quiet booth (dBFS)."
    )
    loopback_level_dbfs: float = Field(
        -20.0, le=0.0, description="Microphone level while a test tone plays (dBFS)."
    )
    selftest_frequency: float = Field(1000.0, gt=0.0, description="Self-test tone in Hz.")
    selftest_tone_duration: float = Field(0.5, gt=0.0, description="Self-test tone in seconds.")
    selftest_measure_duration: float = Field(
        0.2, gt=0.0, description="Seconds the self-test measures with and without the tone."
    )
    selftest_min_rise_db: float = Field(
        20.0, gt=0.0, description="How much the tone must raise the level for the self-test."
    )
    stream_tone_frequency: float = Field(
        1000.0,
        ge=20.0,
        le=20000.0,
        description="Microphone stream (read_audio): frequency of the sine tone it hears (Hz).",
    )
    stream_tone_level_dbfs: float = Field(
        -20.0, le=0.0, description="Microphone stream: RMS level of that tone (dBFS)."
    )


class SimAudioIO(SimDevice):
    """Microphone + loudspeaker + induction loop.

    ``input_level(duration)`` measures for ``duration`` seconds on the clock and returns the
    power average over that window: the ambient level plus, for the part of the window a test
    tone played, the loopback level.

    Test control:

    - ``mute_microphone()`` / ``unmute_microphone()``: the microphone delivers silence (-120);
    - ``set_ambient(level_dbfs)``: change the room noise;
    - ``fail(reason)`` / ``recover()``: every request raises ``DeviceError``;
    - streams: ``read_audio`` delivers a sine tone (``stream_tone_frequency`` at
      ``stream_tone_level_dbfs``; silence while muted) paced on the clock; ``write_audio``
      keeps only numbers: ``played_frames``, ``dropped_frames`` (queue overflow beyond 200 ms)
      and ``played_level_dbfs()``, the RMS level of what was played in the last 0.25 s.
    """

    kind = DeviceKind.AUDIO
    Options = SimAudioIOOptions

    def __init__(self, name: str, options: SimAudioIOOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.ambient_dbfs = options.ambient_level_dbfs
        self.muted = False
        self._loop_on = False
        self._tones: list[tuple[float, float]] = []  # (start, end) clock times
        self.played_frames = 0
        self.dropped_frames = 0
        self._mic_t0: float | None = None  # clock time of the microphone stream's sample 0
        self._mic_pos = 0  # samples delivered since
        self._queued = 0.0  # samples waiting in the loudspeaker queue at ``_queued_at``
        self._queued_at = 0.0
        self._played: deque[tuple[float, float, int]] = deque()  # (t, sum of squares, frames)

    # -- protocol ------------------------------------------------------------------------------
    async def input_level(self, duration: float = 0.2) -> float:
        if not (math.isfinite(duration) and duration > 0.0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        self._check()
        start = self.clock.now()
        await self.clock.sleep(duration)
        self._check()
        end = start + duration
        if self.muted:
            return SILENCE_DBFS
        tone_time = sum(max(0.0, min(end, t1) - max(start, t0)) for t0, t1 in self._tones)
        fraction = min(1.0, tone_time / duration)
        power = _power(self.ambient_dbfs) + fraction * _power(self.options.loopback_level_dbfs)
        self._tones = [(t0, t1) for t0, t1 in self._tones if t1 > end - 60.0]
        return round(_dbfs(power), 2)

    async def play_test_tone(self, frequency: float = 1000.0, duration: float = 0.5) -> None:
        """Play a sine tone; returns when it has finished (``duration`` on the clock)."""
        self._record("play_test_tone", frequency=frequency, duration=duration)
        if not (math.isfinite(frequency) and 20.0 <= frequency <= 20000.0):
            raise ValueError(f"frequency must be within 20..20000 Hz, got {frequency!r}")
        if not (math.isfinite(duration) and duration > 0.0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        self._check()
        start = self.clock.now()
        self._tones.append((start, start + duration))
        await self.clock.sleep(duration)

    async def set_induction_loop(self, on: bool) -> None:
        self._record("set_induction_loop", on=on)
        self._check()
        self._loop_on = bool(on)

    def induction_loop(self) -> bool:
        return self._loop_on

    # -- AudioStreams ------------------------------------------------------------------------
    async def read_audio(self, frames: int) -> bytes:
        """The next ``frames`` microphone samples, once they have been "captured" (on the
        clock); a reader that fell behind more than 200 ms loses the overflowed samples."""
        if isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0:
            raise ValueError(f"frames must be a positive int, got {frames!r}")
        self._check()
        now = self.clock.now()
        if self._mic_t0 is None:
            self._mic_t0, self._mic_pos = now, 0
        due = self._mic_t0 + (self._mic_pos + frames) / STREAM_RATE
        if now - due > MAX_CAPTURE_BACKLOG:  # overflow: only the latest samples are left
            self._mic_pos = math.floor((now - self._mic_t0) * STREAM_RATE) - frames
            due = self._mic_t0 + (self._mic_pos + frames) / STREAM_RATE
        await self.clock.sleep(due - now)
        self._check()
        start = self._mic_pos
        self._mic_pos += frames
        if self.muted:
            return bytes(2 * frames)
        opts = self.options
        amplitude = math.sqrt(2.0) * 10.0 ** (opts.stream_tone_level_dbfs / 20.0) * 32767.0
        n = np.arange(start, start + frames, dtype=np.float64)
        wave = amplitude * np.sin(n * (2.0 * math.pi * opts.stream_tone_frequency / STREAM_RATE))
        return bytes(np.round(wave).astype("<i2").tobytes())

    async def write_audio(self, pcm: bytes) -> None:
        """Take ``pcm`` for the loudspeaker: counted and measured, never stored."""
        if len(pcm) % 2:
            raise ValueError(f"pcm must be whole 16-bit samples, got {len(pcm)} bytes")
        self._check()
        frames = len(pcm) // 2
        if frames == 0:
            return
        now = self.clock.now()
        drained = (now - self._queued_at) * STREAM_RATE
        queued = max(0.0, self._queued - drained) + frames
        if queued > MAX_QUEUED_FRAMES:
            self.dropped_frames += round(queued - MAX_QUEUED_FRAMES)
            queued = float(MAX_QUEUED_FRAMES)
        self._queued, self._queued_at = queued, now
        self.played_frames += frames
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
        self._played.append((now, float(np.square(samples).sum()), frames))
        while self._played and self._played[0][0] < now - PLAYED_LEVEL_WINDOW:
            self._played.popleft()

    def stop_streams(self) -> None:
        """Close both streams (the next read starts a fresh capture; the queue is emptied)."""
        self._mic_t0 = None
        self._mic_pos = 0
        self._queued = 0.0

    async def _on_stop(self) -> None:
        self.stop_streams()

    async def selftest(self) -> SelftestResult:
        """Measure, play a tone and measure again: the tone must raise the level enough."""
        failed = self._failed_result()
        if failed is not None:
            return failed
        opts = self.options
        measure = opts.selftest_measure_duration
        baseline = await self.input_level(measure)
        tone_duration = max(opts.selftest_tone_duration, measure)
        tone = self._spawn(self.play_test_tone(opts.selftest_frequency, tone_duration))
        try:
            with_tone = await self.input_level(measure)
        finally:
            await tone
        rise = with_tone - baseline
        details = {
            "ambient_dbfs": baseline,
            "with_tone_dbfs": with_tone,
            "rise_db": round(rise, 2),
            "required_db": opts.selftest_min_rise_db,
        }
        if rise < opts.selftest_min_rise_db:
            return self._result(
                False,
                f"test tone raised the input level by only {rise:.1f} dB "
                f"({baseline:.1f} dBFS without, {with_tone:.1f} dBFS with the tone; "
                f"need >= {opts.selftest_min_rise_db:g} dB)",
                details,
            )
        return self._result(
            True,
            f"test tone raised the input level by {rise:.1f} dB "
            f"({baseline:.1f} -> {with_tone:.1f} dBFS)",
            details,
        )

    # -- test control --------------------------------------------------------------------------
    def mute_microphone(self) -> None:
        """Test control: the microphone delivers silence (input level -120 dBFS)."""
        self.muted = True

    def unmute_microphone(self) -> None:
        """Test control: the microphone works again."""
        self.muted = False

    def set_ambient(self, level_dbfs: float) -> None:
        """Test control: the room noise becomes ``level_dbfs``."""
        self.ambient_dbfs = float(level_dbfs)

    def played_level_dbfs(self) -> float:
        """Test control: RMS level (dBFS) of what ``write_audio`` played in the last 0.25 s
        on the clock (-120: nothing, or silence)."""
        since = self.clock.now() - PLAYED_LEVEL_WINDOW
        recent = [(sq, n) for t, sq, n in self._played if t >= since]
        count = sum(n for _, n in recent)
        if count == 0:
            return SILENCE_DBFS
        return round(_dbfs(sum(sq for sq, _ in recent) / count), 2)
