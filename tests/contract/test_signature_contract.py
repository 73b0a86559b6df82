"""Contract of signature pads: enable/disable, pen samples at >= 500 Hz within the pad."""

from __future__ import annotations

from typing import Any

import pytest

from hal.devices import SignaturePad
from hal.events import PenSamples


def samples_of(rec: Any) -> list[Any]:
    return [s for batch in rec.of(PenSamples) for s in batch.samples]


async def test_is_a_signature_pad(make_signature: Any) -> None:
    pad = make_signature.device
    assert isinstance(pad, SignaturePad)
    assert pad.sample_rate_hz >= 500
    assert pad.width > 0 and pad.height > 0


async def test_enable_disable(make_signature: Any) -> None:
    pad = make_signature.device
    await pad.enable()
    assert pad.enabled() is True
    await pad.disable()
    assert pad.enabled() is False
    await pad.enable()
    await pad.clear()
    assert pad.enabled() is True


async def test_stroke_while_enabled_emits_samples(make_signature: Any, record: Any) -> None:
    pad, peer = make_signature.device, make_signature.peer
    rec = record(pad)
    await pad.enable()
    w, h = pad.width, pad.height
    points = [(w * 0.1, h * 0.5), (w * 0.5, h * 0.2), (w * 0.9, h * 0.8)]
    duration = 0.4
    await peer.draw_stroke(points, duration, pressure=600)

    samples = samples_of(rec)
    expected = duration * pad.sample_rate_hz
    assert expected * 0.9 <= len(samples) <= expected * 1.1 + 2, len(samples)
    assert len(rec.of(PenSamples)) > 1  # delivered in batches, not all at the end
    for s in samples:
        assert 0 <= s.x <= w and 0 <= s.y <= h, s
        assert 0 <= s.pressure <= 1023, s
    times = [s.t for s in samples]
    assert times == sorted(times)
    assert times[-1] - times[0] == pytest.approx(duration, rel=0.1)
    # the pen went from left to right
    assert samples[0].x < w * 0.2 and samples[-1].x > w * 0.8


async def test_stroke_while_disabled_emits_nothing(make_signature: Any, record: Any) -> None:
    pad, peer = make_signature.device, make_signature.peer
    rec = record(pad)
    await pad.disable()
    await peer.draw_stroke([(100, 100), (2000, 1500)], 0.2)
    assert samples_of(rec) == []
