"""A full-resolution still of the document camera, as JPEG, in memory only.

Asked for by the agent over the ``lisa`` data channel (so that an A4 page is readable); the
bytes go to the agent and are never written anywhere on the booth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from booth.media.display import JpegEncoder
from hal.devices import Camera

#: the test source's still: a 1920×1080 pattern (what a 2 MP document camera delivers)
TEST_STILL = (1920, 1080)


def _frame_of(data: bytes, width: int, height: int, pixel_format: str) -> Any:
    import av
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    if pixel_format == "gray8":
        return av.VideoFrame.from_ndarray(raw.reshape(height, width), format="gray")
    return av.VideoFrame.from_ndarray(raw.reshape(height, width, 3), format="bgr24")


async def still_jpeg(sources: Any, devices: Mapping[str, Any]) -> tuple[bytes, int, int]:
    """(jpeg, width, height) of the document camera now; raises when it cannot deliver."""
    import av

    if sources.config.sources == "test":
        from booth.media.pattern import encode_pattern

        w, h = TEST_STILL
        yuv = encode_pattern(w, h, 0, int(time.time() * 1000))
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    else:
        camera = devices.get("camera_document")
        if not isinstance(camera, Camera):
            raise RuntimeError("no document camera")
        grabbed = await camera.grab()
        frame = _frame_of(grabbed.data, grabbed.width, grabbed.height, grabbed.pixel_format)
    jpeg = await asyncio.to_thread(JpegEncoder().encode, frame)
    return jpeg, int(frame.width), int(frame.height)
