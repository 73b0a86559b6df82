"""The bridge service: the ACD engine wrapped by persistence, timers, MQTT and live events.

One asyncio loop owns everything. A step is always: the engine handles one event → its changes,
log lines and (for booth events) the booth's event cursor are written in ONE transaction → only
then the decisions are acted on (timers, call messages to booths, live events to agents). So a
SIGKILL at any point loses nothing: either the step is stored and its effects are re-announced
after the restart (every live call's status is sent to its booth again on every (re)connect), or
it is not stored and the broker delivers the booth event again (persistent session, QoS 1).

This module is the wiring: :class:`Bridge` owns the engine, the store, the timers, the MQTT
link and the live event subscriptions, and carries out the effects that
:mod:`cloud_bridge.effects` derives from the engine's decisions. Its parts: the booth registry
(:mod:`cloud_bridge.booths`), booth commands and audit (:mod:`cloud_bridge.commands`) and the
booth messages in (:mod:`cloud_bridge.ingest`).

Implements :class:`cloud_bridge.ports.BridgeFacade` for the HTTP/WebSocket API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import (
    AgentConnectionLost,
    AgentSpec,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
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
    QueueSpec,
    SetTimer,
    TimerFired,
    TimerKey,
)
from cloud_bridge.booths import BoothRegistry, BoothView, FaultLog
from cloud_bridge.clock import LoopEpochClock, SystemClock
from cloud_bridge.commands import BoothCommands
from cloud_bridge.effects import Effect, PublishLive, SendToBooth, effects_of, reannounce
from cloud_bridge.ingest import BoothIngest, Cursor
from cloud_bridge.media import IceFor, MediaMatcher
from cloud_bridge.mqtt_bridge import BridgeMqtt
from cloud_bridge.store import Changes, SQLiteStore, Store
from lisa_messages import AnyBoothEvent, CallControl, Topics, now_rfc3339

__all__ = ["BoothView", "Bridge", "LoopEpochClock", "SystemClock"]

log = logging.getLogger("lisa.bridge")

SUBSCRIBER_BACKLOG = 1000
#: the decisions after which the media matcher looks at the calls again
MEDIA_DECISIONS = (
    CallerConnected,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    ConsultConnected,
    ConsultEnded,
)


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
        booth_names: dict[str, str] | None = None,
        ice_for: IceFor | None = None,
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
        self.registry = BoothRegistry(
            booths,
            default_queue=self.default_queue,
            engine=self.engine,
            store=store,
            clock=self.clock,
            step=self.step,
            publish=self._publish,
            loop=self._event_loop,
            offline_grace_s=booth_offline_grace_s,
            names=booth_names,
        )
        self.booths: dict[str, BoothView] = self.registry.booths
        self.commands = BoothCommands(
            booths=self.booths,
            engine=self.engine,
            store=store,
            clock=self.clock,
            mqtt=lambda: self.mqtt,
            publish=self._publish,
        )
        self.faults = FaultLog()
        self.ingest = BoothIngest(
            registry=self.registry,
            commands=self.commands,
            engine=self.engine,
            store=store,
            clock=self.clock,
            step=self.step,
            commit=self._commit,
            publish=self._publish,
            faults=self.faults,
            media=self._media_from_booth,
        )
        self.media = MediaMatcher(
            self._publish_mqtt,
            ice_for or (lambda peer: []),
            agent_names=lambda a: self.agents[a].display_name if a in self.agents else a,
            agent_lost=self._media_unreachable,
            clock=self.clock.time,
        )
        self._timers: dict[TimerKey, asyncio.TimerHandle] = {}
        self._subscribers: set[_Subscription] = set()
        self._clients: dict[str, int] = {}
        self._grace: dict[str, asyncio.TimerHandle] = {}  # agent -> its client's grace timer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self.steps = 0

    @property
    def booth_offline_grace_s(self) -> float:
        return self.registry.offline_grace_s

    @booth_offline_grace_s.setter
    def booth_offline_grace_s(self, seconds: float) -> None:
        self.registry.offline_grace_s = seconds

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
        self.registry.restore(self.store.booths(), self.store.unknown_booths())
        self.ingest.cursors = self.store.cursors()
        calls, agents, queue_rows = self.store.load_state()
        queues = {str(row["id"]): row for row in queue_rows if "id" in row}
        decisions = self.engine.restore(calls, agents, queues)
        self._commit(decisions, None)
        self._act(decisions)
        self.media.reconcile(self.engine.calls_view())  # who may have media, after a restart
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
        self.registry.stop()
        for sub in list(self._subscribers):
            sub.close()
        self.commands.stop()
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.stop)
        self.store.close()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_event_loop()

    # ------------------------------------------------------------------ the one step
    async def dispatch(self, event: Event) -> list[Decision]:
        return self.step(event)

    def step(self, event: Event, cursor: Cursor | None = None) -> list[Decision]:
        """Engine → store (one transaction) → effects. Raises EngineError (nothing changed)."""
        decisions = self.engine.handle(event)
        self._commit(decisions, cursor)
        self._act(decisions)
        self.steps += 1
        return decisions

    def _commit(self, decisions: list[Decision], cursor: Cursor | None) -> None:
        calls, agents, queues = self.engine.take_changes()
        for qid, row in queues.items():
            row["id"] = qid
        entries = [d for d in decisions if isinstance(d, LogEntry)]
        self.store.apply(Changes(calls, agents, queues), entries, cursor)

    def _act(self, decisions: list[Decision]) -> None:
        self._carry_out(effects_of(decisions, self._call_view))
        if any(isinstance(d, MEDIA_DECISIONS) for d in decisions):
            self.media.reconcile(self.engine.calls_view())

    # ------------------------------------------------------------------ media
    def _publish_mqtt(self, topic: str, payload: str) -> None:
        if self.mqtt is not None:
            self.mqtt.publish(topic, payload)

    def _media_from_booth(self, booth: str, payload: bytes) -> None:
        self.media.from_booth(booth, payload)

    def _media_unreachable(self, agent: str) -> None:
        """The booth got no media with ``agent`` in time: the call goes to someone else."""
        with contextlib.suppress(EngineError):
            self.step(AgentConnectionLost(agent))

    def _carry_out(self, effects: Iterable[Effect]) -> None:
        for e in effects:
            match e:
                case SetTimer():
                    self._set_timer(e.key, e.at)
                case CancelTimer():
                    handle = self._timers.pop(e.key, None)
                    if handle is not None:
                        handle.cancel()
                case SendToBooth():
                    self._to_booth(e)
                case PublishLive():
                    self._publish(e.item)

    # ------------------------------------------------------------------ timers
    def _set_timer(self, key: TimerKey, at: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock.time())
        self._timers[key] = self._event_loop().call_later(delay, self._fire, key)

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        try:
            self.step(TimerFired(key))
        except EngineError as exc:  # pragma: no cover - the engine ignores stale timers
            log.warning("timer refused", extra={"key": str(key), "error": str(exc)})
        except Exception:
            log.exception("timer step failed", extra={"key": str(key)})

    # ------------------------------------------------------------------ booth side (MQTT)
    def _to_booth(self, msg: SendToBooth) -> None:
        if self.mqtt is None:
            return
        control = CallControl(
            id=uuid.uuid4().hex, session=msg.session, type=msg.type, ts=now_rfc3339(), **msg.fields
        )
        self.mqtt.publish(Topics(msg.booth).call, control.model_dump_json(exclude_none=True))

    def _on_mqtt_connected(self) -> None:
        """After every (re)connect: tell every booth with a live call where its call stands."""
        self._carry_out(
            reannounce(self.engine.calls_view(), self.agents, self.engine.estimated_wait)
        )

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        self.ingest.on_mqtt(topic, payload)

    def handle_booth_event(self, event: AnyBoothEvent) -> None:
        """One booth event, exactly once (see :mod:`cloud_bridge.ingest`)."""
        self.ingest.handle_booth_event(event)

    def register_booth(self, booth_id: str, queue: str | None = None) -> None:
        self.registry.register(booth_id, queue)

    # ------------------------------------------------------------------ booth simulation API
    async def call_requested(self, booth: str, session: str, queue: str | None = None) -> str:
        """As if ``booth`` sent ``call_requested`` (tests; without MQTT). The booth is
        registered as if the tenant config named it (over MQTT an unknown booth is refused)."""
        b = self.registry.register(booth)
        call_id = uuid.uuid4().hex[:16]
        self.step(CallRequested(call_id, booth, session, queue or b.queue))
        return call_id

    async def call_ended_by_booth(self, booth: str, session: str, reason: str = "left") -> None:
        call = self.ingest.call_of(booth, session)
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
        key = f"agent:{agent}"
        old = self._grace.pop(key, None)
        if old is not None:
            old.cancel()
        self._grace[key] = self._event_loop().call_later(
            self.agent_grace_s, self._agent_gone, agent
        )

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
            "booths": self.registry.views(),
            "unknown_booths": self.registry.unknown.view(),
        }

    # narrow reads (the entries of status() without building the rest)
    def agent_view(self, agent: str) -> dict[str, Any] | None:
        return self.engine.agent_view(agent)

    def agents_view(self) -> list[dict[str, Any]]:
        return self.engine.agents_view()

    def call_view(self, call: str) -> dict[str, Any] | None:
        return self.engine.call_view(call)

    def queues_view(self) -> list[dict[str, Any]]:
        return self.engine.queues_view()

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
        """See :meth:`cloud_bridge.commands.BoothCommands.send`."""
        return await self.commands.send(user, role, booth, cmd, args, timeout)

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        return self.commands.audit(limit, booth)

    def now(self) -> float:
        return self.clock.time()

    def log_entries(
        self, start: float | None = None, end: float | None = None
    ) -> Iterator[LogEntry]:
        return self.store.log_entries(start, end)

    def booth_faults(self, booth: str, limit: int = 50) -> list[dict[str, Any]]:
        if booth not in self.registry:
            raise KeyError(booth)
        return self.faults.recent(booth, limit)
