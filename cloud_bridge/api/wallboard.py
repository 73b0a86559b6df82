"""``/wallboard``: today's key figures (local day of the tenant's time zone, from the call log
as ``lisa bridge report`` computes them) and the live numbers of the ACD (supervisors, admins)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from cloud_bridge.api.deps import (
    FIGURE_READERS,
    PREFIX,
    BridgeDep,
    CurrentUser,
    SettingsDep,
    require_role,
)
from cloud_bridge.api.errors import errors
from cloud_bridge.api.models import WallboardAgents, WallboardResponse
from cloud_bridge.report_period import period_report

router = APIRouter(prefix=PREFIX, tags=["figures"])


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@router.get("/wallboard", response_model=WallboardResponse, responses=errors(401, 403))
async def wallboard(
    user: CurrentUser, bridge: BridgeDep, settings: SettingsDep
) -> WallboardResponse:
    """Today so far (service level, ASA, offered, answered, abandoned) and now (waiting calls,
    the longest wait, agents per status)."""
    require_role(user, FIGURE_READERS, "read the wallboard")
    now = bridge.now()
    today = datetime.fromtimestamp(now, ZoneInfo(settings.timezone)).date()
    report, _ = await asyncio.to_thread(
        period_report,
        bridge.log_entries,
        today,
        today,
        tz=settings.timezone,
        sl_threshold_s=settings.sl_threshold_s,
        now=now,
    )
    total = report.total
    queues = bridge.queues_view()
    statuses = Counter(str(a.get("status")) for a in bridge.agents_view())
    waits = [w for q in queues if (w := _float(q.get("oldest_wait_s"))) is not None]
    return WallboardResponse(
        ts=now,
        day=today.isoformat(),
        tz=settings.timezone,
        sl_threshold_s=settings.sl_threshold_s,
        service_level=_float(total.get("service_level")),
        asa_s=_float(total.get("asa_s")),
        offered_today=_int(total.get("offered")),
        answered_today=_int(total.get("answered")),
        abandoned_today=_int(total.get("abandoned")),
        waiting_now=sum(_int(q.get("waiting")) for q in queues),
        longest_wait_s=max(waits, default=0.0),
        agents=WallboardAgents(
            **{status: statuses[status] for status in WallboardAgents.model_fields}
        ),
    )
