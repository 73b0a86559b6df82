"""The bridge's one MQTT connection (Mosquitto allows one connection per account).

paho runs its network loop in its own thread; every received message is handed to the asyncio
loop with ``call_soon_threadsafe`` so that the bridge's state is only touched from the loop.
Persistent session (``clean_session=False``): booth events published while the bridge is down
are kept by the broker and delivered on reconnect. The bridge announces itself retained
``online`` on ``lisa/v1/bridge/availability`` after every connect, with ``offline`` as its last
will; booths accept citizens only while the bridge is online.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lisa_messages import BRIDGE_AVAILABILITY, OFFLINE, ONLINE, Topics

log = logging.getLogger("lisa.bridge.mqtt")

SUBSCRIPTIONS = ("event", "state", "health", "availability", "cmd/result", "media/out")


class MqttUrlError(ValueError):
    pass


def parse_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host:port`` → (host, port, tls)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise MqttUrlError(f"broker URL {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise MqttUrlError(f"broker URL {url!r}: bad port") from None
    return parts.hostname, port, tls


class BridgeMqtt:
    """Connects, subscribes to every booth's topics, publishes call messages and commands.

    ``on_message(topic, payload)`` and ``on_connected()`` / ``on_disconnected()`` run on the
    asyncio loop given to :meth:`start`."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "lisa-bridge",
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | None = None,
        on_message: Callable[[str, bytes], None],
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[], None] | None = None,
    ) -> None:
        self.host, self.port, tls = parse_url(url)
        self.on_message = on_message
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set_context(ssl.create_default_context(cafile=tls_ca))
        self.client.will_set(BRIDGE_AVAILABILITY, OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=15)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect in the background (keeps retrying until the broker answers)."""
        self._loop = loop
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        if self.connected:
            try:
                info = self.client.publish(BRIDGE_AVAILABILITY, OFFLINE, qos=1, retain=True)
                info.wait_for_publish(2)
            except (RuntimeError, ValueError, OSError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        self.connected = False

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        """QoS 1; while disconnected paho keeps the message and sends it after reconnecting."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    # -------------------------------------------------------------------- paho thread
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the bridge", extra={"rc": str(rc)})
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe([(Topics.all_booths(leaf), 1) for leaf in SUBSCRIPTIONS])
        client.publish(BRIDGE_AVAILABILITY, ONLINE, qos=1, retain=True)
        self.connected = True
        log.info("bridge connected to the broker", extra={"host": self.host, "port": self.port})
        self._to_loop(self.on_connected)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        was = self.connected
        self.connected = False
        if was:
            log.warning("bridge lost the broker", extra={"rc": str(rc)})
            self._to_loop(self.on_disconnected)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.on_message, msg.topic, bytes(msg.payload))

    def _to_loop(self, fn: Callable[[], None] | None) -> None:
        loop = self._loop
        if fn is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn)
