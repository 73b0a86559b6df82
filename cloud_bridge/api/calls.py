"""``/calls/{call}/…``: what an agent does with a call (accept, decline, hang up, transfer,
complete or cancel a consultation). Each answers the call and the agent after the action."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

from cloud_bridge.acd.model import (
    Accept,
    CancelTransfer,
    CompleteTransfer,
    Decline,
    Event,
    Hangup,
    Transfer,
)
from cloud_bridge.api.deps import (
    PREFIX,
    SUPERVISORS,
    BridgeDep,
    CurrentUser,
    dispatch,
    require_agent,
)
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import AgentView, CallActionResponse, CallView, TransferRequest
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["calls"])
CALL_ERRORS = errors(401, 403, 404, 409)


def call_route(action: str) -> Callable[[F], F]:
    """``POST /calls/{call}/<action>``: the routes an agent uses on a call."""
    return router.post(
        f"/calls/{{call}}/{action}",
        response_model=CallActionResponse,
        response_model_exclude_unset=True,
        responses=CALL_ERRORS,
    )


async def call_action(
    bridge: BridgeFacade, user: User, call: str, event: Event
) -> CallActionResponse:
    """Dispatch ``event``, then answer the call's and the acting user's entry."""
    await dispatch(bridge, event)
    view = bridge.call_view(call)
    entry = bridge.agent_view(user.name)
    return CallActionResponse(
        call=CallView.model_validate(view) if view else None,
        agent=AgentView.model_validate(entry) if entry else None,
    )


@call_route("accept")
async def accept(call: str, user: CurrentUser, bridge: BridgeDep) -> CallActionResponse:
    """Take the call offered to you."""
    return await call_action(bridge, user, call, Accept(require_agent(bridge, user), call))


@call_route("decline")
async def decline(call: str, user: CurrentUser, bridge: BridgeDep) -> CallActionResponse:
    """Refuse the call offered to you (it is offered to someone else)."""
    return await call_action(bridge, user, call, Decline(require_agent(bridge, user), call))


@call_route("hangup")
async def hangup(call: str, user: CurrentUser, bridge: BridgeDep) -> CallActionResponse:
    """End your call. Supervisors and admins may end any connected call
    (reason ``supervisor_hangup``)."""
    is_agent = user.name in bridge.agents
    if user.role in SUPERVISORS:
        view = bridge.call_view(call)
        if view is not None and view.get("agent") and view.get("agent") != user.name:
            event = Hangup(str(view["agent"]), call, reason="supervisor_hangup")
            log.info("supervisor hangup", extra={"user": user.name, "call": call})
            return await call_action(bridge, user, call, event)
        if not is_agent:
            if view is None:
                raise ApiError(404, "unknown_call", f"no call {call}")
            raise ApiError(409, "bad_state", f"call {call} is not connected to an agent")
    return await call_action(bridge, user, call, Hangup(require_agent(bridge, user), call))


@call_route("transfer")
async def transfer(
    call: str, body: TransferRequest, user: CurrentUser, bridge: BridgeDep
) -> CallActionResponse:
    """Blind transfer, or start a consultation (``mode: consult``), to a queue or a named
    clerk (``clerk``, with ``queue`` as the fallback when the clerk stays busy)."""
    event = Transfer(
        require_agent(bridge, user),
        call,
        queue=body.queue or None,
        clerk=body.clerk or None,
        consult=body.mode == "consult",
    )
    return await call_action(bridge, user, call, event)


@call_route("transfer/complete")
async def complete_transfer(call: str, user: CurrentUser, bridge: BridgeDep) -> CallActionResponse:
    """After a consultation: hand the citizen to the consulted agent."""
    event = CompleteTransfer(require_agent(bridge, user), call)
    return await call_action(bridge, user, call, event)


@call_route("transfer/cancel")
async def cancel_transfer(call: str, user: CurrentUser, bridge: BridgeDep) -> CallActionResponse:
    """Give up a consultation: the citizen stays with you."""
    return await call_action(bridge, user, call, CancelTransfer(require_agent(bridge, user), call))
