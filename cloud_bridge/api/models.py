"""The request and answer bodies of the agents' API (they are the OpenAPI schema's components)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud_bridge.users import MAX_PASSWORD


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
