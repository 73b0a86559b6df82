"""What the routes share, as FastAPI dependencies: the bridge, the accounts, the settings (all
on ``app.state``, set by :func:`cloud_bridge.api.create_app`), the logged-in user (bearer token
or the portal's session cookie, with its CSRF check), and the checks and the ACD hand-over every
route does the same way."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends
from fastapi.requests import HTTPConnection, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud_bridge.acd.model import EngineError, Event
from cloud_bridge.api.errors import ApiError, engine_error, unauthenticated
from cloud_bridge.api.limiter import LoginLimiter
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User, UserStore

PREFIX = "/api/v1"
SUPERVISORS = ("supervisor", "admin")  # may hang up any call
AUDIT_READERS = ("supervisor", "technician", "admin")
FIGURE_READERS = ("supervisor", "admin")  # wallboard, reports
FAULT_READERS = AUDIT_READERS
ADMINS = ("admin",)

SESSION_COOKIE = "lisa_session"  # the portal's session: an API token of the user store
CSRF_COOKIE = "lisa_csrf"  # double submit: the page sends it back as CSRF_HEADER
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/8"]`` → networks (ValueError for one that is none)."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in texts)


@dataclass(frozen=True)
class ApiSettings:
    """The options of :func:`cloud_bridge.api.create_app` the routes read."""

    token_ttl_s: float = 43200
    command_timeout_s: float = 10.0
    ws_recheck_s: float = 30.0
    timezone: str = "Europe/Berlin"  # the tenant's: the wallboard's day, the reports' days
    sl_threshold_s: float = 20.0
    report_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # the reverse proxies whose X-Forwarded-For is believed (none: the socket's peer counts)
    trusted_proxies: tuple[Network, ...] = ()
    # the PDF forms offered for signing (None: none)
    templates_dir: Path | None = None


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


def get_address_limiter(conn: HTTPConnection) -> LoginLimiter:
    limiter: LoginLimiter = conn.app.state.address_limiter
    return limiter


AddressLimiterDep = Annotated[LoginLimiter, Depends(get_address_limiter)]


# -------------------------------------------------------------------------- the client
def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def forwarded_client(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str:
    """The client's address: the socket's ``peer``; when the peer is a trusted proxy, the
    rightmost address of ``X-Forwarded-For`` that is no trusted proxy (each proxy appends the
    address it got the request from; entries further left are the client's own say)."""
    if peer is None:
        return "unknown"
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0] if hops else peer


def client_address(conn: HTTPConnection) -> str:
    """The calling client's address (:func:`forwarded_client` with the app's trusted
    proxies); the login limit per address counts by it."""
    settings = get_settings(conn)
    peer = conn.client.host if conn.client else None
    forwarded = ",".join(conn.headers.getlist("x-forwarded-for")) or None
    return forwarded_client(peer, forwarded, settings.trusted_proxies)


ClientAddress = Annotated[str, Depends(client_address)]


# ---------------------------------------------------------------------------------- auth
_bearer = HTTPBearer(
    auto_error=False,
    description="Token from POST /api/v1/login. The portal uses the `lisa_session` cookie "
    "from POST /api/v1/session instead (with the `X-CSRF-Token` header on changes).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Session:
    """Who calls, with which token, and whether it came as the session cookie."""

    user: User
    token: str
    cookie: bool


def is_tls(conn: HTTPConnection) -> bool:
    """The request came over TLS: directly, or ``X-Forwarded-Proto: https`` from the proxy."""
    if conn.url.scheme in ("https", "wss"):
        return True
    forwarded = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded in ("https", "wss")


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def same_origin(conn: HTTPConnection) -> bool:
    """The ``Origin`` header is this bridge's own origin (scheme, host and port of the request
    as the browser addressed it: ``Host`` and TLS as :func:`is_tls` sees it)."""
    origin, host = conn.headers.get("origin"), conn.headers.get("host")
    if not origin or not host:
        return False
    scheme = "https" if is_tls(conn) else "http"
    try:
        o, h = urlsplit(origin), urlsplit(f"//{host}")
        o_port, h_port = o.port, h.port
    except ValueError:
        return False
    return (
        o.scheme == scheme
        and o.hostname is not None
        and o.hostname == h.hostname
        and _port(o.scheme, o_port) == _port(scheme, h_port)
        and o.path in ("", "/")
    )


def _csrf_ok(request: Request) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(sent and expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def current_session(request: Request, users: UsersDep, credentials: Credentials) -> Session:
    """The bearer token when there is one, else the session cookie; a cookie request other
    than GET/HEAD/OPTIONS also needs ``X-CSRF-Token`` equal to the ``lisa_csrf`` cookie."""
    if credentials is not None:
        user = users.user_for_token(credentials.credentials)
        if user is None:
            raise unauthenticated("invalid or expired token")
        return Session(user, credentials.credentials, cookie=False)
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise unauthenticated()
    user = users.user_for_token(token)
    if user is None:
        raise unauthenticated("session expired or revoked")
    if request.method not in SAFE_METHODS and not _csrf_ok(request):
        raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header for the session")
    return Session(user, token, cookie=True)


CurrentSession = Annotated[Session, Depends(current_session)]


async def current_user(session: CurrentSession) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


# -------------------------------------------------------------------- checks and actions
# plain functions, called inside the routes (not dependencies): a request with an invalid
# body or query is answered 422 before any of these checks runs
def require_role(user: User, roles: tuple[str, ...], what: str) -> None:
    """403 ``forbidden`` unless the user's role is one of ``roles``."""
    if user.role not in roles:
        raise ApiError(403, "forbidden", f"role {user.role} may not {what}")


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
