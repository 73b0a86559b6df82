"""The booth's loudspeaker: received audio of every peer, mixed, to the HAL audio device.

aiortc's Opus decoder gives 20 ms frames, s16, 48 kHz (mono or stereo). Each peer's frames are
queued (at most ~200 ms, the oldest dropped); every 20 ms the frames due are summed and written
to the device's speaker stream (:class:`hal.devices.AudioStreams`; the induction-loop amplifier
hangs on that output). Without such a device the audio is counted and dropped. Nothing is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from typing import Any

from hal.devices import AudioStreams

log = logging.getLogger("lisa.booth.media")

RATE = 48_000
BLOCK = 960  # 20 ms
MAX_QUEUED = 10  # 200 ms per peer


def to_mono(frame: Any) -> Any:
    """An av AudioFrame (s16, any layout, 48 kHz) as mono int16 samples."""
    import numpy as np

    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        samples = data.astype(np.int32).mean(axis=0) if data.shape[0] > 1 else data[0]
    else:
        flat = data.reshape(-1)
        if channels > 1:
            samples = flat.reshape(-1, channels).astype(np.int32).mean(axis=1)
        else:
            samples = flat
    return np.asarray(samples, dtype=np.int16)


class AudioMixer:
    def __init__(self, device: Any | None) -> None:
        self.device = device if isinstance(device, AudioStreams) else None
        self._queues: dict[str, deque[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self.frames_in: dict[str, int] = {}
        self.level_dbfs: dict[str, float] = {}
        self.blocks_out = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="media-mixer")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._queues.clear()
        if self.device is not None:
            with contextlib.suppress(Exception):
                self.device.stop_streams()

    def push(self, peer: str, frame: Any) -> None:
        import numpy as np

        samples = to_mono(frame)
        q = self._queues.setdefault(peer, deque(maxlen=MAX_QUEUED))
        q.append(samples)
        self.frames_in[peer] = self.frames_in.get(peer, 0) + 1
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
        self.level_dbfs[peer] = 20 * math.log10(rms / 32768) if rms > 0 else -120.0

    async def _run(self) -> None:
        import numpy as np

        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += BLOCK / RATE
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            parts = [q.popleft() for q in self._queues.values() if q]
            if not parts:
                continue
            size = max(p.size for p in parts)
            mix = np.zeros(size, dtype=np.int32)
            for p in parts:
                mix[: p.size] += p
            block = np.clip(mix, -32768, 32767).astype("<i2").tobytes()
            self.blocks_out += 1
            if self.device is not None:
                try:
                    await self.device.write_audio(block)
                except Exception as exc:
                    log.warning("speaker failed", extra={"error": repr(exc)})
