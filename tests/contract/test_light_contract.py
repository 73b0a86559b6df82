"""Contract of light channels: inside scene + brightness, outside sign."""

from __future__ import annotations

from typing import Any

import pytest

from hal.devices import LightChannel
from hal.events import LightScene, SignState


async def test_is_a_light_channel(make_light: Any) -> None:
    assert isinstance(make_light.device, LightChannel)


@pytest.mark.parametrize("scene", list(LightScene))
@pytest.mark.parametrize("brightness", [0.0, 0.35, 1.0])
async def test_scene_round_trip(make_light: Any, scene: LightScene, brightness: float) -> None:
    light = make_light.device
    other = LightScene.MAINTENANCE if scene is not LightScene.MAINTENANCE else LightScene.OFF
    await light.set_scene(other, 1.0 - brightness)
    await light.set_scene(scene, brightness)
    got_scene, got_brightness = light.scene()
    assert got_scene is scene
    assert got_brightness == pytest.approx(brightness, abs=1 / 255)


@pytest.mark.parametrize("brightness", [-0.01, 1.01, float("nan")])
async def test_brightness_outside_range_is_refused(make_light: Any, brightness: float) -> None:
    light = make_light.device
    await light.set_scene(LightScene.STANDBY, 0.5)
    with pytest.raises(ValueError):
        await light.set_scene(LightScene.CONSULTATION, brightness)
    assert light.scene()[0] is LightScene.STANDBY
    assert light.scene()[1] == pytest.approx(0.5, abs=1 / 255)


async def test_sign_round_trip(make_light: Any) -> None:
    light = make_light.device
    signs = list(SignState)
    for sign in [*signs, *reversed(signs)]:
        await light.set_sign(sign)
        assert light.sign() is sign
