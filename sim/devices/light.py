"""Simulated light channel: inside light scene + brightness, outside status sign."""

from __future__ import annotations

import math

from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.events import DeviceKind, LightScene, SignState
from hal.health import SelftestResult
from sim.devices._base import SimDevice


class SimLightChannelOptions(DriverOptions):
    initial_scene: LightScene = Field(
        LightScene.OFF, description="Inside light scene when the driver is created."
    )
    initial_brightness: float = Field(
        0.0, ge=0.0, le=1.0, description="Inside light brightness (0..1) when created."
    )
    initial_sign: SignState = Field(
        SignState.OUT_OF_SERVICE, description="Outside sign when the driver is created."
    )


class SimLightChannel(SimDevice):
    """Inside light and outside sign; the values set are simply kept.

    Test control: ``fail(reason)`` / ``recover()`` (a failed channel refuses ``set_*``);
    ``actions`` holds every ``set_scene`` / ``set_sign`` request.
    """

    kind = DeviceKind.LIGHT
    Options = SimLightChannelOptions

    def __init__(self, name: str, options: SimLightChannelOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._scene = options.initial_scene
        self._brightness = options.initial_brightness
        self._sign = options.initial_sign

    async def set_scene(self, scene: LightScene, brightness: float) -> None:
        """Set the inside scene; ``brightness`` must be within 0..1 (else ``ValueError``)."""
        self._record("set_scene", scene=str(scene), brightness=brightness)
        scene = LightScene(scene)
        if not (isinstance(brightness, int | float) and math.isfinite(brightness)):
            raise ValueError(f"brightness must be a number within 0..1, got {brightness!r}")
        if not 0.0 <= brightness <= 1.0:
            raise ValueError(f"brightness must be within 0..1, got {brightness!r}")
        self._check()
        self._scene = scene
        self._brightness = float(brightness)

    async def set_sign(self, sign: SignState) -> None:
        self._record("set_sign", sign=str(sign))
        sign = SignState(sign)
        self._check()
        self._sign = sign

    def scene(self) -> tuple[LightScene, float]:
        return self._scene, self._brightness

    def sign(self) -> SignState:
        return self._sign

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        return self._result(
            True,
            f"scene {self._scene.value} at {self._brightness:.0%}, sign {self._sign.value}",
            {"scene": self._scene.value, "brightness": self._brightness, "sign": self._sign.value},
        )
