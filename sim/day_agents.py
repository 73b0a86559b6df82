"""The simulated agents of ``lisa sim day`` (:mod:`sim.day`): shift, breaks, offers, talk,
blind and consultative transfers, hang-up. Each acts through the day's current bridge
(:meth:`sim.day.Day.dispatch`) and learns what happens from its live event stream."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from cloud_bridge.acd.model import (
    Accept,
    AgentLogin,
    AgentLogout,
    AgentSpec,
    CancelTransfer,
    CompleteTransfer,
    Decline,
    Hangup,
    SetNotReady,
    SetReady,
    Transfer,
)

if TYPE_CHECKING:
    from sim.day import Day

AGENTS_PER_COPY = 8  # booths per copy of the Uckermark agents


class SimAgent:
    """One simulated agent: shift, breaks, offers, talk, transfers, hang-up."""

    def __init__(self, day: Day, spec: AgentSpec) -> None:
        self.day = day
        self.spec = spec
        self.id = spec.id
        self.rng = day.rng(f"agent:{spec.id}")
        self.in_shift = False
        self.shift_over = False
        self.on_break = False
        self.talking: str | None = None  # the call whose talk end is planned
        self.consulting: str | None = None
        self.offers: set[str] = set()
        self.status = "logged_out"
        self.reason: str | None = None

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        asyncio.get_running_loop().call_later(delay, self._run, fn, args)

    def _run(self, fn: Any, args: tuple[Any, ...]) -> None:
        if self.day.bridge is None:  # the bridge is restarting: try again in a moment
            self._later(5.0, fn, *args)
            return
        fn(*args)

    def _engine_agent(self) -> Any:
        bridge = self.day.bridge
        return None if bridge is None else bridge.engine.agents.get(self.id)

    # ------------------------------------------------------------------ shift
    def plan_shift(self) -> None:
        day = self.day
        copies = max(1, round(day.o.booths / AGENTS_PER_COPY))
        index = 0 if "-" not in self.id else int(self.id.rsplit("-", 1)[1]) - 1
        if copies == 1:
            shift = (7.5, 18.0)
        else:
            shift = (7.5, 13.0) if index % 2 == 0 else (12.5, 18.5)
        jitter = self.rng.uniform(-0.25, 0.25)
        login = self._at(shift[0] + jitter)
        logout = self._at(shift[1] + jitter)
        logout = min(logout, day.end - day.o.quiet_hours * 1800.0)
        if logout <= max(login, 0.0):
            self.shift_over = True  # not working in this window
            return
        self._later(max(0.0, login), self.login)
        self._later(logout, self.logout)
        # breaks: a lunch break for the long shift, short breaks now and then
        t = max(0.0, login) + self.rng.expovariate(1 / 5400.0)
        while t < logout - 900:
            self._later(t, self.take_break, self.rng.uniform(300, 900))
            t += self.rng.expovariate(1 / 5400.0) + 900

    def _at(self, local_hour: float) -> float:
        return (local_hour - self.day.o.start) * 3600.0

    def login(self) -> None:
        self.in_shift = True
        self.day.dispatch(AgentLogin(self.id))
        self.day.dispatch(SetReady(self.id))

    def logout(self) -> None:
        self.in_shift = False
        self.shift_over = True
        self.day.dispatch(AgentLogout(self.id))

    def take_break(self, seconds: float) -> None:
        if not self.in_shift or self.on_break:
            return
        self.on_break = True
        self.day.dispatch(SetNotReady(self.id, "break"))
        self._later(seconds, self.back_from_break)

    def back_from_break(self) -> None:
        self.on_break = False
        if self.in_shift:
            self.day.dispatch(SetReady(self.id))

    # ------------------------------------------------------------------ live events
    def changed(self, status: str, reason: str | None, call: str | None) -> None:
        self.status, self.reason = status, reason
        if status == "busy" and call is not None and call != self.talking:
            view = self.day.bridge.call_view(call) if self.day.bridge else None
            if view is not None and view["kind"] == "call":
                self.talking = call
                self.consulting = None
                queue = self.day.bridge.queues[view["queue"]] if self.day.bridge else None
                aht = queue.default_aht_s if queue is not None else 300.0
                talk = aht * math.exp(self.rng.gauss(-0.125, 0.5))
                self._later(talk, self.end_of_talk, call)
        elif status == "not_ready" and reason == "no_answer" and self.in_shift:
            self._later(self.rng.uniform(20, 90), self.ready_again)
        if status != "busy":
            self.talking = None

    def ready_again(self) -> None:
        a = self._engine_agent()
        if self.in_shift and a is not None and a.status.value == "not_ready" and not self.on_break:
            self.day.dispatch(SetReady(self.id))

    def offered(self, call: str) -> None:
        if call in self.offers:
            return
        self.offers.add(call)
        u = self.rng.random()
        if u < 0.04:
            self.day.report.agent_actions["missed"] += 1
            self._later(60.0, self.offers.discard, call)
        elif u < 0.09:
            self._later(self.rng.uniform(2, 8), self.answer, call, False)
        else:
            self._later(self.rng.lognormvariate(math.log(4.0), 0.4), self.answer, call, True)

    def answer(self, call: str, accept: bool) -> None:
        self.offers.discard(call)
        a = self._engine_agent()
        if a is None or a.status.value != "offered" or a.call != call:
            return
        self.day.dispatch(Accept(self.id, call) if accept else Decline(self.id, call))

    def _busy_with(self, call: str) -> bool:
        a = self._engine_agent()
        return a is not None and a.status.value == "busy" and a.call == call

    def end_of_talk(self, call: str) -> None:
        if not self._busy_with(call) or self.talking != call:
            return
        bridge = self.day.bridge
        assert bridge is not None
        view = bridge.call_view(call)
        if view is None:
            return
        if view["queue"] == "clearing" and self.rng.random() < 0.6:
            targets = [q for q in bridge.queues if q != "clearing"]
            target = self.rng.choice(targets)
            consult = self.rng.random() < 0.35
            if self.day.dispatch(Transfer(self.id, call, queue=target, consult=consult)):
                if consult:
                    self.consulting = call
                    self._later(90.0, self.consult_timeout, call)
                return
        self.day.dispatch(Hangup(self.id, call))

    def consult_connected(self) -> None:
        call = self.consulting
        if call is None:
            return
        self._later(self.rng.uniform(20, 60), self.finish_consult, call)

    def finish_consult(self, call: str) -> None:
        if self.consulting != call or not self._busy_with(call):
            return
        self.consulting = None
        if self.rng.random() < 0.8:
            self.day.dispatch(CompleteTransfer(self.id, call))
        else:
            self.day.dispatch(CancelTransfer(self.id, call))
            self._later(self.rng.uniform(30, 120), self.hang_up, call)

    def consult_timeout(self, call: str) -> None:
        if self.consulting != call or not self._busy_with(call):
            return
        bridge = self.day.bridge
        view = bridge.call_view(call) if bridge else None
        consult = view.get("consult") if view else None
        if consult is not None and consult.get("status") == "connected":
            return  # finish_consult is planned
        self.consulting = None
        self.day.dispatch(CancelTransfer(self.id, call))
        self._later(self.rng.uniform(30, 120), self.hang_up, call)

    def hang_up(self, call: str) -> None:
        if self._busy_with(call):
            self.day.dispatch(Hangup(self.id, call))
