"""The booth's port to the central side (cloud bridge): requests out, events in.

The simulated central (``sim.central``) implements it now; the MQTT link implements it later.
Implementations only *post* :class:`CentralEvent`s to the sink; the controller decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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


class CentralLink(Protocol):
    async def start(self, sink: CentralSink) -> None: ...

    async def stop(self) -> None: ...

    def is_up(self) -> bool: ...

    async def request_call(self, session: str) -> None: ...

    async def end_call(self, session: str, reason: str) -> None:
        """The booth ends the call (citizen left, emergency, link trouble)."""
        ...

    async def publish_state(self, state: dict[str, Any]) -> None: ...


class NoCentral:
    """Stand-alone booth without a central side: the link is always down."""

    async def start(self, sink: CentralSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def is_up(self) -> bool:
        return False

    async def request_call(self, session: str) -> None:
        pass

    async def end_call(self, session: str, reason: str) -> None:
        pass

    async def publish_state(self, state: dict[str, Any]) -> None:
        pass


CENTRALS = {"sim": "sim.central:SimCentral", "mqtt": "booth.mqtt_link:MqttLink"}
