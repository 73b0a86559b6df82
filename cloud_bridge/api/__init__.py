"""The bridge's HTTP + WebSocket API for agents, supervisors, technicians and admins.

``create_app(bridge, users)`` builds a FastAPI app on any :class:`~cloud_bridge.ports.BridgeFacade`
(the real :class:`cloud_bridge.service.Bridge` in the bridge process, in tests and in the demo).
Routes live under ``/api/v1``; the reference for clients (the portal, ``lisa agent``) is
``docs/agent-api.md`` and the app's own ``/openapi.json``.

Auth: ``POST /api/v1/login`` returns a bearer token (``Authorization: Bearer TOKEN``; the
WebSocket takes it as ``?token=``); the portal's ``POST /api/v1/session`` sets the same token as
the ``lisa_session`` cookie (with a CSRF double-submit cookie). Errors are always
``{"error": code, "detail": text}``.

One router per resource: :mod:`.auth` (login, logout, me, the portal session), :mod:`.agent`
(own status), :mod:`.calls` (accept, decline, hang up, transfer), :mod:`.booths` (booth commands
and faults), :mod:`.status` (status, queues, agents, audit), :mod:`.users` (accounts, own
settings), :mod:`.wallboard`, :mod:`.reports`, :mod:`.events` (the WebSocket). They share the
bridge, the accounts and the settings through :mod:`.deps` (kept on ``app.state``). The portal's
static files are served at ``/`` by :mod:`.web`. Request bodies are limited in size by
:mod:`.limits` (64 kB unless a route declares more), failed logins per name and per client
address by :mod:`.limiter`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fastapi import FastAPI

from cloud_bridge.api import (
    agent,
    auth,
    booths,
    calls,
    events,
    media,
    reports,
    status,
    templates,
    wallboard,
)
from cloud_bridge.api import limiter as login_limits
from cloud_bridge.api import users as accounts
from cloud_bridge.api.deps import PREFIX, ApiSettings, parse_networks
from cloud_bridge.api.errors import ApiError, ErrorBody, errors, install_error_handlers
from cloud_bridge.api.events import WS_GOING_AWAY, WS_UNAUTHORIZED, Connections
from cloud_bridge.api.limiter import LoginLimiter
from cloud_bridge.api.limits import DEFAULT_MAX_BODY, BodyLimit, body_limit
from cloud_bridge.api.models import HealthResponse
from cloud_bridge.api.redaction import RedactTokens, install_redaction, redact
from cloud_bridge.api.web import WEB_ROOT, PortalMount
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import UserStore

__all__ = [
    "DEFAULT_MAX_BODY",
    "PREFIX",
    "WS_GOING_AWAY",
    "WS_UNAUTHORIZED",
    "ApiError",
    "ApiSettings",
    "ErrorBody",
    "LoginLimiter",
    "RedactTokens",
    "body_limit",
    "create_app",
    "redact",
]


async def healthz() -> HealthResponse:
    """Liveness (no auth)."""
    return HealthResponse()


def create_app(
    bridge: BridgeFacade,
    users: UserStore,
    *,
    token_ttl_s: float = 43200,
    title: str = "LISA bridge",
    command_timeout_s: float = 10.0,
    ws_recheck_s: float = 30.0,
    limiter: LoginLimiter | None = None,
    address_limiter: LoginLimiter | None = None,
    trusted_proxies: Sequence[str] = (),
    max_body: int = DEFAULT_MAX_BODY,
    timezone: str = "Europe/Berlin",
    sl_threshold_s: float = 20.0,
    report_names: Mapping[str, Mapping[str, str]] | None = None,
    web_root: Path | None = WEB_ROOT,
    templates_dir: Path | None = None,
) -> FastAPI:
    """The API on ``bridge`` with accounts from ``users``.

    ``command_timeout_s``: how long a booth command waits for the booth's result (504 after);
    ``ws_recheck_s``: how often an open WebSocket re-checks its token (closed with 4401 once
    it expired, was revoked or the account disabled); ``timezone``, ``sl_threshold_s``: the
    tenant's (the wallboard's day, the reports); ``report_names``: ``queue_names``,
    ``booth_names``, ``agent_names`` for the reports; ``web_root``: the portal's files served at
    ``/`` (None: no portal). ``limiter``, ``address_limiter``: the failed-login limits per user
    name and per client address; ``trusted_proxies``: addresses or networks of reverse proxies
    whose ``X-Forwarded-For`` names the client (else the socket's peer is the client; run
    uvicorn with ``proxy_headers=False`` so that the peer is the socket's); ``max_body``: the
    request body limit of routes without their own (:func:`body_limit`)."""
    install_redaction()
    app = FastAPI(
        title=title,
        version="1",
        description="Agents' and supervisors' API of the LISA bridge. See docs/agent-api.md.",
        responses=errors(400, 413, 422),  # 400: the body is not JSON
    )
    app.state.bridge = bridge
    app.state.users = users
    app.state.limiter = limiter or login_limits.name_limiter()
    app.state.address_limiter = address_limiter or login_limits.address_limiter()
    app.state.connections = Connections(bridge)
    app.state.settings = ApiSettings(
        token_ttl_s=token_ttl_s,
        command_timeout_s=command_timeout_s,
        ws_recheck_s=ws_recheck_s,
        timezone=timezone,
        sl_threshold_s=sl_threshold_s,
        report_names=dict(report_names or {}),
        trusted_proxies=parse_networks(trusted_proxies),
        templates_dir=templates_dir,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, default=max_body)
    app.add_api_route("/healthz", healthz, response_model=HealthResponse, tags=["meta"])
    for module in (
        auth,
        agent,
        calls,
        booths,
        status,
        accounts,
        wallboard,
        reports,
        events,
        media,
        templates,
    ):
        app.include_router(module.router)
    if web_root is not None:  # last: every route of the API comes first
        app.router.routes.append(PortalMount(web_root))
    return app
