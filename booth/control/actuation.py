"""``actuate`` over the control socket: which device slots take which actions (:data:`ACTIONS`),
checking a request's device, action and arguments (:func:`parse_actuate`), and carrying a checked
command out on the controller's :class:`~booth.actuators.Actuators` or, where they have no
method for it, on the device itself (:func:`execute`).

Whether the booth may be actuated now (the safety policy) is not decided here: the op that calls
:func:`execute` asks first (:mod:`booth.control.ops`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from booth.actuators import ActuatorResult
from booth.control.protocol import RequestError
from booth.controller import BoothController
from hal.events import CameraControls, LightScene, SignState

_CAMERA_ACTIONS = {
    "grab": "",
    "zoom": "<0..1>",
    "focus": "<0..1>",
    "brightness": "<0..1>",
}
#: device slot -> action -> usage of its arguments
ACTIONS: dict[str, dict[str, str]] = {
    "door": {"open": "", "close": "", "lock": "", "unlock": ""},
    "light": {
        "scene": f"<{'|'.join(s.value for s in LightScene)}> [brightness 0..1]",
        "sign": f"<{'|'.join(s.value for s in SignState)}>",
    },
    "audio": {"tone": "[frequency Hz] [duration s]", "loop": "<on|off>"},
    "camera_main": dict(_CAMERA_ACTIONS),
    "camera_document": dict(_CAMERA_ACTIONS),
    "signature": {"enable": "", "disable": "", "clear": ""},
    "plc": {"heartbeat": "", "output": "<name> <on|off>"},
}


@dataclass(frozen=True)
class ActuateCommand:
    """A checked ``actuate`` request."""

    device: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ checking
def _on_off(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise RequestError(f"{what} must be on or off, got {value!r}")


def _number(value: Any, what: str, lo: float, hi: float) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(
            f"{what} must be a number within {lo:g}..{hi:g}, got {value!r}"
        ) from None
    if not (math.isfinite(number) and lo <= number <= hi):
        raise RequestError(f"{what} must be within {lo:g}..{hi:g}, got {value!r}")
    return number


def parse_actuate(device: str, action: str, args: Any, configured: list[str]) -> ActuateCommand:
    """Check device, action and arguments of an ``actuate`` request (not the booth's state)."""
    if device not in ACTIONS:
        known = [d for d in ACTIONS if d in configured]
        raise RequestError(
            f"unknown device {device!r} (devices you can actuate: {', '.join(known) or 'none'})"
        )
    if device not in configured:
        raise RequestError(
            f"device {device!r} is not configured in this booth (configured: "
            f"{', '.join(configured)})"
        )
    actions = ACTIONS[device]
    if action not in actions:
        raise RequestError(
            f"unknown action {action!r} for {device} (actions: {', '.join(actions)})"
        )
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        raise RequestError("'args' must be an array of strings or numbers")
    usage = f"{device} {action} {actions[action]}".strip()

    def count(lo: int, hi: int) -> None:
        if not lo <= len(args) <= hi:
            raise RequestError(f"wrong number of arguments ({len(args)}); usage: {usage}")

    params: dict[str, Any] = {}
    if device == "light" and action == "scene":
        count(1, 2)
        try:
            params["scene"] = LightScene(str(args[0]))
        except ValueError:
            raise RequestError(
                f"unknown light scene {args[0]!r} "
                f"(scenes: {', '.join(s.value for s in LightScene)})"
            ) from None
        params["brightness"] = _number(args[1], "brightness", 0.0, 1.0) if len(args) > 1 else 1.0
    elif device == "light" and action == "sign":
        count(1, 1)
        try:
            params["sign"] = SignState(str(args[0]))
        except ValueError:
            raise RequestError(
                f"unknown sign state {args[0]!r} (states: {', '.join(s.value for s in SignState)})"
            ) from None
    elif device == "audio" and action == "tone":
        count(0, 2)
        params["frequency"] = _number(args[0], "frequency", 20.0, 20000.0) if args else 1000.0
        params["duration"] = _number(args[1], "duration", 0.05, 10.0) if len(args) > 1 else 0.5
    elif device == "audio" and action == "loop":
        count(1, 1)
        params["on"] = _on_off(args[0], "loop")
    elif device.startswith("camera") and action != "grab":
        count(1, 1)
        params["value"] = _number(args[0], action, 0.0, 1.0)
    elif device == "plc" and action == "output":
        count(2, 2)
        params["name"] = str(args[0])
        params["on"] = _on_off(args[1], "output value")
    else:
        count(0, 0)
    return ActuateCommand(device, action, params)


# ------------------------------------------------------------------------------------ carrying out
async def execute(
    controller: BoothController, cmd: ActuateCommand
) -> ActuatorResult | bool | dict[str, Any]:
    """Through :class:`Actuators` where it has a method, otherwise to the device."""
    act = controller.actuators
    dev: Any = controller.devices[cmd.device]
    p = cmd.params
    if cmd.device == "door":
        door_methods: dict[str, Callable[[], Awaitable[ActuatorResult]]] = {
            "open": act.door_open,
            "close": act.door_close,
            "lock": act.lock_entry,
            "unlock": act.unlock_entry,
        }
        return await door_methods[cmd.action]()
    if cmd.device == "light":
        if cmd.action == "scene":
            return await act.light(p["scene"], p["brightness"])
        return await act.sign(p["sign"])
    if cmd.device == "audio":
        if cmd.action == "loop":
            return await act.induction_loop(p["on"])
        await dev.play_test_tone(p["frequency"], p["duration"])
        return {"frequency": p["frequency"], "duration": p["duration"]}
    if cmd.device.startswith("camera"):
        if cmd.action == "grab":
            frame = await dev.grab()
            data = frame.data
            mean = sum(data) / len(data) if data else 0.0
            # only numbers leave the booth: never the picture
            return {
                "width": frame.width,
                "height": frame.height,
                "pixel_format": frame.pixel_format,
                "seq": frame.seq,
                "mean_brightness": round(mean, 2),
            }
        controls = await dev.set_controls(CameraControls(**{cmd.action: p["value"]}))
        return {
            "zoom": controls.zoom,
            "focus": controls.focus,
            "brightness": controls.brightness,
        }
    if cmd.device == "signature":
        await getattr(dev, cmd.action)()
        return {"enabled": bool(dev.enabled())}
    if cmd.device == "plc":
        if cmd.action == "heartbeat":
            await dev.heartbeat()
            return True
        await dev.write_output(p["name"], p["on"])
        return {"output": p["name"], "value": p["on"]}
    raise RequestError(f"no way to actuate {cmd.device} {cmd.action}")  # pragma: no cover
