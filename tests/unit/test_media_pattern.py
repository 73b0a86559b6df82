"""The stamped test pattern: layout, check value, and a real VP8 round trip."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame

from booth.media.pattern import (
    BLACK,
    WHITE,
    PatternStamp,
    block_size,
    decode_frame,
    decode_pattern,
    encode_pattern,
    strip_height,
)

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _vp8_round_trip(width: int, height: int, count: int) -> list[tuple[int, PatternStamp | None]]:
    """Encode ``count`` pattern frames with aiortc's VP8 encoder (its real-time settings,
    500 kbit/s) and decode them again: ``(seq sent, stamp decoded)`` per decoded frame."""
    encoder, decoder = Vp8Encoder(), Vp8Decoder()
    out: list[tuple[int, PatternStamp | None]] = []
    for seq in range(count):
        frame = av.VideoFrame.from_ndarray(
            encode_pattern(width, height, seq, T0_MS + seq * 40), format="yuv420p"
        )
        frame.pts = seq * 3600
        frame.time_base = fractions.Fraction(1, 90_000)
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(vp8_depayload(p) for p in payloads)
        for decoded in decoder.decode(JitterFrame(data, timestamp)):
            out.append((seq, decode_frame(decoded)))
    return out


@pytest.mark.parametrize(
    ("width", "height", "count"), [(640, 480, 60), (320, 240, 30), (1280, 720, 20)]
)
def test_stamps_survive_vp8(width: int, height: int, count: int) -> None:
    results = _vp8_round_trip(width, height, count)
    assert len(results) == count
    right = [seq for seq, stamp in results if stamp == PatternStamp(seq, T0_MS + seq * 40)]
    wrong = [
        (seq, s) for seq, s in results if s is not None and s != PatternStamp(seq, T0_MS + seq * 40)
    ]
    assert not wrong
    assert len(right) >= 0.95 * count, f"{len(right)}/{count} decoded"


def test_frame_layout() -> None:
    yuv = encode_pattern(640, 480, 7, 123)
    assert yuv.shape == (720, 640) and yuv.dtype == np.uint8
    assert block_size(640) == 16 and block_size(320) == 8 and block_size(1280) == 32
    strip = yuv[: strip_height(640)]
    assert set(np.unique(strip).tolist()) == {BLACK, WHITE}
    # chroma of the strip is neutral, the picture below is not flat
    assert decode_pattern(yuv) == PatternStamp(7, 123)
    assert decode_pattern(yuv[:480]) == PatternStamp(7, 123)
    assert float(yuv[strip_height(640) : 480].std()) > 10.0


def test_content_moves_from_frame_to_frame() -> None:
    a, b = encode_pattern(320, 240, 10, 0), encode_pattern(320, 240, 11, 0)
    below = slice(strip_height(320), 240)
    assert not np.array_equal(a[below], b[below])


def test_counter_and_time_wrap_to_their_widths() -> None:
    stamp = decode_pattern(encode_pattern(320, 240, 2**32 + 5, 2**48 + 9))
    assert stamp == PatternStamp(5, 9)


def test_a_damaged_strip_is_rejected() -> None:
    yuv = encode_pattern(640, 480, 42, T0_MS)
    b = block_size(640)
    x0 = ((640 // b - 32) // 2) * b
    # flip one bit block: the check fails
    block = yuv[:b, x0 + 5 * b : x0 + 6 * b]
    block[:] = np.where(block > 128, BLACK, WHITE)
    assert decode_pattern(yuv) is None
    # a block gone grey: not a clear bit
    yuv = encode_pattern(640, 480, 42, T0_MS)
    yuv[b : 2 * b, x0 : x0 + b] = 128
    assert decode_pattern(yuv) is None


@pytest.mark.parametrize("value", [0, 16, 128, 235, 255])
def test_flat_pictures_are_not_patterns(value: int) -> None:
    assert decode_pattern(np.full((480, 640), value, dtype=np.uint8)) is None


def test_noise_and_small_pictures_are_not_patterns() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        assert decode_pattern(rng.integers(0, 256, (240, 320), dtype=np.uint8)) is None
    assert decode_pattern(np.zeros((20, 640), dtype=np.uint8)) is None  # too low
    assert decode_pattern(np.zeros((240, 100), dtype=np.uint8)) is None  # too narrow
    assert decode_pattern(np.zeros(100, dtype=np.uint8)) is None


def test_decode_frame_handles_line_padding_and_other_formats() -> None:
    frame = av.VideoFrame.from_ndarray(encode_pattern(330, 240, 3, 99), format="yuv420p")
    assert frame.planes[0].line_size != 330  # padded lines
    assert decode_frame(frame) == PatternStamp(3, 99)
    assert decode_frame(frame.reformat(format="rgb24")) == PatternStamp(3, 99)
    assert decode_frame(frame.reformat(format="gray")) == PatternStamp(3, 99)


@pytest.mark.parametrize(("width", "height"), [(641, 480), (640, 481), (200, 200), (640, 40)])
def test_bad_sizes_are_refused(width: int, height: int) -> None:
    with pytest.raises(ValueError):
        encode_pattern(width, height, 0, 0)
