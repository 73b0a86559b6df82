"""The demo's simulated citizens (``lisa demo``): a thread that every few seconds walks a citizen
into a random idle booth through the booth's control socket (``inject person.enter``) and lets
them leave (``person.leave``) once the booth says goodbye (state ``farewell``: the agent ended
the call, or nobody could take it). Booths that are not idle (a citizen inside, the privacy
reset, offline, someone at the console) are left alone.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.control_client import ControlClient, ControlClientError

Say = Callable[[str], None]

ARRIVAL_S = (4.0, 9.0)  # between two citizens
POLL_S = 0.5  # how often the booths with a citizen inside are looked at
LEAVE_AFTER_S = (0.5, 1.5)  # the citizen gets up and leaves after the goodbye
MAX_VISIT_S = 600.0  # a citizen gives up after this long (a call that never starts)
NOTICE_S = 10.0  # the booth should have noticed the citizen by then (presence takes 1.5 s)
#: the booth cannot serve the citizen any more: they leave
GIVE_UP_STATES = ("offline", "fault", "emergency", "maintenance")


@dataclass
class _Visit:
    entered: float
    leave_at: float | None = None
    noticed: bool = False  # the booth left idle: it saw the citizen
    reason: str = ""


class CitizenWalker:
    """``booths``: booth id -> control socket. :meth:`start` / :meth:`stop` (joins)."""

    def __init__(
        self,
        booths: dict[str, Path],
        say: Say,
        *,
        rng: random.Random | None = None,
        arrival_s: tuple[float, float] = ARRIVAL_S,
        first_after_s: float = 1.0,
    ) -> None:
        self.booths = booths
        self.say = say
        self.rng = rng or random.Random()
        self.arrival_s = arrival_s
        self.first_after_s = first_after_s
        self.entered = 0
        self.left = 0
        self._clients = {b: ControlClient(p, timeout=5.0) for b, p in booths.items()}
        self._inside: dict[str, _Visit] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-citizens", daemon=True)
        self._complained: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for client in self._clients.values():
            client.close()

    # ------------------------------------------------------------------------------ the loop
    def _run(self) -> None:
        next_arrival = time.monotonic() + self.first_after_s
        while not self._stop.is_set():
            now = time.monotonic()
            for booth in list(self._inside):
                self._look_after(booth, now)
            if now >= next_arrival:
                self._arrive()
                next_arrival = now + self.rng.uniform(*self.arrival_s)
            self._stop.wait(POLL_S)

    def _status(self, booth: str) -> dict[str, Any] | None:
        try:
            answer = self._clients[booth].call("status")
        except ControlClientError as exc:
            if booth not in self._complained:
                self._complained.add(booth)
                self.say(f"citizens: cannot reach booth {booth}: {exc}")
            return None
        self._complained.discard(booth)
        return answer

    def _inject(self, booth: str, name: str) -> bool:
        try:
            self._clients[booth].call("inject", input=name)
        except ControlClientError as exc:
            self.say(f"citizens: {name} at {booth} failed: {exc}")
            return False
        return True

    def _arrive(self) -> None:
        free = [b for b in self.booths if b not in self._inside]
        self.rng.shuffle(free)
        for booth in free:
            status = self._status(booth)
            if status is None or status.get("state") != "idle":
                continue
            if self._inject(booth, "person.enter"):
                self.entered += 1
                self._inside[booth] = _Visit(time.monotonic())
                self.say(f"a citizen walks into booth {booth}")
            return

    def _look_after(self, booth: str, now: float) -> None:
        visit = self._inside[booth]
        if visit.leave_at is None:
            status = self._status(booth)
            if status is None:
                return
            state = str(status.get("state"))
            if state != "idle":
                visit.noticed = True
            if state == "farewell":
                page = str((status.get("screen") or {}).get("page") or "")
                visit.reason = "nobody can take the call" if page == "unavailable" else "call over"
            elif state in GIVE_UP_STATES or (state == "idle" and visit.noticed):
                visit.reason = f"booth {state.replace('_', ' ')}"
            elif state == "idle" and now - visit.entered > NOTICE_S:
                visit.reason = "the booth did not notice them"
            elif now - visit.entered > MAX_VISIT_S:
                visit.reason = "waited too long"
            else:
                return
            visit.leave_at = now + self.rng.uniform(*LEAVE_AFTER_S)
            return
        if now < visit.leave_at:
            return
        del self._inside[booth]
        if self._inject(booth, "person.leave"):
            self.left += 1
            self.say(f"the citizen leaves booth {booth} ({visit.reason})")
