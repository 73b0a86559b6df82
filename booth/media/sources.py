"""What the booth sends: main camera, document camera, microphone — or the test sources.

``sources = "devices"``: :class:`~booth.media.tracks.CameraTrack` over the HAL cameras
(``camera_main``, ``camera_document``) and :class:`~booth.media.tracks.MicrophoneTrack` over
the HAL audio device. A camera that fails mid-call keeps its track alive with a placeholder
(the call goes on with audio; the agent is told through ``on_health``).
``sources = "test"``: a moving test pattern carrying a frame counter and a timestamp
(:mod:`booth.media.pattern`) at the configured sizes, and a tone — for the simulator, the
media check and the benchmarks.

Each source is produced once per call and fanned out to every peer connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from booth.media.config import MediaConfig
from hal.devices import AudioStreams, Camera

HealthHook = Callable[[str, bool, str], None]


class MediaSources:
    def __init__(self, config: MediaConfig, devices: Mapping[str, Any], on_health: HealthHook):
        self.config = config
        self.devices = devices
        self.on_health = on_health
        self.main: Any = None
        self.document: Any = None
        self.audio: Any = None
        self.started = False

    def start(self) -> None:
        from booth.media.tracks import (
            CameraTrack,
            MicrophoneTrack,
            PatternTrack,
            ToneTrack,
        )

        cfg = self.config
        if cfg.sources == "test":
            self.main = PatternTrack(cfg.main.width, cfg.main.height, cfg.main.fps)
            self.document = PatternTrack(cfg.document.width, cfg.document.height, cfg.document.fps)
            self.audio = ToneTrack()
        else:
            main = self.devices.get("camera_main")
            doc = self.devices.get("camera_document")
            audio = self.devices.get("audio")
            self.main = (
                CameraTrack(main, cfg.main.fps, on_health=self._hook("camera_main"))
                if isinstance(main, Camera)
                else None
            )
            self.document = (
                CameraTrack(doc, cfg.document.fps, on_health=self._hook("camera_document"))
                if isinstance(doc, Camera)
                else None
            )
            self.audio = MicrophoneTrack(audio) if isinstance(audio, AudioStreams) else None
        self.started = True

    def _hook(self, slot: str) -> Callable[[bool, str], None]:
        def hook(ok: bool, reason: str) -> None:
            self.on_health(slot, ok, reason)

        return hook

    def stop(self) -> None:
        for track in (self.main, self.document, self.audio):
            if track is not None:
                track.stop()
        self.main = self.document = self.audio = None
        self.started = False

    def live(self) -> int:
        return sum(
            1
            for t in (self.main, self.document, self.audio)
            if t is not None and t.readyState == "live"
        )
