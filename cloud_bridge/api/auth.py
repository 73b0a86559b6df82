"""``/login``, ``/logout``, ``/me``: tokens for accounts of the user store."""

from __future__ import annotations

import asyncio
import logging
import math

from fastapi import APIRouter

from cloud_bridge.api.deps import (
    PREFIX,
    BridgeDep,
    Credentials,
    CurrentUser,
    LimiterDep,
    SettingsDep,
    UsersDep,
)
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import (
    AgentView,
    LoginRequest,
    LoginResponse,
    MeResponse,
    OkResponse,
    UserOut,
)
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["auth"])


def user_out(bridge: BridgeFacade, user: User) -> UserOut:
    return UserOut(
        name=user.name,
        role=user.role,
        display_name=user.display_name,
        is_agent=user.name in bridge.agents,
    )


@router.post("/login", response_model=LoginResponse, responses=errors(401, 429))
async def login(
    body: LoginRequest,
    bridge: BridgeDep,
    users: UsersDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> LoginResponse:
    """Exchange name and password for a bearer token (valid ``token_ttl_s``).

    After 5 failed attempts for a name within 5 minutes, that name gets 429 for 5 minutes
    (``Retry-After`` header)."""
    name = body.username.strip().lower()
    wait = limiter.retry_after(name)
    if wait is not None:
        log.warning("login rate limited", extra={"retry_after_s": round(wait)})
        raise ApiError(
            429,
            "rate_limited",
            f"too many failed logins; try again in {math.ceil(wait)} s",
            {"Retry-After": str(math.ceil(wait))},
        )
    user = await asyncio.to_thread(users.authenticate, name, body.password)
    if user is None:
        limiter.failure(name)
        known = users.get(name) is not None
        log.warning("login failed", extra={"user": name if known else None, "known_user": known})
        raise ApiError(401, "invalid_credentials", "wrong user name or password")
    limiter.success(name)
    token_ttl_s = settings.token_ttl_s
    token = users.issue_token(user.name, token_ttl_s)
    expires_at = users.token_expires_at(token) or users.now() + token_ttl_s
    log.info("login", extra={"user": user.name, "role": user.role})
    return LoginResponse(token=token, expires_at=expires_at, user=user_out(bridge, user))


@router.post("/logout", response_model=OkResponse, responses=errors(401))
async def logout(user: CurrentUser, credentials: Credentials, users: UsersDep) -> OkResponse:
    """Revoke this token (the agent's ACD status is not changed: set it first)."""
    if credentials is not None:
        users.revoke_token(credentials.credentials)
    log.info("logout", extra={"user": user.name})
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
