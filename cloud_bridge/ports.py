"""The bridge service as its front ends (HTTP/WebSocket API, CLI) see it.

:class:`cloud_bridge.service.Bridge` implements :class:`BridgeFacade`. The API module
(:mod:`cloud_bridge.api`) only talks to this protocol, so the same API runs in the bridge
process, in tests and in the demo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from cloud_bridge.acd.model import AgentSpec, Decision, Event, LogEntry, QueueSpec
from cloud_bridge.media import MediaMatcher

ROLES = ("agent", "supervisor", "technician", "admin")


class CommandDenied(Exception):
    """The user may not send this command to this booth (not in a call with it, wrong role)."""


class Subscription(Protocol):
    """Live bridge events for one client; iterate, then ``close()``.

    Each item is a JSON-ready dict with a ``type``:
    ``snapshot`` (first item: the whole :meth:`BridgeFacade.status`), ``agent`` (an agent's
    status changed: agent, status, reason, call), ``offer`` (call, agent, queue, booth,
    ring_timeout_s, consult_for), ``offer_withdrawn`` (call, agent, reason), ``call`` (a call
    changed: the call's view dict), ``call_ended`` (call, reason), ``consult`` (call, agent,
    consultant, state connected|ended), ``booth`` (booth view dict: state/health changed),
    ``command_result`` (id, booth, ok, error, result), ``booth_event`` (booth, event: the
    type of a booth event).
    """

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class BridgeFacade(Protocol):
    queues: dict[str, QueueSpec]
    agents: dict[str, AgentSpec]
    #: who may have media with which booth, and the signalling relay (cloud_bridge.media)
    media: MediaMatcher

    async def dispatch(self, event: Event) -> list[Decision]:
        """Hand one ACD event to the engine (persisted, then acted on). Raises
        :class:`cloud_bridge.acd.model.EngineError` when refused (nothing changed)."""
        ...

    def status(self) -> dict[str, Any]:
        """``{"ts", "agents": [...], "queues": [...], "calls": [...], "booths": [...],
        "unknown_booths": [...]}``.

        agent: id, display_name, status, reason, since, in_status_s, call, pending, queues
        {id: level}, calls_taken;
        queue: id, name, open, waiting, ringing, connected, logged_in, ready, oldest_wait_s;
        call: id, booth, session, queue, status, agent, priority, entered, wait_s, position,
        clerk, consult (None or {agent, consultant, status});
        booth: id, queue, configured, online, state, detail, in_service, health {...}, since
        (RFC 3339), emergency, last_seen, seq_jumps, last_seq_jump (None or {ts, from, to,
        gap}), call;
        unknown_booths (the last 50 booth ids refused as not in the tenant config, newest
        first): id, count, first_seen, last_seen (epoch s), topic (leaf of the last message)."""
        ...

    # narrow reads: one part of status() without building the rest (the API's routes use them)
    def agent_view(self, agent: str) -> dict[str, Any] | None:
        """The agent's entry of :meth:`status` ``agents``; None for an unknown agent."""
        ...

    def agents_view(self) -> list[dict[str, Any]]:
        """:meth:`status` ``agents``."""
        ...

    def call_view(self, call: str) -> dict[str, Any] | None:
        """The call's entry of :meth:`status` ``calls``; None once it ended (or unknown)."""
        ...

    def queues_view(self) -> list[dict[str, Any]]:
        """:meth:`status` ``queues``."""
        ...

    def subscribe(self) -> Subscription: ...

    async def booth_command(
        self,
        user: str,
        role: str,
        booth: str,
        cmd: str,
        args: dict[str, Any],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Send a command to a booth and wait for its result ``{id, ok, error, result}``.

        Agents only for a booth they are in a call with; supervisors, technicians and admins
        for every booth. Every attempt (also a denied one) is written to the audit log.
        Raises :class:`CommandDenied`, ``KeyError`` (unknown booth), ``ValueError`` (invalid
        command or arguments, message names the field) or ``TimeoutError``."""
        ...

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        """The newest audit lines first (of one booth, or all): ts, user, role, booth, cmd,
        args, outcome."""
        ...

    def now(self) -> float:
        """The bridge's clock (epoch seconds): the time of its log lines."""
        ...

    def log_entries(
        self, start: float | None = None, end: float | None = None
    ) -> Iterator[LogEntry]:
        """The call log's lines with ``start <= ts < end`` in log order (thread-safe: the API
        reads reports in a worker thread)."""
        ...

    def booth_faults(self, booth: str, limit: int = 50) -> list[dict[str, Any]]:
        """The booth's recent faults, newest first: ``ts`` (the booth's RFC 3339 time),
        ``seq``, ``type`` (health|selftest|error|protocol_error), ``device``, ``status``,
        ``where``, ``detail`` (what applies). ``KeyError`` for an unknown booth."""
        ...
