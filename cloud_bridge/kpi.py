"""Key figures of the call distribution, computed from the ACD's call log.

:func:`summarize` reads :class:`~cloud_bridge.acd.model.LogEntry` lines (in the order they were
written, as :meth:`cloud_bridge.store.Store.log_entries` returns them) and returns a
:class:`KpiReport`: the figures for the whole period and broken down by queue, booth, agent and
local day. The definitions, formulas and the log lines each figure comes from are in
``docs/kpi.md``; keep both in step.

Two kinds of attribution:

* **call figures** belong to the call: a call counts in the period (and on the day) of its
  *first* ENTERQUEUE, and then all its lines count, also those written after ``end``. Calls whose
  first ENTERQUEUE is not in the given lines (they began before the lines start) are left out.
* **time figures** (occupancy) belong to the clock: agent status time is clipped to
  ``[start, end)`` and split at local midnights.

It stays one module (slightly over 500 lines): it is one computation, a single pass over the log
whose accumulators and per-call bookkeeping mean nothing apart (and ``docs/kpi.md`` follows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cloud_bridge.acd.model import LogEntry

OCCUPIED = frozenset({"offered", "busy", "wrap_up"})
STAFFED = OCCUPIED | {"ready"}  # logged in and available for calls or working on one
TURNED_AWAY = frozenset({"closed", "no_agents"})  # UNAVAILABLE reasons decided on arrival
WAITED_EPS_S = 0.001

# Metric names in the order they are shown (CSV columns, tables).
CALL_METRICS = (
    "offered",
    "answered",
    "abandoned",
    "abandoned_short",
    "unavailable",
    "turned_away",
    "timeouts",
    "service_level",
    "asa_s",
    "max_wait_s",
    "p_wait",
    "abandon_rate",
    "handled",
    "aht_s",
    "talk_s_total",
    "wrap_s_total",
    "transfers",
    "transfer_rate",
    "no_answer",
    "declined",
)
TIME_METRICS = ("occupancy", "staffed_s", "occupied_s")
AGENT_METRICS = (
    "answered",
    "handled",
    "aht_s",
    "talk_s_total",
    "wrap_s_total",
    "transfers",
    "no_answer",
    "declined",
    *TIME_METRICS,
)
ALL_METRICS = (*CALL_METRICS, *TIME_METRICS)


@dataclass
class KpiReport:
    """``total`` and the breakdowns: key (queue id, booth id, agent id, local date
    ``YYYY-MM-DD``) -> metrics dict. Counts are ints; seconds are rounded to 0.1 s and
    fractions (0…1) to 4 places; a figure whose denominator is 0 is ``None``."""

    total: dict[str, Any]
    by_queue: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_booth: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_agent: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_day: dict[str, dict[str, Any]] = field(default_factory=dict)
    sl_threshold_s: float = 20.0
    tz: str = "Europe/Berlin"
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ accumulators
@dataclass(slots=True)
class _Acc:
    """Sums for one key of one dimension; :meth:`metrics` turns them into figures."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    unavailable: int = 0
    turned_away: int = 0
    timeouts: int = 0
    wait_sum: float = 0.0  # of answered
    max_wait: float | None = None
    waited: int = 0  # p_wait numerator
    wait_eligible: int = 0  # p_wait denominator
    transferred: int = 0  # answered calls (queue: connects) with >= 1 TRANSFER
    transfers: int = 0  # TRANSFER lines
    handled: int = 0  # talk segments ended by COMPLETEAGENT/COMPLETECALLER/TRANSFER
    talk: float = 0.0
    wrap: float = 0.0
    no_answer: int = 0
    declined: int = 0
    staffed: float = 0.0
    occupied: float = 0.0

    def saw_wait(self, wait: float) -> None:
        if self.max_wait is None or wait > self.max_wait:
            self.max_wait = wait

    def call_metrics(self, threshold: float) -> dict[str, Any]:
        eligible = self.offered - self.turned_away
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "abandoned_short": self.abandoned_short,
            "unavailable": self.unavailable,
            "turned_away": self.turned_away,
            "timeouts": self.timeouts,
            "service_level": _ratio(self.answered_in_sl, eligible),
            "asa_s": _secs(_div(self.wait_sum, self.answered)),
            "max_wait_s": _secs(self.max_wait),
            "p_wait": _ratio(self.waited, self.wait_eligible),
            "abandon_rate": _ratio(self.abandoned, eligible),
            **self.work_metrics(),
            "transfer_rate": _ratio(self.transferred, self.answered),
        }

    def work_metrics(self) -> dict[str, Any]:
        return {
            "handled": self.handled,
            "aht_s": _secs(_div(self.talk + self.wrap, self.handled)),
            "talk_s_total": _secs(self.talk),
            "wrap_s_total": _secs(self.wrap),
            "transfers": self.transfers,
            "no_answer": self.no_answer,
            "declined": self.declined,
        }

    def time_metrics(self) -> dict[str, Any]:
        return {
            "occupancy": _ratio(self.occupied, self.staffed),
            "staffed_s": _secs(self.staffed),
            "occupied_s": _secs(self.occupied),
        }

    def agent_metrics(self) -> dict[str, Any]:
        return {"answered": self.answered, **self.work_metrics(), **self.time_metrics()}


def _div(num: float, den: float) -> float | None:
    return num / den if den else None


def _ratio(num: float, den: float) -> float | None:
    return None if not den else round(num / den, 4)


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _num(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


@dataclass(slots=True)
class _Call:
    """What is known of one call while its lines are read."""

    entered: float
    booth: str
    day: str
    first_offer: float | None = None
    first_connect: float | None = None
    left: float | None = None  # ABANDON / UNAVAILABLE while never connected
    abandoned: bool = False
    unavailable: bool = False
    turned_away: bool = False
    timeout: bool = False
    transferred: bool = False
    last_ts: float = 0.0
    segments: dict[str, str] = field(default_factory=dict)  # agent -> queue of the talk


# -------------------------------------------------------------------------------- summarize
class _Summary:
    def __init__(
        self, threshold: float, tz: ZoneInfo, start: float | None, end: float | None
    ) -> None:
        self.threshold = threshold
        self.tz = tz
        self.start = start
        self.end = end
        self.total = _Acc()
        self.queues: dict[str, _Acc] = {}
        self.booths: dict[str, _Acc] = {}
        self.agents: dict[str, _Acc] = {}
        self.days: dict[str, _Acc] = {}
        self.calls: dict[str, _Call] = {}
        self.skipped: set[str] = set()  # calls not in the period
        self.pending: dict[tuple[str, str], bool] = {}  # (call, queue) not offered yet
        self.entered: dict[tuple[str, str], float] = {}  # (call, queue) -> last ENTERQUEUE ts
        self.agent_state: dict[str, tuple[float, str]] = {}  # agent -> (since, status)
        self.last_ts: float | None = None
        self._day_cache: dict[date, float] = {}
        self._handlers: dict[str, Callable[[LogEntry, _Call], object]] = {
            "ENTERQUEUE": self._on_enterqueue,
            "OFFER": self._on_offer,
            "RINGNOANSWER": self._on_ringnoanswer,
            "DECLINE": self._on_decline,
            "CONNECT": self._on_connect,
            "TRANSFER": self._on_transfer,
            "COMPLETEAGENT": self._end_segment,
            "COMPLETECALLER": self._end_segment,
            "ABANDON": self._on_abandon,
            "EXITWITHTIMEOUT": self._on_exitwithtimeout,
            "EXITEMPTY": self._on_exitempty,
            "UNAVAILABLE": self._on_unavailable,
        }

    # --------------------------------------------------------------------------- helpers
    @staticmethod
    def _get(table: dict[str, _Acc], key: str) -> _Acc:
        acc = table.get(key)
        if acc is None:
            acc = table[key] = _Acc()
        return acc

    def _day_end(self, day: date) -> float:
        """Epoch seconds of the local midnight after ``day``."""
        end = self._day_cache.get(day)
        if end is None:
            nxt = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
            end = self._day_cache[day] = nxt.timestamp()
        return end

    def day_of(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).date().isoformat()

    def _call_accs(self, call: _Call) -> tuple[_Acc, _Acc, _Acc]:
        return self.total, self._get(self.booths, call.booth), self._get(self.days, call.day)

    def _work_accs(self, call: _Call, queue: str, agent: str) -> list[_Acc]:
        """Accumulators that get the work of an agent on a call (talk, wrap-up, rings)."""
        accs = [*self._call_accs(call)]
        if queue:
            accs.append(self._get(self.queues, queue))
        if agent:
            accs.append(self._get(self.agents, agent))
        return accs

    # ------------------------------------------------------------------------------ lines
    def feed(self, e: LogEntry) -> None:
        if self.last_ts is None or e.ts > self.last_ts:
            self.last_ts = e.ts
        if e.event == "AGENTSTATUS":
            self._agent_status(e)
            return
        if not e.call or e.call in self.skipped:
            return
        call = self.calls.get(e.call)
        if call is None:
            if e.event != "ENTERQUEUE" or not self._in_period(e.ts):
                self.skipped.add(e.call)
                return
            booth = str(e.data.get("booth") or e.booth)
            call = self.calls[e.call] = _Call(entered=e.ts, booth=booth, day=self.day_of(e.ts))
        call.last_ts = e.ts
        handler = self._handlers.get(e.event)
        if handler is not None:
            handler(e, call)

    def _in_period(self, ts: float) -> bool:
        return (self.start is None or ts >= self.start) and (self.end is None or ts < self.end)

    def _on_enterqueue(self, e: LogEntry, call: _Call) -> None:
        if e.queue:
            self._get(self.queues, e.queue).offered += 1
            self.pending[(e.call, e.queue)] = True
            self.entered[(e.call, e.queue)] = e.ts

    def _on_offer(self, e: LogEntry, call: _Call) -> None:
        if call.first_offer is None:
            call.first_offer = e.ts
        if self.pending.pop((e.call, e.queue), False):
            q = self._get(self.queues, e.queue)
            q.wait_eligible += 1
            if _num(e.data.get("wait_s")) > WAITED_EPS_S:
                q.waited += 1

    def _on_ringnoanswer(self, e: LogEntry, call: _Call) -> None:
        for acc in self._work_accs(call, e.queue, e.agent):
            acc.no_answer += 1

    def _on_decline(self, e: LogEntry, call: _Call) -> None:
        for acc in self._work_accs(call, e.queue, e.agent):
            acc.declined += 1

    def _on_connect(self, e: LogEntry, call: _Call) -> None:
        if call.first_connect is None:
            call.first_connect = e.ts
        if e.agent:
            call.segments[e.agent] = e.queue
            self._get(self.agents, e.agent).answered += 1
        if e.queue:
            wait = _num(e.data.get("wait_s"))
            q = self._get(self.queues, e.queue)
            q.answered += 1
            q.wait_sum += wait
            q.saw_wait(wait)
            if wait <= self.threshold:
                q.answered_in_sl += 1
            if self.pending.pop((e.call, e.queue), False):  # connected without an OFFER line
                q.wait_eligible += 1
                q.waited += wait > WAITED_EPS_S

    def _end_segment(self, e: LogEntry, call: _Call) -> str:
        queue = e.queue or call.segments.get(e.agent, "")
        if e.agent:
            call.segments[e.agent] = queue
        for acc in self._work_accs(call, queue, e.agent):
            acc.handled += 1
            acc.talk += _num(e.data.get("talk_s"))
        return queue

    def _on_transfer(self, e: LogEntry, call: _Call) -> None:
        queue = self._end_segment(e, call)
        if e.data.get("mode") == "requeue":  # the agent's connection was lost: no transfer
            return
        call.transferred = True
        for acc in self._work_accs(call, queue, e.agent):
            acc.transfers += 1
        if queue:
            self._get(self.queues, queue).transferred += 1

    def _on_abandon(self, e: LogEntry, call: _Call) -> None:
        if e.queue:
            wait = _num(e.data.get("wait_s"))
            q = self._get(self.queues, e.queue)
            q.abandoned += 1
            q.abandoned_short += wait <= self.threshold
            q.saw_wait(wait)
        if call.first_connect is None:
            call.abandoned = True
            call.left = e.ts

    def _on_exitwithtimeout(self, e: LogEntry, call: _Call) -> None:
        call.timeout = True
        if e.queue:
            q = self._get(self.queues, e.queue)
            q.timeouts += 1
            q.saw_wait(_num(e.data.get("wait_s")))

    def _on_exitempty(self, e: LogEntry, call: _Call) -> None:
        """The last agent of the queue logged out: the call moved on (not a timeout)."""
        if e.queue:
            self._get(self.queues, e.queue).saw_wait(_num(e.data.get("wait_s")))

    def _on_unavailable(self, e: LogEntry, call: _Call) -> None:
        """Turned away: the ACD said "unavailable" (closed, nobody logged in) on arrival. A call
        that waited first (max wait, the last agent logged out) was not served: it stays in
        the denominators of service level, abandon rate and p_wait."""
        rejected = e.data.get("reason") in TURNED_AWAY
        if e.queue:
            q = self._get(self.queues, e.queue)
            q.unavailable += 1
            entered = self.entered.get((e.call, e.queue), call.entered)
            if rejected and e.ts - entered <= WAITED_EPS_S:
                q.turned_away += 1
                self.pending.pop((e.call, e.queue), None)
        if call.first_connect is None:
            call.unavailable = True
            call.turned_away = rejected and e.ts - call.entered <= WAITED_EPS_S
            call.left = e.ts

    # ------------------------------------------------------------------------ agent time
    def _agent_status(self, e: LogEntry) -> None:
        agent = e.agent
        if not agent:
            return
        previous = str(e.data.get("previous") or "")
        previous_s = _num(e.data.get("previous_s"))
        if previous in STAFFED and previous_s > 0:
            self._status_time(agent, previous, e.ts - previous_s, e.ts)
        prev_call = e.data.get("previous_call")
        if previous == "wrap_up" and prev_call and prev_call in self.calls:
            call = self.calls[prev_call]
            queue = call.segments.get(agent, "")
            for acc in self._work_accs(call, queue, agent):
                acc.wrap += previous_s
        self.agent_state[agent] = (e.ts, str(e.data.get("status") or ""))

    def _status_time(self, agent: str, status: str, lo: float, hi: float) -> None:
        if self.start is not None:
            lo = max(lo, self.start)
        if self.end is not None:
            hi = min(hi, self.end)
        if hi <= lo:
            return
        busy = status in OCCUPIED
        for acc, seconds in self._time_parts(agent, lo, hi):
            acc.staffed += seconds
            if busy:
                acc.occupied += seconds

    def _time_parts(self, agent: str, lo: float, hi: float) -> list[tuple[_Acc, float]]:
        parts: list[tuple[_Acc, float]] = [
            (self.total, hi - lo),
            (self._get(self.agents, agent), hi - lo),
        ]
        day = datetime.fromtimestamp(lo, self.tz).date()
        while lo < hi:
            day_hi = self._day_end(day)
            if day_hi <= lo:  # fromtimestamp rounding at a boundary
                day += timedelta(days=1)
                continue
            upto = min(hi, day_hi)
            parts.append((self._get(self.days, day.isoformat()), upto - lo))
            lo = upto
            day += timedelta(days=1)
        return parts

    # ----------------------------------------------------------------------------- result
    def finish(self) -> KpiReport:
        end = self.end if self.end is not None else self.last_ts
        if end is not None:
            for agent, (since, status) in self.agent_state.items():
                if status in STAFFED:
                    self._status_time(agent, status, since, end)
        for (_call, queue), _ in self.pending.items():  # never offered: waited
            q = self._get(self.queues, queue)
            q.wait_eligible += 1
            q.waited += 1
        for call in self.calls.values():
            self._finish_call(call)
        total = {**self.total.call_metrics(self.threshold), **self.total.time_metrics()}
        return KpiReport(
            total=total,
            by_queue={k: v.call_metrics(self.threshold) for k, v in sorted(self.queues.items())},
            by_booth={k: v.call_metrics(self.threshold) for k, v in sorted(self.booths.items())},
            by_agent={k: v.agent_metrics() for k, v in sorted(self.agents.items())},
            by_day={
                k: {**v.call_metrics(self.threshold), **v.time_metrics()}
                for k, v in sorted(self.days.items())
            },
            sl_threshold_s=self.threshold,
            tz=str(self.tz),
            start=self.start,
            end=self.end,
        )

    def _finish_call(self, call: _Call) -> None:
        answered = call.first_connect is not None
        if call.first_connect is not None:
            wait = call.first_connect - call.entered
        elif call.left is not None:
            wait = call.left - call.entered
        else:  # still waiting when the lines end, or lost
            wait = call.last_ts - call.entered
        first = call.first_offer if call.first_offer is not None else call.first_connect
        waited = first is None or first - call.entered > WAITED_EPS_S
        for acc in self._call_accs(call):
            acc.offered += 1
            acc.saw_wait(wait)
            if answered:
                acc.answered += 1
                acc.wait_sum += wait
                acc.answered_in_sl += wait <= self.threshold
                acc.transferred += call.transferred
            elif call.abandoned:
                acc.abandoned += 1
                acc.abandoned_short += wait <= self.threshold
            elif call.unavailable:
                acc.unavailable += 1
                acc.turned_away += call.turned_away
            acc.timeouts += call.timeout
            if not call.turned_away:
                acc.wait_eligible += 1
                acc.waited += waited


def summarize(
    entries: Iterable[LogEntry],
    *,
    sl_threshold_s: float = 20.0,
    tz: str = "Europe/Berlin",
    start: float | None = None,
    end: float | None = None,
) -> KpiReport:
    """Key figures of the calls whose first ENTERQUEUE is in ``[start, end)`` and of the agent
    status time within it (statuses still open are counted up to ``end``, or to the last line's
    ts without an ``end``). ``entries`` must be in log order (ts, then insertion)."""
    summary = _Summary(sl_threshold_s, ZoneInfo(tz), start, end)
    for entry in entries:
        summary.feed(entry)
    return summary.finish()
