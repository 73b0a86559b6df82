"""Contract of audio I/O: input level, test tone loopback, induction loop, and the live
streams of a call (``AudioStreams``: microphone blocks paced by the device, a bounded
loudspeaker queue)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import pytest

from hal.devices import STREAM_RATE, AudioIO, AudioStreams

BLOCK = STREAM_RATE // 50  # 20 ms


async def test_is_audio_io(make_audio: Any) -> None:
    assert isinstance(make_audio.device, AudioIO)


async def test_input_level_is_dbfs(make_audio: Any) -> None:
    level = await make_audio.device.input_level(0.2)
    assert isinstance(level, float)
    assert -120.0 <= level <= 0.0


async def test_test_tone_raises_level(make_audio: Any) -> None:
    audio = make_audio.device
    quiet = await audio.input_level(0.2)
    tone = asyncio.create_task(audio.play_test_tone(1000.0, 0.5))
    await asyncio.sleep(0.05)
    loud = await audio.input_level(0.2)
    await tone
    assert loud >= quiet + 20.0, (quiet, loud)
    after = await audio.input_level(0.2)
    assert after < loud - 10.0, (loud, after)


async def test_test_tone_takes_its_duration(make_audio: Any) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await make_audio.device.play_test_tone(440.0, 0.3)
    assert 0.3 <= loop.time() - t0 < 0.5


async def test_induction_loop_on_off(make_audio: Any) -> None:
    audio = make_audio.device
    for on in (True, False, True):
        await audio.set_induction_loop(on)
        assert audio.induction_loop() is on


# --- streams ----------------------------------------------------------------------------------


def _tone(seconds: float, frequency: float = 1000.0, level_dbfs: float = -12.0) -> bytes:
    n = np.arange(round(seconds * STREAM_RATE))
    amplitude = math.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0) * 32767.0
    return bytes(
        np.round(amplitude * np.sin(2 * math.pi * frequency * n / STREAM_RATE))
        .astype("<i2")
        .tobytes()
    )


def _level(pcm: bytes) -> float:
    """RMS level of mono s16le samples in dBFS (-120: silence)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    power = float(np.square(samples).mean()) if samples.size else 0.0
    return -120.0 if power <= 0.0 else max(-120.0, 10.0 * math.log10(power))


async def _read(audio: Any, seconds: float) -> list[bytes]:
    return [await audio.read_audio(BLOCK) for _ in range(round(seconds * 50))]


def _needs_loopback(rig: Any) -> None:
    if "loopback" not in rig.params:
        pytest.skip("this rig's microphone does not hear its loudspeaker streams")


async def test_is_audio_streams(make_audio: Any) -> None:
    assert isinstance(make_audio.device, AudioStreams)


async def test_read_audio_is_sized_and_paced_by_the_device(make_audio: Any) -> None:
    audio = make_audio.device
    loop = asyncio.get_running_loop()
    try:
        await audio.read_audio(BLOCK)  # opens the stream
        t0 = loop.time()
        blocks = await _read(audio, 0.5)
        elapsed = loop.time() - t0
    finally:
        audio.stop_streams()
    assert all(isinstance(b, bytes) and len(b) == 2 * BLOCK for b in blocks)
    assert 0.4 <= elapsed < 1.5, elapsed
    audio.stop_streams()  # idempotent


async def test_read_audio_refuses_a_bad_size(make_audio: Any) -> None:
    for frames in (0, -960):
        with pytest.raises(ValueError):
            await make_audio.device.read_audio(frames)


async def test_write_audio_returns_at_once(make_audio: Any) -> None:
    audio = make_audio.device
    loop = asyncio.get_running_loop()
    try:
        await audio.write_audio(bytes(2 * BLOCK))  # opens the stream
        t0 = loop.time()
        await audio.write_audio(_tone(2.0))  # far more than the queue keeps
        for _ in range(10):
            await audio.write_audio(_tone(0.02))
        assert loop.time() - t0 < 0.2
        with pytest.raises(ValueError):
            await audio.write_audio(b"\x00")  # not whole samples
    finally:
        audio.stop_streams()


async def test_streams_loop_back(make_audio: Any) -> None:
    """What is written to the loudspeaker comes back on the microphone, and stops soon after
    the writer stops."""
    _needs_loopback(make_audio)
    audio = make_audio.device
    block = _tone(0.02)
    try:
        quiet = _level(b"".join(await _read(audio, 0.2)))
        heard: list[bytes] = []
        for _ in range(40):  # 0.8 s, the writer paced by the reader
            await audio.write_audio(block)
            heard.append(await audio.read_audio(BLOCK))
        loud = _level(b"".join(heard[-10:]))
        after = _level(b"".join((await _read(audio, 0.6))[-10:]))
    finally:
        audio.stop_streams()
    assert loud >= quiet + 20.0, (quiet, loud)
    assert after < loud - 20.0, (loud, after)


async def test_write_audio_keeps_at_most_200_ms_queued(make_audio: Any) -> None:
    """Two seconds written at once play for ~200 ms at most: the rest is dropped."""
    _needs_loopback(make_audio)
    audio = make_audio.device
    try:
        await _read(audio, 0.2)
        await audio.write_audio(_tone(2.0))
        levels = [_level(b) for b in await _read(audio, 1.2)]
    finally:
        audio.stop_streams()
    loud = [i for i, level in enumerate(levels) if level > -40.0]
    assert loud, levels
    assert levels[-1] < -60.0 and all(level < -60.0 for level in levels[-15:]), levels
    assert len(loud) <= 20, levels  # at most ~400 ms of tone, not 2 s
