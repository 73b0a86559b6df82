"""Contract of audio I/O: input level, test tone loopback, induction loop."""

from __future__ import annotations

import asyncio
from typing import Any

from hal.devices import AudioIO


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
