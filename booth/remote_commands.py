"""Answering the central side's commands (the booth's ``cmd`` topic) for :mod:`booth.mqtt_link`.

A command is decoded and validated (:class:`lisa_messages.Command`), refused when it is too large
or has expired, answered idempotently by id (the first result is kept in the outbox database and
a repeated id gets it again, nothing is executed twice; a repeat that arrives while the first run
is still going waits for it and gets its answer), carried out through the controller's command
executor (:class:`booth.central.BoothBinding`) and audited as a
:class:`lisa_messages.CommandAudit` event.

Nothing vanishes: every JSON object with a usable id (a string of 1 to 64 characters) gets
exactly one ``cmd/result``, whatever goes wrong while it is handled (then ``ok: false``,
``internal error``, and an error log line naming the id and the exception type only, never
the message's content); everything else gets a ``protocol_error`` event. Values echoed back
(a command name, field names, ``by``) are cut to ``ECHO_MAX`` characters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from booth.central import BoothBinding
from booth.commands import CommandRefused
from booth.outbox import Outbox
from hal.clock import Clock
from lisa_messages import (
    ECHO_MAX,
    Command,
    CommandAudit,
    CommandResult,
    EventBody,
    now_rfc3339,
    parse_rfc3339,
    shorten,
    validation_message,
)

__all__ = [
    "ECHO_MAX",
    "MAX_COMMAND_BYTES",
    "MAX_MESSAGE_BYTES",
    "ProtocolError",
    "RemoteCommands",
    "decode_message",
    "where_raised",
]

log = logging.getLogger("lisa.booth.mqtt")

COMMAND_RESULT_DAYS = 7  # how long command results are kept for repeated ids
MAX_COMMAND_BYTES = 64 * 1024  # a bigger command is refused (with a result when it has an id)
#: the broker's ``message_size_limit`` (docs/operations.md): nothing bigger arrives; a message up
#: to this size is still read for its id, to answer a too-large command
MAX_MESSAGE_BYTES = 256 * 1024
ID_MAX = 64  # lisa_messages.Command.id
ERROR_MAX = 600  # characters of a result's or an audit's error


class ProtocolError(ValueError):
    """A message on a booth topic that is not a JSON object with a usable ``id``."""


def decode_message(payload: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """A booth topic's payload as a JSON object with a usable ``id`` (a string of 1 to 64
    characters, UTF-8 encodable); else ``ProtocolError`` with a short reason."""
    if len(payload) > max_bytes:
        raise ProtocolError(f"message too large ({len(payload)} bytes; at most {max_bytes})")
    try:
        data = json.loads(payload)
    except RecursionError:
        raise ProtocolError("payload is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ProtocolError(f"payload is not JSON: {shorten(exc, 120)}") from None
    if not isinstance(data, dict):
        raise ProtocolError("payload is not a JSON object")
    cid = data.get("id")
    if not isinstance(cid, str) or not cid:
        raise ProtocolError("message has no 'id' (string)")
    if len(cid) > ID_MAX or not _encodable(cid):
        raise ProtocolError(f"message has no usable 'id' (a string of 1 to {ID_MAX} characters)")
    return data


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800")
        return False
    return True


def where_raised(exc: BaseException) -> str:
    """Where ``exc`` was raised (file:line function of the innermost frames), without its
    message: the message may quote the command (personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " < ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )


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
        # command id -> the answer of its run in progress (repeats wait for it)
        self._running: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def pending(self) -> int:
        """Commands being executed now."""
        return len(self._running)

    def prune(self) -> None:
        """Forget the results of commands older than ``COMMAND_RESULT_DAYS``."""
        self.outbox.prune_commands(self.clock.wall().timestamp() - COMMAND_RESULT_DAYS * 86400)

    async def answer(self, payload: bytes) -> None:
        """Answer one ``cmd`` message (once per id) and audit it; see the module docstring."""
        try:
            data = decode_message(payload)
        except ProtocolError as exc:
            too_large = len(payload) > MAX_COMMAND_BYTES
            self._refuse(
                f"command too large ({len(payload)} bytes; at most {MAX_COMMAND_BYTES})"
                if too_large
                else str(exc)
            )
            return
        except Exception as exc:  # pragma: no cover - decode_message catches what json raises
            log.error("undecodable command: unexpected %s", type(exc).__name__)
            self._refuse(f"undecodable command ({type(exc).__name__})")
            return
        cid: str = data["id"]
        try:
            await self._answer_once(cid, data, len(payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the last line of defence: the command still gets an answer
            self._failed(cid, exc)

    def _refuse(self, error: str) -> None:
        log.warning("command refused without an answer: %s", error)
        self._protocol_error(error)

    async def _answer_once(self, cid: str, data: dict[str, Any], size: int) -> None:
        running = self._running.get(cid)
        if running is not None:  # the same id is being executed: its answer is ours too
            self._publish(await asyncio.shield(running))
            return
        previous = self.outbox.command_result(cid)
        if previous is not None:  # a repeated id gets the first answer, nothing is repeated
            self._publish(previous)
            return
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._running[cid] = future
        try:
            try:
                result = await self.execute(cid, data, size)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                result = self._internal_error(cid, exc)
            future.set_result(result)
            try:
                self.outbox.store_command_result(cid, result, self.clock.wall().timestamp())
            except Exception as exc:  # answered all the same; a repeat would run it again
                log.error(
                    "command %r: its result could not be stored (%s)",
                    cid,
                    type(exc).__name__,
                    extra={"where": where_raised(exc)},
                )
        finally:
            del self._running[cid]
            if not future.done():
                future.cancel()
        self._publish(result)
        try:
            self._audit(cid, data, result)
        except Exception as exc:  # answered already: a second answer would be wrong
            log.error(
                "command %r: the audit event failed (%s)",
                cid,
                type(exc).__name__,
                extra={"where": where_raised(exc)},
            )

    def _audit(self, cid: str, data: dict[str, Any], result: dict[str, Any]) -> None:
        cmd, by = data.get("cmd"), data.get("by", "")
        self._emit(
            CommandAudit(
                id=cid,
                cmd=shorten(cmd) if isinstance(cmd, str) else None,
                ok=result["ok"],
                error=result.get("error"),
                by=shorten(by) if isinstance(by, str) else "",
            )
        )

    def _internal_error(self, cid: str, exc: Exception) -> dict[str, Any]:
        log.error(
            "command %r failed unexpectedly: %s",
            cid,
            type(exc).__name__,
            extra={"where": where_raised(exc)},
        )
        return self._result(cid, False, f"internal error ({type(exc).__name__})")

    def _failed(self, cid: str, exc: Exception) -> None:
        """Publish an ``internal error`` answer after an unexpected failure outside
        :meth:`execute` (the outbox, the audit); never raises."""
        try:
            self._publish(self._internal_error(cid, exc))
        except Exception as again:
            log.error("command %r: no answer could be sent (%s)", cid, type(again).__name__)

    def _result(
        self, cid: str, ok: bool, error: str | None = None, **result: Any
    ) -> dict[str, Any]:
        ts = now_rfc3339(self.clock.wall())
        if error is not None:
            error = shorten(error, ERROR_MAX)
        return CommandResult(id=cid, ok=ok, error=error, result=result, ts=ts).model_dump()

    async def execute(self, cid: str, data: dict[str, Any], size: int = 0) -> dict[str, Any]:
        """Validate, check the size and the expiry and carry out one command; its result."""
        answer = self._result
        if size > MAX_COMMAND_BYTES:
            return answer(
                cid, False, f"command too large ({size} bytes; at most {MAX_COMMAND_BYTES})"
            )
        try:
            cmd = Command.model_validate(data)
            args = cmd.parsed_args()
        except ValidationError as exc:
            return answer(cid, False, f"invalid command: {validation_message(exc)}")
        wall = self.clock.wall()
        if cmd.expires_at is not None and parse_rfc3339(cmd.expires_at) < wall:
            return answer(
                cid, False, f"expired at {cmd.expires_at} (booth time {now_rfc3339(wall)})"
            )
        booth = self._booth()
        if booth is None:
            return answer(cid, False, "the booth is starting; try again")
        try:
            result = await booth.commands.execute(cmd.cmd, args, cmd.by)
        except CommandRefused as exc:
            return answer(cid, False, f"refused: {exc}")
        except Exception as exc:  # a broken device must not break the link
            log.error(
                "command %r (%s) failed: %s",
                cid,
                cmd.cmd,
                type(exc).__name__,
                extra={"where": where_raised(exc)},
            )
            return answer(cid, False, f"failed: {exc}")
        return answer(cid, True, None, **result)
