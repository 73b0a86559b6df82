"""``/reports``: the key figures of whole local days as JSON or CSV (supervisors, admins) —
the same computation and renderers as ``lisa bridge report``
(:func:`cloud_bridge.report_period.period_report`, :mod:`cloud_bridge.report`)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response

from cloud_bridge.api.deps import (
    FIGURE_READERS,
    PREFIX,
    BridgeDep,
    CurrentUser,
    SettingsDep,
    require_role,
)
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import ReportResponse
from cloud_bridge.report import render_csv, render_json
from cloud_bridge.report_period import period_report

router = APIRouter(prefix=PREFIX, tags=["figures"])
MAX_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report (JSON, or CSV with `format=csv`).",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def _check_day(day: date, parameter: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(
            422, "invalid", f"{parameter}: {day.isoformat()} is not between 2000 and 2999"
        )


@router.get("/reports", response_model=ReportResponse, responses={**_CSV, **errors(401, 403)})
async def reports(
    user: CurrentUser,
    bridge: BridgeDep,
    settings: SettingsDep,
    date_from: Annotated[
        date | None,
        Query(alias="from", description="First day, YYYY-MM-DD. Default: `to`, else today."),
    ] = None,
    date_to: Annotated[
        date | None,
        Query(alias="to", description="Last day (inclusive). Default: today (or `from`)."),
    ] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """The figures per day, queue, booth and agent (docs/kpi.md) of the local days ``from`` …
    ``to`` (at most 366 days). ``format=csv`` answers a CSV download
    (``Content-Disposition: attachment``). 422 names the parameter that is wrong."""
    require_role(user, FIGURE_READERS, "read reports")
    now = bridge.now()
    today = datetime.fromtimestamp(now, ZoneInfo(settings.timezone)).date()
    first = date_from if date_from is not None else (date_to or today)
    last = date_to if date_to is not None else max(today, first)
    _check_day(first, "from")
    _check_day(last, "to")
    if first > last:
        raise ApiError(422, "invalid", f"from: {first} is after to {last}")
    if last - first >= timedelta(days=MAX_DAYS):
        raise ApiError(422, "invalid", f"to: at most {MAX_DAYS} days from 'from'")
    report, meta = await asyncio.to_thread(
        period_report,
        bridge.log_entries,
        first,
        last,
        tz=settings.timezone,
        sl_threshold_s=settings.sl_threshold_s,
        now=now,
        meta={k: dict(v) for k, v in settings.report_names.items()},
    )
    if fmt == "csv":
        name = f"lisa-report-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            render_csv(report, meta),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(render_json(report, meta), media_type="application/json")
