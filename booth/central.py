"""The booth's port to the central side (cloud bridge): requests out, events in.

Implementations are registered by name in the ``lisa.centrals`` entry-point group (``mqtt``: the
MQTT link to the cloud bridge; ``none``: stand-alone; the simulator registers ``sim``) and chosen
by ``central.kind`` in the booth config. They only *post* :class:`CentralEvent` s to the sink;
the controller decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from booth.config import BoothConfig
from booth.trace import Trace
from hal.clock import Clock
from lisa_messages import CallControl, EventBody, MediaControl, MediaReport, Message


@dataclass(frozen=True, slots=True)
class CentralEvent:
    pass


@dataclass(frozen=True, slots=True)
class LinkUp(CentralEvent):
    pass


@dataclass(frozen=True, slots=True)
class LinkDown(CentralEvent):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallQueued(CentralEvent):
    session: str
    position: int
    estimated_wait: float


@dataclass(frozen=True, slots=True)
class CallConnected(CentralEvent):
    session: str
    queue: str
    agent: str  # display name shown to the citizen (role title, not a private name)


@dataclass(frozen=True, slots=True)
class CallTransferring(CentralEvent):
    session: str
    target: str


@dataclass(frozen=True, slots=True)
class CallEnded(CentralEvent):
    session: str
    reason: str = "hangup"


@dataclass(frozen=True, slots=True)
class CallUnavailable(CentralEvent):
    """Nobody can take the call (no agent logged in, outside opening hours)."""

    session: str
    reason: str
    opening_hours: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class SignatureRequested(CentralEvent):
    """The agent asks the citizen to sign (the document is shown on the booth screen)."""

    session: str


@dataclass(frozen=True, slots=True)
class SignatureFinished(CentralEvent):
    session: str
    signed: bool = True


CentralSink = Callable[[CentralEvent], None]


def call_event(msg: CallControl) -> CentralEvent:
    """What a ``call`` message from the bridge means for the booth."""
    if msg.type == "queued":
        return CallQueued(msg.session, msg.position or 1, msg.estimated_wait or 0.0)
    if msg.type == "connected":
        return CallConnected(msg.session, msg.queue or "", msg.agent or "")
    if msg.type == "transferring":
        return CallTransferring(msg.session, msg.queue or "")
    if msg.type == "ended":
        return CallEnded(msg.session, msg.reason or "hangup")
    if msg.type == "unavailable":
        return CallUnavailable(
            msg.session, msg.reason or "", msg.opening_hours or "", msg.phone or ""
        )
    if msg.type == "signature_requested":
        return SignatureRequested(msg.session)
    return SignatureFinished(msg.session)


class CommandHandler(Protocol):
    """Executes a remote command (``booth.commands.CommandExecutor``)."""

    async def execute(self, cmd: str, args: Message, by: str = "") -> dict[str, Any]: ...


@dataclass(frozen=True)
class BoothBinding:
    """What a central link may use of the booth: its command executor, a status snapshot and a
    way to wait until the controller has finished what it is doing (consistent snapshots)."""

    commands: CommandHandler
    status: Callable[[], dict[str, Any]]
    settled: Callable[[], Awaitable[None]]


class CentralLink(Protocol):
    """The booth's port to the central side. The controller reports what happens as typed event
    bodies (:class:`lisa_messages.EventBody`) through :meth:`emit`; the link delivers them (the
    MQTT link durably, through its outbox) and posts :class:`CentralEvent` s to the sink."""

    async def start(self, sink: CentralSink) -> None: ...

    async def stop(self) -> None: ...

    def is_up(self) -> bool: ...

    def bind(self, booth: BoothBinding) -> None: ...

    def emit(self, event: EventBody) -> None:
        """Report one booth event (a call request, a state change, ...). Never blocks; also
        while the link is down (a durable link keeps it for later)."""
        ...


@runtime_checkable
class MediaLink(Protocol):
    """A central link that also carries WebRTC signalling (the MQTT link's ``media`` and
    ``media/out`` topics): the booth's media endpoint is bound to it."""

    def bind_media(self, handler: Callable[[MediaControl], None]) -> None: ...

    def send_media(self, report: MediaReport) -> None: ...


CentralFactory = Callable[[BoothConfig, Clock, Trace], CentralLink]
"""What a ``lisa.centrals`` entry point names: builds the link from the booth config."""


class NoCentral:
    """Stand-alone booth without a central side: the link is always down."""

    async def start(self, sink: CentralSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def is_up(self) -> bool:
        return False

    def bind(self, booth: BoothBinding) -> None:
        pass

    def emit(self, event: EventBody) -> None:
        pass


def no_central(config: BoothConfig, clock: Clock, trace: Trace) -> NoCentral:
    return NoCentral()
