"""Inside light and outside sign on GPIO through gpiozero.

- Inside light: one ``PWMLED`` (a MOSFET / LED driver with a PWM dim input) on ``inside_pin``;
  its duty cycle is the output level of :mod:`drivers._lighting` (``off`` → 0, ``emergency`` →
  full, else the brightness). Keep ``pwm_frequency`` high (default 1 kHz): at 100 Hz the video
  camera shows banding.
- Outside sign, ``sign_type = "rgb"``: an ``RGBLED`` on ``sign_red_pin`` / ``sign_green_pin`` /
  ``sign_blue_pin`` (PWM, so amber = red 100 % + green 50 %).
  ``sign_type = "leds"``: separate ``LED`` outputs for red, green and (optional) amber lamps.
- Sign states: ``free`` green, ``occupied`` red (or amber), ``out-of-service`` red blinking
  (or steady red / dark), see :mod:`drivers._lighting`. Blinking is an asyncio task on the
  driver's clock, not a gpiozero thread.

Default pins (BCM): inside 12 (hardware PWM capable), sign red 16, green 20, blue 21.
``stop()`` releases the pins (light and sign go dark); ``start()`` drives the last requested
scene and sign again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from drivers._gpio import PinFactoryName, PinName, close_all, pin_factory, pwm_capable
from drivers._lighting import (
    RGB,
    SignColour,
    SignStyleOptions,
    check_brightness,
    output_level,
    sign_look,
)
from hal.base import DeviceBase, DriverContext
from hal.devices import DeviceError
from hal.events import DeviceKind, LightScene, SignState
from hal.health import HealthStatus, SelftestOutcome, SelftestResult


class GpioLightOptions(SignStyleOptions):
    inside_pin: PinName = Field(12, description="PWM output of the inside light dimmer.")
    inside_active_high: bool = Field(True, description="The dimmer input is active high.")
    pwm_frequency: int = Field(1000, gt=0, description="PWM frequency of the inside light (Hz).")
    sign_type: Literal["rgb", "leds"] = Field(
        "rgb", description="Outside sign: one RGB LED (PWM) or separate red/green/amber lamps."
    )
    sign_red_pin: PinName = Field(16, description="Red channel / red lamp of the sign.")
    sign_green_pin: PinName = Field(20, description="Green channel / green lamp of the sign.")
    sign_blue_pin: PinName | None = Field(21, description="Blue channel (rgb only).")
    sign_amber_pin: PinName | None = Field(
        None, description="Amber lamp (leds only; needed for occupied = amber)."
    )
    sign_active_high: bool = Field(
        True, description="Sign outputs are active high (common-cathode RGB LED)."
    )
    pin_factory: PinFactoryName = Field(
        "default", description="gpiozero pin factory: default (the Pi) or mock (tests)."
    )

    @model_validator(mode="after")
    def _sign_pins(self) -> Self:
        if self.sign_type == "rgb" and self.sign_blue_pin is None:
            raise ValueError("sign_type rgb needs sign_blue_pin")
        if self.sign_type == "leds" and self.occupied == "amber" and self.sign_amber_pin is None:
            raise ValueError("occupied = amber with sign_type leds needs sign_amber_pin")
        return self


@dataclass
class _Outputs:
    inside: Any
    rgb: Any | None  # RGBLED (sign_type rgb)
    lamps: dict[SignColour, Any]  # LED per colour (sign_type leds)

    def all(self) -> list[Any]:
        devices = [self.inside]
        if self.rgb is not None:
            devices.append(self.rgb)
        devices.extend(self.lamps.values())
        return devices


class GpioLight(DeviceBase):
    """Inside light (PWM) and outside sign (RGB LED or lamps) on GPIO."""

    kind = DeviceKind.LIGHT
    Options = GpioLightOptions

    def __init__(self, name: str, options: GpioLightOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._outputs: _Outputs | None = None
        self._unavailable: str | None = "not started"
        self._scene = LightScene.OFF
        self._brightness = 0.0
        self._sign = SignState.OUT_OF_SERVICE
        self._blink: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Claim the pins and show the current scene and sign; no GPIO: ``unavailable``."""
        if self._outputs is not None:
            return
        try:
            self._outputs = self._open_outputs()
            self._apply_scene()
            self._apply_sign()
        except Exception as exc:
            await self._release()
            self._unavailable = f"GPIO unavailable: {exc}"
            self.set_health(HealthStatus.UNAVAILABLE, self._unavailable)
            return
        self._unavailable = None
        self.set_health(HealthStatus.OK, "")

    async def stop(self) -> None:
        await self._release()
        self._unavailable = "stopped"

    async def _release(self) -> None:
        await self._stop_blink()
        outputs = self._outputs
        self._outputs = None
        if outputs is not None:
            close_all(outputs.all())

    def _open_outputs(self) -> _Outputs:
        factory = pin_factory(self.options.pin_factory)
        from gpiozero import LED, PWMLED, RGBLED

        opts = self.options
        created: list[Any] = []
        try:
            with pwm_capable(factory):
                inside = PWMLED(
                    opts.inside_pin,
                    active_high=opts.inside_active_high,
                    initial_value=0.0,
                    frequency=opts.pwm_frequency,
                    pin_factory=factory,
                )
                created.append(inside)
                if opts.sign_type == "rgb":
                    rgb = RGBLED(
                        opts.sign_red_pin,
                        opts.sign_green_pin,
                        opts.sign_blue_pin,
                        active_high=opts.sign_active_high,
                        pin_factory=factory,
                    )
                    created.append(rgb)
                    return _Outputs(inside, rgb, {})
            lamps: dict[SignColour, Any] = {}
            pins: list[tuple[SignColour, PinName | None]] = [
                ("red", opts.sign_red_pin),
                ("green", opts.sign_green_pin),
                ("amber", opts.sign_amber_pin),
            ]
            for colour, pin in pins:
                if pin is not None:
                    lamps[colour] = LED(pin, active_high=opts.sign_active_high, pin_factory=factory)
                    created.append(lamps[colour])
            return _Outputs(inside, None, lamps)
        except Exception:
            close_all(created)
            raise

    # -- protocol ------------------------------------------------------------------------------
    async def set_scene(self, scene: LightScene, brightness: float) -> None:
        """Set the inside scene; ``ValueError`` unless 0 <= brightness <= 1."""
        scene = LightScene(scene)
        brightness = check_brightness(brightness)
        self._require()
        self._scene, self._brightness = scene, brightness
        self._guarded(self._apply_scene)

    async def set_sign(self, sign: SignState) -> None:
        sign = SignState(sign)
        self._require()
        self._sign = sign
        await self._stop_blink()
        self._guarded(self._apply_sign)

    def scene(self) -> tuple[LightScene, float]:
        return self._scene, self._brightness

    def sign(self) -> SignState:
        return self._sign

    async def selftest(self) -> SelftestResult:
        outputs = self._outputs
        if outputs is None:
            return SelftestResult(
                self.name, SelftestOutcome.FAIL, f"device unavailable: {self._unavailable}"
            )
        colour, blinking = sign_look(self._sign, self.options)
        return SelftestResult(
            self.name,
            SelftestOutcome.PASS,
            f"scene {self._scene.value} at {self._brightness:.0%}, sign {self._sign.value}",
            {
                "scene": self._scene.value,
                "brightness": self._brightness,
                "output_level": float(outputs.inside.value),
                "sign": self._sign.value,
                "sign_colour": colour,
                "sign_blinking": blinking,
            },
        )

    # -- outputs -------------------------------------------------------------------------------
    def _require(self) -> _Outputs:
        if self._outputs is None:
            raise DeviceError(f"{self.name}: {self._unavailable}")
        return self._outputs

    def _guarded(self, apply: Any) -> None:
        try:
            apply()
        except Exception as exc:
            self.set_health(HealthStatus.UNAVAILABLE, f"GPIO write failed: {exc}")
            raise DeviceError(f"{self.name}: GPIO write failed: {exc}") from exc

    def _apply_scene(self) -> None:
        self._require().inside.value = output_level(self._scene, self._brightness)

    def _apply_sign(self) -> None:
        colour, blinking = sign_look(self._sign, self.options)
        self._show(colour)
        if blinking:
            self._blink = asyncio.get_running_loop().create_task(
                self._blink_loop(colour), name=f"{self.name}-blink"
            )

    def _show(self, colour: SignColour) -> None:
        outputs = self._require()
        if outputs.rgb is not None:
            outputs.rgb.color = RGB[colour]
            return
        for lamp_colour, lamp in outputs.lamps.items():
            lamp.value = lamp_colour == colour

    async def _blink_loop(self, colour: SignColour) -> None:
        half = self.options.blink_period / 2
        lit = True
        while self._outputs is not None:
            await self.clock.sleep(half)
            lit = not lit
            try:
                self._show(colour if lit else "off")
            except Exception as exc:
                self.set_health(HealthStatus.UNAVAILABLE, f"GPIO write failed: {exc}")
                return

    async def _stop_blink(self) -> None:
        task, self._blink = self._blink, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
