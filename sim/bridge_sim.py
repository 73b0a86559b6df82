"""A stand-in cloud bridge *over MQTT* for the link benchmark (``lisa bench link``).

The real bridge (``lisa bridge run``) is what the demo and the end-to-end tests run; this one
answers every call the same way and needs no store, so the benchmark measures the link alone.

:class:`SimBridge` is one MQTT client, like the real bridge:

- it announces ``lisa/v1/bridge/availability`` retained ``online`` (again after every reconnect),
  with the last will ``offline``, so booths with ``mqtt.require_bridge`` accept citizens;
- it consumes the events of every booth exactly once (:class:`cloud_bridge.consumer.EventConsumer`:
  persistent session, de-duplication by id and seq);
- on ``call_requested`` it answers on that booth's ``call`` topic with :class:`CallControl`
  messages: ``queued`` (position 1, ``estimated_wait``) at once, ``connected`` (queue ``clearing``,
  agent "Bürgerservice – Empfang") ``answer_after`` s later and ``ended`` ``hangup_after`` s after
  that (never with ``hangup_after=None``);
- on ``call_ended`` from the booth it cancels what it still had planned for that session.

paho runs its network loop in its own thread; the timers run in one more thread
(:class:`_Timers`). ``stop()`` publishes ``offline``, disconnects and joins both threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

from cloud_bridge.consumer import EventConsumer
from lisa_messages import (
    BRIDGE_AVAILABILITY,
    OFFLINE,
    ONLINE,
    AnyBoothEvent,
    CallControl,
    CallEndedEvent,
    CallRequestedEvent,
    Topics,
    now_rfc3339,
    parse_rfc3339,
)

log = logging.getLogger("lisa.sim.bridge")

AGENT_NAME = "Bürgerservice – Empfang"
QUEUE = "clearing"

CallType = Literal["queued", "connected", "ended"]


@dataclass(frozen=True, slots=True)
class BridgeAction:
    """What the simulated bridge did (for ``on_action`` listeners and tests)."""

    booth: str
    session: str
    type: str  # queued | connected | ended | cancelled | ignored
    detail: str = ""


class _Timers:
    """Delayed calls on one thread, cancellable by key (booth, session)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, tuple[str, str], Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._keys: dict[tuple[str, str], set[int]] = {}
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sim-bridge-timers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def later(self, delay: float, key: tuple[str, str], fn: Callable[[], None]) -> None:
        with self._cond:
            n = next(self._counter)
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), n, key, fn))
            self._keys.setdefault(key, set()).add(n)
            self._cond.notify_all()

    def cancel(self, key: tuple[str, str]) -> int:
        """Cancel everything planned for ``key``; returns how many calls were cancelled."""
        with self._cond:
            ids = self._keys.pop(key, set())
            self._cancelled |= ids
            return len(ids)

    def pending(self, key: tuple[str, str]) -> int:
        with self._cond:
            return len(self._keys.get(key, ()))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                _, n, key, fn = heapq.heappop(self._heap)
                if n in self._cancelled:
                    self._cancelled.discard(n)
                    continue
                ids = self._keys.get(key)
                if ids is not None:
                    ids.discard(n)
                    if not ids:
                        del self._keys[key]
            try:
                fn()
            except Exception:  # one failing call must not stop the timers
                log.exception("simulated bridge timer failed")


class _BridgeConsumer(EventConsumer):
    """The event consumer, plus the bridge's availability (announced on every connect)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client.will_set(BRIDGE_AVAILABILITY, OFFLINE, qos=1, retain=True)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        super()._on_connect(client, userdata, flags, rc, props)
        if not rc.is_failure:
            client.publish(BRIDGE_AVAILABILITY, ONLINE, qos=1, retain=True)


class SimBridge:
    """The simulated cloud bridge; see the module docstring.

    ``on_action(action)`` (optional) is called from the bridge's threads for every call message
    it sends and every session it drops; ``on_event(event)`` for every new booth event.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        answer_after: float = 5.0,
        hangup_after: float | None = 60.0,
        estimated_wait: float = 60.0,
        queue: str = QUEUE,
        agent: str = AGENT_NAME,
        stale_after: float | None = 60.0,
        client_id: str = "lisa-sim-bridge",
        username: str | None = None,
        password: str | None = None,
        on_action: Callable[[BridgeAction], None] | None = None,
        on_event: Callable[[AnyBoothEvent], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.answer_after = answer_after
        self.hangup_after = hangup_after
        self.estimated_wait = estimated_wait
        self.queue = queue
        self.agent = agent
        self.stale_after = stale_after
        self.on_action = on_action
        self.on_event = on_event
        self.actions: list[BridgeAction] = []
        self.sent: list[tuple[str, CallControl]] = []  # (booth, message)
        self._lock = threading.Lock()
        self._timers = _Timers()
        self._started = False
        self.consumer = _BridgeConsumer(
            host,
            port,
            self._on_event,
            client_id=client_id,
            username=username,
            password=password,
        )

    # ---------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> None:
        """Connect and wait until the subscription is in place (``TimeoutError`` otherwise)."""
        if self._started:
            return
        self._timers = _Timers()
        self._timers.start()
        self._started = True
        try:
            self.consumer.start()
        except OSError:
            self.stop()
            raise
        if not self.consumer.connected.wait(timeout):
            self.stop()
            raise TimeoutError(f"the simulated bridge could not connect to {self.host}:{self.port}")

    def stop(self) -> None:
        """Say ``offline``, disconnect, stop the timers. Safe to call twice."""
        if not self._started:
            return
        self._started = False
        self._timers.stop()
        client = self.consumer.client
        if self.consumer.connected.is_set():
            try:
                client.publish(BRIDGE_AVAILABILITY, OFFLINE, qos=1, retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError, OSError):
                pass
        self.consumer.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def pending(self, booth: str, session: str) -> int:
        """Call messages still planned for this session."""
        return self._timers.pending((booth, session))

    # ---------------------------------------------------------------------------- events
    def _on_event(self, event: AnyBoothEvent) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event listener failed")
        if not isinstance(event, CallRequestedEvent | CallEndedEvent):
            return
        session = event.data.session
        key = (event.booth, session)
        if isinstance(event, CallEndedEvent):
            if self._timers.cancel(key):
                self._act(event.booth, session, "cancelled", event.data.reason)
            return
        if self.stale_after is not None:
            age = (datetime.now(UTC) - parse_rfc3339(event.ts)).total_seconds()
            if age > self.stale_after:  # replayed from an old outbox: nobody is waiting
                self._act(event.booth, session, "ignored", f"requested {age:.0f} s ago")
                return
        self._send(event.booth, session, "queued")
        self._timers.later(self.answer_after, key, lambda: self._answer(event.booth, session))

    def _answer(self, booth: str, session: str) -> None:
        self._send(booth, session, "connected")
        if self.hangup_after is not None:
            self._timers.later(
                self.hangup_after,
                (booth, session),
                lambda: self._send(booth, session, "ended"),
            )

    def _send(self, booth: str, session: str, type_: CallType) -> None:
        fields: dict[str, Any] = {}
        if type_ == "queued":
            fields = {"position": 1, "estimated_wait": self.estimated_wait}
        elif type_ == "connected":
            fields = {"queue": self.queue, "agent": self.agent}
        elif type_ == "ended":
            fields = {"reason": "agent_hangup"}
        msg = CallControl(
            id=uuid.uuid4().hex, session=session, type=type_, ts=now_rfc3339(), **fields
        )
        self.consumer.client.publish(
            Topics(booth).call, msg.model_dump_json(exclude_none=True), qos=1
        )
        with self._lock:
            self.sent.append((booth, msg))
        detail = {"queued": "position 1", "connected": f"{self.agent} ({self.queue})"}.get(
            type_, "agent hung up"
        )
        self._act(booth, session, type_, detail)

    def _act(self, booth: str, session: str, type_: str, detail: str = "") -> None:
        action = BridgeAction(booth, session, type_, detail)
        with self._lock:
            self.actions.append(action)
        if self.on_action is not None:
            try:
                self.on_action(action)
            except Exception:
                log.exception("on_action listener failed")
