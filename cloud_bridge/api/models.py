"""The request and answer bodies of the agents' API (they are the OpenAPI schema's components)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud_bridge.users import MAX_DISPLAY_NAME, MAX_PASSWORD, MIN_PASSWORD, NAME_RE

Role = Literal["agent", "supervisor", "technician", "admin"]  # cloud_bridge.ports.ROLES
DISPLAY_NAME_RE = r"^[^\x00-\x1f]*$"  # printable: no control characters


class _Request(BaseModel):
    """Request bodies: a field the API does not know is refused (422 ``NAME: unknown field``),
    not silently dropped (a typo would otherwise go unnoticed)."""

    model_config = ConfigDict(extra="forbid")


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


class UnknownBoothView(_View):
    id: str = Field(description="The booth id of the topic (at most 64 characters, then `…`).")
    count: int | None = Field(None, description="Messages refused from it.")
    first_seen: float | None = Field(None, description="Epoch seconds.")
    last_seen: float | None = Field(None, description="Epoch seconds.")
    topic: str | None = Field(None, description="Topic leaf of its last message, e.g. `event`.")


class StatusResponse(_View):
    ts: float
    agents: list[AgentView] = Field(default_factory=list)
    queues: list[QueueView] = Field(default_factory=list)
    calls: list[CallView] = Field(default_factory=list)
    booths: list[BoothView] = Field(default_factory=list)
    unknown_booths: list[UnknownBoothView] = Field(
        default_factory=list,
        description="Booths whose messages were refused because the tenant config does not "
        "name them (the last 50, newest first): no call, no booth entry.",
    )


class AuditEntry(_View):
    ts: float
    user: str
    role: str
    booth: str
    cmd: str
    args: Any = None
    outcome: str = Field(description="e.g. `denied: …`, `sent ID`, `ok ID`, `timeout ID`.")


class LoginRequest(_Request):
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


class AgentStatusRequest(_Request):
    status: Literal["ready", "not_ready", "logged_out"]
    reason: str | None = Field(None, max_length=64, description="For not_ready (default `break`).")


class CallActionResponse(BaseModel):
    call: CallView | None = Field(description="The call after the action; null once it ended.")
    agent: AgentView | None = Field(description="The acting agent's entry.")


class TransferRequest(_Request):
    # at least one target, also in the schema (so generated clients and fuzzers know)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"queue": {"type": "string"}}, "required": ["queue"]},
                {"properties": {"clerk": {"type": "string"}}, "required": ["clerk"]},
            ]
        },
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


class BoothCommandRequest(_Request):
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


# --------------------------------------------------------------------------- portal session
class SessionResponse(BaseModel):
    user: UserOut
    expires_at: float = Field(description="Epoch seconds; the session cookie expires then.")
    csrf: str = Field(
        description="The `lisa_csrf` cookie's value: send it as `X-CSRF-Token` on every "
        "request other than GET/HEAD/OPTIONS."
    )


# ------------------------------------------------------------------------------------ users
class UserEntry(BaseModel):
    name: str
    role: str
    display_name: str
    disabled: bool
    is_agent: bool = Field(description="The account is an agent of the ACD (in the config).")


class UserCreate(_Request):
    name: str = Field(pattern=NAME_RE.pattern, description="Lowercase letters, digits, `-`.")
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    display_name: str = Field("", max_length=MAX_DISPLAY_NAME, pattern=DISPLAY_NAME_RE)


class UserPatch(_Request):
    role: Role | None = None
    disabled: bool | None = Field(
        None, strict=True, description="true revokes all the user's sessions."
    )
    display_name: str | None = Field(None, max_length=MAX_DISPLAY_NAME, pattern=DISPLAY_NAME_RE)
    password: str | None = Field(
        None,
        min_length=MIN_PASSWORD,
        max_length=MAX_PASSWORD,
        description="A new password revokes all the user's sessions.",
    )


class UserSettingsBody(_Request):
    auto_accept: bool = Field(
        strict=True, description="Take offered calls without a click (the portal)."
    )


# ------------------------------------------------------------------------ figures, reports
class WallboardAgents(BaseModel):
    ready: int = 0
    busy: int = 0
    wrap_up: int = 0
    not_ready: int = 0
    offered: int = 0


class WallboardResponse(BaseModel):
    ts: float = Field(description="When the figures were made (epoch seconds).")
    day: str = Field(description="Today in the tenant's time zone, YYYY-MM-DD.")
    tz: str
    sl_threshold_s: float
    service_level: float | None = Field(
        description="Today's share (0…1) answered within the threshold; null before a call."
    )
    asa_s: float | None = Field(description="Today's average speed of answer.")
    offered_today: int
    answered_today: int
    abandoned_today: int
    waiting_now: int = Field(description="Calls waiting in every queue now.")
    longest_wait_s: float = Field(description="The longest current wait (0 when none waits).")
    agents: WallboardAgents = Field(description="Agents per status now (logged out left out).")


class ReportResponse(_View):
    """The JSON of `lisa bridge report` (docs/kpi.md): metrics dicts per dimension."""

    meta: dict[str, Any]
    total: dict[str, Any]
    by_queue: dict[str, dict[str, Any]]
    by_booth: dict[str, dict[str, Any]]
    by_agent: dict[str, dict[str, Any]]
    by_day: dict[str, dict[str, Any]]
    sl_threshold_s: float
    tz: str
    start: float | None = None
    end: float | None = None


class FaultEntry(_View):
    ts: str = Field(description="The booth's time of the event (RFC 3339).")
    seq: int
    type: str = Field(
        description="health|selftest|error|protocol_error; seq_jump: the bridge noticed a jump "
        "in the booth's event numbering (`detail` says from where to where)."
    )
    device: str | None = Field(None, description="health, selftest: the device slot.")
    status: str | None = Field(
        None, description="health: ok|degraded|unavailable; selftest: fail|error|not-present."
    )
    where: str | None = Field(None, description="error: where; protocol_error: the topic.")
    detail: str | None = None
