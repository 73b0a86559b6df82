"""Every actuator command goes through here: it is traced first, then sent to the device.

A device that refuses (``DeviceError``) or breaks is reported in the trace; the controller keeps
running and the device's health decides whether the booth stays in service. Optional devices that
are not configured are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from booth.trace import Trace
from hal.devices import Device
from hal.events import LightScene, SignState

log = logging.getLogger("lisa.booth.actuators")


class Actuators:
    def __init__(self, devices: dict[str, Device], trace: Trace, timeout: float = 2.0) -> None:
        self.devices = devices
        self.trace = trace
        self.timeout = timeout

    async def _call(self, slot: str, action: str, method: str, *args: Any, **info: Any) -> bool:
        self.trace.record("actuator", device=slot, action=action, **info)
        dev = self.devices.get(slot)
        if dev is None:
            return False
        try:
            await asyncio.wait_for(getattr(dev, method)(*args), self.timeout)
            return True
        except TimeoutError:
            self.trace.record(
                "error", where=f"{slot}.{action}", error=f"no answer within {self.timeout:g} s"
            )
            return False
        except Exception as exc:
            self.trace.record("error", where=f"{slot}.{action}", error=str(exc) or repr(exc))
            return False

    async def door_open(self) -> bool:
        return await self._call("door", "open", "open")

    async def door_close(self) -> bool:
        return await self._call("door", "close", "close")

    async def lock_entry(self) -> bool:
        return await self._call("door", "lock_entry", "lock_entry")

    async def unlock_entry(self) -> bool:
        return await self._call("door", "unlock_entry", "unlock_entry")

    async def sign(self, sign: SignState) -> bool:
        return await self._call("light", "sign", "set_sign", sign, value=sign.value)

    async def light(self, scene: LightScene, brightness: float) -> bool:
        return await self._call(
            "light",
            "scene",
            "set_scene",
            scene,
            brightness,
            value=scene.value,
            brightness=brightness,
        )

    async def induction_loop(self, on: bool) -> bool:
        return await self._call("audio", "induction_loop", "set_induction_loop", on, value=on)

    async def display(self, page: str, params: dict[str, Any]) -> bool:
        # the kiosk screen is rendered by the booth UI from the controller's screen model
        self.trace.record("actuator", device="display", action="show", page=page, params=params)
        return True

    async def waiting_video(self, on: bool) -> bool:
        self.trace.record("actuator", device="display", action="waiting_video", value=on)
        return True

    async def signature(self, enabled: bool) -> bool:
        if enabled:
            return await self._call("signature", "enable", "enable")
        return await self._call("signature", "disable", "disable")

    async def wipe(self) -> bool:
        """Privacy reset of device-side buffers (signature pad cleared, pad disabled)."""
        ok = True
        if "signature" in self.devices:
            ok &= await self._call("signature", "clear", "clear")
            ok &= await self._call("signature", "disable", "disable")
        return ok
