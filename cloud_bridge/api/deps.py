"""What the routes share, as FastAPI dependencies: the bridge, the accounts, the settings (all
on ``app.state``, set by :func:`cloud_bridge.api.create_app`), the logged-in user, and the
checks and the ACD hand-over every route does the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud_bridge.acd.model import EngineError, Event
from cloud_bridge.api.errors import ApiError, engine_error, unauthenticated
from cloud_bridge.api.limiter import LoginLimiter
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User, UserStore

PREFIX = "/api/v1"
SUPERVISORS = ("supervisor", "admin")  # may hang up any call
AUDIT_READERS = ("supervisor", "technician", "admin")


@dataclass(frozen=True)
class ApiSettings:
    """The options of :func:`cloud_bridge.api.create_app` the routes read."""

    token_ttl_s: float = 43200
    command_timeout_s: float = 10.0
    ws_recheck_s: float = 30.0


# ------------------------------------------------------------------------- shared state
# HTTPConnection: the same dependencies serve HTTP routes and the WebSocket
def get_bridge(conn: HTTPConnection) -> BridgeFacade:
    bridge: BridgeFacade = conn.app.state.bridge
    return bridge


def get_users(conn: HTTPConnection) -> UserStore:
    users: UserStore = conn.app.state.users
    return users


def get_limiter(conn: HTTPConnection) -> LoginLimiter:
    limiter: LoginLimiter = conn.app.state.limiter
    return limiter


def get_settings(conn: HTTPConnection) -> ApiSettings:
    settings: ApiSettings = conn.app.state.settings
    return settings


BridgeDep = Annotated[BridgeFacade, Depends(get_bridge)]
UsersDep = Annotated[UserStore, Depends(get_users)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


# ---------------------------------------------------------------------------------- auth
_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/login.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_user(users: UsersDep, credentials: Credentials) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthenticated()
    user = users.user_for_token(credentials.credentials)
    if user is None:
        raise unauthenticated("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


# -------------------------------------------------------------------- checks and actions
# plain functions, called inside the routes (not dependencies): a request with an invalid
# body or query is answered 422 before any of these checks runs
def require_agent(bridge: BridgeFacade, user: User) -> str:
    """The user's agent id; 403 ``not_an_agent`` when the account is no agent of the ACD."""
    if user.name not in bridge.agents:
        raise ApiError(403, "not_an_agent", f"{user.name} is not an agent of the ACD")
    return user.name


async def dispatch(bridge: BridgeFacade, event: Event) -> None:
    """Hand ``event`` to the ACD; its refusal becomes 404 (``unknown_…``) or 409."""
    try:
        await bridge.dispatch(event)
    except EngineError as exc:
        raise engine_error(exc) from None
