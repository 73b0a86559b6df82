"""The booth's ``[media]`` section: what the booth sends, how it watches its media."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VideoSpec(_Model):
    width: int = Field(ge=160, le=3840, description="Width in pixels.")
    height: int = Field(ge=120, le=2160, description="Height in pixels.")
    fps: float = Field(gt=0, le=60, description="Frames per second sent.")


class MediaConfig(_Model):
    """Live video and audio with the agent (docs/media.md)."""

    enabled: bool = Field(True, description="Offer live media to the agent of a call.")
    sources: Literal["devices", "test"] = Field(
        "devices",
        description="`devices`: the booth's cameras and microphone (HAL); `test`: a moving test "
        "pattern carrying a frame counter and a timestamp, and a tone (simulator, benchmarks).",
    )
    main: VideoSpec = Field(
        default_factory=lambda: VideoSpec(width=640, height=480, fps=25.0),
        description="Main camera (the citizen's face; sign language needs >= 20 fps).",
    )
    document: VideoSpec = Field(
        default_factory=lambda: VideoSpec(width=1280, height=720, fps=5.0),
        description="Document camera (higher resolution, lower frame rate).",
    )
    watchdog_s: float = Field(
        2.0, gt=0, le=30, description="No media from a peer for this long: a new connection."
    )
    retry_s: float = Field(
        1.5, gt=0, le=30, description="While media is down: a fresh attempt this often."
    )
    connect_timeout_s: float = Field(
        10.0, gt=0, le=120, description="No media with a new peer within this: tell the bridge."
    )
    host_addresses: list[str] = Field(
        default_factory=list,
        description="Restrict the addresses offered as ICE host candidates (e.g. "
        '["127.0.0.1"] for loopback tests); empty: every address of the booth PC.',
    )
    relay_only: bool = Field(
        False,
        description="Only relayed ICE candidates (TURN, `iceTransportPolicy` relay): media never "
        "goes directly to the peer (tests; networks where only the TURN server is reachable).",
    )
    display_fps: float = Field(
        25.0, gt=0, le=60, description="At most this many frames a second to the booth screen."
    )
