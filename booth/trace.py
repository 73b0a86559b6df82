"""The controller's trace: every state change, actuator command, input, health change and error.

It is a log for people: the scenario runner (``--json``), ``lisa diag log/watch`` and the support
bundle read it; nothing decides anything from it (what the central side is told goes through
``BoothController.emit`` as typed events). A ring buffer keeps recent history for ``lisa diag
log`` and the support bundle. Records carry no
personal data (NFC UIDs only as salted hashes, no names, no media).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("lisa.trace")


@dataclass(frozen=True, slots=True)
class TraceRecord:
    t: float
    kind: str  # state | actuator | input | health | central | selftest | error | info
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "kind": self.kind, **self.data}


TraceListener = Callable[[TraceRecord], None]


class Trace:
    def __init__(self, clock_now: Callable[[], float], history: int = 2000) -> None:
        self._now = clock_now
        self._listeners: list[TraceListener] = []
        self.history: deque[TraceRecord] = deque(maxlen=history)

    def subscribe(self, listener: TraceListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def record(self, kind: str, **data: Any) -> TraceRecord:
        rec = TraceRecord(self._now(), kind, data)
        self.history.append(rec)
        for listener in list(self._listeners):
            try:
                listener(rec)
            except Exception:
                log.exception("trace listener failed")
        return rec
