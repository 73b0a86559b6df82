"""An in-process message bus that behaves like the MQTT broker for what LISA uses of it.

``lisa sim day`` runs the booths and the bridge in one process on virtual time; this bus stands
in for Mosquitto between them. What it does (and what it leaves out):

- topics with the MQTT wildcards ``+`` and ``#`` in subscriptions;
- QoS 1, persistent sessions (clean session off): a client's subscriptions outlive its
  connection, and what is published for it while it is away is kept and delivered, in order,
  when it is back. Messages still on their way to a client when it drops go back into its
  session (delivered again, like an unacknowledged QoS 1 message);
- delivery in order per publisher (in fact in publish order overall): every delivery goes
  through the client's inbox, drained by one ``call_soon`` callback; nothing is lost;
- retained messages (an empty payload clears one), sent to every new subscription that matches;
- last will: a connection that *drops* (:meth:`Bus.drop`) publishes the client's will; a clean
  :meth:`BusClient.disconnect` does not;
- :meth:`Bus.restart`: the broker goes away (every connection is lost; a dying broker sends no
  wills) and comes back ``down_for`` seconds later with its sessions and retained messages (as
  Mosquitto with persistence); clients reconnect on their own.

No network, no threads, no QoS 0/2, no message expiry, no size limits, no authentication.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Message = tuple[str, bytes]


def matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest)."""
    pat = pattern.split("/")
    top = topic.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(top):
            return False
        if p != "+" and p != top[i]:
            return False
    return len(pat) == len(top)


@dataclass
class _Session:
    subscriptions: list[str] = field(default_factory=list)
    queued: deque[Message] = field(default_factory=deque)


@dataclass
class BusStats:
    published: int = 0
    delivered: int = 0
    queued_for_offline: int = 0
    wills: int = 0
    drops: int = 0
    restarts: int = 0


class BusClient:
    """One client connection (booth link or bridge). ``on_message(topic, payload)`` runs on the
    loop; ``on_lost(reason)`` when the connection is lost without :meth:`disconnect`."""

    def __init__(
        self,
        bus: Bus,
        client_id: str,
        *,
        will: tuple[str, bytes] | None = None,
        on_message: Callable[[str, bytes], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.bus = bus
        self.client_id = client_id
        self.will = will
        self.on_message = on_message
        self.on_lost = on_lost
        self.connected = False
        self._inbox: deque[Message] = deque()
        self._draining = False

    def connect(self) -> bool:
        """Connect (resuming the session); False while the broker or this client's network is
        down."""
        return self.bus._connect(self)

    def disconnect(self) -> None:
        """A clean disconnect: no will."""
        self.bus._disconnect(self, will=False, reason="")

    def subscribe(self, *patterns: str) -> None:
        self.bus._subscribe(self, patterns)

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        """QoS 1; False (nothing sent) when not connected."""
        if not self.connected:
            return False
        data = payload.encode() if isinstance(payload, str) else payload
        self.bus._publish(topic, data, retain)
        return True

    # ------------------------------------------------------------------ delivery
    def _deliver(self, msg: Message) -> None:
        self._inbox.append(msg)
        if not self._draining:
            self._draining = True
            self.bus.loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._draining = False
        while self._inbox and self.connected:
            topic, payload = self._inbox.popleft()
            self.bus.stats.delivered += 1
            if self.on_message is not None:
                self.on_message(topic, payload)


class Bus:
    """The broker stand-in (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.up = True
        self.retained: dict[str, bytes] = {}
        self.stats = BusStats()
        self._sessions: dict[str, _Session] = {}
        self._online: dict[str, BusClient] = {}
        self._blocked: set[str] = set()  # clients whose network is down

    # ------------------------------------------------------------------ faults
    def drop(self, client_id: str, *, block: bool = True) -> None:
        """The client's connection breaks (its will is published); with ``block`` it cannot
        connect again until :meth:`unblock`."""
        if block:
            self._blocked.add(client_id)
        client = self._online.get(client_id)
        if client is not None:
            self.stats.drops += 1
            self._disconnect(client, will=True, reason="network")

    def unblock(self, client_id: str) -> None:
        self._blocked.discard(client_id)

    def restart(self, down_for: float) -> None:
        """The broker goes down (all connections lost, no wills) for ``down_for`` seconds."""
        if not self.up:
            return
        self.stats.restarts += 1
        self.up = False
        for client in list(self._online.values()):
            self._disconnect(client, will=False, reason="broker")
        self.loop.call_later(down_for, self._come_back)

    def _come_back(self) -> None:
        self.up = True

    # ------------------------------------------------------------------ broker side
    def _connect(self, client: BusClient) -> bool:
        if not self.up or client.client_id in self._blocked:
            return False
        old = self._online.get(client.client_id)
        if old is not None and old is not client:  # a second connection takes over
            self._disconnect(old, will=False, reason="taken over")
        session = self._sessions.setdefault(client.client_id, _Session())
        self._online[client.client_id] = client
        client.connected = True
        while session.queued:
            client._deliver(session.queued.popleft())
        return True

    def _disconnect(self, client: BusClient, *, will: bool, reason: str) -> None:
        if self._online.get(client.client_id) is not client:
            client.connected = False
            return
        del self._online[client.client_id]
        client.connected = False
        session = self._sessions[client.client_id]
        # what was on its way goes back into the session (QoS 1: delivered again)
        session.queued.extendleft(reversed(client._inbox))
        client._inbox.clear()
        if will and client.will is not None:
            self.stats.wills += 1
            topic, payload = client.will
            self._publish(topic, payload, True)
        if reason and client.on_lost is not None:
            self.loop.call_soon(client.on_lost, reason)

    def _subscribe(self, client: BusClient, patterns: tuple[str, ...]) -> None:
        session = self._sessions.setdefault(client.client_id, _Session())
        for pattern in patterns:
            if pattern not in session.subscriptions:
                session.subscriptions.append(pattern)
            for topic, payload in self.retained.items():
                if matches(pattern, topic):
                    client._deliver((topic, payload))

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        self.stats.published += 1
        if retain:
            if payload:
                self.retained[topic] = payload
            else:
                self.retained.pop(topic, None)
        for client_id, session in self._sessions.items():
            if not any(matches(p, topic) for p in session.subscriptions):
                continue
            client = self._online.get(client_id)
            if client is not None:
                client._deliver((topic, payload))
            else:
                self.stats.queued_for_offline += 1
                session.queued.append((topic, payload))
