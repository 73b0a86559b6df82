"""A moving test pattern that carries a frame counter and a send timestamp through VP8.

The picture is smooth, realistic content (a panning colour gradient and a bright disc moving on
a Lissajous path, cheap for VP8 like a face is) under a *code strip* at the top: three rows of
32 large black/white luma blocks (16 vs 235) holding 96 bits, big-endian:

- ``seq``: frame counter, 32 bits (wraps);
- ``t_ms``: send time in milliseconds, 48 bits (wraps);
- a CRC-16/CCITT over a magic prefix and those 80 bits, so a damaged or foreign picture
  decodes to ``None`` rather than to a wrong stamp.

The block size scales with the width (``width // 40``, at least 8: 16 at 640, 8 at 320, 32 at
1280), so the strip is about 10 % of the height. Decoding reads the mean of the inner half of
each block, which survives VP8's quantisation and ringing; a block too close to mid-grey
rejects the frame as well.

The background of each size is computed once and then only sliced per frame (a horizontal pan),
so a frame costs a few memory copies: no per-pixel Python, no noise.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

#: Luma of a 0 bit / a 1 bit (video range black / white).
BLACK = 16
WHITE = 235
#: Bits per strip row, strip rows (96 bits: seq 32 + t_ms 48 + check 16).
BITS_PER_ROW = 32
ROWS = 3
#: A block's inner mean must be below / above these to count as a clear 0 / 1.
LOW_MAX = 95
HIGH_MIN = 155
#: Prefix of the checked bytes: a picture that just happens to be black/white blocks with a
#: matching plain CRC is not taken for a pattern.
_MAGIC = b"LISA"
_SEQ_MASK = (1 << 32) - 1
_T_MASK = (1 << 48) - 1
#: Pan speed of the background (pixels per frame at 640 wide; scaled with the width).
_PAN_PER_FRAME_640 = 2
#: 8-bit pixel formats whose first plane is the luma plane.
_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
)


@dataclass(frozen=True, slots=True)
class PatternStamp:
    """What a pattern frame carries: its frame counter and its send time (ms)."""

    seq: int
    t_ms: int


def block_size(width: int) -> int:
    """Edge of one code block in pixels for a picture ``width`` wide (even, >= 8)."""
    return max(8, (width // 40) & ~1)


def strip_height(width: int) -> int:
    """Rows the code strip takes at the top of a picture ``width`` wide."""
    return ROWS * block_size(width)


def _check(seq: int, t_ms: int) -> int:
    payload = seq.to_bytes(4, "big") + t_ms.to_bytes(6, "big")
    return binascii.crc_hqx(_MAGIC + payload, 0xFFFF)


def _payload_bits(seq: int, t_ms: int) -> Any:
    seq &= _SEQ_MASK
    t_ms &= _T_MASK
    data = seq.to_bytes(4, "big") + t_ms.to_bytes(6, "big") + _check(seq, t_ms).to_bytes(2, "big")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    return bits.reshape(ROWS, BITS_PER_ROW)


def _validate(width: int, height: int) -> None:
    if width % 2 or height % 2 or block_size(width) * BITS_PER_ROW > width:
        raise ValueError(f"pattern size must be even and >= 256 wide, got {width}x{height}")
    if height < 2 * strip_height(width):
        raise ValueError(f"pattern {width}x{height} is too low for its code strip")


@lru_cache(maxsize=8)
def _background(width: int, height: int) -> tuple[Any, Any, Any]:
    """Luma and chroma planes twice as wide as the picture (periodic in x, so a pan is a
    slice), computed once per size."""
    x = np.arange(2 * width, dtype=np.float32) * (2.0 * math.pi / width)
    y = np.arange(height, dtype=np.float32)[:, None] / height
    luma = 120.0 + 50.0 * np.sin(x)[None, :] + 40.0 * (y - 0.5)
    cx = np.arange(width, dtype=np.float32) * (2.0 * math.pi / (width // 2))
    cy = np.arange(height // 2, dtype=np.float32)[:, None] / (height // 2)
    u = 128.0 + 24.0 * np.cos(cx)[None, :] + 16.0 * (cy - 0.5)
    v = 128.0 + 20.0 * np.sin(cx)[None, :] - 16.0 * (cy - 0.5)
    return (
        np.clip(luma, BLACK, WHITE).astype(np.uint8),
        np.clip(u, 16, 240).astype(np.uint8),
        np.clip(v, 16, 240).astype(np.uint8),
    )


@lru_cache(maxsize=8)
def _disc(width: int) -> tuple[Any, int]:
    """A soft bright disc sprite (luma) and its edge in pixels."""
    size = max(16, (width // 8) & ~1)
    r = np.hypot(*np.meshgrid(np.arange(size) - size / 2 + 0.5, np.arange(size) - size / 2 + 0.5))
    alpha = np.clip((size / 2 - r) / 3.0, 0.0, 1.0)
    return alpha.astype(np.float32), size


def encode_pattern(width: int, height: int, seq: int, t_ms: int) -> Any:
    """One yuv420p frame (``(height * 3 // 2, width)`` uint8, as ``VideoFrame.from_ndarray``
    takes it) of the moving pattern for frame ``seq``, stamped with ``seq`` and ``t_ms``."""
    _validate(width, height)
    bg_y, bg_u, bg_v = _background(width, height)
    pan = (seq * max(1, _PAN_PER_FRAME_640 * width // 640)) % width
    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    flat = out.reshape(-1)
    y = flat[: width * height].reshape(height, width)
    cw, ch = width // 2, height // 2
    u = flat[width * height : width * height + cw * ch].reshape(ch, cw)
    v = flat[width * height + cw * ch :].reshape(ch, cw)
    y[:] = bg_y[:, pan : pan + width]
    u[:] = bg_u[:, pan // 2 : pan // 2 + cw]
    v[:] = bg_v[:, pan // 2 : pan // 2 + cw]

    # the disc: moves on a Lissajous path below the strip
    alpha, size = _disc(width)
    top = strip_height(width) + 2
    span_x, span_y = width - size, height - top - size
    if span_x > 0 and span_y > 0:
        px = int((0.5 + 0.5 * math.sin(seq * 0.05)) * span_x)
        py = top + int((0.5 + 0.5 * math.sin(seq * 0.037 + 1.0)) * span_y)
        region = y[py : py + size, px : px + size]
        region[:] = (region + alpha * (230.0 - region)).astype(np.uint8)

    # the code strip
    b = block_size(width)
    strip = strip_height(width)
    y[:strip] = BLACK
    x0 = ((width // b - BITS_PER_ROW) // 2) * b
    levels = np.where(_payload_bits(seq, t_ms), WHITE, BLACK).astype(np.uint8)
    y[:strip, x0 : x0 + BITS_PER_ROW * b] = levels.repeat(b, axis=0).repeat(b, axis=1)
    u[: strip // 2] = 128
    v[: strip // 2] = 128
    return out


def decode_pattern(y_plane: Any) -> PatternStamp | None:
    """The stamp in a luma plane (``(height, width)`` uint8; more rows below, e.g. a whole
    yuv420p array, are ignored); ``None`` when there is no valid code strip."""
    if y_plane.ndim != 2:
        return None
    width = int(y_plane.shape[1])
    b = block_size(width)
    strip = ROWS * b
    x0 = ((width // b - BITS_PER_ROW) // 2) * b
    if y_plane.shape[0] < strip or x0 < 0:
        return None
    area = y_plane[:strip, x0 : x0 + BITS_PER_ROW * b]
    q = b // 4
    inner = area.reshape(ROWS, b, BITS_PER_ROW, b)[:, q : b - q, :, q : b - q]
    means = inner.mean(axis=(1, 3))
    if bool(((means > LOW_MAX) & (means < HIGH_MIN)).any()):
        return None
    data = np.packbits((means >= HIGH_MIN).reshape(-1)).tobytes()
    seq = int.from_bytes(data[0:4], "big")
    t_ms = int.from_bytes(data[4:10], "big")
    if int.from_bytes(data[10:12], "big") != _check(seq, t_ms):
        return None
    return PatternStamp(seq=seq, t_ms=t_ms)


def luma_plane(frame: Any) -> Any:
    """The luma plane of an ``av.VideoFrame`` as a ``(height, width)`` uint8 view (no copy for
    yuv/gray frames; the plane's line padding is cut off)."""
    if frame.format.name not in _LUMA_FIRST:
        frame = frame.reformat(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8)
    return rows[: plane.line_size * frame.height].reshape(frame.height, plane.line_size)[
        :, : frame.width
    ]


def decode_frame(frame: Any) -> PatternStamp | None:
    """The stamp of an ``av.VideoFrame`` (``None``: not a valid pattern frame)."""
    return decode_pattern(luma_plane(frame))
