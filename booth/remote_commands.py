"""Answering the central side's commands (the booth's ``cmd`` topic) for :mod:`booth.mqtt_link`.

A command is decoded and validated (:class:`lisa_messages.Command`), refused when it has expired,
answered idempotently by id (the first result is kept in the outbox database and a repeated id
gets it again, nothing is executed twice), carried out through the controller's command executor
(:class:`booth.central.BoothBinding`) and audited as a :class:`lisa_messages.CommandAudit` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from booth.central import BoothBinding
from booth.commands import CommandRefused
from booth.outbox import Outbox
from hal.clock import Clock
from lisa_messages import (
    Command,
    CommandAudit,
    CommandResult,
    EventBody,
    now_rfc3339,
    parse_rfc3339,
    validation_message,
)

log = logging.getLogger("lisa.booth.mqtt")

COMMAND_RESULT_DAYS = 7  # how long command results are kept for repeated ids


class ProtocolError(ValueError):
    """A message on a booth topic that is not a JSON object with an ``id``."""


def decode_message(payload: bytes) -> dict[str, Any]:
    """A booth topic's payload as a JSON object with a string ``id``; else ``ProtocolError``."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("payload is not a JSON object")
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise ProtocolError("message has no 'id' (string)")
    return data


class RemoteCommands:
    """Answers the commands the link receives; the link publishes results and emits events.

    ``booth`` returns the controller binding (None while the booth is starting), ``publish``
    sends one result on ``cmd/result``, ``emit`` reports an event and ``protocol_error`` reports
    an undecodable message (both as the link does for every topic)."""

    def __init__(
        self,
        *,
        clock: Clock,
        outbox: Outbox,
        booth: Callable[[], BoothBinding | None],
        publish: Callable[[dict[str, Any]], None],
        emit: Callable[[EventBody], None],
        protocol_error: Callable[[str], None],
    ) -> None:
        self.clock = clock
        self.outbox = outbox
        self._booth = booth
        self._publish = publish
        self._emit = emit
        self._protocol_error = protocol_error

    def prune(self) -> None:
        """Forget the results of commands older than ``COMMAND_RESULT_DAYS``."""
        self.outbox.prune_commands(self.clock.wall().timestamp() - COMMAND_RESULT_DAYS * 86400)

    async def answer(self, payload: bytes) -> None:
        """Answer one ``cmd`` message (once per id) and audit it."""
        try:
            data = decode_message(payload)
        except ProtocolError as exc:
            self._protocol_error(str(exc))
            return
        cid = str(data["id"])
        previous = self.outbox.command_result(cid)
        if previous is not None:  # a repeated id gets the first answer, nothing is repeated
            self._publish(previous)
            return
        result = await self.execute(cid, data)
        self.outbox.store_command_result(cid, result, self.clock.wall().timestamp())
        self._publish(result)
        cmd, by = data.get("cmd"), data.get("by", "")
        self._emit(
            CommandAudit(
                id=cid,
                cmd=cmd if isinstance(cmd, str) else None,
                ok=result["ok"],
                error=result.get("error"),
                by=by if isinstance(by, str) else "",
            )
        )

    async def execute(self, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate, check the expiry and carry out one command; its result (a dict)."""
        ts = now_rfc3339(self.clock.wall())

        def answer(ok: bool, error: str | None = None, **result: Any) -> dict[str, Any]:
            return CommandResult(id=cid, ok=ok, error=error, result=result, ts=ts).model_dump()

        try:
            cmd = Command.model_validate(data)
            args = cmd.parsed_args()
        except ValidationError as exc:
            return answer(False, f"invalid command: {validation_message(exc)}")
        if cmd.expires_at is not None and parse_rfc3339(cmd.expires_at) < self.clock.wall():
            return answer(False, f"expired at {cmd.expires_at} (booth time {ts})")
        booth = self._booth()
        if booth is None:
            return answer(False, "the booth is starting; try again")
        try:
            result = await booth.commands.execute(cmd.cmd, args, cmd.by)
        except CommandRefused as exc:
            return answer(False, f"refused: {exc}")
        except Exception as exc:  # a broken device must not break the link
            log.exception("command failed")
            return answer(False, f"failed: {exc}")
        return answer(True, None, **result)
