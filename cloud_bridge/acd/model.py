"""The ACD's vocabulary: specs (from the tenant config), events in, decisions out, entities.

The engine (:mod:`cloud_bridge.acd.engine`) is pure: ``Engine.handle(event) -> list[Decision]``.
It never sleeps, polls, publishes or writes; it asks its host for timers with :class:`SetTimer`
/ :class:`CancelTimer` and is told with :class:`TimerFired`, all three naming the timer by a
:class:`TimerKey`. Time comes from an injected :class:`Clock` (epoch seconds, virtual in tests
and in the load simulator).

All times are epoch seconds (float, UTC). Ids are strings chosen by the host (the bridge uses
random hex ids, the load simulator counters), so runs with the same seed are identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NamedTuple, Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Epoch seconds (UTC), virtual in tests and simulations."""
        ...


class OpeningHoursLike(Protocol):
    """What the engine needs of a queue's opening hours (:mod:`cloud_bridge.hours`)."""

    text: str  # German, shown on the booth screen, e.g. "Mo–Fr 8–12 Uhr, Do 14–18 Uhr"

    def is_open(self, ts: float) -> bool: ...


class AgentStatus(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"


class CallStatus(StrEnum):
    WAITING = "waiting"  # in a queue (or waiting for a named clerk)
    RINGING = "ringing"  # offered to one agent (or several with ring-all)
    CONNECTED = "connected"  # talking with an agent
    ENDED = "ended"


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"  # with memory: the member offered least recently goes first
    FEWEST_CALLS = "fewest_calls"
    RING_ALL = "ring_all"


# Reasons (codes, not texts) used by the engine itself.
NO_ANSWER = "no_answer"
DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    id: str
    name: str  # display name, German ("Wohngeldstelle")
    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout_s: float = 20.0
    wrapup_s: float = 0.0
    max_wait_s: float | None = None  # then: overflow queue, or "unavailable" without one
    overflow: str | None = None
    no_answer_not_ready: bool = True  # an agent who lets an offer time out goes not ready
    decline_block_s: float = 30.0  # a declined call is not offered to that agent again for this
    clerk_wait_s: float | None = 120.0  # a call for a busy named clerk falls back to the queue
    transfer_priority: int = 10  # added to a call's priority when it is transferred here
    hours: OpeningHoursLike | None = None  # None: always open
    phone: str = ""  # shown on the booth when nobody can take the call
    default_aht_s: float = 300.0  # for the estimated wait until real calls are measured


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: str  # the login name of the account
    display_name: str  # shown to the citizen: a role title, not a private name
    queues: dict[str, int]  # queue id -> level (1 = first choice, 2 = when no level 1 is free)
    skills: frozenset[str] = frozenset()


# ----------------------------------------------------------------------------- timers
class TimerKind(StrEnum):
    """What a timer of the engine is for (the value is the prefix of its text form)."""

    RING = "ring"  # an offer rings out (id: the call)
    WRAP_UP = "wrap"  # an agent's wrap-up ends (id: the agent)
    MAX_WAIT = "maxwait"  # a call has waited its queue's longest (id: the call)
    CLERK_WAIT = "clerk"  # a call for a busy named clerk falls back to its queue (id: the call)
    UNBLOCK = "unblock"  # a declined call may be offered to the agent again (id: the call)


class TimerKey(NamedTuple):
    """Names one timer: at most one is set per key (a later ``SetTimer`` replaces it).

    Hosts keep their timers in a table keyed by it and hand it back in :class:`TimerFired`; it
    is never parsed. ``str(key)`` is its text form for logs (``ring:c1``, ``unblock:c1:a``)."""

    kind: TimerKind
    id: str  # the call; the agent for WRAP_UP
    agent: str = ""  # UNBLOCK: the agent the call may be offered to again

    def __str__(self) -> str:
        if self.agent:
            return f"{self.kind.value}:{self.id}:{self.agent}"
        return f"{self.kind.value}:{self.id}"


# ----------------------------------------------------------------------------- events (in)
@dataclass(frozen=True, slots=True)
class CallRequested:
    call: str
    booth: str
    session: str
    queue: str
    priority: int = 0
    skills: frozenset[str] = frozenset()  # the agent must have all of them


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The citizen left (booth ``call_ended``), or the booth went away."""

    call: str
    reason: str = "caller_left"


@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent: str


@dataclass(frozen=True, slots=True)
class AgentLogout:
    agent: str


@dataclass(frozen=True, slots=True)
class SetReady:
    agent: str


@dataclass(frozen=True, slots=True)
class SetNotReady:
    agent: str
    reason: str = "break"


@dataclass(frozen=True, slots=True)
class AgentConnectionLost:
    """The agent's client is gone (after the host's grace period)."""

    agent: str


@dataclass(frozen=True, slots=True)
class Accept:
    agent: str
    call: str


@dataclass(frozen=True, slots=True)
class Decline:
    agent: str
    call: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """The agent ends the call (or a supervisor for them, ``agent`` is then the call's agent)."""

    agent: str
    call: str
    reason: str = "agent_hangup"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind transfer (``consult=False``) or start of a consultation (``consult=True``).

    Target: ``queue``, or ``clerk`` (a named agent) with ``queue`` as the fallback."""

    agent: str
    call: str
    queue: str | None = None
    clerk: str | None = None
    consult: bool = False


@dataclass(frozen=True, slots=True)
class CompleteTransfer:
    """After a consultation: hand the citizen to the consulted agent."""

    agent: str
    call: str


@dataclass(frozen=True, slots=True)
class CancelTransfer:
    """Give up a consultation (or a consult still ringing): the citizen stays with the agent."""

    agent: str
    call: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    key: TimerKey


Event = (
    CallRequested
    | CallAbandoned
    | AgentLogin
    | AgentLogout
    | SetReady
    | SetNotReady
    | AgentConnectionLost
    | Accept
    | Decline
    | Hangup
    | Transfer
    | CompleteTransfer
    | CancelTransfer
    | TimerFired
)


# --------------------------------------------------------------------------- decisions (out)
@dataclass(frozen=True, slots=True)
class Offer:
    """Ring agent ``agent`` with ``call`` (``consult_for``: an agent asks to consult)."""

    call: str
    agent: str
    queue: str
    booth: str
    ring_timeout_s: float
    consult_for: str | None = None  # the agent asking, for consultations


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    call: str
    agent: str
    reason: str  # taken_by_other | no_answer | declined | abandoned | transferred | cancelled


@dataclass(frozen=True, slots=True)
class CallerQueued:
    """Tell the booth: waiting (play the waiting video), position and estimated wait."""

    call: str
    booth: str
    session: str
    queue: str
    position: int
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class CallerConnected:
    call: str
    booth: str
    session: str
    queue: str
    agent: str
    agent_display: str


@dataclass(frozen=True, slots=True)
class CallerTransferring:
    call: str
    booth: str
    session: str
    target: str  # display name: the clerk's role title or the queue's name ("" = requeued)


@dataclass(frozen=True, slots=True)
class CallerUnavailable:
    """Nobody can take the call: the booth shows the opening hours and a phone number."""

    call: str
    booth: str
    session: str
    queue: str
    reason: str  # closed | no_agents | max_wait
    opening_hours: str
    phone: str


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The call is over (tell the booth ``ended`` unless ``by_caller``)."""

    call: str
    booth: str
    session: str
    reason: str
    by_caller: bool


@dataclass(frozen=True, slots=True)
class ConsultConnected:
    """Two agents talk about a call (the portal links them)."""

    call: str
    agent: str  # the asking agent
    consultant: str


@dataclass(frozen=True, slots=True)
class ConsultEnded:
    call: str
    agent: str
    consultant: str | None
    reason: str  # completed | cancelled | abandoned


@dataclass(frozen=True, slots=True)
class AgentChanged:
    agent: str
    status: AgentStatus
    reason: str | None
    call: str | None


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: TimerKey
    at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


LogEvent = Literal[
    "ENTERQUEUE",  # data: booth, priority
    "OFFER",  # agent; data: ring_timeout_s
    "RINGNOANSWER",  # agent; data: ring_s
    "DECLINE",  # agent; data: ring_s
    "CONNECT",  # agent; data: wait_s (in this queue), ring_s
    "TRANSFER",  # agent; data: mode (blind|consult), target_queue, target_clerk, talk_s
    "COMPLETEAGENT",  # agent; data: wait_s, talk_s
    "COMPLETECALLER",  # agent; data: wait_s, talk_s
    "ABANDON",  # data: position, wait_s (caller left while waiting or ringing)
    "EXITWITHTIMEOUT",  # data: wait_s, overflow (queue id or None)
    "EXITEMPTY",  # data: wait_s, overflow (the last agent of the queue logged out)
    "UNAVAILABLE",  # data: reason (closed|no_agents|max_wait)
    "CLERKFALLBACK",  # data: clerk, wait_s (the named clerk did not become free in time)
    "AGENTSTATUS",  # agent; data: status, reason, previous, previous_s (time in previous)
]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the call log (in the style of Asterisk's queue_log)."""

    ts: float
    call: str  # "" for agent-only lines (AGENTSTATUS)
    queue: str  # "" when none
    agent: str  # "" when none
    booth: str  # "" when none
    event: LogEvent
    data: dict[str, Any] = field(default_factory=dict)


Decision = (
    Offer
    | OfferWithdrawn
    | CallerQueued
    | CallerConnected
    | CallerTransferring
    | CallerUnavailable
    | CallFinished
    | ConsultConnected
    | ConsultEnded
    | AgentChanged
    | SetTimer
    | CancelTimer
    | LogEntry
)


class EngineError(Exception):
    """A request the engine refuses (unknown agent, no such offer, …); nothing was changed.

    ``code`` is stable for APIs: unknown_agent, unknown_call, unknown_queue, not_offered,
    not_your_call, bad_state, bad_request, no_consult, duplicate_call, clerk_unavailable,
    queue_unavailable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
