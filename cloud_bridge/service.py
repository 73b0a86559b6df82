"""The bridge service: the ACD engine wrapped by persistence, timers, MQTT and live events.

One asyncio loop owns everything. A step is always: the engine handles one event → its changes,
log lines and (for booth events) the booth's event cursor are written in ONE transaction → only
then the decisions are acted on (timers, call messages to booths, live events to agents). So a
SIGKILL at any point loses nothing: either the step is stored and its effects are re-announced
after the restart (every live call's status is sent to its booth again on every (re)connect), or
it is not stored and the broker delivers the booth event again (persistent session, QoS 1).

Implements :class:`cloud_bridge.ports.BridgeFacade` for the HTTP/WebSocket API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import (
    AgentChanged,
    AgentConnectionLost,
    AgentSpec,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
    CallerQueued,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    CallRequested,
    CancelTimer,
    Clock,
    ConsultConnected,
    ConsultEnded,
    Decision,
    EngineError,
    Event,
    LogEntry,
    Offer,
    OfferWithdrawn,
    QueueSpec,
    SetTimer,
    TimerFired,
)
from cloud_bridge.mqtt_bridge import BridgeMqtt
from cloud_bridge.ports import CommandDenied
from cloud_bridge.store import Changes, DuplicateEventError, SQLiteStore, Store
from lisa_messages import (
    OFFLINE,
    ONLINE,
    BoothEvent,
    BoothHealth,
    BoothState,
    CallControl,
    Command,
    CommandResult,
    Topics,
    now_rfc3339,
    validation_message,
)

log = logging.getLogger("lisa.bridge")

PRIVILEGED = ("supervisor", "technician", "admin")
M = TypeVar("M", bound=BaseModel)
SUBSCRIBER_BACKLOG = 1000


class SystemClock:
    def time(self) -> float:
        return time.time()


class LoopEpochClock:
    """Epoch seconds that move with the running loop (virtual time in tests)."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        self._start: float | None = None

    def time(self) -> float:
        loop = asyncio.get_event_loop()
        if self._start is None:
            self._start = loop.time()
        return self.epoch + (loop.time() - self._start)


@dataclass
class BoothView:
    id: str
    queue: str
    configured: bool = True
    online: bool = False
    state: str | None = None
    detail: str | None = None
    since: str | None = None
    in_service: bool | None = None
    health: dict[str, Any] | None = None
    last_seen: float | None = None
    emergency: bool = False

    def as_dict(self, call: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "configured": self.configured,
            "online": self.online,
            "state": self.state,
            "detail": self.detail,
            "since": self.since,
            "in_service": self.in_service,
            "health": self.health,
            "emergency": self.emergency,
            "last_seen": self.last_seen,
            "call": call,
        }


class _Subscription:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.queue.put_nowait({"type": "snapshot", **bridge.status()})
        self.closed = False

    def push(self, item: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a client that does not read: cut it off, it reconnects
            log.warning("live event subscriber too slow, closing it")
            self.close()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bridge._subscribers.discard(self)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class Bridge:
    """See the module docstring."""

    def __init__(
        self,
        queues: Iterable[QueueSpec],
        agents: Iterable[AgentSpec],
        store: Store,
        *,
        booths: dict[str, str] | None = None,
        default_queue: str = "clearing",
        clock: Clock | None = None,
        mqtt: BridgeMqtt | None = None,
        agent_grace_s: float = 30.0,
        booth_offline_grace_s: float = 60.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.queues: dict[str, QueueSpec] = {q.id: q for q in queues}
        self.agents: dict[str, AgentSpec] = {a.id: a for a in agents}
        self.engine = Engine(self.queues.values(), self.agents.values(), self.clock)
        self.store = store
        self.mqtt = mqtt
        self.default_queue = (
            default_queue if default_queue in self.queues else next(iter(self.queues))
        )
        self.agent_grace_s = agent_grace_s
        self.booth_offline_grace_s = booth_offline_grace_s
        self.booths: dict[str, BoothView] = {b: BoothView(b, q) for b, q in (booths or {}).items()}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._cursors: dict[str, int] = {}  # booth -> seq of the last event applied
        self._subscribers: set[_Subscription] = set()
        self._pending_cmds: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._clients: dict[str, int] = {}
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self.steps = 0

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def in_memory(
        cls,
        queues: list[QueueSpec],
        agents: list[AgentSpec],
        clock: Clock | None = None,
        *,
        booths: dict[str, str] | None = None,
        path: Path | None = None,
    ) -> Bridge:
        """A bridge with the real engine and an SQLite store in a temporary directory, without
        MQTT (tests, the load simulator's end-to-end mode)."""
        db = path or Path(tempfile.mkdtemp(prefix="lisa-bridge-")) / "bridge.db"
        return cls(queues, agents, SQLiteStore(db), clock=clock, booths=booths)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Restore the stored state (calls, agents, timers) and connect to the broker."""
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        for booth_id, view in self.store.booths().items():
            b = self.booths.get(booth_id)
            if b is None:
                b = self.booths[booth_id] = BoothView(
                    booth_id, str(view.get("queue") or self.default_queue), configured=False
                )
            for key in ("state", "detail", "since", "in_service", "health", "emergency"):
                if key in view:
                    setattr(b, key, view[key])
            b.online = False  # until its retained availability says otherwise
        self._cursors = self.store.cursors()
        calls, agents, queue_rows = self.store.load_state()
        queues = {str(row["id"]): row for row in queue_rows if "id" in row}
        decisions = self.engine.restore(calls, agents, queues)
        self._commit(decisions, None)
        self._act(decisions)
        log.info(
            "bridge started",
            extra={"calls": len(self.engine.calls), "agents": len(self.engine.agents)},
        )
        if self.mqtt is not None:
            self.mqtt.on_message = self._on_mqtt
            self.mqtt.on_connected = self._on_mqtt_connected
            self.mqtt.start(self._loop)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for handle in [*self._timers.values(), *self._grace.values()]:
            handle.cancel()
        self._timers.clear()
        self._grace.clear()
        for sub in list(self._subscribers):
            sub.close()
        for fut in self._pending_cmds.values():
            if not fut.done():
                fut.set_exception(TimeoutError("the bridge is stopping"))
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.stop)
        self.store.close()

    # ------------------------------------------------------------------ the one step
    async def dispatch(self, event: Event) -> list[Decision]:
        return self.step(event)

    def step(self, event: Event, cursor: tuple[str, int, str] | None = None) -> list[Decision]:
        """Engine → store (one transaction) → effects. Raises EngineError (nothing changed)."""
        decisions = self.engine.handle(event)
        self._commit(decisions, cursor)
        self._act(decisions)
        self.steps += 1
        return decisions

    def _commit(self, decisions: list[Decision], cursor: tuple[str, int, str] | None) -> None:
        calls, agents, queues = self.engine.take_changes()
        for qid, row in queues.items():
            row["id"] = qid
        entries = [d for d in decisions if isinstance(d, LogEntry)]
        self.store.apply(Changes(calls, agents, queues), entries, cursor)

    def _act(self, decisions: list[Decision]) -> None:
        for d in decisions:
            match d:
                case SetTimer():
                    self._set_timer(d.key, d.at)
                case CancelTimer():
                    handle = self._timers.pop(d.key, None)
                    if handle is not None:
                        handle.cancel()
                case CallerQueued():
                    self._to_booth(
                        d.booth,
                        d.session,
                        "queued",
                        position=d.position,
                        estimated_wait=d.estimated_wait_s,
                        queue=d.queue,
                    )
                    self._publish({"type": "call", **self._call_view(d.call)})
                case CallerConnected():
                    self._to_booth(
                        d.booth, d.session, "connected", queue=d.queue, agent=d.agent_display
                    )
                    self._publish({"type": "call", **self._call_view(d.call)})
                case CallerTransferring():
                    self._to_booth(d.booth, d.session, "transferring", queue=d.target or None)
                    self._publish({"type": "call", **self._call_view(d.call)})
                case CallerUnavailable():
                    self._to_booth(
                        d.booth,
                        d.session,
                        "unavailable",
                        reason=d.reason,
                        opening_hours=d.opening_hours or None,
                        phone=d.phone or None,
                        queue=d.queue,
                    )
                    self._publish({"type": "call_ended", "call": d.call, "reason": d.reason})
                case CallFinished():
                    if not d.by_caller:
                        self._to_booth(d.booth, d.session, "ended", reason=d.reason)
                    self._publish({"type": "call_ended", "call": d.call, "reason": d.reason})
                case Offer():
                    self._publish(
                        {
                            "type": "offer",
                            "call": d.call,
                            "agent": d.agent,
                            "queue": d.queue,
                            "booth": d.booth,
                            "ring_timeout_s": d.ring_timeout_s,
                            "consult_for": d.consult_for,
                        }
                    )
                case OfferWithdrawn():
                    self._publish(
                        {
                            "type": "offer_withdrawn",
                            "call": d.call,
                            "agent": d.agent,
                            "reason": d.reason,
                        }
                    )
                case ConsultConnected():
                    self._publish(
                        {
                            "type": "consult",
                            "call": d.call,
                            "agent": d.agent,
                            "consultant": d.consultant,
                            "state": "connected",
                        }
                    )
                case ConsultEnded():
                    self._publish(
                        {
                            "type": "consult",
                            "call": d.call,
                            "agent": d.agent,
                            "consultant": d.consultant,
                            "state": "ended",
                            "reason": d.reason,
                        }
                    )
                case AgentChanged():
                    self._publish(
                        {
                            "type": "agent",
                            "agent": d.agent,
                            "status": d.status.value,
                            "reason": d.reason,
                            "call": d.call,
                        }
                    )
                case _:
                    pass

    # ------------------------------------------------------------------ timers
    def _set_timer(self, key: str, at: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = self._loop or asyncio.get_event_loop()
        delay = max(0.0, at - self.clock.time())
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        try:
            self.step(TimerFired(key))
        except EngineError as exc:  # pragma: no cover - the engine ignores stale timers
            log.warning("timer refused", extra={"key": key, "error": str(exc)})
        except Exception:
            log.exception("timer step failed", extra={"key": key})

    # ------------------------------------------------------------------ booth side
    def _booth(self, booth_id: str) -> BoothView:
        b = self.booths.get(booth_id)
        if b is None:
            log.warning("booth not in the tenant config", extra={"booth": booth_id})
            b = self.booths[booth_id] = BoothView(booth_id, self.default_queue, configured=False)
        return b

    def register_booth(self, booth_id: str, queue: str | None = None) -> None:
        self.booths.setdefault(booth_id, BoothView(booth_id, queue or self.default_queue))

    def _to_booth(self, booth: str, session: str, type_: str, **fields: Any) -> None:
        if self.mqtt is None:
            return
        msg = CallControl(
            id=uuid.uuid4().hex,
            session=session,
            type=type_,
            ts=now_rfc3339(),
            **{k: v for k, v in fields.items() if v is not None},
        )
        self.mqtt.publish(Topics(booth).call, msg.model_dump_json(exclude_none=True))

    def _on_mqtt_connected(self) -> None:
        """After every (re)connect: tell every booth with a live call where its call stands."""
        for view in self.engine.calls_view():
            if view["kind"] != "call":
                continue
            if view["status"] == "connected" and view["agent"]:
                agent = self.agents[view["agent"]]
                self._to_booth(
                    view["booth"],
                    view["session"],
                    "connected",
                    queue=view["queue"],
                    agent=agent.display_name,
                )
            else:
                self._to_booth(
                    view["booth"],
                    view["session"],
                    "queued",
                    position=view["position"] or 1,
                    estimated_wait=self.engine.estimated_wait(view["id"]),
                    queue=view["queue"],
                )

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        booth_id = Topics.booth_of(topic)
        if booth_id is None:
            return
        leaf = topic.split("/", 4)[4] if topic.count("/") >= 4 else ""
        try:
            if leaf == "event":
                self._on_event(booth_id, payload)
            elif leaf == "availability":
                self._on_availability(booth_id, payload.decode("utf-8", "replace").strip())
            elif leaf == "state":
                self._on_state(booth_id, payload)
            elif leaf == "health":
                self._on_health(booth_id, payload)
            elif leaf == "cmd/result":
                self._on_result(booth_id, payload)
        except Exception:  # one bad message must not stop the bridge
            log.exception("booth message failed", extra={"topic": topic})

    def _decode(self, topic: str, payload: bytes) -> Any:
        try:
            return json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("booth payload is not JSON", extra={"topic": topic, "error": str(exc)})
            return None

    def _on_event(self, booth_id: str, payload: bytes) -> None:
        data = self._decode(f"{booth_id}/event", payload)
        if data is None:
            return
        try:
            event = BoothEvent.model_validate(data)
        except ValidationError as exc:
            log.warning(
                "invalid booth event", extra={"booth": booth_id, "error": validation_message(exc)}
            )
            return
        if event.booth != booth_id:
            log.warning("event of another booth's topic", extra={"booth": booth_id})
            return
        self.handle_booth_event(event)

    def handle_booth_event(self, event: BoothEvent) -> None:
        """One booth event, exactly once (the store's cursor refuses duplicates)."""
        b = self._booth(event.booth)
        b.last_seen = self.clock.time()
        if self.store.seen_event(event.id):
            return  # a duplicate (QoS 1 redelivery, outbox replay): applied already
        last = self._cursors.get(event.booth, 0)
        if event.seq <= last:
            if event.seq != 1:
                return  # older than what was applied: a late duplicate
            # a new numbering (booth PC replaced, state wiped): follow it
            log.warning(
                "booth restarted its event numbering",
                extra={"booth": event.booth, "previous_seq": last},
            )
            self.store.reset_cursor(event.booth)
            self._cursors[event.booth] = 0
        cursor = (event.booth, event.seq, event.id)
        session = str(event.data.get("session") or "")
        engine_event: Event | None = None
        if event.type == "call_requested" and session:
            call_id = uuid.uuid4().hex[:16]
            engine_event = CallRequested(call_id, event.booth, session, b.queue)
        elif event.type == "call_ended" and session:
            call = self._call_of(event.booth, session)
            if call is not None:
                engine_event = CallAbandoned(call, str(event.data.get("reason") or "caller_left"))
        elif event.type == "emergency":
            b.emergency = bool(event.data.get("active"))
        try:
            if engine_event is not None:
                self.step(engine_event, cursor)
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
        self._cursors[event.booth] = event.seq
        self._publish({"type": "booth_event", "booth": event.booth, "event": event.type})

    def _call_of(self, booth: str, session: str) -> str | None:
        call = self.engine.by_booth.get(booth)
        if call is not None and self.engine.calls[call].session == session:
            return call
        return None

    def _on_availability(self, booth_id: str, text: str) -> None:
        b = self._booth(booth_id)
        if text not in (ONLINE, OFFLINE):
            log.warning("bad availability payload", extra={"booth": booth_id})
            return
        b.online = text == ONLINE
        b.last_seen = self.clock.time()
        key = f"booth-offline:{booth_id}"
        old = self._grace.pop(key, None)
        if old is not None:
            old.cancel()
        if not b.online and booth_id in self.engine.by_booth:
            loop = self._loop or asyncio.get_event_loop()
            self._grace[key] = loop.call_later(
                self.booth_offline_grace_s, self._booth_gone, booth_id
            )
        self._booth_changed(b)

    def _booth_gone(self, booth_id: str) -> None:
        self._grace.pop(f"booth-offline:{booth_id}", None)
        b = self.booths.get(booth_id)
        call = self.engine.by_booth.get(booth_id)
        if b is None or b.online or call is None:
            return
        log.warning("booth offline with a live call: ending it", extra={"booth": booth_id})
        with contextlib.suppress(EngineError):
            self.step(CallAbandoned(call, "booth_offline"))

    def _parse(self, booth_id: str, leaf: str, payload: bytes, model: type[M]) -> M | None:
        """A booth message as ``model``, or None (logged with its topic and the field)."""
        data = self._decode(f"{booth_id}/{leaf}", payload)
        if data is None:
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            what = {"state": "booth state", "health": "booth health"}.get(leaf, "command result")
            log.warning(
                f"invalid {what}",
                extra={"booth": booth_id, "leaf": leaf, "error": validation_message(exc)},
            )
            return None

    def _on_state(self, booth_id: str, payload: bytes) -> None:
        state = self._parse(booth_id, "state", payload, BoothState)
        if state is None:
            return
        b = self._booth(booth_id)
        b.state, b.detail, b.since = state.state, state.detail, state.since
        b.emergency = state.emergency
        self._booth_changed(b)

    def _on_health(self, booth_id: str, payload: bytes) -> None:
        health = self._parse(booth_id, "health", payload, BoothHealth)
        if health is None:
            return
        b = self._booth(booth_id)
        b.in_service = health.in_service
        b.health = {k: v.model_dump(exclude_none=True) for k, v in health.devices.items()}
        self._booth_changed(b)

    def _booth_changed(self, b: BoothView) -> None:
        view = b.as_dict(self.engine.by_booth.get(b.id))
        self.store.put_booth(b.id, view)
        self._publish({"type": "booth", **view})

    def _on_result(self, booth_id: str, payload: bytes) -> None:
        result = self._parse(booth_id, "cmd/result", payload, CommandResult)
        if result is None:
            return
        answer = {
            "id": result.id,
            "booth": booth_id,
            "ok": result.ok,
            "error": result.error,
            "result": result.result,
        }
        fut = self._pending_cmds.pop(result.id, None)
        if fut is not None and not fut.done():
            fut.set_result(answer)
        self._publish({"type": "command_result", **answer})

    # ------------------------------------------------------------------ booth simulation API
    async def call_requested(self, booth: str, session: str, queue: str | None = None) -> str:
        """As if ``booth`` sent ``call_requested`` (tests; without MQTT)."""
        b = self._booth(booth)
        call_id = uuid.uuid4().hex[:16]
        self.step(CallRequested(call_id, booth, session, queue or b.queue))
        return call_id

    async def call_ended_by_booth(self, booth: str, session: str, reason: str = "left") -> None:
        call = self._call_of(booth, session)
        if call is not None:
            self.step(CallAbandoned(call, reason))

    # ------------------------------------------------------------------ agents' clients
    def client_connected(self, agent: str) -> None:
        self._clients[agent] = self._clients.get(agent, 0) + 1
        handle = self._grace.pop(f"agent:{agent}", None)
        if handle is not None:
            handle.cancel()

    def client_disconnected(self, agent: str) -> None:
        if not self._started:
            return
        n = self._clients.get(agent, 0) - 1
        if n > 0:
            self._clients[agent] = n
            return
        self._clients.pop(agent, None)
        if agent not in self.agents:
            return
        loop = self._loop or asyncio.get_event_loop()
        key = f"agent:{agent}"
        old = self._grace.pop(key, None)
        if old is not None:
            old.cancel()
        self._grace[key] = loop.call_later(self.agent_grace_s, self._agent_gone, agent)

    def _agent_gone(self, agent: str) -> None:
        self._grace.pop(f"agent:{agent}", None)
        if self._clients.get(agent):
            return
        a = self.engine.agents.get(agent)
        if a is None or a.status in (AgentStatus.LOGGED_OUT, AgentStatus.NOT_READY):
            return
        log.warning("agent client gone", extra={"agent": agent})
        with contextlib.suppress(EngineError):
            self.step(AgentConnectionLost(agent))

    # ------------------------------------------------------------------ facade
    def status(self) -> dict[str, Any]:
        calls = self.engine.calls_view()
        return {
            "ts": self.clock.time(),
            "mqtt": None if self.mqtt is None else self.mqtt.connected,
            "agents": self.engine.agents_view(),
            "queues": self.engine.queues_view(),
            "calls": calls,
            "booths": [b.as_dict(self.engine.by_booth.get(b.id)) for b in self.booths.values()],
        }

    def _call_view(self, call: str) -> dict[str, Any]:
        return self.engine.call_view(call) or {"id": call, "status": "ended"}

    def subscribe(self) -> _Subscription:
        sub = _Subscription(self)
        self._subscribers.add(sub)
        return sub

    def _publish(self, item: dict[str, Any]) -> None:
        for sub in list(self._subscribers):
            sub.push(item)

    async def booth_command(
        self,
        user: str,
        role: str,
        booth: str,
        cmd: str,
        args: dict[str, Any],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        now = self.clock.time()
        if booth not in self.booths:
            self.store.append_audit(now, user, role, booth, cmd, args, "refused: unknown booth")
            raise KeyError(f"booth {booth!r} is unknown")
        command_id = uuid.uuid4().hex
        try:
            command = Command(
                id=command_id,
                cmd=cmd,
                args=args,
                by=user,
                expires_at=now_rfc3339_in(timeout),
            )
            command.parsed_args()
        except ValidationError as exc:
            reason = validation_message(exc)
            self.store.append_audit(now, user, role, booth, cmd, args, f"invalid: {reason}")
            raise ValueError(reason) from None
        if role not in PRIVILEGED:
            call = self.engine.by_booth.get(booth)
            agent = self.engine.agent_of_call(call) if call is not None else None
            if agent != user:
                self.store.append_audit(
                    now, user, role, booth, cmd, args, "denied: not in a call with this booth"
                )
                raise CommandDenied(f"{user!r} is not in a call with booth {booth!r}")
        self.store.append_audit(now, user, role, booth, cmd, args, f"sent {command_id}")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending_cmds[command_id] = fut
        if self.mqtt is not None:
            self.mqtt.publish(Topics(booth).cmd, command.model_dump_json(exclude_none=True))
        try:
            answer = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self.store.append_audit(
                self.clock.time(), user, role, booth, cmd, args, f"timeout {command_id}"
            )
            raise TimeoutError(f"booth {booth!r} did not answer within {timeout:g} s") from None
        finally:
            self._pending_cmds.pop(command_id, None)
        outcome = "ok" if answer["ok"] else f"error: {answer.get('error')}"
        self.store.append_audit(
            self.clock.time(), user, role, booth, cmd, args, f"{outcome} {command_id}"
        )
        return answer

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        return self.store.audit(limit, booth)


def now_rfc3339_in(seconds: float) -> str:
    return now_rfc3339(datetime.now(UTC) + timedelta(seconds=seconds))
