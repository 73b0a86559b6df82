"""Read-only views for every logged-in user: ``/status`` (everything), ``/queues``,
``/agents``, and ``/audit`` (booth commands; supervisors, technicians, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud_bridge.api.deps import AUDIT_READERS, PREFIX, BridgeDep, CurrentUser
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import AgentView, AuditEntry, QueueView, StatusResponse

router = APIRouter(prefix=PREFIX, tags=["status"])


@router.get(
    "/status",
    response_model=StatusResponse,
    response_model_exclude_unset=True,
    responses=errors(401),
)
async def status(user: CurrentUser, bridge: BridgeDep) -> StatusResponse:
    """Everything: agents, queues, calls, booths."""
    return StatusResponse.model_validate(bridge.status())


@router.get(
    "/queues",
    response_model=list[QueueView],
    response_model_exclude_unset=True,
    responses=errors(401),
)
async def queues(user: CurrentUser, bridge: BridgeDep) -> list[QueueView]:
    return [QueueView.model_validate(q) for q in bridge.queues_view()]


@router.get(
    "/agents",
    response_model=list[AgentView],
    response_model_exclude_unset=True,
    responses=errors(401),
)
async def agents(user: CurrentUser, bridge: BridgeDep) -> list[AgentView]:
    return [AgentView.model_validate(a) for a in bridge.agents_view()]


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    response_model_exclude_unset=True,
    responses=errors(401, 403),
)
async def audit(
    user: CurrentUser,
    bridge: BridgeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    booth: Annotated[str | None, Query(max_length=63)] = None,
) -> list[AuditEntry]:
    """Booth commands (also denied ones), newest first (supervisor, technician, admin)."""
    if user.role not in AUDIT_READERS:
        raise ApiError(403, "forbidden", f"role {user.role} may not read the audit log")
    rows = bridge.audit(limit, booth)
    return [AuditEntry.model_validate(r) for r in rows]
