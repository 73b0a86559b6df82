"""``/login``, ``/logout``, ``/me``: tokens for accounts of the user store; ``/session``: the
same token as the portal's cookie session (``lisa_session`` + the CSRF cookie ``lisa_csrf``)."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets

from fastapi import APIRouter, Request, Response

from cloud_bridge.api.deps import (
    CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    AddressLimiterDep,
    BridgeDep,
    ClientAddress,
    CurrentSession,
    CurrentUser,
    LimiterDep,
    SettingsDep,
    UsersDep,
    is_tls,
)
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.limiter import LoginLimiter
from cloud_bridge.api.models import (
    AgentView,
    LoginRequest,
    LoginResponse,
    MeResponse,
    OkResponse,
    SessionResponse,
    UserOut,
)
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User, UserStore

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["auth"])


def user_out(bridge: BridgeFacade, user: User) -> UserOut:
    return UserOut(
        name=user.name,
        role=user.role,
        display_name=user.display_name,
        is_agent=user.name in bridge.agents,
    )


def _refuse(wait: float, scope: str, what: str) -> ApiError:
    log.warning("login rate limited", extra={"limit": scope, "retry_after_s": round(wait)})
    return ApiError(
        429,
        "rate_limited",
        f"too many failed logins{what}; try again in {math.ceil(wait)} s",
        {"Retry-After": str(math.ceil(wait))},
    )


async def check_login(
    body: LoginRequest,
    users: UserStore,
    limiter: LoginLimiter,
    address_limiter: LoginLimiter,
    address: str,
) -> User:
    """The account for name and password; 429 while the client's address or the name is rate
    limited, 401 (counted as a failure of both) for a wrong password, an unknown name or a
    disabled account. A success forgets the name's failures, not the address's (one account
    of its own must not let a client guess on at other names)."""
    name = body.username.strip().lower()
    wait = address_limiter.retry_after(address)
    if wait is not None:
        raise _refuse(wait, "address", " from this address")
    wait = limiter.retry_after(name)
    if wait is not None:
        raise _refuse(wait, "name", "")
    user = await asyncio.to_thread(users.authenticate, name, body.password)
    if user is None:
        limiter.failure(name)
        address_limiter.failure(address)
        known = users.get(name) is not None
        log.warning("login failed", extra={"user": name if known else None, "known_user": known})
        raise ApiError(401, "invalid_credentials", "wrong user name or password")
    limiter.success(name)
    return user


@router.post("/login", response_model=LoginResponse, responses=errors(401, 429))
async def login(
    body: LoginRequest,
    bridge: BridgeDep,
    users: UsersDep,
    limiter: LimiterDep,
    address_limiter: AddressLimiterDep,
    address: ClientAddress,
    settings: SettingsDep,
) -> LoginResponse:
    """Exchange name and password for a bearer token (valid ``token_ttl_s``).

    After 5 failed attempts for a name within 5 minutes, that name gets 429 for 5 minutes
    (``Retry-After`` header); after 20 failed attempts from one client address (any names)
    within 5 minutes, that address gets 429 for 5 minutes."""
    user = await check_login(body, users, limiter, address_limiter, address)
    token_ttl_s = settings.token_ttl_s
    token = users.issue_token(user.name, token_ttl_s)
    expires_at = users.token_expires_at(token) or users.now() + token_ttl_s
    log.info("login", extra={"user": user.name, "role": user.role})
    return LoginResponse(token=token, expires_at=expires_at, user=user_out(bridge, user))


@router.post("/logout", response_model=OkResponse, responses=errors(401, 403))
async def logout(session: CurrentSession, users: UsersDep) -> OkResponse:
    """Revoke this token (the agent's ACD status is not changed: set it first)."""
    users.revoke_token(session.token)
    log.info("logout", extra={"user": session.user.name})
    return OkResponse()


@router.post(
    "/session", response_model=SessionResponse, responses=errors(401, 429), tags=["session"]
)
async def session_login(
    body: LoginRequest,
    request: Request,
    response: Response,
    bridge: BridgeDep,
    users: UsersDep,
    limiter: LimiterDep,
    address_limiter: AddressLimiterDep,
    address: ClientAddress,
    settings: SettingsDep,
) -> SessionResponse:
    """The portal's login: as ``POST /login`` (same checks and rate limit), but the token is
    set as the cookie ``lisa_session`` (HttpOnly, SameSite=Strict, Secure over TLS) with the
    CSRF cookie ``lisa_csrf`` (readable by the page; also in the answer as ``csrf``)."""
    user = await check_login(body, users, limiter, address_limiter, address)
    token_ttl_s = settings.token_ttl_s
    token = users.issue_token(user.name, token_ttl_s)
    expires_at = users.token_expires_at(token) or users.now() + token_ttl_s
    csrf = secrets.token_urlsafe(32)
    secure = is_tls(request)
    max_age = max(1, int(token_ttl_s))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure, samesite="strict"
    )
    response.headers["Cache-Control"] = "no-store"
    log.info("session login", extra={"user": user.name, "role": user.role})
    return SessionResponse(user=user_out(bridge, user), expires_at=expires_at, csrf=csrf)


@router.delete("/session", response_model=OkResponse, responses=errors(401, 403), tags=["session"])
async def session_logout(
    session: CurrentSession, request: Request, response: Response, users: UsersDep
) -> OkResponse:
    """Revoke the session's token and clear both cookies (with the cookie: needs the
    ``X-CSRF-Token`` header)."""
    users.revoke_token(session.token)
    secure = is_tls(request)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")
    log.info("session logout", extra={"user": session.user.name})
    return OkResponse()


@router.get(
    "/me",
    response_model=MeResponse,
    response_model_exclude_unset=True,
    responses=errors(401),
)
async def me(user: CurrentUser, bridge: BridgeDep) -> MeResponse:
    """The logged-in user and, for agents, their current ACD entry."""
    entry = bridge.agent_view(user.name)
    return MeResponse(
        user=user_out(bridge, user), agent=AgentView.model_validate(entry) if entry else None
    )
