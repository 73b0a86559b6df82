"""``/events``: the live events WebSocket (see docs/agent-api.md), and the bridge hooks that
tell it when an agent's first client connects and the last one goes."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket
from fastapi.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cloud_bridge.api.deps import (
    PREFIX,
    SESSION_COOKIE,
    BridgeDep,
    SettingsDep,
    UsersDep,
    same_origin,
)
from cloud_bridge.media import MediaClient
from cloud_bridge.ports import BridgeFacade

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX)
WS_UNAUTHORIZED = 4401  # WebSocket close code: no/invalid/expired token
WS_GOING_AWAY = 1001


class Connections:
    """Open WebSockets per agent; tells the bridge about the first opening / last closing."""

    def __init__(self, bridge: BridgeFacade) -> None:
        self.bridge = bridge
        self.count: dict[str, int] = {}

    async def opened(self, agent: str) -> None:
        self.count[agent] = self.count.get(agent, 0) + 1
        if self.count[agent] == 1:
            await self._hook("client_connected", agent)

    async def closed(self, agent: str) -> None:
        left = self.count.get(agent, 0) - 1
        if left > 0:
            self.count[agent] = left
            return
        self.count.pop(agent, None)
        await self._hook("client_disconnected", agent)

    async def _hook(self, name: str, agent: str) -> None:
        hook = getattr(self.bridge, name, None)
        if hook is None:
            return
        try:
            result = hook(agent)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("bridge hook failed", extra={"hook": name, "agent": agent})


def get_connections(conn: HTTPConnection) -> Connections:
    connections: Connections = conn.app.state.connections
    return connections


ConnectionsDep = Annotated[Connections, Depends(get_connections)]


@router.websocket("/events")
async def events(
    ws: WebSocket,
    bridge: BridgeDep,
    users: UsersDep,
    settings: SettingsDep,
    connections: ConnectionsDep,
) -> None:
    """Live events (see docs/agent-api.md); closed with 4401 without a valid token.

    The token comes as ``?token=``, as ``Authorization: Bearer``, or as the portal's session
    cookie, which counts only when ``Origin`` is the bridge's own origin (a page of another
    site cannot use the browser's cookie)."""
    token = ws.query_params.get("token", "")
    if not token:
        header = ws.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
    if not token and same_origin(ws):
        token = ws.cookies.get(SESSION_COOKIE, "")
    user = users.user_for_token(token) if token else None
    await ws.accept()
    if user is None:
        await ws.close(code=WS_UNAUTHORIZED, reason="unauthenticated")
        return
    agent = user.name if user.name in bridge.agents else None
    send_lock = asyncio.Lock()

    async def send(item: dict[str, Any]) -> None:
        text = json.dumps(item, default=str, separators=(",", ":"))
        async with send_lock:
            await ws.send_text(text)

    async def pump() -> None:
        async for item in subscription:
            await send(item)
        await close(WS_GOING_AWAY, "subscription ended, reconnect")

    async def receive() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                continue
            try:
                frame = json.loads(text)
            except ValueError:
                frame = None
            if (
                isinstance(frame, dict)
                and isinstance(frame.get("type"), str)
                and frame["type"].startswith("media.")
                and media_client is not None
            ):
                await bridge.media.from_client(media_client, frame)
            elif isinstance(frame, dict) and frame.get("type") == "ping":
                if users.user_for_token(token) is None:
                    await close(WS_UNAUTHORIZED, "token expired or revoked")
                    return
                pong: dict[str, Any] = {"type": "pong"}
                if "id" in frame:
                    pong["id"] = frame["id"]
                await send(pong)
            else:
                await send(
                    {
                        "type": "error",
                        "error": "unknown_message",
                        "detail": 'clients send {"type": "ping"} or media.* messages',
                    }
                )

    async def watchdog() -> None:
        while True:
            await asyncio.sleep(settings.ws_recheck_s)
            if users.user_for_token(token) is None:
                await close(WS_UNAUTHORIZED, "token expired or revoked")
                return

    async def close(code: int, reason: str) -> None:
        if ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close(code=code, reason=reason)
            except (RuntimeError, WebSocketDisconnect, OSError):
                pass

    media_client = MediaClient(f"agent:{agent}", send) if agent is not None else None
    if media_client is not None:
        bridge.media.attach(media_client)
    subscription = bridge.subscribe()
    log.info("events connected", extra={"user": user.name})
    if agent is not None:
        await connections.opened(agent)
    tasks = [asyncio.create_task(c) for c in (pump(), receive(), watchdog())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | OSError):
                log.error("events socket failed", exc_info=exc)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        subscription.close()
        if media_client is not None:
            bridge.media.detach(media_client)
        await close(1000, "bye")
        if agent is not None:
            await connections.closed(agent)
        log.info("events disconnected", extra={"user": user.name})
