"""Remote commands from the central side (agents, supervisors, technicians through the bridge).

Arguments arrive validated (``lisa_messages.COMMAND_ARGS``). A command that would endanger the
citizen, or makes no sense in the current state, is refused with a reason (:class:`CommandRefused`);
the citizen can always leave, so opening the door is never refused.
"""

from __future__ import annotations

from typing import Any

from booth.controller import BoothController
from booth.machine import top_state
from booth.screens import PAGES, Screen
from hal.events import CameraControls, LightScene, SignState
from lisa_messages import (
    DisplayShowArgs,
    DoccamSetArgs,
    LightSetArgs,
    Message,
    SelftestArgs,
    SignatureRequestArgs,
    now_rfc3339,
)

SESSION_STATES = {"occupied", "queued", "in_call"}
CITIZEN_INSIDE = SESSION_STATES | {"farewell"}


class CommandRefused(Exception):
    """The booth refuses the command; the message says why."""


class CommandExecutor:
    def __init__(self, controller: BoothController) -> None:
        self.c = controller

    async def execute(self, cmd: str, args: Message, by: str = "") -> dict[str, Any]:
        handler = getattr(self, "_" + cmd.replace(".", "_"))
        result: dict[str, Any] = await handler(args, by)
        return result

    def _state(self) -> str:
        return top_state(self.c.state)

    async def _ping(self, args: Message, by: str) -> dict[str, Any]:
        return {
            "state": self._state(),
            "detail": self.c.state,
            "clock": now_rfc3339(self.c.clock.wall()),
        }

    async def _selftest_run(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, SelftestArgs)
        if self._state() in CITIZEN_INSIDE:
            raise CommandRefused(
                f"a citizen is in the booth (state {self._state()}); self-tests move hardware "
                "and play sounds"
            )
        if args.device is not None and args.device not in self.c.devices:
            raise CommandRefused(
                f"no device {args.device!r} (devices: {', '.join(self.c.devices)})"
            )
        results = await self.c.run_selftests(args.device)
        return {"results": {slot: r.to_dict() for slot, r in results.items()}}

    async def _door_open(self, args: Message, by: str) -> dict[str, Any]:
        if "door" not in self.c.devices:
            raise CommandRefused("this booth has no door configured")
        ok = await self.c.actuators.door_open()
        if not ok:
            raise CommandRefused("the door did not accept the request (see the booth's health)")
        return {"door": "opening"}

    async def _door_close(self, args: Message, by: str) -> dict[str, Any]:
        door: Any = self.c.devices.get("door")
        if door is None:
            raise CommandRefused("this booth has no door configured")
        state = self._state()
        if state in ("emergency", "fault"):
            raise CommandRefused(f"the door stays open while the booth is in {state}")
        if door.obstructed():
            raise CommandRefused("the door is obstructed")
        if state == "farewell":
            raise CommandRefused("the citizen is leaving (farewell); the door stays open")
        ok = await self.c.actuators.door_close()
        if not ok:
            raise CommandRefused("the door did not accept the request (see the booth's health)")
        return {"door": "closing"}

    async def _light_set(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, LightSetArgs)
        if "light" not in self.c.devices:
            raise CommandRefused("this booth has no light channel configured")
        if self._state() == "emergency":
            raise CommandRefused("the light stays at full brightness during an emergency")
        light: Any = self.c.devices["light"]
        if args.scene is not None or args.brightness is not None:
            scene, brightness = light.scene()
            new_scene = LightScene(args.scene) if args.scene is not None else scene
            new_brightness = args.brightness if args.brightness is not None else brightness
            if not await self.c.actuators.light(new_scene, new_brightness):
                raise CommandRefused("the light channel did not accept the request")
        if args.sign is not None:
            if not await self.c.actuators.sign(SignState(args.sign)):
                raise CommandRefused("the outside sign did not accept the request")
        scene, brightness = light.scene()
        return {"scene": scene.value, "brightness": brightness, "sign": light.sign().value}

    async def _doccam_set(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, DoccamSetArgs)
        cam: Any = self.c.devices.get("camera_document")
        if cam is None:
            raise CommandRefused("this booth has no document camera configured")
        self.c.trace.record(
            "actuator",
            device="camera_document",
            action="set_controls",
            **args.model_dump(exclude_none=True),
        )
        try:
            applied = await cam.set_controls(
                CameraControls(zoom=args.zoom, focus=args.focus, brightness=args.brightness)
            )
        except Exception as exc:
            raise CommandRefused(f"the document camera refused: {exc}") from None
        return {"zoom": applied.zoom, "focus": applied.focus, "brightness": applied.brightness}

    async def _display_show(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, DisplayShowArgs)
        if args.page not in PAGES:
            raise CommandRefused(f"unknown page {args.page!r} (pages: {', '.join(PAGES)})")
        if self._state() != "in_call":
            raise CommandRefused(f"pages are shown only during a call (state {self._state()})")
        await self.c.show(Screen(args.page, dict(args.params)))
        return {"page": args.page}

    async def _signature_request(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, SignatureRequestArgs)
        if self.c.state != "in_call.talking":
            raise CommandRefused(
                f"a signature can be requested only in a call (state {self.c.state})"
            )
        if "signature" not in self.c.devices:
            raise CommandRefused("this booth has no signature pad configured")
        self.c.post("signature_requested")
        return {"requested": True}

    async def _session_end(self, args: Message, by: str) -> dict[str, Any]:
        if self._state() not in SESSION_STATES:
            raise CommandRefused(f"no citizen session to end (state {self._state()})")
        self.c.post("session_end")
        return {"ending": True}

    async def _maintenance_enter(self, args: Message, by: str) -> dict[str, Any]:
        if not self.c.request_maintenance(True, by=f"remote:{by}" if by else "remote"):
            raise CommandRefused(
                f"maintenance cannot start in state {self._state()} (a citizen's call or an "
                "emergency)"
            )
        return {"requested": True}

    async def _maintenance_exit(self, args: Message, by: str) -> dict[str, Any]:
        if self._state() != "maintenance" and not self.c.maintenance_wanted:
            raise CommandRefused(f"the booth is not in maintenance (state {self._state()})")
        self.c.request_maintenance(False, by=f"remote:{by}" if by else "remote")
        return {"requested": True}
