"""The booth's MQTT link to the cloud bridge (implements :class:`booth.central.CentralLink`).

paho-mqtt runs its network loop in its own thread; every callback is handed over to the asyncio
loop, where all state lives. The link

- announces ``availability`` (retained ``online``; ``offline`` is the last will),
- keeps ``state`` and ``health`` retained and current,
- writes every event the controller emits (typed bodies from :mod:`lisa_messages`, wrapped in
  their envelope) to the SQLite outbox *before* publishing it (QoS 1) and deletes it on PUBACK;
  after a reconnect (or a restart) the rest goes out again, in order,
- uses a persistent session (clean session off), reconnects with jittered exponential backoff,
  sets TCP_NODELAY (paho does not; without it every QoS 1 round trip stalls ~40 ms),
- answers commands on ``cmd`` idempotently by id (results kept in the outbox database;
  :mod:`booth.remote_commands`),
- turns ``call`` messages into :mod:`booth.central` events.

The central side counts as reachable only while the broker connection is up *and* the bridge
announces itself ``online`` (``mqtt.require_bridge``), so a booth never accepts a citizen whom no
one could answer.

The module stays one (slightly over 500 lines): connecting, the outbox sender and the receivers
share the one paho client and its connection state; answering commands is
:mod:`booth.remote_commands`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from booth.central import (
    BoothBinding,
    CentralSink,
    LinkDown,
    LinkUp,
    call_event,
)
from booth.config import BoothConfig
from booth.outbox import Outbox
from booth.remote_commands import (
    MAX_COMMAND_BYTES,
    ProtocolError,
    RemoteCommands,
    decode_message,
    where_raised,
)
from booth.status import retained_health, retained_state
from booth.trace import Trace
from hal.clock import Clock
from lisa_messages import (
    BRIDGE_AVAILABILITY,
    OFFLINE,
    ONLINE,
    CallControl,
    EventBody,
    HealthReport,
    MediaControl,
    MediaReport,
    ProtocolErrorReport,
    SelftestReport,
    StateReport,
    Topics,
    dump_booth_event,
    envelope,
    now_rfc3339,
    validation_message,
)

log = logging.getLogger("lisa.booth.mqtt")

MAX_IN_FLIGHT = 2000  # events published but not yet acknowledged


class MqttUrlError(ValueError):
    pass


def parse_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host:port`` → (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError(f"broker URL {url!r} has no host")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


class MqttLink:
    def __init__(self, config: BoothConfig, clock: Clock, trace: Trace, outbox: Outbox) -> None:
        if config.mqtt is None:
            raise ValueError("the booth config has no [mqtt] table")
        self.config = config
        self.mqtt = config.mqtt
        self.clock = clock
        self.trace = trace
        self.outbox = outbox
        self.topics = Topics(config.booth.id)
        self.host, self.port, self.tls = parse_url(self.mqtt.url)
        self._sink: CentralSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._connected = False
        self._bridge_online = not self.mqtt.require_bridge
        self._up = False
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._wake_sender = asyncio.Event()
        self._conn_event = asyncio.Event()
        self._conn_rc: Any = None
        self._lost = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._last_sent = 0
        self._acked: list[int] = []
        self._booth: BoothBinding | None = None
        self._media: Callable[[MediaControl], None] | None = None
        self._rng = random.Random()
        self._dirty_state = False
        self._dirty_health = False
        self._refresher: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()  # command answers in progress
        self.attempts = 0
        self.connects = 0
        self._commands = RemoteCommands(
            clock=clock,
            outbox=outbox,
            booth=lambda: self._booth,
            publish=self._publish_result,
            emit=self.emit,
            protocol_error=lambda error: self._protocol_error(self.topics.cmd, error),
        )

    def bind(self, booth: BoothBinding) -> None:
        """Give the link the controller's command executor, status snapshot and a way to wait
        until the controller has finished what it is doing (so snapshots are consistent)."""
        self._booth = booth

    def bind_media(self, handler: Callable[[MediaControl], None]) -> None:
        """Who gets the bridge's media signalling (``media``): the booth's media endpoint."""
        self._media = handler

    def send_media(self, report: MediaReport) -> None:
        """A media report on ``media/out`` (QoS 1, not through the outbox: signalling is only
        worth anything now; while the link is down it is dropped and the peers start over)."""
        client = self._client
        if client is not None and self._connected:
            client.publish(self.topics.media_out, report.model_dump_json(exclude_none=True), qos=1)

    def _refresh_retained(self, state: bool = False, health: bool = False) -> None:
        """Publish state/health once the controller has settled (one publish for a burst)."""
        self._dirty_state |= state
        self._dirty_health |= health
        if self._refresher is not None and not self._refresher.done():
            return

        async def refresh() -> None:
            if self._booth is not None:
                await self._booth.settled()
            if self._dirty_state:
                self._dirty_state = False
                self._publish_state()
            if self._dirty_health:
                self._dirty_health = False
                self._publish_health()

        try:
            self._refresher = asyncio.get_running_loop().create_task(refresh())
        except RuntimeError:  # no loop yet (start-up): published on connect anyway
            pass

    # ---------------------------------------------------------------------------- CentralLink
    async def start(self, sink: CentralSink) -> None:
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._commands.prune()
        self._runner = asyncio.create_task(self._run(), name="mqtt-link")

    async def stop(self) -> None:
        self._stopping = True
        self._stop_event.set()
        self._lost.set()
        client = self._client
        if client is not None and self._connected:
            try:
                info = client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
                await asyncio.get_running_loop().run_in_executor(None, info.wait_for_publish, 2.0)
            except (RuntimeError, ValueError, OSError):
                pass
            client.disconnect()
        for task in (self._sender, self._runner, *self._answering):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if client is not None:
            client.loop_stop()

    def is_up(self) -> bool:
        return self._up

    # ---------------------------------------------------------------------------- events
    def emit(self, event: EventBody) -> None:
        """Write one event to the outbox (before anything is sent) and wake the sender; keep
        the retained ``state``/``health`` current."""
        booth = self.config.booth.id
        ts = now_rfc3339(self.clock.wall())

        def payload(seq: int, event_id: str) -> bytes:
            return dump_booth_event(envelope(event, id=event_id, booth=booth, seq=seq, ts=ts))

        self.outbox.append(self.topics.event, payload)
        self._wake_sender.set()
        if isinstance(event, StateReport):
            self._refresh_retained(state=True)
        elif isinstance(event, HealthReport | SelftestReport):
            self._refresh_retained(health=True)

    # ---------------------------------------------------------------------------- retained
    def _publish_retained(self, topic: str, payload: str | bytes) -> None:
        client = self._client
        if client is None or not self._connected:
            return
        client.publish(topic, payload, qos=1, retain=True)

    def _publish_state(self) -> None:
        if self._booth is None:
            return
        msg = retained_state(
            self.config.booth.id, now_rfc3339(self.clock.wall()), self._booth.status()
        )
        self._publish_retained(self.topics.state, msg.model_dump_json(exclude_none=True))

    def _publish_health(self) -> None:
        if self._booth is None:
            return
        msg = retained_health(
            self.config.booth.id, now_rfc3339(self.clock.wall()), self._booth.status()
        )
        self._publish_retained(self.topics.health, msg.model_dump_json(exclude_none=True))

    # ---------------------------------------------------------------------------- connection
    def backoff(self, attempt: int) -> float:
        base = min(self.mqtt.retry_max, self.mqtt.retry_initial * (2.0**attempt))
        return float(base * (0.5 + self._rng.random()))  # full ±50 % jitter against herds

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.mqtt.client_id or f"lisa-booth-{self.config.booth.id}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if self.mqtt.username:
            password = self.mqtt.password.get_secret_value() if self.mqtt.password else None
            client.username_pw_set(self.mqtt.username, password)
        if self.tls:
            context = ssl.create_default_context(
                cafile=str(self.mqtt.ca_file) if self.mqtt.ca_file else None
            )
            if self.mqtt.cert_file:
                context.load_cert_chain(
                    str(self.mqtt.cert_file),
                    str(self.mqtt.key_file) if self.mqtt.key_file else None,
                )
            client.tls_set_context(context)
        client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        client.max_inflight_messages_set(100)
        # reconnecting is ours (jittered backoff, a fresh client); keep paho's thread from it
        client.reconnect_delay_set(min_delay=3600, max_delay=3600)
        client.max_queued_messages_set(0)
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_message = self._cb_message
        client.on_publish = self._cb_publish
        return client

    def _threadsafe(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    # paho thread → asyncio loop
    def _cb_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._threadsafe(self._on_connack, rc)

    def _cb_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._threadsafe(self._on_disconnected, str(rc))

    def _cb_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._threadsafe(self._on_message, msg.topic, bytes(msg.payload))

    def _cb_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        self._threadsafe(self._on_puback, mid)

    def _on_connack(self, rc: Any) -> None:
        self._conn_rc = rc
        self._conn_event.set()

    def _on_disconnected(self, reason: str) -> None:
        if self._connected:
            self.trace.record("central", event="mqtt disconnected", reason=reason)
        self._lost.set()

    async def _run(self) -> None:
        while not self._stopping:
            client = self._new_client()
            self._client = client
            self._conn_event.clear()
            self._lost.clear()
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(
                    None, client.connect, self.host, self.port, self.mqtt.keepalive
                )
                client.loop_start()
                await asyncio.wait_for(self._conn_event.wait(), 15.0)
                rc = self._conn_rc
                if rc is None or rc.is_failure:
                    raise ConnectionRefusedError(f"broker refused the connection: {rc}")
            except (OSError, TimeoutError, ssl.SSLError, ConnectionRefusedError) as exc:
                client.loop_stop()
                delay = self.backoff(self.attempts)
                self.attempts += 1
                self.trace.record(
                    "central",
                    event="mqtt connect failed",
                    error=str(exc) or type(exc).__name__,
                    retry_in=round(delay, 2),
                )
                await self._sleep_unless_stopping(delay)
                continue
            self.attempts = 0
            self.connects += 1
            await self._on_connected(client)
            await self._lost.wait()
            await self._on_lost(client)
            if not self._stopping:
                delay = self.backoff(0)
                await self._sleep_unless_stopping(delay)

    async def _sleep_unless_stopping(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stop_event.wait(), delay)
        except TimeoutError:
            pass

    async def _on_connected(self, client: mqtt.Client) -> None:
        sock = client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connected = True
        self.trace.record("central", event="mqtt connected", broker=f"{self.host}:{self.port}")
        client.subscribe(
            [
                (self.topics.cmd, 1),
                (self.topics.call, 1),
                (self.topics.media, 1),
                (BRIDGE_AVAILABILITY, 1),
            ]
        )
        client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        self._publish_state()
        self._publish_health()
        self._inflight.clear()
        self._last_sent = 0  # resend everything not yet acknowledged, in order
        self._sender = asyncio.create_task(self._send_loop(client), name="mqtt-sender")
        self._update_up()

    async def _on_lost(self, client: mqtt.Client) -> None:
        self._connected = False
        if self._sender is not None:
            self._sender.cancel()
            try:
                await self._sender
            except asyncio.CancelledError:
                pass
            self._sender = None
        client.loop_stop()
        self._inflight.clear()
        if self.mqtt.require_bridge:
            self._bridge_online = False
        self._update_up()

    def _update_up(self) -> None:
        up = self._connected and self._bridge_online
        if up == self._up:
            return
        self._up = up
        if self._sink is not None:
            self._sink(LinkUp() if up else LinkDown("broker" if not self._connected else "bridge"))

    # ---------------------------------------------------------------------------- sending
    async def _send_loop(self, client: mqtt.Client) -> None:
        while True:
            if len(self._inflight) >= MAX_IN_FLIGHT:
                self._wake_sender.clear()
                await self._wake_sender.wait()
                continue
            rows = self.outbox.pending(after=self._last_sent, limit=500)
            if not rows:
                self._wake_sender.clear()
                await self._wake_sender.wait()
                continue
            for row in rows:
                info = client.publish(row.topic, row.payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    # not connected any more: the connection manager takes over
                    self._lost.set()
                    return
                self._inflight[info.mid] = row.seq
                self._last_sent = row.seq
            await asyncio.sleep(0)

    def _on_puback(self, mid: int) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return
        self._acked.append(seq)
        if len(self._acked) == 1:
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        acked, self._acked = self._acked, []
        if acked:
            self.outbox.ack(acked)
            self._wake_sender.set()

    # ---------------------------------------------------------------------------- receiving
    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            if topic == BRIDGE_AVAILABILITY:
                self._bridge_online = payload.decode("utf-8", "replace").strip() == ONLINE
                self._update_up()
            elif topic == self.topics.cmd:
                task = asyncio.create_task(self._commands.answer(payload), name="mqtt-command")
                self._answering.add(task)
                task.add_done_callback(self._answered)
            elif topic == self.topics.call:
                self._on_call(payload)
            elif topic == self.topics.media:
                self._on_media(payload)
        except Exception as exc:  # one bad message must not stop the link
            leaf = topic.rsplit("/", 1)[-1]
            log.error(
                "message on %s failed: %s",
                leaf,
                type(exc).__name__,
                extra={"where": where_raised(exc)},
            )

    def _answered(self, task: asyncio.Task[None]) -> None:
        """A command's task ended: forget it; an exception (there should be none: the command
        answers every failure itself) is logged, never dropped."""
        self._answering.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error(
                "answering a command failed: %s",
                type(exc).__name__,
                extra={"where": where_raised(exc)},
            )

    def pending_commands(self) -> int:
        """Command answers in progress (tasks of the link and runs of the executor)."""
        return len(self._answering) + self._commands.pending()

    def _protocol_error(self, topic: str, error: str) -> None:
        self.trace.record("error", where="mqtt " + topic.rsplit("/", 1)[-1], error=error)
        self.emit(ProtocolErrorReport(topic=topic, error=error))

    def _decode(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        try:
            return decode_message(payload, MAX_COMMAND_BYTES)
        except ProtocolError as exc:
            self._protocol_error(topic, str(exc))
            return None

    def _publish_result(self, result: dict[str, Any]) -> None:
        client = self._client
        if client is not None and self._connected:
            client.publish(self.topics.cmd_result, json.dumps(result), qos=1)

    def _on_call(self, payload: bytes) -> None:
        data = self._decode(self.topics.call, payload)
        if data is None:
            return
        try:
            msg = CallControl.model_validate(data)
        except ValidationError as exc:
            self._protocol_error(
                self.topics.call, f"invalid call message: {validation_message(exc)}"
            )
            return
        if self._sink is not None:
            self._sink(call_event(msg))

    def _on_media(self, payload: bytes) -> None:
        data = self._decode(self.topics.media, payload)
        if data is None:
            return
        try:
            msg = MediaControl.model_validate(data)
        except ValidationError as exc:
            self._protocol_error(
                self.topics.media, f"invalid media message: {validation_message(exc)}"
            )
            return
        if self._media is not None:
            self._media(msg)


def create_mqtt_link(config: BoothConfig, clock: Clock, trace: Trace) -> MqttLink:
    """The ``mqtt`` entry of ``lisa.centrals``: the link with its outbox in ``state_dir``."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    return MqttLink(config, clock, trace, Outbox(config.state_dir / "outbox.sqlite3"))
