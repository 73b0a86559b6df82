"""What the light drivers share: scene → output level, sign state → colour, sign options.

Inside light: the driver keeps the scene and brightness it was given (``scene()`` returns them
unchanged) and drives the output at

- ``off`` → 0 (whatever brightness was passed),
- ``emergency`` → full (1.0; the design wants full light in an emergency, whatever was passed),
- every other scene → the brightness passed.

Outside sign: ``free`` = green; ``occupied`` = red (or amber, option ``occupied``);
``out-of-service`` = red blinking at ``blink_period`` (or steady red, or dark: option
``out_of_service``). A dark sign is ambiguous to a citizen; prefer blinking red with a printed
"außer Betrieb" label next to it.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from hal.base import DriverOptions
from hal.events import LightScene, SignState

SignColour = Literal["green", "red", "amber", "off"]

#: RGB levels (0..1) of each sign colour on an RGB fixture.
RGB: dict[SignColour, tuple[float, float, float]] = {
    "green": (0.0, 1.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "amber": (1.0, 0.5, 0.0),
    "off": (0.0, 0.0, 0.0),
}


class SignStyleOptions(DriverOptions):
    """How the outside sign shows each state (shared by the light drivers)."""

    occupied: Literal["red", "amber"] = Field(
        "red", description="Colour of the sign while the booth is occupied."
    )
    out_of_service: Literal["blink-red", "red", "off"] = Field(
        "blink-red",
        description="Sign while out of service: blinking red, steady red, or dark.",
    )
    blink_period: float = Field(
        1.0, gt=0.0, description="Seconds per blink cycle (half on, half off)."
    )


def check_brightness(brightness: float) -> float:
    """``brightness`` as a float within 0..1; ``ValueError`` otherwise (also NaN, non-numbers)."""
    if isinstance(brightness, bool) or not isinstance(brightness, int | float):
        raise ValueError(f"brightness must be a number within 0..1, got {brightness!r}")
    if not math.isfinite(brightness) or not 0.0 <= brightness <= 1.0:
        raise ValueError(f"brightness must be within 0..1, got {brightness!r}")
    return float(brightness)


def output_level(scene: LightScene, brightness: float) -> float:
    """The level (0..1) the inside light is driven at for ``scene`` / ``brightness``."""
    if scene is LightScene.OFF:
        return 0.0
    if scene is LightScene.EMERGENCY:
        return 1.0
    return brightness


def sign_look(sign: SignState, style: SignStyleOptions) -> tuple[SignColour, bool]:
    """Colour and whether it blinks for ``sign``."""
    if sign is SignState.FREE:
        return "green", False
    if sign is SignState.OCCUPIED:
        return style.occupied, False
    if style.out_of_service == "off":
        return "off", False
    return "red", style.out_of_service == "blink-red"


def blink_phase_on(now: float, period: float) -> bool:
    """Whether a blinking sign is lit at clock time ``now`` (first half of each period)."""
    return (now % period) < period / 2
