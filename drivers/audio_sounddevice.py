"""Audio I/O through PortAudio (``sounddevice``): microphone level, loudspeaker test tone, and
the induction loop switched by a PLC output.

Devices are chosen by name: ``input_device`` / ``output_device`` are matched against PortAudio's
device names (exact first, then a case-insensitive substring; a number is a device index; unset
means the system default). Every measurement and tone opens its own callback stream, so a tone
and a measurement can run at the same time (that is how the self-test hears its own tone), and a
device that stops delivering is noticed through a timeout instead of a hung thread.

The live streams of a call (``hal.devices.AudioStreams``: ``read_audio`` / ``write_audio``,
mono s16le at 48 kHz) are one ``RawInputStream`` and one ``RawOutputStream``, opened on first
use and kept open until ``stop_streams()``. Their callbacks exchange samples with the event
loop through bounded byte rings (the oldest samples are dropped: a slow reader or a writer
ahead of the loudspeaker never builds up latency beyond ~200 ms). A device with more channels
gets the mono samples on every channel (out) or their mean (in).

``import sounddevice`` loads ``libportaudio2``; without it the import raises ``OSError``, the
driver reports ``unavailable`` and its self-test ``not-present`` with the package to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import DeviceKind
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

log = logging.getLogger("lisa.drivers.audio")

SILENCE_DBFS = -120.0
MISSING_LIBRARY_HINT = (
    "sounddevice/PortAudio not available: pip install 'lisa[hardware]' and "
    "apt-get install libportaudio2"
)
#: Fade in/out of the test tone (seconds), so it does not click.
FADE = 0.005
#: Full scale of the int32 samples the driver records.
_FULL_SCALE = float(2**31)
#: Streams (``AudioStreams``): sample rate, bytes per sample, most playback queued (200 ms).
STREAM_RATE = 48_000
_SAMPLE_BYTES = 2
MAX_PLAYBACK_BYTES = STREAM_RATE // 5 * _SAMPLE_BYTES
#: Most capture kept for a reader that is behind (200 ms, or twice its request if larger).
MAX_CAPTURE_BYTES = STREAM_RATE // 5 * _SAMPLE_BYTES

Direction = Literal["input", "output"]


class SoundDeviceAudioOptions(DriverOptions):
    input_device: str | None = Field(
        None, description="Microphone: device name (or part of it) or index; None: default."
    )
    output_device: str | None = Field(
        None, description="Loudspeaker: device name (or part of it) or index; None: default."
    )
    samplerate: int | None = Field(
        None, ge=8000, le=192000, description="Sample rate (None: the device's default)."
    )
    input_channels: int = Field(1, ge=1, le=32, description="Microphone channels recorded.")
    output_channels: int = Field(1, ge=1, le=32, description="Loudspeaker channels played.")
    tone_level_dbfs: float = Field(-12.0, le=0.0, description="Peak level of the test tone (dBFS).")
    timeout: float = Field(
        2.0,
        gt=0.0,
        description="Seconds a stream may lag behind its duration before the device counts as "
        "stalled.",
    )
    selftest_frequency: float = Field(1000.0, gt=0.0, description="Self-test tone in Hz.")
    selftest_tone_duration: float = Field(0.5, gt=0.0, description="Self-test tone in seconds.")
    selftest_measure_duration: float = Field(
        0.2, gt=0.0, description="Seconds the self-test measures with and without the tone."
    )
    selftest_min_rise_db: float = Field(
        20.0, gt=0.0, description="How much the tone must raise the level for the self-test."
    )
    induction_loop_output: str | None = Field(
        None,
        description="PLC output that switches the induction-loop amplifier (None: not "
        "switched by the booth; the requested state is only remembered).",
    )
    plc_device: str = Field("plc", description="Device slot of the PLC with that output.")


@dataclass(frozen=True, slots=True)
class AudioDevice:
    index: int | None  # None: PortAudio's default device
    name: str
    samplerate: float
    latency: float


def select_device(
    devices: list[dict[str, Any]], wanted: str | None, direction: Direction
) -> int | None:
    """Index of the device ``wanted`` names among ``devices`` (``sd.query_devices()``) for
    ``direction``; ``None`` for the default. Raises ``DeviceError`` listing the devices that
    exist when none or several match."""
    if wanted is None or not wanted.strip():
        return None
    key = "max_input_channels" if direction == "input" else "max_output_channels"
    candidates = [(i, str(d["name"])) for i, d in enumerate(devices) if int(d.get(key, 0)) > 0]
    listed = ", ".join(repr(name) for _, name in candidates) or "none"
    wanted = wanted.strip()
    if wanted.isdigit():
        index = int(wanted)
        if any(i == index for i, _ in candidates):
            return index
        raise DeviceError(
            f"no audio {direction} device #{index} (available {direction}s: {listed})"
        )
    exact = [i for i, name in candidates if name == wanted]
    if exact:
        return exact[0]
    partial = [(i, name) for i, name in candidates if wanted.lower() in name.lower()]
    if not partial:
        raise DeviceError(
            f"no audio {direction} device matching {wanted!r} (available {direction}s: {listed})"
        )
    if len(partial) > 1:
        names = ", ".join(repr(name) for _, name in partial)
        raise DeviceError(f"audio {direction} device name {wanted!r} is ambiguous: {names}")
    return partial[0][0]


def rms_dbfs(sum_squares: float, count: int) -> float:
    """RMS level in dBFS of ``count`` samples (full scale 1.0) with ``sum_squares``; -120 for
    silence."""
    if count <= 0 or sum_squares <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(sum_squares / count))


class _Waiter:
    """Signals an asyncio future from PortAudio's callback thread (once)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self._lock = threading.Lock()
        self._fired = False

    def fire(self) -> None:
        with self._lock:
            if self._fired:
                return
            self._fired = True
        with contextlib.suppress(RuntimeError):  # loop closed meanwhile
            self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class SoundDeviceAudio(DeviceBase):
    """Microphone + loudspeaker through PortAudio, induction loop through the PLC."""

    kind = DeviceKind.AUDIO
    Options = SoundDeviceAudioOptions

    def __init__(self, name: str, options: SoundDeviceAudioOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._sd: Any = None
        self._np: Any = None
        self._missing: str | None = None
        self._loop_on = False
        self._capture: _Capture | None = None
        self._playback: _Playback | None = None
        self._capture_lock = asyncio.Lock()
        self._playback_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"SoundDeviceAudio(name={self.name!r}, input={self.options.input_device!r}, "
            f"output={self.options.output_device!r})"
        )

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self._import():
            return
        try:
            self._device("input")
            self._device("output")
        except DeviceError as exc:
            self._unavailable(str(exc))
            return
        self.set_health(HealthStatus.OK, "")

    async def stop(self) -> None:
        """Close the call's streams; nothing else stays open between requests (a tone or
        measurement under way ends by itself)."""
        self.stop_streams()

    # -- AudioStreams protocol --------------------------------------------------------------------
    async def read_audio(self, frames: int) -> bytes:
        """The next ``frames`` captured samples (mono s16le, 48 kHz), once they are in;
        ``DeviceError`` when the microphone cannot be opened or stops delivering."""
        if isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0:
            raise ValueError(f"frames must be a positive int, got {frames!r}")
        capture = await self._open_capture()
        wanted = frames * _SAMPLE_BYTES
        capture.ring.limit = max(capture.ring.limit, 2 * wanted)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + frames / STREAM_RATE + self.options.timeout
        while True:
            capture.ready.clear()
            data = capture.ring.take(wanted)
            if data is not None:
                if not self._health.ok:
                    self.set_health(HealthStatus.OK, "")
                return data
            if capture.closed:
                raise DeviceError(f"{self.name}: the audio input stream was closed")
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._close_capture()
                reason = (
                    f"audio input stalled ({frames} samples not captured within "
                    f"{frames / STREAM_RATE + self.options.timeout:.1f} s)"
                )
                self._unavailable(reason)
                raise DeviceError(f"{self.name}: {reason}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(capture.ready.wait(), remaining)

    async def write_audio(self, pcm: bytes) -> None:
        """Queue ``pcm`` (mono s16le, 48 kHz) for the loudspeaker and return; beyond 200 ms
        queued the oldest samples are dropped. ``DeviceError`` when the output cannot be
        opened or has stopped."""
        if len(pcm) % _SAMPLE_BYTES:
            raise ValueError(f"pcm must be whole 16-bit samples, got {len(pcm)} bytes")
        playback = await self._open_playback()
        if not playback.stream.active:
            self._close_playback()
            reason = "audio output stream stopped"
            self._unavailable(reason)
            raise DeviceError(f"{self.name}: {reason}")
        playback.ring.put(pcm)

    def stop_streams(self) -> None:
        """Close the microphone and loudspeaker streams (idempotent)."""
        self._close_capture()
        self._close_playback()

    # -- AudioIO protocol -------------------------------------------------------------------------
    async def input_level(self, duration: float = 0.2) -> float:
        """Record ``duration`` seconds and return their RMS level in dBFS (-120: silence)."""
        level, _ = await self._measure(duration)
        return level

    async def play_test_tone(self, frequency: float = 1000.0, duration: float = 0.5) -> None:
        """Play a sine tone at ``tone_level_dbfs``; returns once it has played (never before
        ``duration`` has passed since the stream started)."""
        await self._play(frequency, duration, None)

    async def set_induction_loop(self, on: bool) -> None:
        output = self.options.induction_loop_output
        if output is not None:
            plc = self.context.devices.get(self.options.plc_device)
            if plc is None:
                raise DeviceError(
                    f"{self.name}: the induction loop is on PLC output {output!r}, but there is "
                    f"no device {self.options.plc_device!r}"
                )
            await plc.write_output(output, bool(on))
        self._loop_on = bool(on)

    def induction_loop(self) -> bool:
        return self._loop_on

    async def selftest(self) -> SelftestResult:
        """Measure, play a tone, measure while it plays: the tone must raise the level by
        ``selftest_min_rise_db`` (the microphone hears the loudspeaker)."""
        if self._sd is None and not self._import():
            return SelftestResult(self.name, SelftestOutcome.NOT_PRESENT, str(self._missing))
        opts = self.options
        measure = opts.selftest_measure_duration
        try:
            out = self._device("output")
            inp = self._device("input")
            baseline, baseline_wall = await self._measure(measure)
            with_tone = await self._measure_during_tone(out, measure)
        except DeviceError as exc:
            return SelftestResult(self.name, SelftestOutcome.FAIL, str(exc))
        rise = with_tone - baseline
        paced = baseline_wall >= 0.5 * measure
        details: dict[str, Any] = {
            "input": inp.name,
            "output": out.name,
            "samplerate": inp.samplerate,
            "ambient_dbfs": round(baseline, 2),
            "with_tone_dbfs": round(with_tone, 2),
            "rise_db": round(rise, 2),
            "required_db": opts.selftest_min_rise_db,
            "real_time": paced,
            "induction_loop": (
                f"PLC output {opts.induction_loop_output}"
                if opts.induction_loop_output is not None
                else "not switched by the booth"
            ),
        }
        levels = f"{baseline:.1f} dBFS without, {with_tone:.1f} dBFS with the tone"
        if not paced:
            levels += (
                f"; the input returned {measure:g} s of audio in {baseline_wall:.3f} s: "
                "not a real-time device (e.g. the ALSA null device)"
            )
        if rise < opts.selftest_min_rise_db:
            return SelftestResult(
                self.name,
                SelftestOutcome.FAIL,
                f"test tone raised the input level by only {rise:.1f} dB ({levels}; "
                f"need >= {opts.selftest_min_rise_db:g} dB)",
                details,
            )
        return SelftestResult(
            self.name,
            SelftestOutcome.PASS,
            f"test tone raised the input level by {rise:.1f} dB ({levels})",
            details,
        )

    # -- streams ----------------------------------------------------------------------------------
    async def _open_capture(self) -> _Capture:
        async with self._capture_lock:
            if self._capture is not None and not self._capture.closed:
                return self._capture
            sd = self._require()
            device = self._device("input")
            capture = _Capture(self._np, asyncio.get_running_loop(), self.options.input_channels)
            capture.stream = await self._open_stream(
                sd.RawInputStream,
                device=device.index,
                channels=self.options.input_channels,
                samplerate=STREAM_RATE,
                dtype="int16",
                latency="low",
                callback=capture.callback,
            )
            try:
                await self._start(capture.stream, "input")
            except DeviceError:
                capture.close()
                raise
            self._capture = capture
            return capture

    async def _open_playback(self) -> _Playback:
        async with self._playback_lock:
            if self._playback is not None and not self._playback.closed:
                return self._playback
            sd = self._require()
            device = self._device("output")
            playback = _Playback(self._np, self.options.output_channels)
            playback.stream = await self._open_stream(
                sd.RawOutputStream,
                device=device.index,
                channels=self.options.output_channels,
                samplerate=STREAM_RATE,
                dtype="int16",
                latency="low",
                callback=playback.callback,
            )
            try:
                await self._start(playback.stream, "output")
            except DeviceError:
                playback.close()
                raise
            self._playback = playback
            return playback

    def _close_capture(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.close()

    def _close_playback(self) -> None:
        playback, self._playback = self._playback, None
        if playback is not None:
            playback.close()

    # -- internals ----------------------------------------------------------------------------
    def _import(self) -> bool:
        try:
            import numpy as np
            import sounddevice as sd
        except (ImportError, OSError) as exc:  # OSError: libportaudio2 missing
            self._missing = f"{MISSING_LIBRARY_HINT} ({exc})"
            self._unavailable(self._missing)
            return False
        self._sd = sd
        self._np = np
        self._missing = None
        return True

    def _require(self) -> Any:
        if self._sd is None and not self._import():
            raise DeviceError(f"{self.name}: {self._missing}")
        return self._sd

    def _unavailable(self, reason: str) -> None:
        log.warning("%s: %s", self.name, reason, extra={"device": self.name})
        self.set_health(HealthStatus.UNAVAILABLE, reason)

    def _device(self, direction: Direction) -> AudioDevice:
        """The configured device for ``direction`` (``DeviceError`` when it is not there)."""
        sd = self._require()
        wanted = self.options.input_device if direction == "input" else self.options.output_device
        try:
            devices = [dict(d) for d in sd.query_devices()]
            index = select_device(devices, wanted, direction)
            info = dict(
                sd.query_devices(index) if index is not None else sd.query_devices(kind=direction)
            )
        except sd.PortAudioError as exc:
            reason = f"no default audio {direction} device ({exc})"
            self._unavailable(reason)
            raise DeviceError(f"{self.name}: {reason}") from None
        except DeviceError as exc:
            self._unavailable(str(exc))
            raise DeviceError(f"{self.name}: {exc}") from None
        latency_key = f"default_high_{direction}_latency"  # sounddevice opens with "high"
        samplerate = float(self.options.samplerate or info["default_samplerate"])
        return AudioDevice(index, str(info["name"]), samplerate, float(info.get(latency_key, 0.0)))

    async def _measure_during_tone(self, out: AudioDevice, measure: float) -> float:
        """Start the self-test tone, wait until it is out, measure while it plays."""
        opts = self.options
        started = asyncio.Event()
        tone_duration = max(opts.selftest_tone_duration, out.latency + measure + 0.1)
        tone = asyncio.ensure_future(self._play(opts.selftest_frequency, tone_duration, started))
        started_wait = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait(
                {tone, started_wait}, timeout=opts.timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if tone.done():
                tone.result()  # raises why the tone failed
            if not started.is_set():
                raise DeviceError(f"{self.name}: the test tone did not start")
            await self.clock.sleep(out.latency)  # until the first samples are out
            level, _ = await self._measure(measure)
            await tone
            return level
        finally:
            started_wait.cancel()
            if not tone.done():
                tone.cancel()
                with contextlib.suppress(asyncio.CancelledError, DeviceError):
                    await tone

    async def _measure(self, duration: float) -> tuple[float, float]:
        """Record ``duration`` seconds; returns (level in dBFS, wall seconds it took)."""
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        sd = self._require()
        device = self._device("input")
        meter = _Meter(self._np, max(1, round(duration * device.samplerate)))
        waiter = _Waiter(asyncio.get_running_loop())

        def callback(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
            if meter.add(indata):
                waiter.fire()
                raise sd.CallbackStop

        t0 = time.monotonic()
        stream = await self._open_stream(
            sd.InputStream,
            device=device.index,
            channels=self.options.input_channels,
            samplerate=device.samplerate,
            dtype="int32",
            callback=callback,
        )
        try:
            await self._start(stream, "input")
            await self._wait(waiter, duration, "input")
        finally:
            await asyncio.to_thread(stream.close)
        wall = time.monotonic() - t0
        if not self._health.ok:
            self.set_health(HealthStatus.OK, "")
        return round(meter.level(), 2), wall

    async def _play(self, frequency: float, duration: float, started: asyncio.Event | None) -> None:
        if not (isinstance(frequency, int | float) and 20.0 <= frequency <= 20000.0):
            raise ValueError(f"frequency must be within 20..20000 Hz, got {frequency!r}")
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        sd = self._require()
        device = self._device("output")
        tone = _Tone(
            self._np,
            frequency=float(frequency),
            samplerate=device.samplerate,
            frames=max(1, round(duration * device.samplerate)),
            amplitude=10.0 ** (self.options.tone_level_dbfs / 20.0),
        )
        waiter = _Waiter(asyncio.get_running_loop())

        def callback(outdata: Any, frames: int, _time: Any, _status: Any) -> None:
            if tone.fill(outdata, frames):
                raise sd.CallbackStop

        stream = await self._open_stream(
            sd.OutputStream,
            device=device.index,
            channels=self.options.output_channels,
            samplerate=device.samplerate,
            dtype="float32",
            callback=callback,
            finished_callback=waiter.fire,
        )
        try:
            await self._start(stream, "output")
            t0 = self.clock.now()
            if started is not None:
                started.set()
            await self._wait(waiter, duration + float(stream.latency), "output")
            # a device that takes samples faster than real time (ALSA null) has not played
            # the tone yet: it cannot be over before ``duration`` has passed
            remaining = t0 + duration - self.clock.now()
            if remaining > 0:
                await self.clock.sleep(remaining)
        finally:
            await asyncio.to_thread(stream.close)
        if not self._health.ok:
            self.set_health(HealthStatus.OK, "")

    async def _open_stream(self, factory: Any, **kwargs: Any) -> Any:
        sd = self._sd
        try:
            return await asyncio.to_thread(factory, **kwargs)
        except (sd.PortAudioError, ValueError) as exc:
            reason = f"cannot open audio stream: {exc}"
            self._unavailable(reason)
            raise DeviceError(f"{self.name}: {reason}") from None

    async def _start(self, stream: Any, what: str) -> None:
        sd = self._sd
        try:
            await asyncio.to_thread(stream.start)
        except sd.PortAudioError as exc:
            reason = f"cannot start audio {what}: {exc}"
            self._unavailable(reason)
            raise DeviceError(f"{self.name}: {reason}") from None

    async def _wait(self, waiter: _Waiter, duration: float, what: str) -> None:
        """Wait until the stream's callback says it is done (with ``timeout`` grace)."""
        limit = duration + self.options.timeout
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), limit)
        except TimeoutError:
            reason = f"audio {what} stalled (not done after {limit:.1f} s)"
            self._unavailable(reason)
            raise DeviceError(f"{self.name}: {reason}") from None


class _Meter:
    """Sum of squares of the first ``wanted`` frames (callback thread side)."""

    def __init__(self, np: Any, wanted: int) -> None:
        self.np = np
        self.wanted = wanted
        self.count = 0
        self.sum_squares = 0.0

    def add(self, indata: Any) -> bool:
        """Take a block of int32 samples; True once ``wanted`` frames are in."""
        take = min(int(indata.shape[0]), self.wanted - self.count)
        if take > 0:
            block = indata[:take].astype(self.np.float64) / _FULL_SCALE
            self.sum_squares += float(self.np.square(block).mean(axis=1).sum())
            self.count += take
        return self.count >= self.wanted

    def level(self) -> float:
        return rms_dbfs(self.sum_squares, self.count)


class _Tone:
    """Sine samples with a short fade in and out (callback thread side)."""

    def __init__(
        self, np: Any, *, frequency: float, samplerate: float, frames: int, amplitude: float
    ) -> None:
        self.np = np
        self.total = frames
        self.fade = max(1, min(round(FADE * samplerate), frames // 2))
        self.step = 2.0 * math.pi * frequency / samplerate
        self.amplitude = amplitude
        self.position = 0

    def fill(self, outdata: Any, frames: int) -> bool:
        """Write the next ``frames`` samples to every channel; True once the tone is out."""
        np = self.np
        n = np.arange(self.position, self.position + frames)
        envelope = np.clip(np.minimum(n + 1, self.total - n) / self.fade, 0.0, 1.0)
        wave = self.amplitude * np.sin(self.step * n) * envelope
        outdata[:] = wave.astype(np.float32)[:, None]
        self.position += frames
        return self.position >= self.total


class _Ring:
    """A bounded byte FIFO shared with PortAudio's callback thread; beyond ``limit`` bytes
    the oldest are dropped (whole samples)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0  # bytes
        self._data = bytearray()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def put(self, data: bytes) -> None:
        with self._lock:
            self._data += data
            over = len(self._data) - self.limit
            if over > 0:
                over += over % _SAMPLE_BYTES
                del self._data[:over]
                self.dropped += over

    def take(self, size: int) -> bytes | None:
        """Exactly ``size`` bytes from the front, or ``None`` while fewer are there."""
        with self._lock:
            if len(self._data) < size:
                return None
            out = bytes(self._data[:size])
            del self._data[:size]
            return out

    def take_up_to(self, size: int) -> bytes:
        with self._lock:
            out = bytes(self._data[:size])
            del self._data[: len(out)]
            return out


class _Capture:
    """The open microphone stream: its callback fills the ring and wakes the reader."""

    def __init__(self, np: Any, loop: asyncio.AbstractEventLoop, channels: int) -> None:
        self.np = np
        self.loop = loop
        self.channels = channels
        self.ring = _Ring(MAX_CAPTURE_BYTES)
        self.ready = asyncio.Event()
        self.stream: Any = None
        self.closed = False

    def callback(self, indata: Any, _frames: int, _time: Any, _status: Any) -> None:
        if self.channels > 1:
            np = self.np
            block = np.frombuffer(indata, dtype="<i2").reshape(-1, self.channels)
            data = block.mean(axis=1).round().astype("<i2").tobytes()
        else:
            data = bytes(indata)
        self.ring.put(data)
        with contextlib.suppress(RuntimeError):  # loop closed meanwhile
            self.loop.call_soon_threadsafe(self.ready.set)

    def close(self) -> None:
        self.closed = True
        self.ready.set()
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.close(ignore_errors=True)


class _Playback:
    """The open loudspeaker stream: its callback plays what the ring holds (silence when
    it runs dry)."""

    def __init__(self, np: Any, channels: int) -> None:
        self.np = np
        self.channels = channels
        self.ring = _Ring(MAX_PLAYBACK_BYTES)
        self.stream: Any = None
        self.closed = False

    def callback(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        data = self.ring.take_up_to(frames * _SAMPLE_BYTES)
        if len(data) < frames * _SAMPLE_BYTES:
            data += bytes(frames * _SAMPLE_BYTES - len(data))
        if self.channels > 1:
            samples = self.np.frombuffer(data, dtype="<i2")
            data = self.np.repeat(samples, self.channels).tobytes()
        outdata[:] = data

    def close(self) -> None:
        self.closed = True
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.close(ignore_errors=True)
