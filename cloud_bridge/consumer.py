"""Consuming booth events exactly once, in order.

Booths publish every event at least once (outbox + QoS 1, resent after reconnects and restarts),
so a consumer sees duplicates. :class:`EventDeduplicator` drops them by event ``id`` (only: a
booth's ``seq`` is counted for gaps, never used to drop); :class:`EventConsumer` subscribes to
``lisa/v1/booth/+/event`` with a persistent session (events published while it is away are kept
by the broker) and hands each new, valid event to a callback.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from lisa_messages import AnyBoothEvent, Topics, parse_booth_event, validation_message

log = logging.getLogger("lisa.bridge.consumer")


@dataclass
class BoothCursor:
    last_seq: int = 0
    gaps: int = 0  # events that arrived with a seq beyond last_seq + 1 (missed or reordered)
    duplicates: int = 0


@dataclass
class EventDeduplicator:
    """Remembers the last ``capacity`` event ids and each booth's highest seq."""

    capacity: int = 200_000
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    booths: dict[str, BoothCursor] = field(default_factory=dict)

    def accept(self, event: AnyBoothEvent) -> bool:
        """True for a new event, False for a duplicate."""
        cursor = self.booths.setdefault(event.booth, BoothCursor())
        if event.id in self.seen:
            cursor.duplicates += 1
            return False
        # duplicates are recognised by id only: a jump in a booth's numbering (a forged or
        # corrupt seq) is counted, never a reason to drop the booth's later events
        if cursor.last_seq and event.seq != cursor.last_seq + 1:
            cursor.gaps += 1
        cursor.last_seq = max(cursor.last_seq, event.seq)
        self.seen[event.id] = None
        if len(self.seen) > self.capacity:
            self.seen.popitem(last=False)
        return True


class EventConsumer:
    """Subscribes to the events of every booth and calls ``handler`` once per new event.

    Runs paho's network loop in its own thread; ``handler`` is called from that thread. Invalid
    payloads go to ``on_invalid(topic, error)`` (default: logged) and are otherwise dropped.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: Callable[[AnyBoothEvent], None],
        *,
        client_id: str = "lisa-bridge-events",
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | None = None,
        on_invalid: Callable[[str, str], None] | None = None,
        topic: str = Topics.all_booths("event"),
    ) -> None:
        self.host, self.port = host, port
        self.handler = handler
        self.on_invalid = on_invalid or (
            lambda t, e: log.warning("invalid event", extra={"topic": t, "error": e})
        )
        self.topic = topic
        self.dedup = EventDeduplicator()
        self.connected = threading.Event()
        self.received = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls_ca:
            self.client.tls_set_context(ssl.create_default_context(cafile=tls_ca))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self) -> None:
        self.client.connect(self.host, self.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the consumer", extra={"rc": str(rc)})
            return
        import socket

        sock = client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connected.clear()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            data = json.loads(msg.payload)
            event = parse_booth_event(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.on_invalid(msg.topic, f"payload is not JSON: {exc}")
            return
        except ValidationError as exc:
            self.on_invalid(msg.topic, validation_message(exc))
            return
        if Topics.booth_of(msg.topic) != event.booth:
            self.on_invalid(msg.topic, f"event of booth {event.booth!r} on another booth's topic")
            return
        with self._lock:
            self.received += 1
            fresh = self.dedup.accept(event)
        if fresh:
            try:
                self.handler(event)
            except Exception:
                log.exception("event handler failed")
