"""``/agent/status``: the logged-in agent sets their own ACD status."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from cloud_bridge.acd.model import AgentLogin, AgentLogout, SetNotReady, SetReady
from cloud_bridge.api.deps import PREFIX, BridgeDep, CurrentUser, dispatch, require_agent
from cloud_bridge.api.errors import errors
from cloud_bridge.api.models import AgentStatusRequest, AgentView

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["agent"])


@router.post(
    "/agent/status",
    response_model=AgentView,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 409),
)
async def agent_status(body: AgentStatusRequest, user: CurrentUser, bridge: BridgeDep) -> AgentView:
    """Set the logged-in agent's status: ``ready`` (logs in first when logged out),
    ``not_ready`` with a reason (default ``break``; logs in first), ``logged_out``."""
    agent = require_agent(bridge, user)
    entry = bridge.agent_view(agent) or {"status": "logged_out"}
    current = entry.get("status")
    if body.status == "logged_out":
        if current != "logged_out":
            await dispatch(bridge, AgentLogout(agent))
    else:
        if current == "logged_out":
            await dispatch(bridge, AgentLogin(agent))
            current = (bridge.agent_view(agent) or {}).get("status")
        if body.status == "ready":
            if current != "ready":
                await dispatch(bridge, SetReady(agent))
        else:
            reason = body.reason or "break"
            if current != "not_ready" or (bridge.agent_view(agent) or {}).get("reason") != reason:
                await dispatch(bridge, SetNotReady(agent, reason))
    log.info("agent status", extra={"agent": agent, "status": body.status})
    return AgentView.model_validate(bridge.agent_view(agent) or {"id": agent})
