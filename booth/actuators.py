"""Every actuator command goes through here: it is traced first, then sent to the device.

Each call returns an :class:`ActuatorResult`: done, or not done with the reason (the device
refused with a ``DeviceError``, did not answer in time, broke, or is not configured). A failure is
also reported through ``on_error`` (the controller traces it and sends an ``error`` event); the
controller keeps running and the device's health decides whether the booth stays in service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from booth.trace import Trace
from hal.devices import Device
from hal.events import LightScene, SignState

log = logging.getLogger("lisa.booth.actuators")


@dataclass(frozen=True, slots=True)
class ActuatorResult:
    """The outcome of one actuator call; true when it was done."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


DONE = ActuatorResult(True)
ErrorReporter = Callable[[str, str], None]  # (where, error)


class Actuators:
    def __init__(
        self,
        devices: dict[str, Device],
        trace: Trace,
        timeout: float = 2.0,
        on_error: ErrorReporter | None = None,
    ) -> None:
        self.devices = devices
        self.trace = trace
        self.timeout = timeout
        self._on_error = on_error

    def _failed(self, where: str, reason: str) -> ActuatorResult:
        if self._on_error is not None:
            self._on_error(where, reason)
        else:
            self.trace.record("error", where=where, error=reason)
        return ActuatorResult(False, reason)

    async def _call(
        self, slot: str, action: str, method: str, *args: Any, **info: Any
    ) -> ActuatorResult:
        self.trace.record("actuator", device=slot, action=action, **info)
        dev = self.devices.get(slot)
        if dev is None:
            return ActuatorResult(False, f"no {slot} configured")
        try:
            await asyncio.wait_for(getattr(dev, method)(*args), self.timeout)
            return DONE
        except TimeoutError:
            return self._failed(f"{slot}.{action}", f"no answer within {self.timeout:g} s")
        except Exception as exc:
            return self._failed(f"{slot}.{action}", str(exc) or repr(exc))

    async def door_open(self) -> ActuatorResult:
        return await self._call("door", "open", "open")

    async def door_close(self) -> ActuatorResult:
        return await self._call("door", "close", "close")

    async def lock_entry(self) -> ActuatorResult:
        return await self._call("door", "lock_entry", "lock_entry")

    async def unlock_entry(self) -> ActuatorResult:
        return await self._call("door", "unlock_entry", "unlock_entry")

    async def sign(self, sign: SignState) -> ActuatorResult:
        return await self._call("light", "sign", "set_sign", sign, value=sign.value)

    async def light(self, scene: LightScene, brightness: float) -> ActuatorResult:
        return await self._call(
            "light",
            "scene",
            "set_scene",
            scene,
            brightness,
            value=scene.value,
            brightness=brightness,
        )

    async def induction_loop(self, on: bool) -> ActuatorResult:
        return await self._call("audio", "induction_loop", "set_induction_loop", on, value=on)

    async def display(self, page: str, params: dict[str, Any]) -> ActuatorResult:
        # the kiosk screen is rendered by the booth UI from the controller's screen model
        self.trace.record("actuator", device="display", action="show", page=page, params=params)
        return DONE

    async def waiting_video(self, on: bool) -> ActuatorResult:
        self.trace.record("actuator", device="display", action="waiting_video", value=on)
        return DONE

    async def signature(self, enabled: bool) -> ActuatorResult:
        if enabled:
            return await self._call("signature", "enable", "enable")
        return await self._call("signature", "disable", "disable")

    async def wipe(self) -> ActuatorResult:
        """Privacy reset of device-side buffers (signature pad cleared, pad disabled)."""
        if "signature" not in self.devices:
            return DONE
        cleared = await self._call("signature", "clear", "clear")
        disabled = await self._call("signature", "disable", "disable")
        return cleared if not cleared else disabled
