"""Remote commands from the central side (agents, supervisors, technicians through the bridge).

Arguments arrive validated (``lisa_messages.COMMAND_ARGS``). A command that would endanger the
citizen, or makes no sense in the current state, is refused with a reason (:class:`CommandRefused`);
what is allowed when is decided by the one safety policy (:mod:`booth.safety`); the citizen can
always leave, so opening the door is never refused.
"""

from __future__ import annotations

from typing import Any

from booth.actuators import ActuatorResult
from booth.controller import BoothController
from booth.machine import Trigger, top_state
from booth.safety import Action, Origin, decide
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


class CommandRefused(Exception):
    """The booth refuses the command; the message says why."""


def _check(result: ActuatorResult, what: str) -> None:
    if not result:
        raise CommandRefused(f"{what} did not accept the request: {result.reason}")


class CommandExecutor:
    def __init__(self, controller: BoothController) -> None:
        self.c = controller

    async def execute(self, cmd: str, args: Message, by: str = "") -> dict[str, Any]:
        handler = getattr(self, "_" + cmd.replace(".", "_"))
        result: dict[str, Any] = await handler(args, by)
        return result

    def _state(self) -> str:
        return top_state(self.c.state)

    def _allow(self, action: Action) -> None:
        verdict = decide(action, Origin.REMOTE, self.c.situation())
        if not verdict:
            raise CommandRefused(verdict.reason)

    async def _ping(self, args: Message, by: str) -> dict[str, Any]:
        return {
            "state": self._state(),
            "detail": self.c.state,
            "clock": now_rfc3339(self.c.clock.wall()),
        }

    async def _selftest_run(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, SelftestArgs)
        self._allow(Action.SELFTEST)
        if args.device is not None and args.device not in self.c.devices:
            raise CommandRefused(
                f"no device {args.device!r} (devices: {', '.join(self.c.devices)})"
            )
        results = await self.c.run_selftests(args.device)
        return {"results": {slot: r.to_dict() for slot, r in results.items()}}

    async def _door_open(self, args: Message, by: str) -> dict[str, Any]:
        if "door" not in self.c.devices:
            raise CommandRefused("this booth has no door configured")
        self._allow(Action.DOOR_OPEN)
        _check(await self.c.actuators.door_open(), "the door")
        return {"door": "opening"}

    async def _door_close(self, args: Message, by: str) -> dict[str, Any]:
        if "door" not in self.c.devices:
            raise CommandRefused("this booth has no door configured")
        self._allow(Action.DOOR_CLOSE)
        _check(await self.c.actuators.door_close(), "the door")
        return {"door": "closing"}

    async def _light_set(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, LightSetArgs)
        if "light" not in self.c.devices:
            raise CommandRefused("this booth has no light channel configured")
        self._allow(Action.LIGHT)
        light: Any = self.c.devices["light"]
        if args.scene is not None or args.brightness is not None:
            scene, brightness = light.scene()
            new_scene = LightScene(args.scene) if args.scene is not None else scene
            new_brightness = args.brightness if args.brightness is not None else brightness
            _check(await self.c.actuators.light(new_scene, new_brightness), "the light channel")
        if args.sign is not None:
            _check(await self.c.actuators.sign(SignState(args.sign)), "the outside sign")
        scene, brightness = light.scene()
        return {"scene": scene.value, "brightness": brightness, "sign": light.sign().value}

    async def _doccam_set(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, DoccamSetArgs)
        cam: Any = self.c.devices.get("camera_document")
        if cam is None:
            raise CommandRefused("this booth has no document camera configured")
        self._allow(Action.DOCCAM_SET)
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
        self._allow(Action.DISPLAY_SHOW)
        await self.c.show(Screen(args.page, dict(args.params)))
        return {"page": args.page}

    async def _signature_request(self, args: Message, by: str) -> dict[str, Any]:
        assert isinstance(args, SignatureRequestArgs)
        self._allow(Action.SIGNATURE_REQUEST)
        if "signature" not in self.c.devices:
            raise CommandRefused("this booth has no signature pad configured")
        self.c.post(Trigger.SIGNATURE_REQUESTED)
        return {"requested": True}

    async def _session_end(self, args: Message, by: str) -> dict[str, Any]:
        self._allow(Action.SESSION_END)
        self.c.post(Trigger.SESSION_END)
        return {"ending": True}

    async def _maintenance_enter(self, args: Message, by: str) -> dict[str, Any]:
        refusal = self.c.request_maintenance(
            True, Origin.REMOTE, by=f"remote:{by}" if by else "remote"
        )
        if refusal is not None:
            raise CommandRefused(refusal)
        return {"requested": True}

    async def _maintenance_exit(self, args: Message, by: str) -> dict[str, Any]:
        refusal = self.c.request_maintenance(
            False, Origin.REMOTE, by=f"remote:{by}" if by else "remote"
        )
        if refusal is not None:
            raise CommandRefused(refusal)
        return {"requested": True}
