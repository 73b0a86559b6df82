"""Booth messages in: MQTT topic routing, decoding, and booth events applied exactly once.

Each booth topic leaf goes to its handler: ``event`` to :meth:`BoothIngest.handle_booth_event`,
``availability``/``state``/``health`` to the booth registry, ``cmd/result`` to the booth
commands. A message from a booth the tenant config does not name is refused before anything
else (no registry entry, no call; counted in :class:`~cloud_bridge.booths.UnknownBooths`). A
payload that is not JSON or not valid is logged and dropped; one bad message never stops the
bridge.

Booth events are de-duplicated by their id (the store remembers the applied ones, in the same
transaction as the step the event caused). The booth's seq cursor (the seq of its last applied
event) is only a hint: an event whose seq is not the next one is still handled, and the jump is
logged (warning: booth, previous seq, seq, gap) and alerted (a ``seq_jump`` entry in the booth's
faults, ``seq_jumps``/``last_seq_jump`` in its view). So one event with a forged, far-ahead seq
cannot silence a booth. Fault events (``health``, ``selftest`` not passed, ``error``,
``protocol_error``) are also kept in the bridge's :class:`~cloud_bridge.booths.FaultLog`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import CallAbandoned, CallRequested, Clock, Decision, EngineError, Event
from cloud_bridge.booths import BoothRegistry, BoothView, FaultLog
from cloud_bridge.commands import BoothCommands
from cloud_bridge.store import DuplicateEventError, Store
from lisa_messages import (
    AnyBoothEvent,
    BoothHealth,
    BoothState,
    CallEndedEvent,
    CallRequestedEvent,
    CommandResult,
    EmergencyEvent,
    Topics,
    parse_booth_event,
    shorten,
    validation_message,
)

log = logging.getLogger("lisa.bridge")

M = TypeVar("M", bound=BaseModel)
Cursor = tuple[str, int, str]  # booth, seq, event id
WHAT = {"state": "booth state", "health": "booth health"}
#: the broker's message_size_limit (docs/operations.md); a bigger payload is not even parsed
MAX_PAYLOAD = 256 * 1024


class BoothIngest:
    """See the module docstring. ``step`` and ``commit`` are the bridge's (engine → store →
    effects, and the store transaction alone), ``publish`` its live event stream."""

    def __init__(
        self,
        *,
        registry: BoothRegistry,
        commands: BoothCommands,
        engine: Engine,
        store: Store,
        clock: Clock,
        step: Callable[[Event, Cursor | None], list[Decision]],
        commit: Callable[[list[Decision], Cursor | None], None],
        publish: Callable[[dict[str, Any]], None],
        faults: FaultLog | None = None,
        media: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.media = media  # the media matcher's booth side (``media/out``)
        self.registry = registry
        self.faults = faults if faults is not None else FaultLog()
        self.commands = commands
        self.engine = engine
        self.store = store
        self.clock = clock
        self._step = step
        self._commit = commit
        self._publish = publish
        self.cursors: dict[str, int] = {}  # booth -> seq of the last event applied

    def on_mqtt(self, topic: str, payload: bytes) -> None:
        booth_id = Topics.booth_of(topic)
        if booth_id is None:
            return
        leaf = topic.split("/", 4)[4] if topic.count("/") >= 4 else ""
        try:
            if booth_id not in self.registry:
                self.registry.refuse_unknown(booth_id, leaf)
            elif leaf == "event":
                self.on_event(booth_id, payload)
            elif leaf == "availability":
                text = payload.decode("utf-8", "replace").strip()
                self.registry.on_availability(booth_id, text)
            elif leaf == "state":
                if (state := self._parse(booth_id, leaf, payload, BoothState)) is not None:
                    self.registry.on_state(booth_id, state)
            elif leaf == "health":
                if (health := self._parse(booth_id, leaf, payload, BoothHealth)) is not None:
                    self.registry.on_health(booth_id, health)
            elif leaf == "cmd/result":
                if (result := self._parse(booth_id, leaf, payload, CommandResult)) is not None:
                    self.commands.on_result(booth_id, result)
            elif leaf == "media/out" and self.media is not None:
                if len(payload) <= MAX_PAYLOAD:
                    self.media(booth_id, payload)
                else:
                    log.warning(
                        "media report too large, dropped",
                        extra={"booth": booth_id, "bytes": len(payload), "limit": MAX_PAYLOAD},
                    )
        except Exception:  # one bad message must not stop the bridge
            log.exception("booth message failed", extra={"topic": topic})

    def _decode(self, topic: str, payload: bytes) -> Any:
        if len(payload) > MAX_PAYLOAD:
            log.warning("booth payload too large", extra={"topic": topic, "bytes": len(payload)})
            return None
        try:
            return json.loads(payload)
        except RecursionError:
            log.warning("booth payload is nested too deeply", extra={"topic": topic})
            return None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            log.warning(
                "booth payload is not JSON", extra={"topic": topic, "error": shorten(exc, 120)}
            )
            return None

    def _parse(self, booth_id: str, leaf: str, payload: bytes, model: type[M]) -> M | None:
        """A booth message as ``model``, or None (logged with its topic and the field)."""
        data = self._decode(f"{booth_id}/{leaf}", payload)
        if data is None:
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            log.warning(
                f"invalid {WHAT.get(leaf, 'command result')}",
                extra={"booth": booth_id, "leaf": leaf, "error": validation_message(exc)},
            )
            return None

    def on_event(self, booth_id: str, payload: bytes) -> None:
        data = self._decode(f"{booth_id}/event", payload)
        if data is None:
            return
        try:
            event = parse_booth_event(data)
        except ValidationError as exc:
            log.warning(
                "invalid booth event", extra={"booth": booth_id, "error": validation_message(exc)}
            )
            return
        if event.booth != booth_id:
            log.warning("event of another booth's topic", extra={"booth": booth_id})
            return
        self.handle_booth_event(event)

    def handle_booth_event(self, event: AnyBoothEvent) -> None:
        """One booth event, exactly once (duplicates are told by their id)."""
        b = self.registry.get(event.booth)
        if b is None:
            self.registry.refuse_unknown(event.booth, "event")
            return
        b.last_seen = self.clock.time()
        if self.store.seen_event(event.id):
            return  # a duplicate (QoS 1 redelivery, outbox replay): applied already
        last = self.cursors.get(event.booth, 0)
        if last and event.seq != last + 1:
            self._seq_jump(b, event, last)
        cursor = (event.booth, event.seq, event.id)
        engine_event: Event | None = None
        if isinstance(event, CallRequestedEvent):
            call_id = uuid.uuid4().hex[:16]
            engine_event = CallRequested(call_id, event.booth, event.data.session, b.queue)
        elif isinstance(event, CallEndedEvent):
            call = self.call_of(event.booth, event.data.session)
            if call is not None:
                engine_event = CallAbandoned(call, event.data.reason or "caller_left")
        elif isinstance(event, EmergencyEvent):
            b.emergency = event.data.active
        else:
            self.faults.record(event)
        try:
            if engine_event is not None:
                self._step(engine_event, cursor)
            else:
                self._commit([], cursor)
        except DuplicateEventError:  # pragma: no cover - checked above
            return
        except EngineError as exc:
            log.warning(
                "booth event refused by the ACD",
                extra={"booth": event.booth, "type": event.type, "error": str(exc)},
            )
            with contextlib.suppress(DuplicateEventError):
                self._commit([], cursor)
        self.cursors[event.booth] = event.seq
        self._publish({"type": "booth_event", "booth": event.booth, "event": event.type})

    def _seq_jump(self, b: BoothView, event: AnyBoothEvent, last: int) -> None:
        """The booth's numbering is not where it was: log and alert it, handle the event."""
        gap = event.seq - last - 1  # events missing in between; negative: it went back
        extra = {"booth": event.booth, "previous_seq": last, "seq": event.seq, "gap": gap}
        if event.seq == 1:  # a new numbering (booth PC replaced, state wiped)
            log.warning("booth restarted its event numbering", extra=extra)
            detail = f"event numbering restarted at 1 (was {last})"
        else:
            log.warning("booth event numbering jumped", extra=extra)
            detail = f"seq jumped from {last} to {event.seq} (gap {gap})"
        self.faults.note(
            event.booth,
            {"ts": event.ts, "seq": event.seq, "type": "seq_jump", "where": "bridge"}
            | {"detail": detail},
        )
        self.registry.seq_jump(b, {"ts": event.ts, "from": last, "to": event.seq, "gap": gap})

    def call_of(self, booth: str, session: str) -> str | None:
        """The live call of ``booth``'s visit ``session``, None if it has none."""
        call = self.engine.by_booth.get(booth)
        if call is not None and self.engine.calls[call].session == session:
            return call
        return None
