"""The control socket's ops, carried out on the booth controller: ``status``, ``selftest``,
``actuate``, ``log``, ``bundle``, ``maintenance`` and ``inject`` (simulated booths only), one
handler each, looked up by op name.

Anything that moves hardware or disturbs a citizen is asked of the booth's safety policy first
(:func:`booth.safety.decide` with :attr:`Origin.DIAG`); a refusal goes to the technician as
``"refused: <reason>"``. Every accepted ``actuate`` is recorded in the trace (kind ``info``,
event ``diag actuate``). The streaming ops (``watch``, ``log`` with ``follow``) are the socket
server's (:mod:`booth.control.server`); this module gives them the history and presence readings.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from booth.actuators import ActuatorResult
from booth.config import BoothConfig
from booth.control.actuation import execute, parse_actuate
from booth.control.protocol import OPS, RequestError, bool_arg, int_arg, json_type, str_arg
from booth.control.support import BUNDLE_TRACE_RECORDS, support_bundle, versions
from booth.controller import BoothController
from booth.machine import top_state
from booth.safety import Action, Origin, actuate_action, decide

log = logging.getLogger("lisa.booth.control")

#: a simulated booth's input injector: input name, arguments -> what happened
Injector = Callable[[str, dict[str, Any]], str]
#: an op's handler: checked request, the client's uid (if known) -> answer
Handler = Callable[[dict[str, Any], int | None], Awaitable[dict[str, Any]]]

ACTUATE_TIMEOUT = 15.0
MAINTENANCE_WAIT = 5.0


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 3)


class ControlOps:
    """The non-streaming ops against one booth controller."""

    def __init__(
        self,
        controller: BoothController,
        config: BoothConfig,
        config_path: Path | None = None,
        inject: Injector | None = None,
    ) -> None:
        self.controller = controller
        self.config = config
        self.config_path = config_path
        self.inject = inject
        self._started_at = controller.clock.now()
        self._handlers: dict[str, Handler] = {
            "status": self._status,
            "selftest": self._selftest,
            "watch": self._watch,
            "actuate": self._actuate,
            "log": self._log,
            "bundle": self._bundle,
            "maintenance": self._maintenance,
            "inject": self._inject,
        }
        if set(self._handlers) != set(OPS):  # the protocol's op table and the handlers agree
            raise RuntimeError(f"ops without a handler: {sorted(set(OPS) ^ set(self._handlers))}")

    async def handle(self, req: dict[str, Any], uid: int | None = None) -> dict[str, Any]:
        """Carry out a checked, non-streaming request (see :func:`parse_request`)."""
        op = req["op"]
        handler = self._handlers.get(op)
        if handler is None:
            raise RequestError(f"unknown op {op!r} (ops: {', '.join(OPS)})")
        return await handler(req, uid)

    # -- what the booth looks like ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        c = self.controller
        out = c.status()
        snap = c.presence.snapshot()
        presence_dev: Any = c.devices.get("presence")
        light: Any = c.devices.get("light")
        door: Any = c.devices.get("door")
        out["distance"] = _finite(presence_dev.last_distance()) if presence_dev else None
        out["presence"] = {
            "present": snap.present,
            "near": snap.raw,
            "median": _finite(snap.median),
            "door_hold": snap.door_hold,
        }
        out["sign"] = light.sign().value if light is not None else None
        if light is not None:
            scene, brightness = light.scene()
            out["light"] = {"scene": scene.value, "brightness": brightness}
        else:
            out["light"] = None
        out["entry_locked"] = door.entry_locked() if door is not None else None
        out["maintenance_requested"] = c.maintenance_wanted
        out["simulated"] = self.inject is not None
        out["uptime"] = round(c.clock.now() - self._started_at, 1)
        out["versions"] = versions()
        return out

    def presence_reading(self) -> dict[str, Any]:
        """One sample of ``watch presence``."""
        c = self.controller
        snap = c.presence.snapshot()
        dev: Any = c.devices.get("presence")
        return {
            "t": round(c.clock.now(), 3),
            "kind": "presence",
            "distance": _finite(dev.last_distance()) if dev is not None else None,
            "median": _finite(snap.median),
            "near": snap.raw,
            "present": snap.present,
            "door_hold": snap.door_hold,
        }

    def history(self, lines: int) -> list[dict[str, Any]]:
        """The last ``lines`` trace records, oldest first."""
        if lines <= 0:
            return []
        history = list(self.controller.trace.history)[-lines:]
        return [rec.to_dict() for rec in history]

    def bundle(self) -> dict[str, Any]:
        return support_bundle(
            self.controller,
            self.config,
            self.config_path,
            trace=self.history(BUNDLE_TRACE_RECORDS),
            status=self.status(),
        )

    # -- the ops (one handler each) --------------------------------------------------------------
    def _allow(self, action: Action) -> None:
        """Ask the booth's safety policy; a refusal goes to the technician as it is."""
        verdict = decide(action, Origin.DIAG, self.controller.situation())
        if not verdict:
            raise RequestError(f"refused: {verdict.reason}")

    async def _status(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        return {"ok": True, **self.status()}

    async def _selftest(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        device = str_arg(req, "device", required=False)
        devices = list(self.controller.devices)
        if device is not None and device not in devices:
            raise RequestError(f"unknown device {device!r} (devices: {', '.join(devices)})")
        self._allow(Action.SELFTEST)
        results = await self.controller.run_selftests(device)
        return {
            "ok": True,
            "passed": all(r.passed for r in results.values()),
            "results": {slot: r.to_dict() for slot, r in results.items()},
        }

    async def _watch(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        raise RequestError("'watch' streams; it is only available on a socket connection")

    async def _actuate(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        device = str_arg(req, "device", required=True)
        action = str_arg(req, "action", required=True)
        assert device is not None and action is not None
        cmd = parse_actuate(device, action, req.get("args"), list(self.controller.devices))
        self._allow(actuate_action(cmd.device, cmd.action))
        info: dict[str, Any] = {"device": cmd.device, "action": cmd.action}
        if req.get("args"):
            info["args"] = [str(a) for a in req["args"]]
        if uid is not None:
            info["by_uid"] = uid
        self.controller.trace.record("info", event="diag actuate", **info)
        log.info(
            "diag actuate",
            extra={"device": cmd.device, "action": cmd.action, "by_uid": uid},
        )
        where = f"diag {cmd.device}.{cmd.action}"
        try:
            result = await asyncio.wait_for(execute(self.controller, cmd), timeout=ACTUATE_TIMEOUT)
        except TimeoutError:
            self.controller.report_error(where, "timed out")
            raise RequestError(
                f"{cmd.device} {cmd.action}: no answer from the device within {ACTUATE_TIMEOUT:g} s"
            ) from None
        except RequestError:
            raise
        except Exception as exc:
            self.controller.report_error(where, str(exc) or repr(exc))
            raise RequestError(f"{cmd.device} {cmd.action} failed: {exc or repr(exc)}") from None
        if isinstance(result, ActuatorResult):
            if not result:
                raise RequestError(f"{cmd.device} {cmd.action} failed: {result.reason}")
            result = True
        out: dict[str, Any] = {"ok": True, "device": cmd.device, "action": cmd.action}
        if isinstance(result, dict):
            out["result"] = result
        return out

    async def _log(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        lines = int_arg(req, "lines", 100, 0, 100_000)
        bool_arg(req, "follow", default=False)
        return {"ok": True, "records": self.history(lines)}

    async def _bundle(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        return self.bundle()

    async def _maintenance(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        enter = bool_arg(req, "enter", default=None)
        c = self.controller
        refusal = c.request_maintenance(enter, Origin.DIAG, by="diag")
        if refusal is not None:
            return {"ok": False, "error": f"refused: {refusal}"}
        if uid is not None:
            log.info(
                "maintenance requested over the control socket",
                extra={"enter": enter, "by_uid": uid},
            )

        def reached() -> bool:
            in_maintenance = top_state(c.state) == "maintenance"
            return in_maintenance if enter else not in_maintenance

        deadline = c.clock.now() + MAINTENANCE_WAIT
        while not reached() and c.clock.now() < deadline:
            await c.clock.sleep(0.05)
        state = top_state(c.state)
        out: dict[str, Any] = {"ok": True, "enter": enter, "state": state, "reached": reached()}
        if not out["reached"]:
            out["note"] = (
                f"requested; the booth is still in state {state} and switches as soon as it can"
                if enter
                else f"requested; the booth is still in state {state}"
            )
        return out

    async def _inject(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        if self.inject is None:
            raise RequestError("inputs are only accepted by a simulated booth (--sim)")
        name = str_arg(req, "input", required=True)
        assert name is not None
        args = req.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RequestError(
                f'\'args\' must be an object like {{"queue": "wohngeld"}}, got {json_type(args)}'
            )
        try:
            result = self.inject(name, dict(args))
        except Exception as exc:  # sim.harness.InputError is a ValueError; the driver may raise
            raise RequestError(str(exc) or type(exc).__name__) from None
        return {"ok": True, "input": name, "result": result}
