"""The figures of whole local days from the call log: the one code path of ``lisa bridge report``
(:mod:`cloud_bridge.report_cli`) and of the API's ``GET /api/v1/reports``; rendered by
:mod:`cloud_bridge.report`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cloud_bridge.acd.model import LogEntry
from cloud_bridge.kpi import KpiReport, summarize

REPORT_TITLE = "Bericht Digitaler Bürgerservice"
# Lines read around the period: calls that began in it and ended after it, agent statuses that
# began before it (they are clipped to the period).
MARGIN_S = 86_400.0


def local_midnight(day: date, tz: ZoneInfo) -> float:
    """Epoch seconds of the start of ``day`` in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def period_report(
    read_log: Callable[[float, float], Iterable[LogEntry]],
    first: date,
    last: date,
    *,
    tz: str,
    sl_threshold_s: float,
    now: float,
    meta: Mapping[str, Any] | None = None,
) -> tuple[KpiReport, dict[str, Any]]:
    """The key figures of the local days ``first`` … ``last`` (inclusive) in ``tz``, and the
    ``meta`` for the renderers of :mod:`cloud_bridge.report` (title, period, time zone,
    threshold, generated, then what ``meta`` adds: display names, the database).

    ``read_log(start, end)``: the call log's lines in ``[start, end)`` in log order (a store's
    ``log_entries``). Statuses still open are counted up to ``now``, not up to the end of a day
    still running."""
    zone = ZoneInfo(tz)
    start = local_midnight(first, zone)
    end = local_midnight(last + timedelta(days=1), zone)
    counted_to = min(end, max(start, now))
    entries = read_log(start - MARGIN_S, counted_to + MARGIN_S)
    result = summarize(entries, sl_threshold_s=sl_threshold_s, tz=tz, start=start, end=counted_to)
    full_meta: dict[str, Any] = {
        "title": REPORT_TITLE,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "tz": tz,
        "sl_threshold_s": sl_threshold_s,
        "generated": datetime.fromtimestamp(now, zone).isoformat(timespec="seconds"),
        **(meta or {}),
    }
    return result, full_meta
