"""The booth registry: what the bridge knows of each booth, from the tenant config and from
the booth's retained messages (availability, state, health); :class:`FaultLog`, each booth's
recent faults (in memory) for the technicians; and :class:`UnknownBooths`, the booths whose
messages were refused because the tenant config does not name them.

Only the booths of the tenant config (and those registered with :meth:`BoothRegistry.register`)
are in the registry. A message from any other booth id creates no entry, no call and no stored
view: it is counted in the bounded :class:`UnknownBooths` list (the last ``UNKNOWN_KEPT`` ids,
with count and last seen; stored for ``lisa bridge status``, in ``status()``
``unknown_booths``) and logged, at most once per ``UNKNOWN_LOG_EVERY_S``.

Every change is stored (so the view survives a restart) and published as a live ``booth``
event. A booth that goes offline with a live call gets a grace period; when it is still
offline then, its call is ended (``booth_offline``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
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
    shorten,
)

log = logging.getLogger("lisa.bridge")

#: what the registry keeps of a stored booth view when the bridge restarts
RESTORED = (
    "state",
    "detail",
    "since",
    "in_service",
    "health",
    "emergency",
    "seq_jumps",
    "last_seq_jump",
)


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
        self.note(event.booth, entry)
        return True

    def note(self, booth: str, entry: dict[str, Any]) -> None:
        """Keep a fault the bridge itself noticed about ``booth`` (e.g. a ``seq_jump``)."""
        ring = self._faults.get(booth)
        if ring is None:
            ring = self._faults[booth] = deque(maxlen=self.keep)
        ring.append(dict(entry))

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
    seq_jumps: int = 0  # jumps in the booth's event numbering the bridge noticed
    last_seq_jump: dict[str, Any] | None = None  # {ts, from, to, gap} of the last one
    name: str = ""  # the place, from the tenant config (e.g. "Gartz – Sparkasse")

    def as_dict(self, call: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name or self.id,
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
            "seq_jumps": self.seq_jumps,
            "last_seq_jump": self.last_seq_jump,
            "call": call,
        }


UNKNOWN_KEPT = 50  # unknown booth ids remembered (the most recent)
UNKNOWN_LOG_EVERY_S = 60.0  # at most one log line about refused unknown booths per this
UNKNOWN_STORE_EVERY_S = 5.0  # the stored list is refreshed at most this often (and on stop)


class UnknownBooths:
    """The booths refused for not being in the tenant config: the last ``keep`` ids, each with
    its count, first and last seen (epoch s) and the topic leaf of its last message. Bounded
    whatever arrives; the refusals are logged at most once per ``log_every_s``."""

    def __init__(self, keep: int = UNKNOWN_KEPT, log_every_s: float = UNKNOWN_LOG_EVERY_S) -> None:
        self.keep = keep
        self.log_every_s = log_every_s
        self.refused = 0  # messages refused in all
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._last_log: float | None = None
        self._unlogged = 0

    def __len__(self) -> int:
        return len(self._entries)

    def refuse(self, booth_id: str, leaf: str, now: float) -> bool:
        """Count one refused message; True when ``booth_id`` was not in the list before."""
        key = shorten(booth_id)  # a topic level can be 64 KiB long
        entry = self._entries.pop(key, None)
        new = entry is None
        if entry is None:
            entry = {"id": key, "count": 0, "first_seen": now}
        entry["count"] += 1
        entry["last_seen"] = now
        entry["topic"] = shorten(leaf, 16)
        self._entries[key] = entry
        while len(self._entries) > self.keep:
            self._entries.popitem(last=False)
        self.refused += 1
        if self._last_log is None or now - self._last_log >= self.log_every_s:
            log.warning(
                "message from a booth not in the tenant config refused",
                extra={
                    "booth": key,
                    "topic": entry["topic"],
                    "refused_unlogged": self._unlogged,
                    "unknown_booths": len(self._entries),
                },
            )
            self._last_log, self._unlogged = now, 0
        else:
            self._unlogged += 1
        return new

    def view(self) -> list[dict[str, Any]]:
        """Newest first."""
        return [dict(e) for e in reversed(self._entries.values())]

    def restore(self, entries: list[dict[str, Any]]) -> None:
        for e in reversed(entries[: self.keep]):
            if isinstance(e, dict) and isinstance(e.get("id"), str):
                self._entries[e["id"]] = dict(e)


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
        names: dict[str, str] | None = None,
    ) -> None:
        names = names or {}
        self.booths: dict[str, BoothView] = {
            b: BoothView(b, q, name=names.get(b, "")) for b, q in (booths or {}).items()
        }
        self.default_queue = default_queue
        self.engine = engine
        self.store = store
        self.clock = clock
        self.offline_grace_s = offline_grace_s
        self._step = step
        self._publish = publish
        self._loop = loop
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self.unknown = UnknownBooths()
        self._unknown_stored: float | None = None  # when the unknown list was last stored
        self._unknown_dirty = False

    def __contains__(self, booth_id: object) -> bool:
        return booth_id in self.booths

    def views(self) -> list[dict[str, Any]]:
        """Every booth's entry of the bridge's status."""
        return [b.as_dict(self.engine.by_booth.get(b.id)) for b in self.booths.values()]

    def get(self, booth_id: str) -> BoothView | None:
        """The booth, None when it is not in the tenant config (nor registered)."""
        return self.booths.get(booth_id)

    def register(self, booth_id: str, queue: str | None = None) -> BoothView:
        """Add a booth as if the tenant config named it (tests, the simulation API)."""
        return self.booths.setdefault(booth_id, BoothView(booth_id, queue or self.default_queue))

    def refuse_unknown(self, booth_id: str, leaf: str) -> None:
        """A message from a booth the tenant config does not name: counted, logged
        (rate-limited), nothing else kept."""
        now = self.clock.time()
        new = self.unknown.refuse(booth_id, leaf, now)
        self._unknown_dirty = True
        last = self._unknown_stored
        if new or last is None or now - last >= UNKNOWN_STORE_EVERY_S:
            self._store_unknown(now)

    def _store_unknown(self, now: float) -> None:
        self._unknown_stored, self._unknown_dirty = now, False
        self.store.put_unknown_booths(self.unknown.view())

    def restore(
        self, stored: dict[str, dict[str, Any]], unknown: list[dict[str, Any]] | None = None
    ) -> None:
        """The stored booth views (at start): offline until their retained availability says
        otherwise. Views of booths the tenant config does not name (any more) are not taken
        over; the stored list of refused unknown booths is."""
        for booth_id, view in stored.items():
            b = self.booths.get(booth_id)
            if b is None:
                continue
            for key in RESTORED:
                if key in view:
                    setattr(b, key, view[key])
            b.online = False
        if unknown:
            self.unknown.restore(unknown)

    def stop(self) -> None:
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        if self._unknown_dirty:
            self._store_unknown(self.clock.time())

    def seq_jump(self, b: BoothView, jump: dict[str, Any]) -> None:
        """The booth's event numbering jumped (``jump``: ts, from, to, gap): counted in its
        view (stored: ``lisa bridge status``) and published."""
        b.seq_jumps += 1
        b.last_seq_jump = dict(jump)
        self.changed(b)

    # ------------------------------------------------------------------ booth messages
    def on_availability(self, booth_id: str, text: str) -> None:
        b = self.booths.get(booth_id)
        if b is None:
            self.refuse_unknown(booth_id, "availability")
            return
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
        b = self.booths.get(booth_id)
        if b is None:
            self.refuse_unknown(booth_id, "state")
            return
        b.state, b.detail, b.since = state.state, state.detail, state.since
        b.emergency = state.emergency
        self.changed(b)

    def on_health(self, booth_id: str, health: BoothHealth) -> None:
        b = self.booths.get(booth_id)
        if b is None:
            self.refuse_unknown(booth_id, "health")
            return
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
