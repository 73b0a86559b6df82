"""Both ends of the in-process bus (:mod:`sim.bus`) for ``lisa sim day``.

:class:`BusLink` is the booth's central link: a :class:`booth.central.CentralLink` written for
the bus (not the real :class:`booth.mqtt_link.MqttLink` against a fake paho client). It does
what the MQTT link does, the same way on the wire:

- every emitted event gets its envelope (id, seq, ts) and goes to ``lisa/v1/booth/{id}/event``;
  while disconnected it waits in an in-memory outbox and goes out, in order, on reconnect (the
  broker accepts synchronously, which stands for the PUBACK);
- ``availability`` retained ``online`` on connect, ``offline`` as the last will and on stop;
  ``state`` and ``health`` retained, current;
- subscribes to ``call``, ``cmd`` and the bridge's availability; ``call`` messages become
  :mod:`booth.central` events; ``cmd`` is executed by the booth's command executor and
  answered on ``cmd/result``;
- it is up (``LinkUp``) only while connected *and* the bridge is ``online``; after a loss it
  reconnects with jittered exponential backoff (``retry_initial`` … ``retry_max``).

:class:`BusBridgeMqtt` stands in for :class:`cloud_bridge.mqtt_bridge.BridgeMqtt` (the
bridge's one connection): subscriptions to every booth's topics, retained ``online`` with the
last will ``offline``, publishes kept while disconnected (as paho does) and reconnects every
``retry`` seconds. :meth:`BusBridgeMqtt.shutdown` is the bridge's clean ``stop`` on the loop
(the real ``stop`` runs in a thread, which a virtual-time loop must not wait for).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from booth.central import (
    BoothBinding,
    CentralSink,
    LinkDown,
    LinkUp,
    call_event,
)
from booth.status import retained_health, retained_state
from hal.clock import Clock
from lisa_messages import (
    BRIDGE_AVAILABILITY,
    COMMAND_ARGS,
    OFFLINE,
    ONLINE,
    CallControl,
    CallRequest,
    Command,
    CommandResult,
    EventBody,
    HealthReport,
    SelftestReport,
    StateReport,
    Topics,
    dump_booth_event,
    envelope,
    now_rfc3339,
)
from sim.bus import Bus, BusClient

BRIDGE_LEAVES = ("event", "state", "health", "availability", "cmd/result")


class BusLink:
    """See the module docstring."""

    def __init__(
        self,
        booth_id: str,
        bus: Bus,
        clock: Clock,
        *,
        rng: random.Random,
        retry_initial: float = 1.0,
        retry_max: float = 30.0,
    ) -> None:
        self.booth_id = booth_id
        self.bus = bus
        self.clock = clock
        self.topics = Topics(booth_id)
        self.rng = rng
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.client = BusClient(
            bus,
            f"lisa-booth-{booth_id}",
            will=(self.topics.availability, OFFLINE.encode()),
            on_message=self._on_message,
            on_lost=self._on_lost,
        )
        self._sink: CentralSink | None = None
        self._booth: BoothBinding | None = None
        self._outbox: deque[bytes] = deque()
        self._seq = 0
        self._bridge_online = False
        self._up = False
        self._stopping = False
        self._retry: asyncio.TimerHandle | None = None
        self._attempts = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.connects = 0
        self.emitted = 0
        self.call_requests = 0

    # ------------------------------------------------------------------ CentralLink
    async def start(self, sink: CentralSink) -> None:
        self._sink = sink
        self._try_connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
        if self.client.connected:
            self.client.publish(self.topics.availability, OFFLINE, retain=True)
            self.client.disconnect()
        for task in list(self._tasks):
            task.cancel()

    def is_up(self) -> bool:
        return self._up

    def bind(self, booth: BoothBinding) -> None:
        self._booth = booth

    def emit(self, event: EventBody) -> None:
        self._seq += 1
        self.emitted += 1
        if isinstance(event, CallRequest):
            self.call_requests += 1
        ev = envelope(
            event,
            id=f"{self.booth_id}-{self._seq:08d}",
            booth=self.booth_id,
            seq=self._seq,
            ts=now_rfc3339(self.clock.wall()),
        )
        self._outbox.append(dump_booth_event(ev))
        self._flush()
        if isinstance(event, StateReport):
            self._publish_state()
        elif isinstance(event, HealthReport | SelftestReport):
            self._publish_health()

    @property
    def pending(self) -> int:
        """Events not yet handed to the broker."""
        return len(self._outbox)

    # ------------------------------------------------------------------ connection
    def _try_connect(self) -> None:
        self._retry = None
        if self._stopping:
            return
        if not self.client.connect():
            delay = min(self.retry_max, self.retry_initial * 2.0**self._attempts)
            self._attempts += 1
            self._retry = self.bus.loop.call_later(
                delay * (0.5 + self.rng.random()), self._try_connect
            )
            return
        self._attempts = 0
        self.connects += 1
        self.client.subscribe(self.topics.call, self.topics.cmd, BRIDGE_AVAILABILITY)
        self.client.publish(self.topics.availability, ONLINE, retain=True)
        self._publish_state()
        self._publish_health()
        self._flush()
        self._update_up()

    def _on_lost(self, reason: str) -> None:
        self._bridge_online = False
        self._update_up()
        if not self._stopping and self._retry is None:
            delay = self.retry_initial * (0.5 + self.rng.random())
            self._retry = self.bus.loop.call_later(delay, self._try_connect)

    def _update_up(self) -> None:
        up = self.client.connected and self._bridge_online
        if up == self._up:
            return
        self._up = up
        if self._sink is not None:
            reason = "broker" if not self.client.connected else "bridge"
            self._sink(LinkUp() if up else LinkDown(reason))

    def _flush(self) -> None:
        while self._outbox and self.client.connected:
            if not self.client.publish(self.topics.event, self._outbox[0]):
                return
            self._outbox.popleft()

    # ------------------------------------------------------------------ retained
    def _publish_state(self) -> None:
        if self._booth is None or not self.client.connected:
            return
        msg = retained_state(self.booth_id, now_rfc3339(self.clock.wall()), self._booth.status())
        self.client.publish(self.topics.state, msg.model_dump_json(exclude_none=True), retain=True)

    def _publish_health(self) -> None:
        if self._booth is None or not self.client.connected:
            return
        msg = retained_health(self.booth_id, now_rfc3339(self.clock.wall()), self._booth.status())
        self.client.publish(self.topics.health, msg.model_dump_json(exclude_none=True), retain=True)

    # ------------------------------------------------------------------ receiving
    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == BRIDGE_AVAILABILITY:
            self._bridge_online = payload.decode("utf-8", "replace").strip() == ONLINE
            self._update_up()
        elif topic == self.topics.call:
            self._on_call(payload)
        elif topic == self.topics.cmd:
            task = asyncio.get_running_loop().create_task(self._answer(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_call(self, payload: bytes) -> None:
        msg = CallControl.model_validate_json(payload)
        if self._sink is not None:
            self._sink(call_event(msg))

    async def _answer(self, payload: bytes) -> None:
        """Execute a command (no idempotency store: the sim sends each command once)."""
        result: dict[str, Any] = {}
        error: str | None = None
        cmd_id = "?"
        try:
            cmd = Command.model_validate_json(payload)
            cmd_id = cmd.id
            args = COMMAND_ARGS[cmd.cmd].model_validate(cmd.args)
            if self._booth is None:
                raise RuntimeError("booth not bound")
            result = await self._booth.commands.execute(cmd.cmd, args, cmd.by)
        except (ValidationError, ValueError, RuntimeError) as exc:
            error = str(exc)
        answer = CommandResult(
            id=cmd_id,
            ok=error is None,
            error=error,
            result=result,
            ts=now_rfc3339(self.clock.wall()),
        )
        self.client.publish(self.topics.cmd_result, answer.model_dump_json(exclude_none=True))


class BusBridgeMqtt:
    """The bridge's connection to the bus (duck-typed :class:`~cloud_bridge.mqtt_bridge.
    BridgeMqtt`: ``connected``, ``on_message``, ``on_connected``, ``start``, ``stop``,
    ``publish``)."""

    def __init__(self, bus: Bus, client_id: str = "lisa-bridge", retry: float = 2.0) -> None:
        self.bus = bus
        self.retry = retry
        self.on_message: Callable[[str, bytes], None] | None = None
        self.on_connected: Callable[[], None] | None = None
        self.client = BusClient(
            bus,
            client_id,
            will=(BRIDGE_AVAILABILITY, OFFLINE.encode()),
            on_message=self._message,
            on_lost=self._lost,
        )
        self._unsent: deque[tuple[str, str, bool]] = deque()
        self._retry: asyncio.TimerHandle | None = None
        self._stopped = False

    @property
    def connected(self) -> bool:
        return self.client.connected

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._connect()

    def stop(self) -> None:
        """Not used on the loop (see :meth:`shutdown`); harmless when called."""
        self._stopped = True

    def shutdown(self) -> None:
        """The bridge stops cleanly: ``offline`` retained, then disconnect."""
        self._stopped = True
        if self._retry is not None:
            self._retry.cancel()
        if self.client.connected:
            self.client.publish(BRIDGE_AVAILABILITY, OFFLINE, retain=True)
            self.client.disconnect()

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        if not self.client.publish(topic, payload, retain=retain):
            self._unsent.append((topic, payload, retain))

    def _message(self, topic: str, payload: bytes) -> None:
        if self.on_message is not None and not self._stopped:
            self.on_message(topic, payload)

    def _connect(self) -> None:
        self._retry = None
        if self._stopped:
            return
        if not self.client.connect():
            self._retry = self.bus.loop.call_later(self.retry, self._connect)
            return
        self.client.subscribe(*(Topics.all_booths(leaf) for leaf in BRIDGE_LEAVES))
        self.client.publish(BRIDGE_AVAILABILITY, ONLINE, retain=True)
        while self._unsent and self.client.connected:
            topic, payload, retain = self._unsent.popleft()
            self.client.publish(topic, payload, retain=retain)
        if self.on_connected is not None:
            self.on_connected()

    def _lost(self, reason: str) -> None:
        if not self._stopped and self._retry is None:
            self._retry = self.bus.loop.call_later(self.retry, self._connect)
