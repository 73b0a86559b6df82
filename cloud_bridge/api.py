"""The bridge's HTTP + WebSocket API for agents, supervisors, technicians and admins.

``create_app(bridge, users)`` builds a FastAPI app on any :class:`~cloud_bridge.ports.BridgeFacade`
(the real :class:`cloud_bridge.service.Bridge` in the bridge process, in tests and in the demo).
Routes live under ``/api/v1``; the reference for clients (the portal, ``lisa agent``) is
``docs/agent-api.md`` and the app's own ``/openapi.json``.

Auth: ``POST /api/v1/login`` returns a bearer token (``Authorization: Bearer TOKEN``; the
WebSocket takes it as ``?token=``). Errors are always ``{"error": code, "detail": text}``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cloud_bridge.acd.model import (
    Accept,
    AgentLogin,
    AgentLogout,
    CancelTransfer,
    CompleteTransfer,
    Decline,
    EngineError,
    Event,
    Hangup,
    SetNotReady,
    SetReady,
    Transfer,
)
from cloud_bridge.ports import BridgeFacade, CommandDenied
from cloud_bridge.users import MAX_PASSWORD, User, UserStore

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("lisa.bridge.api")

PREFIX = "/api/v1"
SUPERVISORS = ("supervisor", "admin")  # may hang up any call
AUDIT_READERS = ("supervisor", "technician", "admin")
AUDIT_SCAN = 10_000  # audit lines searched when filtering by booth
WS_UNAUTHORIZED = 4401  # WebSocket close code: no/invalid/expired token
WS_GOING_AWAY = 1001


# ------------------------------------------------------------------------------------ errors
class ApiError(Exception):
    """Answered as ``{"error": code, "detail": detail}`` with ``status``."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


class ErrorBody(BaseModel):
    error: str = Field(description="Stable machine-readable code, e.g. `not_your_call`.")
    detail: str = Field(description="Human-readable explanation (English).")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    504: "timeout",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


def _engine_error(exc: EngineError) -> ApiError:
    status = 404 if exc.code.startswith("unknown_") else 409
    return ApiError(status, exc.code, str(exc))


def _unauthenticated(detail: str = "login required") -> ApiError:
    return ApiError(401, "unauthenticated", detail, {"WWW-Authenticate": "Bearer"})


# ------------------------------------------------------------------------------------ models
class _View(BaseModel):
    """Status views: the main fields are documented; the answer is the bridge's view as it is
    (fields it does not have are left out, fields it adds are passed through)."""

    model_config = ConfigDict(extra="allow")


class AgentView(_View):
    id: str
    display_name: str | None = None
    status: str | None = Field(None, description="logged_out|ready|not_ready|offered|busy|wrap_up")
    reason: str | None = Field(None, description="not_ready reason, e.g. `break`, `no_answer`.")
    since: float | None = Field(None, description="In this status since (epoch seconds).")
    in_status_s: float | None = None
    call: str | None = Field(None, description="Offered / connected / wrap-up call.")
    pending: str | None = Field(None, description="Status requested for after this call.")
    queues: dict[str, int] | None = Field(None, description="queue id -> level (1 = first)")
    calls_taken: int | None = None


class QueueView(_View):
    id: str
    name: str | None = None
    strategy: str | None = None
    open: bool | None = None
    waiting: int | None = None
    ringing: int | None = None
    connected: int | None = None
    logged_in: int | None = None
    ready: int | None = None
    oldest_wait_s: float | None = None
    aht_s: float | None = None


class ConsultView(_View):
    id: str | None = Field(None, description="The consult leg (a call of kind `consult`).")
    agent: str | None = Field(None, description="The asking agent.")
    consultant: str | None = None
    status: str | None = None
    queue: str | None = None
    clerk: str | None = None


class CallView(_View):
    id: str
    kind: str | None = Field(None, description="`call` (a citizen) or `consult` (a leg).")
    parent: str | None = Field(None, description="consult leg: the citizen's call.")
    booth: str | None = None
    session: str | None = None
    queue: str | None = None
    status: str | None = Field(None, description="waiting|ringing|connected|ended")
    agent: str | None = None
    ringing: list[str] | None = Field(None, description="Agents it is offered to.")
    priority: int | None = None
    created: float | None = None
    entered: float | None = None
    wait_s: float | None = None
    position: int | None = None
    clerk: str | None = None
    consult: ConsultView | None = None


class BoothView(_View):
    id: str
    queue: str | None = None
    online: bool | None = None
    state: str | None = None
    detail: str | None = None
    since: str | float | None = None
    in_service: bool | None = None
    health: dict[str, Any] | None = None
    emergency: bool | None = None
    call: str | None = None


class StatusResponse(_View):
    ts: float
    agents: list[AgentView] = Field(default_factory=list)
    queues: list[QueueView] = Field(default_factory=list)
    calls: list[CallView] = Field(default_factory=list)
    booths: list[BoothView] = Field(default_factory=list)


class AuditEntry(_View):
    ts: float
    user: str
    role: str
    booth: str
    cmd: str
    args: Any = None
    outcome: str = Field(description="e.g. `denied: …`, `sent ID`, `ok ID`, `timeout ID`.")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=63)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class UserOut(BaseModel):
    name: str
    role: str
    display_name: str
    is_agent: bool = Field(description="The account is an agent of the ACD (in the config).")


class LoginResponse(BaseModel):
    token: str = Field(description="Bearer token for `Authorization: Bearer …` and `?token=`.")
    expires_at: float = Field(description="Epoch seconds.")
    user: UserOut


class OkResponse(BaseModel):
    ok: bool = True


class MeResponse(BaseModel):
    user: UserOut
    agent: AgentView | None = Field(description="The ACD entry of this agent; null otherwise.")


class AgentStatusRequest(BaseModel):
    status: Literal["ready", "not_ready", "logged_out"]
    reason: str | None = Field(None, max_length=64, description="For not_ready (default `break`).")


class CallActionResponse(BaseModel):
    call: CallView | None = Field(description="The call after the action; null once it ended.")
    agent: AgentView | None = Field(description="The acting agent's entry.")


class TransferRequest(BaseModel):
    # at least one target, also in the schema (so generated clients and fuzzers know)
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"queue": {"type": "string"}}, "required": ["queue"]},
                {"properties": {"clerk": {"type": "string"}}, "required": ["clerk"]},
            ]
        }
    )

    queue: str | None = Field(
        None, min_length=1, max_length=63, description="Target queue (or clerk fallback)."
    )
    clerk: str | None = Field(
        None, min_length=1, max_length=63, description="Target agent (a named clerk)."
    )
    mode: Literal["blind", "consult"] = "blind"

    @model_validator(mode="after")
    def _target(self) -> TransferRequest:
        if not self.queue and not self.clerk:
            raise ValueError("queue or clerk: give a transfer target")
        return self


class BoothCommandRequest(BaseModel):
    cmd: str = Field(
        min_length=1,
        max_length=64,
        description="e.g. `door.open`, `light.set` (lisa_messages.COMMAND_ARGS).",
    )
    args: dict[str, Any] = Field(default_factory=dict)


class CommandResult(_View):
    id: str | None = None
    ok: bool
    error: str | None = None
    result: Any = None


class HealthResponse(BaseModel):
    ok: bool = True


# ----------------------------------------------------------------------------- rate limiting
class LoginLimiter:
    """After ``max_failures`` failed logins for a name within ``window_s``, refuse logins for
    that name for ``block_s`` (in memory: a bridge restart forgets)."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        block_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_names: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.clock = clock
        self.max_names = max_names
        self._failures: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def retry_after(self, name: str) -> float | None:
        """Seconds until ``name`` may try again, None when not blocked."""
        until = self._blocked.get(name)
        if until is None:
            return None
        left = until - self.clock()
        if left <= 0:
            del self._blocked[name]
            return None
        return left

    def failure(self, name: str) -> None:
        now = self.clock()
        times = self._failures.get(name)
        if times is None:
            if len(self._failures) >= self.max_names:
                self._prune(now)
            times = self._failures[name] = deque()
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.max_failures:
            self._blocked[name] = now + self.block_s
            del self._failures[name]

    def success(self, name: str) -> None:
        self._failures.pop(name, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
            del self._failures[key]
        while len(self._failures) >= self.max_names:  # still full: forget the oldest entries
            del self._failures[next(iter(self._failures))]
        for key in [k for k, until in self._blocked.items() if until <= now]:
            del self._blocked[key]


# ------------------------------------------------------------------------------ log redaction
_TOKEN_RE = re.compile(r"((?:^|[?&])token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_RE.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Hide ``token=…`` query values (the WebSocket's) in uvicorn's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) and "token=" in a else a for a in record.args
            )
        return True


def _install_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


# ---------------------------------------------------------------------------- WebSocket hooks
class _Connections:
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


# ------------------------------------------------------------------------------------- auth
_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/login.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _current_user(request: Request, credentials: Credentials) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthenticated()
    users: UserStore = request.app.state.users
    user = users.user_for_token(credentials.credentials)
    if user is None:
        raise _unauthenticated("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


# ---------------------------------------------------------------------------------- the app
def create_app(
    bridge: BridgeFacade,
    users: UserStore,
    *,
    token_ttl_s: float = 43200,
    title: str = "LISA bridge",
    command_timeout_s: float = 10.0,
    ws_recheck_s: float = 30.0,
    limiter: LoginLimiter | None = None,
) -> FastAPI:
    """The API on ``bridge`` with accounts from ``users``.

    ``command_timeout_s``: how long a booth command waits for the booth's result (504 after);
    ``ws_recheck_s``: how often an open WebSocket re-checks its token (closed with 4401 once
    it expired, was revoked or the account disabled)."""
    _install_redaction()
    limiter = limiter or LoginLimiter()
    connections = _Connections(bridge)
    app = FastAPI(
        title=title,
        version="1",
        description="Agents' and supervisors' API of the LISA bridge. See docs/agent-api.md.",
        responses=_errors(400, 422),  # 400: the body is not JSON
    )
    app.state.bridge = bridge
    app.state.users = users
    app.state.limiter = limiter
    app.state.connections = connections

    # ------------------------------------------------------------------ error handlers
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return JSONResponse(
            {"error": "internal", "detail": "internal error (see the bridge log)"},
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            where = ".".join(loc) or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "invalid", "detail": "; ".join(problems)}, status_code=422)

    # ---------------------------------------------------------------------- helpers
    def user_out(user: User) -> UserOut:
        return UserOut(
            name=user.name,
            role=user.role,
            display_name=user.display_name,
            is_agent=user.name in bridge.agents,
        )

    def agent_entry(name: str) -> dict[str, Any] | None:
        for entry in bridge.status().get("agents", []):
            if entry.get("id") == name:
                return dict(entry)
        return None

    def call_entry(call: str) -> dict[str, Any] | None:
        for entry in bridge.status().get("calls", []):
            if entry.get("id") == call:
                return dict(entry)
        return None

    def require_agent(user: User) -> str:
        if user.name not in bridge.agents:
            raise ApiError(403, "not_an_agent", f"{user.name} is not an agent of the ACD")
        return user.name

    async def dispatch(event: Event) -> None:
        try:
            await bridge.dispatch(event)
        except EngineError as exc:
            raise _engine_error(exc) from None

    async def call_action(user: User, call: str, event: Event) -> CallActionResponse:
        await dispatch(event)
        view = call_entry(call)
        entry = agent_entry(user.name)
        return CallActionResponse(
            call=CallView.model_validate(view) if view else None,
            agent=AgentView.model_validate(entry) if entry else None,
        )

    # ------------------------------------------------------------------------- routes
    @app.get("/healthz", response_model=HealthResponse, tags=["meta"])
    async def healthz() -> HealthResponse:
        """Liveness (no auth)."""
        return HealthResponse()

    @app.post(
        f"{PREFIX}/login",
        response_model=LoginResponse,
        responses=_errors(401, 429),
        tags=["auth"],
    )
    async def login(body: LoginRequest) -> LoginResponse:
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
            log.warning(
                "login failed", extra={"user": name if known else None, "known_user": known}
            )
            raise ApiError(401, "invalid_credentials", "wrong user name or password")
        limiter.success(name)
        token = users.issue_token(user.name, token_ttl_s)
        expires_at = users.token_expires_at(token) or users.now() + token_ttl_s
        log.info("login", extra={"user": user.name, "role": user.role})
        return LoginResponse(token=token, expires_at=expires_at, user=user_out(user))

    @app.post(f"{PREFIX}/logout", response_model=OkResponse, responses=_errors(401), tags=["auth"])
    async def logout(
        user: CurrentUser,
        credentials: Credentials,
    ) -> OkResponse:
        """Revoke this token (the agent's ACD status is not changed: set it first)."""
        if credentials is not None:
            users.revoke_token(credentials.credentials)
        log.info("logout", extra={"user": user.name})
        return OkResponse()

    @app.get(
        f"{PREFIX}/me",
        response_model=MeResponse,
        response_model_exclude_unset=True,
        responses=_errors(401),
        tags=["auth"],
    )
    async def me(user: CurrentUser) -> MeResponse:
        """The logged-in user and, for agents, their current ACD entry."""
        entry = agent_entry(user.name)
        return MeResponse(
            user=user_out(user), agent=AgentView.model_validate(entry) if entry else None
        )

    @app.post(
        f"{PREFIX}/agent/status",
        response_model=AgentView,
        response_model_exclude_unset=True,
        responses=_errors(401, 403, 404, 409),
        tags=["agent"],
    )
    async def agent_status(body: AgentStatusRequest, user: CurrentUser) -> AgentView:
        """Set the logged-in agent's status: ``ready`` (logs in first when logged out),
        ``not_ready`` with a reason (default ``break``; logs in first), ``logged_out``."""
        agent = require_agent(user)
        entry = agent_entry(agent) or {"status": "logged_out"}
        current = entry.get("status")
        if body.status == "logged_out":
            if current != "logged_out":
                await dispatch(AgentLogout(agent))
        else:
            if current == "logged_out":
                await dispatch(AgentLogin(agent))
                current = (agent_entry(agent) or {}).get("status")
            if body.status == "ready":
                if current != "ready":
                    await dispatch(SetReady(agent))
            else:
                reason = body.reason or "break"
                if current != "not_ready" or (agent_entry(agent) or {}).get("reason") != reason:
                    await dispatch(SetNotReady(agent, reason))
        log.info("agent status", extra={"agent": agent, "status": body.status})
        return AgentView.model_validate(agent_entry(agent) or {"id": agent})

    call_errors = _errors(401, 403, 404, 409)

    def call_route(action: str) -> Callable[[F], F]:
        """``POST /calls/{call}/<action>``: the routes an agent uses on a call."""
        return app.post(
            f"{PREFIX}/calls/{{call}}/{action}",
            response_model=CallActionResponse,
            response_model_exclude_unset=True,
            responses=call_errors,
            tags=["calls"],
        )

    @call_route("accept")
    async def accept(call: str, user: CurrentUser) -> CallActionResponse:
        """Take the call offered to you."""
        return await call_action(user, call, Accept(require_agent(user), call))

    @call_route("decline")
    async def decline(call: str, user: CurrentUser) -> CallActionResponse:
        """Refuse the call offered to you (it is offered to someone else)."""
        return await call_action(user, call, Decline(require_agent(user), call))

    @call_route("hangup")
    async def hangup(call: str, user: CurrentUser) -> CallActionResponse:
        """End your call. Supervisors and admins may end any connected call
        (reason ``supervisor_hangup``)."""
        is_agent = user.name in bridge.agents
        if user.role in SUPERVISORS:
            view = call_entry(call)
            if view is not None and view.get("agent") and view.get("agent") != user.name:
                event = Hangup(str(view["agent"]), call, reason="supervisor_hangup")
                log.info("supervisor hangup", extra={"user": user.name, "call": call})
                return await call_action(user, call, event)
            if not is_agent:
                if view is None:
                    raise ApiError(404, "unknown_call", f"no call {call}")
                raise ApiError(409, "bad_state", f"call {call} is not connected to an agent")
        return await call_action(user, call, Hangup(require_agent(user), call))

    @call_route("transfer")
    async def transfer(call: str, body: TransferRequest, user: CurrentUser) -> CallActionResponse:
        """Blind transfer, or start a consultation (``mode: consult``), to a queue or a named
        clerk (``clerk``, with ``queue`` as the fallback when the clerk stays busy)."""
        event = Transfer(
            require_agent(user),
            call,
            queue=body.queue or None,
            clerk=body.clerk or None,
            consult=body.mode == "consult",
        )
        return await call_action(user, call, event)

    @call_route("transfer/complete")
    async def complete_transfer(call: str, user: CurrentUser) -> CallActionResponse:
        """After a consultation: hand the citizen to the consulted agent."""
        return await call_action(user, call, CompleteTransfer(require_agent(user), call))

    @call_route("transfer/cancel")
    async def cancel_transfer(call: str, user: CurrentUser) -> CallActionResponse:
        """Give up a consultation: the citizen stays with you."""
        return await call_action(user, call, CancelTransfer(require_agent(user), call))

    @app.post(
        f"{PREFIX}/booths/{{booth}}/commands",
        response_model=CommandResult,
        response_model_exclude_unset=True,
        responses=_errors(401, 403, 404, 504),
        tags=["booths"],
    )
    async def booth_command(
        booth: str, body: BoothCommandRequest, user: CurrentUser
    ) -> CommandResult:
        """Send a command to a booth and wait for its result. Agents only for a booth they are
        in a call with. Every attempt is audited. ``ok: false`` = the booth refused/failed."""
        try:
            result = await bridge.booth_command(
                user.name, user.role, booth, body.cmd, body.args, timeout=command_timeout_s
            )
        except CommandDenied as exc:
            raise ApiError(403, "command_denied", str(exc) or "command denied") from None
        except KeyError:
            raise ApiError(404, "unknown_booth", f"no booth {booth}") from None
        except ValueError as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        except TimeoutError:
            raise ApiError(
                504, "timeout", f"booth {booth} did not answer within {command_timeout_s:g} s"
            ) from None
        return CommandResult.model_validate(result)

    @app.get(
        f"{PREFIX}/status",
        response_model=StatusResponse,
        response_model_exclude_unset=True,
        responses=_errors(401),
        tags=["status"],
    )
    async def status(user: CurrentUser) -> StatusResponse:
        """Everything: agents, queues, calls, booths."""
        return StatusResponse.model_validate(bridge.status())

    @app.get(
        f"{PREFIX}/queues",
        response_model=list[QueueView],
        response_model_exclude_unset=True,
        responses=_errors(401),
        tags=["status"],
    )
    async def queues(user: CurrentUser) -> list[QueueView]:
        return [QueueView.model_validate(q) for q in bridge.status().get("queues", [])]

    @app.get(
        f"{PREFIX}/agents",
        response_model=list[AgentView],
        response_model_exclude_unset=True,
        responses=_errors(401),
        tags=["status"],
    )
    async def agents(user: CurrentUser) -> list[AgentView]:
        return [AgentView.model_validate(a) for a in bridge.status().get("agents", [])]

    @app.get(
        f"{PREFIX}/audit",
        response_model=list[AuditEntry],
        response_model_exclude_unset=True,
        responses=_errors(401, 403),
        tags=["status"],
    )
    async def audit(
        user: CurrentUser,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        booth: Annotated[str | None, Query(max_length=63)] = None,
    ) -> list[AuditEntry]:
        """Booth commands (also denied ones), newest first (supervisor, technician, admin)."""
        if user.role not in AUDIT_READERS:
            raise ApiError(403, "forbidden", f"role {user.role} may not read the audit log")
        rows = bridge.audit(limit, booth)
        return [AuditEntry.model_validate(r) for r in rows]

    # ---------------------------------------------------------------------- WebSocket
    @app.websocket(f"{PREFIX}/events")
    async def events(ws: WebSocket) -> None:
        """Live events (see docs/agent-api.md); closed with 4401 without a valid token."""
        token = ws.query_params.get("token", "")
        if not token:
            header = ws.headers.get("authorization", "")
            if header.lower().startswith("bearer "):
                token = header[7:].strip()
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
                if isinstance(frame, dict) and frame.get("type") == "ping":
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
                            "detail": 'clients send only {"type": "ping"}',
                        }
                    )

        async def watchdog() -> None:
            while True:
                await asyncio.sleep(ws_recheck_s)
                if users.user_for_token(token) is None:
                    await close(WS_UNAUTHORIZED, "token expired or revoked")
                    return

        async def close(code: int, reason: str) -> None:
            if ws.application_state == WebSocketState.CONNECTED:
                try:
                    await ws.close(code=code, reason=reason)
                except (RuntimeError, WebSocketDisconnect, OSError):
                    pass

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
            await close(1000, "bye")
            if agent is not None:
                await connections.closed(agent)
            log.info("events disconnected", extra={"user": user.name})

    return app
