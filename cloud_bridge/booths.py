"""The booth registry: what the bridge knows of each booth, from the tenant config and from
the booth's retained messages (availability, state, health); and :class:`FaultLog`, each
booth's recent faults (in memory) for the technicians.

Every change is stored (so the view survives a restart) and published as a live ``booth``
event. A booth that goes offline with a live call gets a grace period; when it is still
offline then, its call is ended (``booth_offline``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import CallAbandoned, Clock, EngineError, Event
from cloud_bridge.store import Store
from lisa_messages import (
    OFFLINE,
    ONLINE,
    AnyBoothEvent,
    BoothHealth,
    BoothState,
    ErrorEvent,
    HealthEvent,
    ProtocolErrorEvent,
    SelftestEvent,
)

log = logging.getLogger("lisa.bridge")

#: what the registry keeps of a stored booth view when the bridge restarts
RESTORED = ("state", "detail", "since", "in_service", "health", "emergency")


FAULTS_KEPT = 200  # per booth
FAULT_TEXT_MAX = 300  # characters of a free-text field kept


def _text(value: str) -> str:
    return value[:FAULT_TEXT_MAX]


def fault_of(event: AnyBoothEvent) -> dict[str, Any] | None:
    """The fault entry of a booth event, None for events that are no fault: ``health`` (every
    change, also back to ok), ``selftest`` (not passed), ``error``, ``protocol_error``. Only
    named technical fields are copied (the contract keeps personal data out of them)."""
    entry: dict[str, Any] = {"ts": event.ts, "seq": event.seq, "type": event.type}
    if isinstance(event, HealthEvent):
        d = event.data
        entry |= {"device": d.device, "status": d.status, "detail": _text(d.reason)}
    elif isinstance(event, SelftestEvent):
        if event.data.outcome == "pass":
            return None
        s = event.data
        entry |= {"device": s.device, "status": s.outcome, "detail": _text(s.message)}
    elif isinstance(event, ErrorEvent):
        entry |= {"where": _text(event.data.where), "detail": _text(event.data.error)}
    elif isinstance(event, ProtocolErrorEvent):
        entry |= {"where": _text(event.data.topic), "detail": _text(event.data.error)}
    else:
        return None
    return entry


class FaultLog:
    """The last ``keep`` faults of each booth, in memory (a bridge restart forgets them)."""

    def __init__(self, keep: int = FAULTS_KEPT) -> None:
        self.keep = keep
        self._faults: dict[str, deque[dict[str, Any]]] = {}

    def record(self, event: AnyBoothEvent) -> bool:
        """Keep ``event`` when it is a fault (see :func:`fault_of`); True when kept."""
        entry = fault_of(event)
        if entry is None:
            return False
        ring = self._faults.get(event.booth)
        if ring is None:
            ring = self._faults[event.booth] = deque(maxlen=self.keep)
        ring.append(entry)
        return True

    def recent(self, booth: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first, at most ``limit``."""
        ring = self._faults.get(booth)
        if not ring or limit <= 0:
            return []
        return [dict(e) for e in list(reversed(ring))[:limit]]


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


class BoothRegistry:
    """See the module docstring. ``step`` is the bridge's one step (engine → store → effects),
    ``publish`` its live event stream, ``loop`` the loop its grace timers run on."""

    def __init__(
        self,
        booths: dict[str, str] | None,
        *,
        default_queue: str,
        engine: Engine,
        store: Store,
        clock: Clock,
        step: Callable[[Event], object],
        publish: Callable[[dict[str, Any]], None],
        loop: Callable[[], asyncio.AbstractEventLoop],
        offline_grace_s: float = 60.0,
    ) -> None:
        self.booths: dict[str, BoothView] = {b: BoothView(b, q) for b, q in (booths or {}).items()}
        self.default_queue = default_queue
        self.engine = engine
        self.store = store
        self.clock = clock
        self.offline_grace_s = offline_grace_s
        self._step = step
        self._publish = publish
        self._loop = loop
        self._grace: dict[str, asyncio.TimerHandle] = {}

    def __contains__(self, booth_id: object) -> bool:
        return booth_id in self.booths

    def views(self) -> list[dict[str, Any]]:
        """Every booth's entry of the bridge's status."""
        return [b.as_dict(self.engine.by_booth.get(b.id)) for b in self.booths.values()]

    def booth(self, booth_id: str) -> BoothView:
        """The booth, registered (unconfigured, in the default queue) if it is unknown."""
        b = self.booths.get(booth_id)
        if b is None:
            log.warning("booth not in the tenant config", extra={"booth": booth_id})
            b = self.booths[booth_id] = BoothView(booth_id, self.default_queue, configured=False)
        return b

    def register(self, booth_id: str, queue: str | None = None) -> None:
        self.booths.setdefault(booth_id, BoothView(booth_id, queue or self.default_queue))

    def restore(self, stored: dict[str, dict[str, Any]]) -> None:
        """The stored booth views (at start): offline until their retained availability says
        otherwise."""
        for booth_id, view in stored.items():
            b = self.booths.get(booth_id)
            if b is None:
                b = self.booths[booth_id] = BoothView(
                    booth_id, str(view.get("queue") or self.default_queue), configured=False
                )
            for key in RESTORED:
                if key in view:
                    setattr(b, key, view[key])
            b.online = False

    def stop(self) -> None:
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()

    # ------------------------------------------------------------------ booth messages
    def on_availability(self, booth_id: str, text: str) -> None:
        b = self.booth(booth_id)
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
            self._grace[key] = self._loop().call_later(
                self.offline_grace_s, self._booth_gone, booth_id
            )
        self.changed(b)

    def on_state(self, booth_id: str, state: BoothState) -> None:
        b = self.booth(booth_id)
        b.state, b.detail, b.since = state.state, state.detail, state.since
        b.emergency = state.emergency
        self.changed(b)

    def on_health(self, booth_id: str, health: BoothHealth) -> None:
        b = self.booth(booth_id)
        b.in_service = health.in_service
        b.health = {k: v.model_dump(exclude_none=True) for k, v in health.devices.items()}
        self.changed(b)

    def changed(self, b: BoothView) -> None:
        view = b.as_dict(self.engine.by_booth.get(b.id))
        self.store.put_booth(b.id, view)
        self._publish({"type": "booth", **view})

    def _booth_gone(self, booth_id: str) -> None:
        self._grace.pop(f"booth-offline:{booth_id}", None)
        b = self.booths.get(booth_id)
        call = self.engine.by_booth.get(booth_id)
        if b is None or b.online or call is None:
            return
        log.warning("booth offline with a live call: ending it", extra={"booth": booth_id})
        with contextlib.suppress(EngineError):
            self._step(CallAbandoned(call, "booth_offline"))
