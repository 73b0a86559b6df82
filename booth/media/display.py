"""Received video for the booth screens: the latest frame of each stream, as MJPEG.

The kiosk Chromium shows the agent's video (and a shared screen) as
``<img src="/media/stream/<peer>/<stream>.mjpg">``: a ``multipart/x-mixed-replace`` stream
from the booth's screen server on 127.0.0.1. Frames are JPEG-encoded only while a screen
watches the stream, at most ``max_fps`` a second, and only the latest frame is held —
nothing is written anywhere (docs/media.md measures what this path costs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

BOUNDARY = "lisaframe"
JPEG_QUALITY = 5  # mjpeg qscale (2 best … 31 worst)


@dataclass
class _Stream:
    frame: Any = None
    version: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    watchers: int = 0
    encoded: int = 0
    encode_s: float = 0.0


class JpegEncoder:
    """av's MJPEG encoder, re-created when the frame size changes."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._size: tuple[int, int] | None = None
        self._pts = 0

    def encode(self, frame: Any) -> bytes:
        size = (int(frame.width), int(frame.height))
        if self._codec is None or size != self._size:
            import av

            codec = av.CodecContext.create("mjpeg", "w")
            codec.width, codec.height = size
            codec.pix_fmt = "yuvj420p"
            codec.time_base = Fraction(1, 25)
            codec.options = {"qscale": str(JPEG_QUALITY)}
            codec.qmin = JPEG_QUALITY
            codec.qmax = JPEG_QUALITY
            self._codec, self._size = codec, size
        image = frame.reformat(format="yuvj420p")
        # our own rising pts in the codec's time base: with pts None, or the received frame's
        # own (1/90000, restarting with every new connection), avcodec_send_frame() refuses
        # every frame after the first with EINVAL
        image.pts = self._pts
        image.time_base = self._codec.time_base
        self._pts += 1
        packets = self._codec.encode(image)
        return b"".join(bytes(p) for p in packets)


class FrameHub:
    """Latest received frame per stream key (``<peer>/video``, ``<peer>/share``)."""

    def __init__(self, max_fps: float = 25.0) -> None:
        self.max_fps = max_fps
        self._streams: dict[str, _Stream] = {}

    def publish(self, key: str, frame: Any) -> None:
        s = self._streams.setdefault(key, _Stream())
        s.frame = frame
        s.version += 1
        s.changed.set()

    def keys(self) -> list[str]:
        return list(self._streams)

    def has(self, key: str) -> bool:
        s = self._streams.get(key)
        return s is not None and s.frame is not None

    def drop_prefix(self, prefix: str) -> None:
        for key in [k for k in self._streams if k.startswith(prefix + "/")]:
            self._drop(key)

    def clear(self) -> None:
        for key in list(self._streams):
            self._drop(key)

    def _drop(self, key: str) -> None:
        s = self._streams.pop(key, None)
        if s is not None:
            s.frame = None
            s.changed.set()  # wakes the watchers: they end

    def stats(self) -> dict[str, dict[str, float]]:
        return {
            k: {
                "encoded": s.encoded,
                "encode_ms_avg": (s.encode_s / s.encoded * 1000) if s.encoded else 0.0,
            }
            for k, s in self._streams.items()
        }

    async def jpegs(self, key: str, idle_timeout: float = 30.0) -> AsyncIterator[bytes]:
        """JPEG frames of ``key`` as they come (at most ``max_fps``); ends when the stream is
        dropped (call ended) or nothing came for ``idle_timeout`` seconds."""
        s = self._streams.setdefault(key, _Stream())
        encoder = JpegEncoder()
        seen = -1
        s.watchers += 1
        try:
            while True:
                if s.version == seen or s.frame is None:
                    s.changed.clear()
                    try:
                        await asyncio.wait_for(s.changed.wait(), idle_timeout)
                    except TimeoutError:
                        return
                    if self._streams.get(key) is not s:
                        return
                    continue
                seen = s.version
                t0 = time.perf_counter()
                data = await asyncio.to_thread(encoder.encode, s.frame)
                s.encode_s += time.perf_counter() - t0
                s.encoded += 1
                yield data
                await asyncio.sleep(1.0 / self.max_fps)
        finally:
            s.watchers -= 1


def multipart(jpeg: bytes) -> bytes:
    """One part of the ``multipart/x-mixed-replace`` stream."""
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    ).encode("ascii")
    return head + jpeg + b"\r\n"
