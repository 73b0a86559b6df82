"""The demo's simulated agents and its supervisor view of the bridge (``lisa demo``).

:class:`SimAgent` is one agent at the real bridge's API (an :class:`AgentClient`): it goes
ready, accepts an offer after 2–4 s, talks, then the front desk ("clearing") blind-transfers
the citizen to a service queue with a ready agent (picked at random; the citizen is told
goodbye when no service can take them) and a service agent hangs up. After the call it does a
few seconds of after-call work and is ready again (shorter than the queue's wrap-up time, so
the demo keeps moving).

:class:`Monitor` is logged in as a supervisor and turns the bridge's live events into one
compact line each (call queued, offered, connected, transferred, ended) and counts them for
the demo's summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cloud_bridge.agent_client import AgentClient, ApiError, NoCurrentCall

log = logging.getLogger("lisa.demo")

Say = Callable[[str], None]

#: the front desk's queue: its agents transfer, every other queue's agents hang up
CLEARING = "clearing"
ACCEPT_AFTER_S = (2.0, 4.0)
CLEARING_TALK_S = (4.0, 8.0)
SERVICE_TALK_S = (5.0, 10.0)
AFTER_CALL_WORK_S = (3.0, 6.0)
#: reasons of a call that ended without an agent (the booth shows hours and phone number)
UNAVAILABLE_REASONS = ("closed", "no_agents", "max_wait")


def short(call: str) -> str:
    return call[:8]


class SimAgent:
    """One simulated agent; :meth:`run` until cancelled, then :meth:`shutdown`."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        say: Say,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.user = user
        self.password = password
        self.say = say
        self.rng = rng or random.Random()
        self.client = AgentClient(url, user)
        self.ready = asyncio.Event()  # logged in, event stream open, status ready
        self.calls = 0

    def _pause(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span)

    async def start(self) -> None:
        """Log in, open the event stream and go ready."""
        await self.client.login(self.password)
        await self.client.connect()
        await self.client.set_status("ready")
        self.ready.set()

    async def run(self) -> None:
        """Take calls until cancelled (an error in one call is reported, then the next)."""
        if not self.ready.is_set():
            await self.start()
        while True:
            try:
                offer = await self.client.wait_for("offer", timeout=3600)
            except TimeoutError:
                continue
            except ConnectionError as exc:
                self.say(f"{self.user}: lost the bridge's event stream ({exc}); stops")
                return
            try:
                await self.handle(offer)
            except (ApiError, NoCurrentCall, httpx.HTTPError) as exc:
                self.say(f"{self.user}: {exc}")
                await asyncio.sleep(1.0)
            except Exception as exc:  # a bug: tell it, and keep the demo going
                log.exception("simulated agent %s", self.user)
                self.say(f"{self.user}: unexpected error {exc!r}")
                await asyncio.sleep(1.0)
            await self.after_call()

    async def handle(self, offer: dict[str, Any]) -> None:
        call = str(offer["call"])
        if offer.get("consult_for"):
            await self.client.decline(call)  # the demo's agents do not consult
            return
        await asyncio.sleep(self._pause(ACCEPT_AFTER_S))
        try:
            await self.client.accept(call)
        except ApiError as exc:  # the citizen left or the offer was withdrawn meanwhile
            log.debug("accept refused: %s", exc)
            return
        self.calls += 1
        front_desk = offer.get("queue") == CLEARING
        talk = self._pause(CLEARING_TALK_S if front_desk else SERVICE_TALK_S)
        if await self._ended_within(call, talk):
            return  # the citizen left during the talk
        if front_desk and await self.transfer(call):
            return
        with contextlib.suppress(ApiError):  # ended meanwhile: nothing to hang up
            await self.client.hangup(call)

    async def _ended_within(self, call: str, seconds: float) -> bool:
        try:
            await self.client.wait_for("ended", timeout=seconds, call=call)
        except TimeoutError:
            return False
        return True

    async def transfer(self, call: str) -> bool:
        """Blind transfer to a random service queue with a ready agent (else one with an agent
        logged in: the citizen waits there). False when there is none or it was refused."""
        queues = [q for q in await self.client.queues() if q.get("id") != CLEARING]
        ready = [str(q["id"]) for q in queues if (q.get("ready") or 0) > 0 and q.get("open")]
        staffed = [str(q["id"]) for q in queues if (q.get("logged_in") or 0) > 0 and q.get("open")]
        choices = ready or staffed
        if not choices:
            self.say(f"{self.user}: no service has an agent; says goodbye to {short(call)}")
            return False
        target = self.rng.choice(choices)
        try:
            await self.client.transfer(queue=target, call=call)
        except ApiError as exc:
            self.say(f"{self.user}: transfer of {short(call)} to {target} refused ({exc.code})")
            return False
        return True

    async def after_call(self) -> None:
        """A few seconds of after-call work, then ready again: from wrap-up, and after an
        offer rang out unanswered (the bridge then sets the agent not ready)."""
        await asyncio.sleep(self._pause(AFTER_CALL_WORK_S))
        with contextlib.suppress(ApiError, httpx.HTTPError):
            agent = (await self.client.whoami()).get("agent") or {}
            status, reason = agent.get("status"), agent.get("reason")
            if status == "wrap_up" or (status == "not_ready" and reason == "no_answer"):
                await self.client.set_status("ready")

    async def shutdown(self) -> None:
        """End a call in progress, log out of the ACD, revoke the token, close."""
        try:
            with contextlib.suppress(ApiError, NoCurrentCall):
                if self.client.current_call is not None:
                    await self.client.hangup()
            with contextlib.suppress(ApiError):
                if self.client.token:
                    await self.client.set_status("logged_out")
            await self.client.logout()
        except httpx.HTTPError as exc:
            log.debug("%s: logout failed: %s", self.user, exc)
        finally:
            await self.client.close()


# ----------------------------------------------------------------------------------- monitor
@dataclass
class Stats:
    requested: int = 0
    answered: int = 0  # calls connected to an agent at least once
    connections: int = 0  # connections in all (a transferred call is connected again)
    transferred: int = 0
    ended: int = 0
    unavailable: int = 0  # ended without an agent: no one logged in, closed, waited too long
    in_progress: int = 0

    def line(self) -> str:
        return (
            f"calls: requested={self.requested} answered={self.answered} "
            f"transferred={self.transferred} ended={self.ended} "
            f"(unavailable={self.unavailable}, still in progress={self.in_progress}, "
            f"agent connections={self.connections})"
        )


@dataclass
class _Call:
    booth: str
    queue: str
    status: str
    agent: str | None
    position: int | None
    answered: bool = False


@dataclass
class Monitor:
    """Reads the bridge's live events as a supervisor and prints what happens."""

    client: AgentClient
    say: Say
    stats: Stats = field(default_factory=Stats)
    calls: dict[str, _Call] = field(default_factory=dict)
    booths_online: dict[str, bool] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)

    async def run(self) -> None:
        async for item in self.client.events():
            try:
                self.handle(item)
            except (KeyError, TypeError, ValueError):  # an event of an unexpected shape
                log.debug("monitor: cannot show %r", item, exc_info=True)

    def handle(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "snapshot":
            self._snapshot(item)
        elif kind == "call" and item.get("kind", "call") == "call":
            self._call(item)
        elif kind == "offer" and not item.get("consult_for"):
            self.say(
                f"call {short(str(item['call']))} at {item.get('booth')}: offered to "
                f"{item['agent']} ({item.get('queue')})"
            )
        elif kind == "offer_withdrawn" and item.get("reason") in ("no_answer", "declined"):
            self.say(
                f"call {short(str(item['call']))}: {item['agent']} did not take it "
                f"({item['reason']})"
            )
        elif kind == "call_ended":
            self._ended(str(item["call"]), str(item.get("reason") or ""))
        elif kind == "booth":
            self._booth(item)
        elif kind == "agent":
            self._agent(item)
        elif kind == "connection":
            if item.get("state") == "lost":
                self.say("supervisor view: lost the bridge's event stream, reconnecting")
            elif item.get("state") == "closed":
                self.say(f"supervisor view: event stream closed ({item.get('reason')})")
        self.stats.in_progress = len(self.calls)

    def _snapshot(self, item: dict[str, Any]) -> None:
        """The first item of every (re)connection: calls that ended meanwhile are forgotten."""
        views = [v for v in item.get("calls", []) if v.get("kind", "call") == "call"]
        live = {str(v["id"]) for v in views}
        for call in [c for c in self.calls if c not in live]:
            del self.calls[call]
        for view in views:
            if view["id"] not in self.calls:
                self.calls[str(view["id"])] = self._from_view(view)
        for booth in item.get("booths", []):
            self.booths_online[str(booth["id"])] = bool(booth.get("online"))
        for agent in item.get("agents", []):
            self.agents[str(agent["id"])] = str(agent.get("status"))

    @staticmethod
    def _from_view(view: dict[str, Any]) -> _Call:
        return _Call(
            booth=str(view.get("booth")),
            queue=str(view.get("queue")),
            status=str(view.get("status")),
            agent=view.get("agent"),
            position=view.get("position"),
            answered=view.get("status") == "connected",
        )

    def _call(self, view: dict[str, Any]) -> None:
        call = str(view["id"])
        status = str(view.get("status"))
        if status == "ended":
            return  # call_ended follows
        new = self._from_view(view)
        old = self.calls.get(call)
        self.calls[call] = new
        name = f"call {short(call)} at {new.booth}"
        if old is None:
            self.stats.requested += 1
            where = f"position {new.position}" if new.position else status
            self.say(f"{name}: queued in {new.queue}, {where}")
            return
        new.answered = old.answered
        if status == "connected" and (old.status != "connected" or old.agent != new.agent):
            self.stats.connections += 1
            if not old.answered:
                self.stats.answered += 1
                new.answered = True
            self.say(f"{name}: connected to {new.agent} ({new.queue})")
        elif old.status == "connected" and status != "connected":
            self.stats.transferred += 1
            self.say(f"{name}: transferred by {old.agent} to {new.queue}")
        elif status == "waiting" and new.position and new.position != old.position:
            self.say(f"{name}: waiting in {new.queue}, position {new.position}")

    def _ended(self, call: str, reason: str) -> None:
        known = self.calls.pop(call, None)
        if known is None:
            return  # a consultation leg, or a call from before the demo
        self.stats.ended += 1
        if reason in UNAVAILABLE_REASONS and not known.answered:
            self.stats.unavailable += 1
            what = f"nobody can take it ({reason}): the booth shows hours and phone number"
        else:
            what = f"ended ({reason.replace('_', ' ')})"
        self.say(f"call {short(call)} at {known.booth}: {what}")

    def _booth(self, item: dict[str, Any]) -> None:
        booth = str(item["id"])
        online = bool(item.get("online"))
        if self.booths_online.get(booth) != online:
            self.booths_online[booth] = online
            self.say(f"booth {booth} {'online' if online else 'OFFLINE'}")

    def _agent(self, item: dict[str, Any]) -> None:
        agent = str(item.get("agent"))
        status = str(item.get("status"))
        previous = self.agents.get(agent)
        self.agents[agent] = status
        if status == previous:
            return
        quiet = ("offered", "busy", "wrap_up")  # the call lines tell these
        if status in quiet or (status == "ready" and previous in quiet):
            return
        reason = item.get("reason")
        if status == "not_ready" and reason == "login":
            self.say(f"agent {agent}: logged in")
            return
        self.say(f"agent {agent}: {status.replace('_', ' ')}" + (f" ({reason})" if reason else ""))
