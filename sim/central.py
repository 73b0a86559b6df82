"""A simulated central side (cloud bridge + agents) inside the simulator.

Implements :class:`booth.central.CentralLink` and is registered as ``sim`` in ``lisa.centrals``;
its settings (``[central.sim]``) are :class:`SimCentralConfig`. The scenario inputs ``agent.*``
and ``link.*`` act on it. Test-control API: ``answer(queue)``, ``transfer(queue)``,
``hangup()``, ``unavailable()``, ``network_down()``, ``network_up()``. After a link loss it retries
with jittered exponential backoff; ``network_up()`` lets the next attempt succeed.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from booth.central import (
    BoothBinding,
    CallConnected,
    CallEnded,
    CallQueued,
    CallTransferring,
    CallUnavailable,
    CentralEvent,
    CentralSink,
    LinkDown,
    LinkUp,
    SignatureFinished,
    SignatureRequested,
)
from booth.config import BoothConfig
from booth.trace import Trace
from hal.clock import Clock, TimerHandle
from lisa_messages import CallEnd, CallRequest, EventBody

QUEUE_NAMES = {
    "clearing": "Bürgerservice – Empfang",
    "grundsicherung": "Sozialamt – Grundsicherung",
    "hilfe-zur-pflege": "Sozialamt – Hilfe zur Pflege",
    "eingliederungshilfe": "Sozialamt – Eingliederungshilfe",
    "sonstige": "Sozialamt – sonstige Leistungen",
    "wohngeld": "Wohngeldstelle",
    "pflegestuetzpunkt": "Pflegestützpunkt",
    "aok": "AOK Nordost",
}


class SimCentralConfig(BaseModel):
    """``[central.sim]``: how the simulated central side behaves."""

    model_config = ConfigDict(extra="forbid")

    answer_after: float | None = Field(
        None, ge=0, description="Simulated agent answers this many seconds after the request."
    )
    hangup_after: float | None = Field(
        None, ge=0, description="Simulated agent hangs up this long after answering (s)."
    )
    queue_after: float = Field(
        0.0, ge=0, description="Delay before the simulated central reports the queue position (s)."
    )
    queue_position: int = Field(1, ge=1, description="Position reported while waiting.")
    estimated_wait: float = Field(60.0, ge=0, description="Estimated wait reported (s).")
    retry_initial: float = Field(1.0, gt=0, description="First reconnect delay (s).")
    retry_max: float = Field(30.0, gt=0, description="Longest reconnect delay (s).")
    seed: int = Field(1, description="Seed of the reconnect jitter.")


class SimCentral:
    def __init__(self, config: SimCentralConfig, clock: Clock, trace: Trace | None = None) -> None:
        self.config = config
        self.clock = clock
        self.trace = trace
        self._sink: CentralSink | None = None
        self.network = True
        self.up = False
        self.session: str | None = None
        self.connected = False
        self.transfer_target: str | None = None
        self.requests: list[str] = []
        self.ended: list[tuple[str, str]] = []
        self.events: list[EventBody] = []
        self.attempts = 0
        self._retry: TimerHandle | None = None
        self._timers: list[TimerHandle] = []
        self._rng = random.Random(config.seed)

    # ---------------------------------------------------------------- CentralLink
    async def start(self, sink: CentralSink) -> None:
        self._sink = sink
        self.up = self.network
        if not self.up:
            self._schedule_retry()

    async def stop(self) -> None:
        self._cancel_timers()
        if self._retry is not None:
            self._retry.cancel()
        self._sink = None

    def is_up(self) -> bool:
        return self.up

    def bind(self, booth: BoothBinding) -> None:
        pass  # the simulator drives the booth through its inputs, not through commands

    def emit(self, event: EventBody) -> None:
        self.events.append(event)
        if isinstance(event, CallRequest):
            self.request_call(event.session)
        elif isinstance(event, CallEnd):
            self.end_call(event.session, event.reason)

    def request_call(self, session: str) -> None:
        if not self.up:
            return
        self.session = session
        self.connected = False
        self.transfer_target = None
        self.requests.append(session)
        self._later(
            self.config.queue_after,
            lambda: self._send(
                CallQueued(session, self.config.queue_position, self.config.estimated_wait)
            ),
        )
        if self.config.answer_after is not None:
            self._later(self.config.answer_after, self.answer)

    def end_call(self, session: str, reason: str) -> None:
        self.ended.append((session, reason))
        if session == self.session:
            self._reset_call()

    # ---------------------------------------------------------------- test control
    def answer(self, queue: str | None = None) -> bool:
        """An agent answers the waiting (or transferred) call."""
        if not self.up or self.session is None:
            return False
        target = queue or self.transfer_target or "clearing"
        self.transfer_target = None
        self.connected = True
        self._send(CallConnected(self.session, target, QUEUE_NAMES.get(target, target)))
        if self.config.hangup_after is not None:
            self._later(self.config.hangup_after, self.hangup)
        return True

    def transfer(self, queue: str) -> bool:
        if not self.up or self.session is None or not self.connected:
            return False
        self.transfer_target = queue
        self.connected = False
        self._send(CallTransferring(self.session, queue))
        if self.config.answer_after is not None:
            self._later(self.config.answer_after, self.answer)
        return True

    def request_signature(self) -> bool:
        """The agent asks the citizen to sign."""
        if not self.up or self.session is None or not self.connected:
            return False
        self._send(SignatureRequested(self.session))
        return True

    def signature_done(self) -> bool:
        if not self.up or self.session is None or not self.connected:
            return False
        self._send(SignatureFinished(self.session))
        return True

    def hangup(self) -> bool:
        if self.session is None or not self.up:
            return False
        session = self.session
        self._reset_call()
        self._send(CallEnded(session, "agent_hangup"))
        return True

    def unavailable(self, reason: str = "closed") -> bool:
        if self.session is None or not self.up:
            return False
        session = self.session
        self._reset_call()
        self._send(CallUnavailable(session, reason))
        return True

    def network_down(self) -> None:
        self.network = False
        if self.up:
            self.up = False
            self._reset_call()
            self._send(LinkDown("network"))
            self.attempts = 0
            self._schedule_retry()

    def network_up(self) -> None:
        """The network is back; the next reconnect attempt succeeds."""
        self.network = True

    # ---------------------------------------------------------------- internals
    def _reset_call(self) -> None:
        self._cancel_timers()
        self.session = None
        self.connected = False
        self.transfer_target = None

    def _send(self, event: CentralEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _later(self, delay: float, fn: Any) -> None:
        self._timers.append(self.clock.call_later(delay, fn))

    def _cancel_timers(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    def backoff(self, attempt: int) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based): exponential, capped, ±20 %."""
        base = min(self.config.retry_max, self.config.retry_initial * (2.0**attempt))
        return float(base * (0.8 + 0.4 * self._rng.random()))

    def _schedule_retry(self) -> None:
        delay = self.backoff(self.attempts)
        if self.trace is not None:
            self.trace.record(
                "central",
                event="reconnect scheduled",
                attempt=self.attempts + 1,
                delay=round(delay, 3),
            )
        self._retry = self.clock.call_later(delay, self._attempt)

    def _attempt(self) -> None:
        self._retry = None
        self.attempts += 1
        if self.network:
            self.up = True
            self.attempts = 0
            self._send(LinkUp())
        else:
            self._schedule_retry()


def create_sim_central(config: BoothConfig, clock: Clock, trace: Trace) -> SimCentral:
    """The ``sim`` entry of ``lisa.centrals``."""
    return SimCentral(SimCentralConfig.model_validate(config.central.options()), clock, trace)


create_sim_central.Options = SimCentralConfig  # type: ignore[attr-defined]
