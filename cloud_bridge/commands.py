"""Booth commands and their audit trail.

An agent (or a privileged user) sends a command to a booth; the bridge checks it, writes
every attempt and outcome to the audit log, publishes it on the booth's command topic and
waits for the booth's ``cmd/result``. Only supervisors, technicians and admins may command a
booth they are not in a call with.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Container
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import Clock
from cloud_bridge.mqtt_bridge import BridgeMqtt
from cloud_bridge.ports import CommandDenied
from cloud_bridge.store import Store
from lisa_messages import Command, CommandResult, Topics, now_rfc3339, validation_message

PRIVILEGED = ("supervisor", "technician", "admin")


def now_rfc3339_in(seconds: float) -> str:
    return now_rfc3339(datetime.now(UTC) + timedelta(seconds=seconds))


class BoothCommands:
    """See the module docstring. ``booths`` are the known booths, ``mqtt`` gives the broker
    link (None: commands are audited but not sent), ``publish`` the live event stream."""

    def __init__(
        self,
        *,
        booths: Container[str],
        engine: Engine,
        store: Store,
        clock: Clock,
        mqtt: Callable[[], BridgeMqtt | None],
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        self.booths = booths
        self.engine = engine
        self.store = store
        self.clock = clock
        self._mqtt = mqtt
        self._publish = publish
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def send(
        self, user: str, role: str, booth: str, cmd: str, args: dict[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        """The booth's answer; KeyError (unknown booth), ValueError (invalid command),
        CommandDenied, TimeoutError. Every attempt is audited."""
        now = self.clock.time()

        def audit(outcome: str, at: float = now) -> None:
            self.store.append_audit(at, user, role, booth, cmd, args, outcome)

        if booth not in self.booths:
            audit("refused: unknown booth")
            raise KeyError(f"booth {booth!r} is unknown")
        command_id = uuid.uuid4().hex
        try:
            command = Command(
                id=command_id,
                cmd=cmd,
                args=args,
                by=user,
                expires_at=now_rfc3339_in(timeout_s),
            )
            command.parsed_args()
        except ValidationError as exc:
            reason = validation_message(exc)
            audit(f"invalid: {reason}")
            raise ValueError(reason) from None
        if role not in PRIVILEGED:
            call = self.engine.by_booth.get(booth)
            agent = self.engine.agent_of_call(call) if call is not None else None
            if agent != user:
                audit("denied: not in a call with this booth")
                raise CommandDenied(f"{user!r} is not in a call with booth {booth!r}")
        audit(f"sent {command_id}")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[command_id] = fut
        mqtt = self._mqtt()
        if mqtt is not None:
            mqtt.publish(Topics(booth).cmd, command.model_dump_json(exclude_none=True))
        try:
            answer = await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            audit(f"timeout {command_id}", self.clock.time())
            raise TimeoutError(f"booth {booth!r} did not answer within {timeout_s:g} s") from None
        finally:
            self._pending.pop(command_id, None)
        outcome = "ok" if answer["ok"] else f"error: {answer.get('error')}"
        audit(f"{outcome} {command_id}", self.clock.time())
        return answer

    def on_result(self, booth_id: str, result: CommandResult) -> None:
        """A booth's ``cmd/result``: the answer to its waiting command, and a live event."""
        answer = {
            "id": result.id,
            "booth": booth_id,
            "ok": result.ok,
            "error": result.error,
            "result": result.result,
        }
        fut = self._pending.pop(result.id, None)
        if fut is not None and not fut.done():
            fut.set_result(answer)
        self._publish({"type": "command_result", **answer})

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        return self.store.audit(limit, booth)

    def stop(self) -> None:
        """Fail every command still waiting for its booth."""
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(TimeoutError("the bridge is stopping"))
