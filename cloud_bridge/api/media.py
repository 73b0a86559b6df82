"""Guests in a call (an interpreter, a second clerk) and their media WebSocket.

``POST /calls/{call}/invitations``: the agent connected to the call invites a guest; the
answer holds a one-time link (``/gast.html#<token>``) that works without an account, for this call
only and until ``expires_at`` (see :mod:`cloud_bridge.media`). ``GET`` lists the call's
invitations, ``DELETE …/{id}`` revokes one (the guest's media stops at once).
``GET /guest`` (token as bearer or ``?token=``) tells the guest page who invited it for what;
``/guest/media`` is the guest's WebSocket for the media signalling (``media.*`` messages as on
``/events``, docs/media.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cloud_bridge.api.deps import PREFIX, BridgeDep, CurrentUser, require_agent
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import _Request
from cloud_bridge.media import Invitation, MediaClient

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["media"])
WS_UNAUTHORIZED = 4401
GUEST_POLL_S = 5.0


class InvitationRequest(_Request):
    role: Literal["interpreter", "clerk"] = Field(
        description="`interpreter` (sign or spoken language, BGG § 9) or a second `clerk`."
    )
    name: str = Field("", max_length=80, description="Shown to the citizen, e.g. 'Dolmetscherin'.")
    ttl_s: float = Field(7200.0, ge=60, le=12 * 3600, description="Valid at most this long.")


class InvitationView(BaseModel):
    id: str
    call: str
    role: str
    name: str
    expires_at: float
    url: str | None = Field(None, description="The one-time link (only in the answer to POST).")


class GuestView(BaseModel):
    invitation: str
    call: str
    role: str
    name: str
    expires_at: float
    in_call: bool


def _view(inv: Invitation, url: str | None = None) -> InvitationView:
    return InvitationView(
        id=inv.id, call=inv.call, role=inv.role, name=inv.name, expires_at=inv.expires_at, url=url
    )


@router.post(
    "/calls/{call}/invitations",
    response_model=InvitationView,
    response_model_exclude_none=True,
    status_code=201,
    responses=errors(401, 403, 409),
)
async def invite(
    call: str, body: InvitationRequest, request: Request, bridge: BridgeDep, user: CurrentUser
) -> InvitationView:
    """A one-time link for a guest in the agent's connected call."""
    agent = require_agent(bridge, user)
    try:
        inv, token = bridge.media.invite(call, agent, body.role, body.name, body.ttl_s)
    except PermissionError as exc:
        raise ApiError(403, "not_in_call", str(exc)) from None
    except OverflowError as exc:
        raise ApiError(409, "too_many_guests", str(exc)) from None
    url = str(request.base_url).rstrip("/") + "/gast.html#" + token
    return _view(inv, url)


@router.get(
    "/calls/{call}/invitations",
    response_model=list[InvitationView],
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
async def invitations(call: str, bridge: BridgeDep, user: CurrentUser) -> list[InvitationView]:
    """The call's invitations, for the agent of the call (also while it consults)."""
    agent = require_agent(bridge, user)
    view = bridge.call_view(call)
    if view is None or view.get("agent") != agent:
        raise ApiError(403, "not_in_call", "only the agent of the call sees its invitations")
    return [_view(i) for i in bridge.media.invitations_of(call)]


@router.delete(
    "/calls/{call}/invitations/{invitation}", status_code=204, responses=errors(401, 403, 404)
)
async def revoke(call: str, invitation: str, bridge: BridgeDep, user: CurrentUser) -> None:
    agent = require_agent(bridge, user)
    try:
        found = bridge.media.revoke(call, invitation, agent)
    except PermissionError as exc:
        raise ApiError(403, "not_in_call", str(exc)) from None
    if not found:
        raise ApiError(404, "unknown_invitation", f"no invitation {invitation!r} in this call")


def _token(request_token: str | None, header: str) -> str:
    if request_token:
        return request_token
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""


@router.get("/guest", response_model=GuestView, responses=errors(401))
async def guest(request: Request, bridge: BridgeDep) -> GuestView:
    """The guest page's own invitation (token as ``Authorization: Bearer``)."""
    token = _token(request.query_params.get("token"), request.headers.get("authorization", ""))
    inv = bridge.media.invitation_for(token) if token else None
    if inv is None:
        raise ApiError(401, "invitation_invalid", "the link is invalid or has expired")
    return GuestView(
        invitation=inv.id,
        call=inv.call,
        role=inv.role,
        name=inv.name,
        expires_at=inv.expires_at,
        in_call=bridge.media.allowed(inv.peer, inv.call) is not None,
    )


@router.websocket("/guest/media")
async def guest_media(ws: WebSocket, bridge: BridgeDep) -> None:
    """The guest's media signalling; closed with 4401 when the invitation is (or becomes)
    invalid."""
    token = _token(ws.query_params.get("token"), ws.headers.get("authorization", ""))
    inv = bridge.media.invitation_for(token) if token else None
    await ws.accept()
    if inv is None:
        await ws.close(code=WS_UNAUTHORIZED, reason="invitation invalid or expired")
        return
    lock = asyncio.Lock()

    async def send(item: dict[str, Any]) -> None:
        async with lock:
            if ws.application_state == WebSocketState.CONNECTED:
                await ws.send_text(json.dumps(item, default=str, separators=(",", ":")))

    client = MediaClient(inv.peer, send)
    bridge.media.attach(client)
    log.info("guest connected", extra={"invitation": inv.id})
    await send(
        {
            "type": "guest",
            "call": inv.call,
            "role": inv.role,
            "name": inv.name,
            "in_call": bridge.media.allowed(inv.peer, inv.call) is not None,
        }
    )

    async def still_valid() -> None:
        # expiry is a point in time, revocation closes the guest's client: a periodic check
        while bridge.media.invitation_for(token) is not None:  # noqa: ASYNC110
            await asyncio.sleep(GUEST_POLL_S)

    async def receive() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                frame = json.loads(message.get("text") or "null")
            except ValueError:
                frame = None
            if isinstance(frame, dict) and str(frame.get("type", "")).startswith("media."):
                await bridge.media.from_client(client, frame)
            elif isinstance(frame, dict) and frame.get("type") == "ping":
                await send({"type": "pong"})
            else:
                await send({"type": "error", "error": "unknown_message"})

    tasks = [asyncio.create_task(c) for c in (receive(), still_valid())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        bridge.media.detach(client)
        if ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close(code=WS_UNAUTHORIZED, reason="invitation ended")
            except (RuntimeError, WebSocketDisconnect, OSError):
                pass
        log.info("guest disconnected", extra={"invitation": inv.id})
