"""The light channel wired through the booth's Modbus PLC (light driver ``plc``).

Inside light: holding registers ``light_scene`` (code) and ``light_brightness`` (per mille),
written together; outside sign: ``sign_state``. ``scene()`` / ``sign()`` report what the PLC
holds (as written, or as polled: in its safe defaults the PLC holds the sign at out-of-service).
Needs ``[devices.plc]`` with driver ``modbus-tcp`` or ``modbus-rtu``; see
``docs/plc-register-map.md``.
"""

from __future__ import annotations

import math

from drivers import plc_map
from drivers.plc_modbus import PlcWiredDevice
from hal.base import DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import DeviceKind, LightScene, SignState
from hal.health import SelftestOutcome, SelftestResult


class PlcLightOptions(DriverOptions):
    """No options: the light follows the booth's PLC (``[devices.plc]``)."""


class PlcLight(PlcWiredDevice):
    """Inside light and outside sign through the PLC's holding registers."""

    kind = DeviceKind.LIGHT
    Options = PlcLightOptions

    def __init__(self, name: str, options: PlcLightOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._wanted_scene: tuple[LightScene, float] | None = None
        self._wanted_sign: SignState | None = None

    async def set_scene(self, scene: LightScene, brightness: float) -> None:
        """Set the inside scene; ``brightness`` must be within 0..1 (else ``ValueError``)."""
        scene = LightScene(scene)
        if not (isinstance(brightness, int | float) and math.isfinite(brightness)):
            raise ValueError(f"brightness must be a number within 0..1, got {brightness!r}")
        if not 0.0 <= brightness <= 1.0:
            raise ValueError(f"brightness must be within 0..1, got {brightness!r}")
        self._wanted_scene = (scene, float(brightness))
        await self._require().write_registers(
            {
                plc_map.LIGHT_SCENE.name: plc_map.LIGHT_SCENE_CODES[scene],
                plc_map.LIGHT_BRIGHTNESS.name: round(brightness * plc_map.BRIGHTNESS_SCALE),
            }
        )

    async def set_sign(self, sign: SignState) -> None:
        sign = SignState(sign)
        self._wanted_sign = sign
        plc = self._require()
        await plc.write_registers({plc_map.SIGN_STATE.name: plc_map.SIGN_CODES[sign]})
        # read it back: in its safe defaults the PLC keeps the sign at out-of-service
        await plc.read_register(plc_map.SIGN_STATE.address)

    def scene(self) -> tuple[LightScene, float]:
        plc = self._plc
        if plc is None:
            return LightScene.OFF, 0.0
        scene = plc_map.scene_from_code(plc.register(plc_map.LIGHT_SCENE.name))
        brightness = plc.register(plc_map.LIGHT_BRIGHTNESS.name) / plc_map.BRIGHTNESS_SCALE
        return scene or LightScene.OFF, min(1.0, brightness)

    def sign(self) -> SignState:
        plc = self._plc
        if plc is None:
            return SignState.OUT_OF_SERVICE
        sign = plc_map.sign_from_code(plc.register(plc_map.SIGN_STATE.name))
        return sign or SignState.OUT_OF_SERVICE

    async def selftest(self) -> SelftestResult:
        problem = self._plc_selftest_problem()
        if problem is not None:
            return problem
        try:
            await self._require().refresh()
        except DeviceError as exc:
            return SelftestResult(self.name, SelftestOutcome.FAIL, str(exc))
        scene, brightness = self.scene()
        sign = self.sign()
        return SelftestResult(
            self.name,
            SelftestOutcome.PASS,
            f"scene {scene.value} at {brightness:.0%}, sign {sign.value} (PLC)",
            {"scene": scene.value, "brightness": brightness, "sign": sign.value},
        )

    async def _reassert(self) -> None:
        if self._wanted_scene is not None:
            await self.set_scene(*self._wanted_scene)
        if self._wanted_sign is not None:
            await self.set_sign(self._wanted_sign)
