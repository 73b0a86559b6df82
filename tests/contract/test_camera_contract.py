"""Contract of cameras: frames of the stated size with increasing seq, controls."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hal.devices import Camera
from hal.events import CameraControls, CameraRole

BYTES_PER_PIXEL = {"gray8": 1, "bgr24": 3}


async def test_is_a_camera(make_camera: Any) -> None:
    camera = make_camera.device
    assert isinstance(camera, Camera)
    assert isinstance(camera.role, CameraRole)


async def test_grab_returns_frames_with_increasing_seq(make_camera: Any) -> None:
    camera = make_camera.device
    frames = [await camera.grab() for _ in range(5)]
    first = frames[0]
    assert first.width > 0 and first.height > 0
    for frame in frames:
        assert (frame.width, frame.height, frame.pixel_format) == (
            first.width,
            first.height,
            first.pixel_format,
        )
        bpp = BYTES_PER_PIXEL[frame.pixel_format]
        assert len(frame.data) == frame.width * frame.height * bpp
    seqs = [f.seq for f in frames]
    assert all(b > a for a, b in itertools.pairwise(seqs)), seqs
    times = [f.t for f in frames]
    assert times == sorted(times)


async def test_controls_round_trip(make_camera: Any) -> None:
    camera = make_camera.device
    before = camera.controls()
    for name in ("zoom", "focus", "brightness"):
        if getattr(before, name) is None:
            continue  # the device has no such control
        for value in (0.25, 0.75):
            applied = await camera.set_controls(CameraControls(**{name: value}))
            assert getattr(applied, name) == pytest.approx(value, abs=0.01)
            assert getattr(camera.controls(), name) == pytest.approx(value, abs=0.01)
            for other in {"zoom", "focus", "brightness"} - {name}:
                assert getattr(applied, other) == getattr(camera.controls(), other)


@pytest.mark.parametrize("value", [-0.1, 1.1])
async def test_controls_outside_range_are_refused(make_camera: Any, value: float) -> None:
    camera = make_camera.device
    before = camera.controls()
    with pytest.raises(ValueError):
        await camera.set_controls(CameraControls(zoom=value, focus=value, brightness=value))
    assert camera.controls() == before
