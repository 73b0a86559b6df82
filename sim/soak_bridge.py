"""``lisa sim soak-bridge``: a long series of bridge SIGKILLs with calls in every state.

A private Mosquitto (persistent), the real bridge (``lisa bridge run``, its SQLite database in a
temporary directory) and ``booths`` simulated booths (``lisa booth run --sim --broker …``, fast
timings, no media) as processes; ``agents`` ACD agents and a supervisor are driven from here
over HTTP (no WebSockets: the bridge keeps an agent's status without one). Each round:

1. every booth gets a citizen (``person.enter`` on the control socket); the calls wait (all
   agents are not ready);
2. the agents take their roles for the round (seeded): ``connected`` (ready → offered →
   accept), ``ringing`` (ready → offered, not accepted; the ring timeout outlasts the round),
   ``wrapup`` (ready → offered → accept → hang up: in wrap-up at the kill); more citizens than
   agents, so at least one call still waits. With ``booths ≥ agents + 2``, in about half the
   rounds (seeded) one citizen walks in only just before the kill (the booth's
   ``call_requested`` is in flight);
3. the bridge's view (``GET /api/v1/status`` as the supervisor) and every booth's state
   (control socket ``status``) are recorded, then the bridge is SIGKILLed and started again
   (same config and database); restart → ``/healthz`` answers, and → MQTT connected, are timed;
4. checks: every call of the snapshot still exists (same id, same creation time) in the same or
   a legitimately later status (waiting → waiting/ringing, ringing → ringing, or waiting once
   the ring timeout passed, connected → connected with the same agent; a waiting call's
   position does not rise); no booth has two calls and no booth without a citizen got one;
   the in-flight citizen got exactly one call; the booths kept their citizens' sessions; every
   agent's status matches its call (busy ⇔ the agent of a connected call, offered ⇔ rung by a
   ringing call, wrap-up with an end no later than ``wrapup_s`` after the call) and changed
   only legitimately (a wrap-up keeps its end); wrap-up ends by itself at that end + slack;
   the booths and the bridge agree once the bridge re-announced the calls (connected ⇔ booth
   ``in_call``, a live call ⇔ a booth in a session, with the same session id and, while it
   waits, the same queue position; the bridge sees every booth online in its real state);
5. clean-up: the agents ask for not ready (pending during a call), the connected calls end
   (the agent hangs up, or the citizen leaves first: seeded), every citizen leaves; within a
   deadline every booth is ``idle``, the bridge has no call and no agent is offered, busy or in
   wrap-up.

Violations are counted per kind (never stopping at the first); the per-round line and the
figures at the end are printed by :func:`round_line` and :func:`print_report`.
"""

from __future__ import annotations

import functools
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from booth.control_client import ControlClientError
from sim.booth_files import booth_config_text, fast_timing
from sim.brokers import MosquittoBroker, free_port, stop_process

PASSWORD = "soak-bridge-pass"
SUPERVISOR = "aufsicht"
QUEUE = "clearing"
#: the booth's top-level states with a citizen's call going on (booth.safety.SESSION_STATES)
SESSION_STATES = frozenset({"occupied", "queued", "in_call"})
#: states an agent may be left in once a round is cleaned up
AGENT_AT_REST = frozenset({"ready", "not_ready", "logged_out"})
#: a booth without media: keeps 6 booth processes light (no encoders, no media watchdog)
NO_MEDIA = "\n[media]\nenabled = false\n"
#: every kind of violation, in the order the report lists them
VIOLATIONS = (
    "call_lost",
    "call_duplicated",
    "call_phantom",
    "call_regressed",
    "agent_inconsistent",
    "agent_regressed",
    "wrapup_overrun",
    "booth_disagree",
    "agent_stuck",
    "booth_not_idle",
    "bridge_call_left",
    "setup_failed",
    "harness_error",
    "bridge_unhealthy",
    "process_died",
)
#: legitimate changes of a call's status across a kill (ringing → waiting: only after the
#: ring timeout)
CALL_NEXT = {
    "waiting": {"waiting", "ringing"},
    "ringing": {"ringing"},
    "connected": {"connected"},
}
#: legitimate changes of an agent's status across a kill
AGENT_NEXT = {
    "not_ready": {"not_ready"},
    "ready": {"ready", "offered"},
    "offered": {"offered"},
    "busy": {"busy"},
    "wrap_up": {"wrap_up", "ready", "offered"},
    "logged_out": {"logged_out"},
}

#: what a round survives (counted as a violation): an HTTP error, a booth's control socket,
#: an answer without the expected field
HARNESS_ERRORS = (httpx.HTTPError, ControlClientError, RuntimeError, KeyError, OSError)

T = TypeVar("T")


class SoakAborted(RuntimeError):
    """The system cannot go on (a process died, the bridge does not come back)."""


def _lisa() -> str:
    exe = Path(sys.executable).with_name("lisa")
    return str(exe) if exe.exists() else (shutil.which("lisa") or "lisa")


def wait_until(check: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T | None:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` passes
    (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


@dataclass(frozen=True)
class SoakTimings:
    ring_timeout_s: float = 30.0
    wrapup_s: float = 3.0
    #: deadlines: a round's set-up step, the bridge's restart, the agreement after a restart,
    #: the clean-up (on top of the wrap-up), the slack on a wrap-up's end
    step_s: float = 15.0
    restart_s: float = 30.0
    agree_s: float = 10.0
    cleanup_s: float = 20.0
    wrapup_slack_s: float = 2.0
    #: the in-flight citizen walks in this long (at most, seeded) before the kill
    late_max_s: float = 1.5


def bridge_config(
    workdir: Path,
    mqtt_url: str,
    port: int,
    booths: list[str],
    agents: list[str],
    timings: SoakTimings,
) -> str:
    lines = [
        "[bridge]",
        'name = "Dauertest"',
        f'database = "{workdir / "bridge.db"}"',
        'phone = "03984 70-0"',
        f'default_queue = "{QUEUE}"',
        "agent_grace_s = 30",
        "booth_offline_grace_s = 60",
        "[mqtt]",
        f'url = "{mqtt_url}"',
        'username = ""',
        'client_id = "lisa-bridge-soak"',
        "[http]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[acd]",
        f"ring_timeout_s = {timings.ring_timeout_s}",
        f"wrapup_s = {timings.wrapup_s}",
        "decline_block_s = 1",
        "no_answer_not_ready = true",
        "[[site]]",
        'id = "soak"',
        'name = "Dauertest"',
        "[[queue]]",
        f'id = "{QUEUE}"',
        'name = "Bürgerservice – Empfang"',
    ]
    for b in booths:
        lines += ["[[booth]]", f'id = "{b}"', 'site = "soak"', f'name = "Kabine {b}"']
    for a in agents:
        lines += ["[[agent]]", f'id = "{a}"', 'display_name = "Empfang"']
        lines += [f"queues = {{ {QUEUE} = 1 }}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ processes
class BoothProc:
    """One ``lisa booth run --sim`` on the broker, with its control socket."""

    def __init__(self, lisa: str, workdir: Path, booth_id: str, broker_url: str) -> None:
        self.id = booth_id
        self.lisa = lisa
        self.workdir = workdir
        self.broker_url = broker_url
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "b.sock"
        self.config = workdir / "booth.toml"
        self.config.write_text(
            booth_config_text(
                booth_id,
                workdir / "state",
                self.socket,
                mqtt_central=True,
                timing=fast_timing(),
                extra=NO_MEDIA,
            ),
            "utf-8",
        )
        self.log = workdir / "booth.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [
                    *(self.lisa, "booth", "run", "--sim", "--config", str(self.config)),
                    *("--broker", self.broker_url),
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict[str, Any]:
        from booth.control_client import ControlClient

        with ControlClient(self.socket, timeout=10) as c:
            data: dict[str, Any] = c.call("status")
            return data

    def try_status(self) -> dict[str, Any] | None:
        try:
            return self.status()
        except (ControlClientError, OSError):
            return None

    def inject(self, name: str, **args: Any) -> None:
        from booth.control_client import ControlClient

        with ControlClient(self.socket, timeout=10) as c:
            c.call("inject", input=name, args=args)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


class SoakStack:
    """Mosquitto, the bridge and the booths, and the HTTP side (agents, supervisor)."""

    def __init__(self, booths: int, agents: int, timings: SoakTimings) -> None:
        self.lisa = _lisa()
        self.timings = timings
        self.workdir = Path(tempfile.mkdtemp(prefix="lisa-soak-"))
        self.booth_ids = [f"soak-{i + 1:02d}" for i in range(booths)]
        self.agent_ids = [f"empfang{i + 1}" for i in range(agents)]
        self.broker = MosquittoBroker(workdir=self.workdir / "mosquitto", persistence=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.workdir / "bridge.toml"
        self.bridge_log = self.workdir / "bridge.log"
        self.bridge: subprocess.Popen[bytes] | None = None
        self.booths: dict[str, BoothProc] = {}
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.tokens: dict[str, str] = {}
        self.tokens_lost = 0

    # ------------------------------------------------------------------ start / stop
    def start(self) -> None:
        from cloud_bridge.users import UserStore

        self.broker.start()
        self.config.write_text(
            bridge_config(
                self.workdir,
                self.broker.url,
                self.port,
                self.booth_ids,
                self.agent_ids,
                self.timings,
            ),
            "utf-8",
        )
        users = UserStore(self.workdir / "bridge.db")
        try:
            for a in self.agent_ids:
                users.add(a, "agent", PASSWORD)
            users.add(SUPERVISOR, "supervisor", PASSWORD)
        finally:
            users.close()
        self.start_bridge()
        for name in [SUPERVISOR, *self.agent_ids]:
            self.login(name)
        for b in self.booth_ids:
            booth = BoothProc(self.lisa, self.workdir / b, b, self.broker.url)
            booth.start()
            self.booths[b] = booth
        for booth in self.booths.values():
            if wait_until(functools.partial(self._booth_ready, booth), 60) is None:
                raise SoakAborted(f"booth {booth.id} did not become idle; see {booth.log}")
        if wait_until(self._bridge_sees_booths, 30) is None:
            raise SoakAborted("the bridge does not see every booth online and idle")

    def _booth_ready(self, booth: BoothProc) -> bool:
        if not booth.alive():
            raise SoakAborted(f"booth {booth.id} exited; see {booth.log}")
        st = booth.try_status()
        return st is not None and st.get("state") == "idle"

    def _bridge_sees_booths(self) -> bool:
        views = {b["id"]: b for b in self.status()["booths"]}
        return all(
            views.get(b, {}).get("online") and views[b].get("state") == "idle"
            for b in self.booth_ids
        )

    def stop(self) -> None:
        for booth in self.booths.values():
            booth.stop()
        if self.bridge is not None and self.bridge.poll() is None:
            stop_process(self.bridge)
        self.broker.stop()
        self.http.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ the bridge process
    def start_bridge(self) -> float:
        """Start ``lisa bridge run``; the seconds until ``/healthz`` answers."""
        t0 = time.monotonic()
        with self.bridge_log.open("ab") as fh:
            self.bridge = subprocess.Popen(
                [
                    self.lisa,
                    "bridge",
                    "run",
                    "--config",
                    str(self.config),
                    "--log-level",
                    "warning",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if wait_until(self._healthy, self.timings.restart_s, 0.01) is None:
            raise SoakAborted(f"the bridge did not answer /healthz; see {self.bridge_log}")
        return time.monotonic() - t0

    def _healthy(self) -> bool:
        assert self.bridge is not None
        if self.bridge.poll() is not None:
            raise SoakAborted(
                f"the bridge exited ({self.bridge.returncode}); see {self.bridge_log}"
            )
        try:
            return self.http.get("/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def bridge_alive(self) -> bool:
        return self.bridge is not None and self.bridge.poll() is None

    def kill_bridge(self) -> None:
        assert self.bridge is not None
        self.bridge.send_signal(signal.SIGKILL)
        self.bridge.wait(10)

    def mqtt_connected(self) -> bool:
        try:
            return self.status().get("mqtt") is True
        except httpx.HTTPError:
            return False

    # ------------------------------------------------------------------ HTTP
    def login(self, name: str) -> None:
        r = self.http.post("/api/v1/login", json={"username": name, "password": PASSWORD})
        r.raise_for_status()
        self.tokens[name] = str(r.json()["token"])

    def check_tokens(self) -> int:
        """After a restart: log in again whoever's token no longer works; how many did not."""
        lost = 0
        for name in list(self.tokens):
            r = self.http.get("/api/v1/me", headers=self._auth(name))
            if r.status_code == 401:
                lost += 1
                self.login(name)
            else:
                r.raise_for_status()
        self.tokens_lost += lost
        return lost

    def _auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def status(self) -> dict[str, Any]:
        r = self.http.get("/api/v1/status", headers=self._auth(SUPERVISOR))
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def try_status(self) -> dict[str, Any] | None:
        try:
            return self.status()
        except httpx.HTTPError:
            return None

    def agent_post(self, agent: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.http.post(f"/api/v1{path}", json=body, headers=self._auth(agent))
        if r.status_code >= 400:
            raise RuntimeError(f"{agent} POST {path}: {r.status_code} {r.text[:200]}")
        return r.json()

    def set_status(self, agent: str, status: str) -> Any:
        body = {"status": status} if status != "not_ready" else {"status": status, "reason": "soak"}
        return self.agent_post(agent, "/agent/status", body)

    def booth_states(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for bid, booth in self.booths.items():
            if not booth.alive():
                raise SoakAborted(f"booth {bid} exited; see {booth.log}")
            out[bid] = booth.status()
        return out


# ------------------------------------------------------------------------------ the checks
@dataclass
class Tally:
    """Violations per kind, and the first details of each."""

    counts: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    max_details: int = 200

    def add(self, kind: str, round_no: int, text: str, n: int = 1) -> None:
        self.counts[kind] += n
        if len(self.details) < self.max_details:
            self.details.append(f"round {round_no}: {kind}: {text}")


def live_calls(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in status["calls"] if c.get("kind", "call") == "call"}


def calls_by_booth(status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in live_calls(status).values():
        out.setdefault(c["booth"], []).append(c)
    return out


def agent_problems(status: dict[str, Any], wrapup_s: float, slack: float) -> list[str]:
    """Agents whose status does not match the calls, in one snapshot of the bridge."""
    calls = {c["id"]: c for c in status["calls"]}
    agents = {a["id"]: a for a in status["agents"]}
    now = float(status.get("ts") or time.time())
    out: list[str] = []
    for aid, a in agents.items():
        st, cid = a["status"], a.get("call")
        c = calls.get(cid) if cid else None
        if st == "busy":
            if c is None or c["status"] != "connected" or c.get("agent") != aid:
                out.append(f"{aid} busy with {cid} ({c['status'] if c else 'no such call'})")
        elif st == "offered":
            if c is None or c["status"] != "ringing" or aid not in c.get("ringing", []):
                out.append(f"{aid} offered {cid} ({c['status'] if c else 'no such call'})")
        elif st == "wrap_up":
            until = a.get("wrap_until")
            if until is None:
                out.append(f"{aid} in wrap-up without an end")
            elif until > now + wrapup_s + slack:
                out.append(f"{aid} in wrap-up until {until - now:.1f} s from now")
    for c in calls.values():
        if c["status"] == "connected":
            a = agents.get(c.get("agent") or "")
            if (
                a is None
                or a["status"] != "busy"
                or a.get("call") not in (c["id"], c.get("consult"))
            ):
                what = f"{a['status']} with {a.get('call')}" if a else "none"
                out.append(f"call {c['id']} connected to {c.get('agent')} ({what})")
        elif c["status"] == "ringing":
            for aid in c.get("ringing", []):
                a = agents.get(aid)
                if a is None or a["status"] != "offered" or a.get("call") != c["id"]:
                    what = f"{a['status']} with {a.get('call')}" if a else "unknown"
                    out.append(f"call {c['id']} rings {aid} ({what})")
    return out


def disagreements(status: dict[str, Any], booths: dict[str, dict[str, Any]]) -> list[str]:
    """Booths whose own state and the bridge's calls (and view of the booth) disagree."""
    by_booth = calls_by_booth(status)
    views = {b["id"]: b for b in status["booths"]}
    out: list[str] = []
    for bid, bs in booths.items():
        calls = by_booth.get(bid, [])
        call = calls[0] if calls else None
        st, detail = bs.get("state"), bs.get("detail")
        connected = call is not None and call["status"] == "connected"
        said = f"bridge call {call['status'] if call else 'none'}, booth {detail}"
        if connected != (st == "in_call"):
            out.append(f"{bid}: {said}")
        elif (call is not None) != (st in SESSION_STATES):
            out.append(f"{bid}: {said}")
        elif call is not None and call.get("session") != bs.get("session"):
            out.append(f"{bid}: session {call.get('session')} at the bridge, {bs.get('session')}")
        elif (
            call is not None
            and call["status"] == "waiting"
            and st == "queued"
            and call.get("position") != bs.get("queue_position")
        ):
            out.append(
                f"{bid}: position {call.get('position')} at the bridge, the booth shows "
                f"{bs.get('queue_position')}"
            )
        view = views.get(bid)
        if view is None or not view.get("online") or view.get("state") != st:
            seen = f"{view.get('state')} online={view.get('online')}" if view else "nothing"
            out.append(f"{bid}: the bridge sees {seen}, the booth is {detail}")
    return out


# ------------------------------------------------------------------------------ a round
def in_call(booth: BoothProc) -> bool:
    return bool(booth.status()["state"] == "in_call")


def roles_for(round_no: int, agents: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(agent, role) in the order the roles are played: connected, ringing, wrap-up."""
    n = len(agents)
    if n >= 3:
        roles = ["connected"] * (n - 2) + ["ringing", "wrapup"]
    elif n == 2:  # two of the three roles, in turn
        roles = [["connected", "ringing"], ["connected", "wrapup"], ["ringing", "wrapup"]][
            round_no % 3
        ]
    else:
        roles = [["connected"], ["ringing"], ["wrapup"]][round_no % 3]
    shuffled = list(agents)
    rng.shuffle(shuffled)
    return list(zip(shuffled, roles, strict=False))


class Round:
    """One round: set-up, kill, restart, checks, clean-up."""

    def __init__(self, stack: SoakStack, no: int, rng: random.Random, tally: Tally) -> None:
        self.stack = stack
        self.no = no
        self.rng = rng
        self.tally = tally
        self.t = stack.timings
        self.before = Counter(tally.counts)
        self.offered_at: dict[str, float] = {}
        self.result: dict[str, Any] = {"round": no}
        self.late: str | None = None  # the booth whose citizen walks in just before the kill
        self.citizens: list[str] = []  # the booths with a citizen from the start
        self.pre: dict[str, Any] = {}  # the bridge's status just before the kill
        self.pre_booths: dict[str, dict[str, Any]] = {}  # and the booths' own
        self.pre_t = 0.0
        self.restarted_at = 0.0  # epoch seconds: the bridge is connected to the broker again
        self.lost: set[str] = set()  # calls lost (gone at the bridge, or the booth's session)

    def fail(self, kind: str, text: str, n: int = 1) -> None:
        self.tally.add(kind, self.no, text, n)

    # ------------------------------------------------------------------ 0. precondition
    def ensure_rest(self) -> None:
        """Every booth idle, no call, every agent not ready (a failed round is cleaned up)."""
        s = self.stack

        def rested() -> bool:
            st = s.try_status()
            if st is None or st["calls"]:
                return False
            if any(a["status"] != "not_ready" for a in st["agents"]):
                for a in st["agents"]:
                    if a["status"] in ("ready", "logged_out"):
                        s.set_status(a["id"], "not_ready")
                return False
            return all(b.get("state") == "idle" for b in s.booth_states().values())

        if wait_until(rested, 2):
            return
        for c in live_calls(s.status()).values():  # left over: end it as the supervisor would
            if c["status"] == "connected":
                s.http.post(f"/api/v1/calls/{c['id']}/hangup", headers=s._auth(SUPERVISOR))
        for booth in s.booths.values():
            booth.inject("person.leave")
        if not wait_until(rested, self.t.cleanup_s):
            raise SoakAborted(f"round {self.no}: the system does not come to rest")

    # ------------------------------------------------------------------ 1.-2. set-up
    def wait_step(self, check: Callable[[], T | None], what: str) -> T | None:
        value = wait_until(check, self.t.step_s)
        if value is None:
            self.fail("setup_failed", f"timed out waiting for {what}")
        return value

    def agent_call(self, agent: str, status: str) -> Callable[[], str | None]:
        def check() -> str | None:
            for a in self.stack.status()["agents"]:
                if a["id"] == agent and a["status"] == status and a.get("call"):
                    return str(a["call"])
            return None

        return check

    def setup(self) -> bool:
        s = self.stack
        order = list(s.booth_ids)
        self.rng.shuffle(order)
        roles = roles_for(self.no, s.agent_ids, self.rng)
        if len(order) >= len(s.agent_ids) + 2 and self.rng.random() < 0.5:
            self.late = order.pop()
        self.citizens = list(order)
        self.result["roles"] = dict(Counter(role for _, role in roles))
        for b in order:
            s.booths[b].inject("person.enter")

        def all_waiting() -> bool:
            by_booth = calls_by_booth(s.status())
            if any(len(by_booth.get(b, [])) != 1 for b in order):
                return False
            booths = s.booth_states()
            return all(booths[b]["state"] == "queued" for b in order)

        if not self.wait_step(all_waiting, "a waiting call for every citizen"):
            return False
        for agent, role in roles:
            s.set_status(agent, "ready")
            call = self.wait_step(self.agent_call(agent, "offered"), f"an offer to {agent}")
            if call is None:
                return False
            if role == "ringing":
                self.offered_at[call] = time.time()
                continue
            s.agent_post(agent, f"/calls/{call}/accept")
            if role == "wrapup":
                answer = s.agent_post(agent, f"/calls/{call}/hangup")
                if answer["agent"]["status"] != "wrap_up":
                    self.fail("setup_failed", f"{agent} after hanging up: {answer['agent']}")
                continue
            booth = s.booths[next(c["booth"] for c in s.status()["calls"] if c["id"] == call)]
            if not self.wait_step(functools.partial(in_call, booth), f"{booth.id} in a call"):
                return False
        return True

    # ------------------------------------------------------------------ 3. kill, restart
    def kill_and_restart(self) -> None:
        s = self.stack
        if self.late is not None:
            s.booths[self.late].inject("person.enter")
            time.sleep(self.rng.uniform(0.0, self.t.late_max_s))  # the kill lands anywhere
        self.pre = s.status()
        self.pre_booths = s.booth_states()
        self.pre_t = time.time()
        if not s.bridge_alive():
            self.fail("process_died", "the bridge was dead before the kill")
        else:
            s.kill_bridge()
        t0 = time.monotonic()
        try:
            self.result["restart_s"] = round(s.start_bridge(), 3)
        except SoakAborted as exc:  # once more, then give up
            self.fail("bridge_unhealthy", str(exc))
            self.result["restart_s"] = round(s.start_bridge(), 3)
        if wait_until(s.mqtt_connected, self.t.restart_s, 0.02) is None:
            self.fail("bridge_unhealthy", "the bridge did not connect to the broker")
        self.result["mqtt_s"] = round(time.monotonic() - t0, 3)
        self.restarted_at = time.time()
        self.result["tokens_lost"] = s.check_tokens()

    # ------------------------------------------------------------------ 4. checks
    def check_after(self) -> None:
        s = self.stack
        post = s.status()
        pre_calls, post_calls = live_calls(self.pre), live_calls(post)
        pre_by_booth = calls_by_booth(self.pre)
        self.result["calls"] = len(pre_calls)
        self.result["mix"] = {
            st: sum(1 for c in pre_calls.values() if c["status"] == st)
            for st in ("waiting", "ringing", "connected")
        }
        self.result["mix"]["wrap_up"] = sum(
            1 for a in self.pre["agents"] if a["status"] == "wrap_up"
        )
        for cid, c in pre_calls.items():
            after = post_calls.get(cid)
            if after is None:
                self.lost.add(cid)
                self.fail("call_lost", f"{cid} ({c['status']} at {c['booth']}) is gone")
                continue
            ok = CALL_NEXT.get(c["status"], set())
            rang = time.time() - self.offered_at.get(cid, self.pre_t)
            if c["status"] == "ringing" and rang >= self.t.ring_timeout_s - 0.5:
                ok = ok | {"waiting"}
            if after["status"] not in ok:
                self.fail("call_regressed", f"{cid}: {c['status']} → {after['status']}")
            elif c["status"] == "connected" and after.get("agent") != c.get("agent"):
                self.fail("call_regressed", f"{cid}: agent {c['agent']} → {after.get('agent')}")
            if after.get("created") != c.get("created") or after.get("booth") != c["booth"]:
                self.fail("call_regressed", f"{cid}: created/booth changed")
            if c["status"] == after["status"] == "waiting" and (after.get("position") or 0) > (
                c.get("position") or 0
            ):
                self.fail(
                    "call_regressed", f"{cid}: position {c['position']} → {after['position']}"
                )
        self.check_booth_calls(post, pre_by_booth)
        self.check_agents(post)
        for p in agent_problems(post, self.t.wrapup_s, self.t.wrapup_slack_s):
            self.fail("agent_inconsistent", f"after the restart: {p}")
        self.wait_wrapup(post)
        self.agree(pre_calls)
        self.result["lost"] = len(self.lost)

    def check_booth_calls(
        self, post: dict[str, Any], pre_by_booth: dict[str, list[dict[str, Any]]]
    ) -> None:
        s = self.stack
        post_by_booth = calls_by_booth(post)
        for bid, calls in post_by_booth.items():
            if len(calls) > 1:
                self.fail("call_duplicated", f"{bid} has {len(calls)} calls", len(calls) - 1)
            new = [c for c in calls if c["id"] not in {p["id"] for p in pre_by_booth.get(bid, [])}]
            if not new:
                continue
            if pre_by_booth.get(bid):
                self.fail("call_duplicated", f"{bid}: new call {new[0]['id']} beside the old")
            elif bid != self.late:
                self.fail("call_phantom", f"{bid} got call {new[0]['id']} without a citizen")
        if self.late is not None and not pre_by_booth.get(self.late):
            self.result["in_flight"] = 1
            late = self.late

            def one_call() -> list[dict[str, Any]] | None:
                return calls_by_booth(s.status()).get(late)

            got = wait_until(one_call, self.t.step_s)
            if not got:
                self.lost.add(f"{late}:in-flight")
                self.fail("call_lost", f"the citizen walking into {late} got no call")
            elif len(got) > 1:
                self.fail("call_duplicated", f"{late}: {len(got)} calls", len(got) - 1)

    def check_agents(self, post: dict[str, Any]) -> None:
        after = {a["id"]: a for a in post["agents"]}
        for a in self.pre["agents"]:
            was, now = a["status"], after[a["id"]]["status"]
            ok = set(AGENT_NEXT.get(was, {was}))
            if (
                was == "offered"
                and time.time() - self.offered_at.get(a.get("call") or "", self.pre_t)
                >= self.t.ring_timeout_s - 0.5
            ):
                ok |= {"not_ready", "ready"}
            if now not in ok:
                self.fail("agent_regressed", f"{a['id']}: {was} → {now}")
            elif was in ("offered", "busy") and after[a["id"]].get("call") != a.get("call"):
                self.fail("agent_regressed", f"{a['id']}: call {a['call']} → {after[a['id']]}")
            elif was == now == "wrap_up" and after[a["id"]].get("wrap_until") != a["wrap_until"]:
                moved = f"{a['wrap_until']} → {after[a['id']].get('wrap_until')}"
                self.fail("agent_regressed", f"{a['id']}: the wrap-up's end moved ({moved})")

    def wait_wrapup(self, post: dict[str, Any]) -> None:
        """Wrap-up ends by itself: at its end as set before the kill (or at once after the
        restart when that passed during the outage), plus slack."""
        s = self.stack
        before = {a["id"]: a.get("wrap_until") for a in self.pre["agents"]}
        wrapping = {
            a["id"]: before.get(a["id"]) or a.get("wrap_until")
            for a in post["agents"]
            if a["status"] == "wrap_up"
        }
        if not wrapping:
            return
        ends = [float(u) for u in wrapping.values() if u is not None]
        latest = max([*ends, self.restarted_at], default=time.time() + self.t.wrapup_s)
        budget = max(0.0, latest - time.time()) + self.t.wrapup_slack_s

        def over() -> bool:
            st = {a["id"]: a["status"] for a in s.status()["agents"]}
            return all(st[a] != "wrap_up" for a in wrapping)

        if not wait_until(over, budget):
            st = {a["id"]: a for a in s.status()["agents"]}
            for aid in wrapping:
                if st[aid]["status"] == "wrap_up":
                    self.fail("wrapup_overrun", f"{aid} still in wrap-up ({st[aid]})")

    def agree(self, pre_calls: dict[str, dict[str, Any]]) -> None:
        """Booths and bridge agree (polled until the deadline); a call whose booth lost the
        citizen's session is lost."""
        s = self.stack
        last: list[str] = []
        booths: dict[str, dict[str, Any]] = {}

        def agreed() -> bool:
            nonlocal last, booths
            st = s.status()
            booths = s.booth_states()
            last = disagreements(st, booths)
            return not last

        wait_until(agreed, self.t.agree_s)
        bad = {line.split(":", 1)[0] for line in last}
        if bad:
            self.fail("booth_disagree", "; ".join(last), len(bad))
        self.result["disagree"] = len(bad)
        for cid, c in pre_calls.items():
            b = booths.get(c["booth"], {})
            was = self.pre_booths.get(c["booth"], {})
            lost = b.get("state") not in SESSION_STATES or b.get("session") != was.get("session")
            if lost and cid not in self.lost:
                self.lost.add(cid)
                self.fail(
                    "call_lost",
                    f"{c['booth']} lost its citizen's session ({was.get('detail')} → "
                    f"{b.get('detail')})",
                )

    # ------------------------------------------------------------------ 5. clean-up
    def cleanup(self) -> None:
        s = self.stack
        for agent in s.agent_ids:
            s.set_status(agent, "not_ready")  # pending while offered / busy / in wrap-up
        leave_first: list[str] = []
        for c in live_calls(s.status()).values():
            if c["status"] != "connected":
                continue
            if self.rng.random() < 0.5:
                s.agent_post(c["agent"], f"/calls/{c['id']}/hangup")
            else:
                leave_first.append(c["booth"])
        for b in leave_first:
            s.booths[b].inject("person.leave")
        for b in [*self.citizens, *([self.late] if self.late else [])]:
            if b not in leave_first:
                s.booths[b].inject("person.leave")
        final: dict[str, Any] = {}

        def at_rest() -> bool:
            nonlocal final
            st = s.status()
            final = {"status": st, "booths": s.booth_states()}
            return (
                not st["calls"]
                and all(a["status"] in AGENT_AT_REST for a in st["agents"])
                and all(b.get("state") == "idle" for b in final["booths"].values())
            )

        t0 = time.monotonic()
        if not wait_until(at_rest, self.t.wrapup_s + self.t.cleanup_s):
            st, booths = final["status"], final["booths"]
            for a in st["agents"]:
                if a["status"] not in AGENT_AT_REST:
                    self.fail("agent_stuck", f"{a['id']} {a['status']} with {a.get('call')}")
            for c in st["calls"]:
                self.fail("bridge_call_left", f"{c['id']} {c['status']} at {c['booth']}")
            for bid, b in booths.items():
                if b.get("state") != "idle":
                    self.fail("booth_not_idle", f"{bid} {b.get('detail')}")
        self.result["cleanup_s"] = round(time.monotonic() - t0, 2)

    # ------------------------------------------------------------------ all of it
    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.ensure_rest()
        self.citizens = list(self.stack.booth_ids)
        try:
            self.setup()  # a failed set-up is counted; the kill comes anyway
        except SoakAborted:
            raise
        except HARNESS_ERRORS as exc:
            self.fail("setup_failed", f"{type(exc).__name__}: {exc}")
        self.kill_and_restart()
        for phase, what in ((self.check_after, "checks"), (self.cleanup, "clean-up")):
            try:
                phase()
            except SoakAborted:
                raise
            except HARNESS_ERRORS as exc:  # one broken round does not end the series
                self.fail("harness_error", f"{what}: {type(exc).__name__}: {exc}")
        got = self.tally.counts - self.before
        self.result["violations"] = dict(got)
        self.result["wall_s"] = round(time.monotonic() - t0, 2)
        return self.result


# ------------------------------------------------------------------------------ the run
def run_bridge_soak(
    kills: int = 50,
    booths: int = 6,
    agents: int = 4,
    seed: int = 1,
    *,
    timings: SoakTimings | None = None,
    progress: Callable[[str], None] | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """``kills`` rounds (one bridge SIGKILL each) on ``booths`` booths and ``agents`` agents.
    ``progress`` gets each round's line; ``keep``: leave the working directory (logs,
    databases) behind, also when nothing failed (it is kept anyway when something did)."""
    if booths < 1 or agents < 1 or kills < 0:
        raise ValueError("booths and agents must be ≥ 1, kills ≥ 0")
    timings = timings or SoakTimings()
    t_start = time.monotonic()
    stack = SoakStack(booths, agents, timings)
    tally = Tally()
    rounds: list[dict[str, Any]] = []
    aborted: str | None = None
    try:
        stack.start()
        for i in range(1, kills + 1):
            rnd = Round(stack, i, random.Random(f"{seed}:{i}"), tally)
            try:
                r = rnd.run()
            except SoakAborted as exc:
                tally.add(
                    "process_died" if "exited" in str(exc) else "bridge_unhealthy", i, str(exc)
                )
                aborted = str(exc)
                break
            rounds.append(r)
            if progress is not None:
                progress(round_line(r, kills))
    except SoakAborted as exc:
        tally.add("process_died" if "exited" in str(exc) else "bridge_unhealthy", 0, str(exc))
        aborted = str(exc)
    finally:
        stack.stop()
    result = summarize(rounds, tally, stack, kills, booths, agents, seed)
    result["wall_s"] = round(time.monotonic() - t_start, 1)
    result["aborted"] = aborted
    if result["violation_total"] or keep:
        result["workdir"] = str(stack.workdir)
    else:
        stack.cleanup()
    return result


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(statistics.fmean(values), 3), "max": round(max(values), 3)}


def summarize(
    rounds: list[dict[str, Any]],
    tally: Tally,
    stack: SoakStack,
    kills: int,
    booths: int,
    agents: int,
    seed: int,
) -> dict[str, Any]:
    counts = tally.counts
    mix = {
        k: sum(1 for r in rounds if r.get("mix", {}).get(k, 0) > 0)
        for k in ("waiting", "ringing", "connected", "wrap_up")
    }
    return {
        "kills": len(rounds),
        "kills_planned": kills,
        "booths": booths,
        "agents": agents,
        "seed": seed,
        "calls_before_kills": sum(r.get("calls", 0) for r in rounds),
        "calls_in_flight": sum(r.get("in_flight", 0) for r in rounds),
        "calls_lost": sum(r.get("lost", 0) for r in rounds),
        "calls_duplicated": counts["call_duplicated"],
        "calls_phantom": counts["call_phantom"],
        "agents_stuck": counts["agent_stuck"],
        "agent_inconsistencies": counts["agent_inconsistent"] + counts["agent_regressed"],
        "booth_bridge_disagreements": counts["booth_disagree"],
        "rounds_with": mix,
        "restart_to_healthy_s": _stats([r["restart_s"] for r in rounds if "restart_s" in r]),
        "restart_to_mqtt_s": _stats([r["mqtt_s"] for r in rounds if "mqtt_s" in r]),
        "tokens_lost": stack.tokens_lost,
        "violations": {k: counts[k] for k in VIOLATIONS if counts[k]},
        "violation_total": sum(counts.values()),
        "details": tally.details,
        "rounds": rounds,
    }


# ------------------------------------------------------------------------------ output
def round_line(r: dict[str, Any], kills: int) -> str:
    mix = r.get("mix", {})
    bad = sum(r.get("violations", {}).values())
    what = ", ".join(f"{k} {v}" for k, v in sorted(r.get("violations", {}).items()))
    return (
        f"kill {r['round']:>3}/{kills}: {r.get('calls', 0)} calls (waiting {mix.get('waiting', 0)}"
        f", ringing {mix.get('ringing', 0)}, connected {mix.get('connected', 0)}; wrap-up "
        f"{mix.get('wrap_up', 0)}{', 1 in flight' if r.get('in_flight') else ''}), restart "
        f"{r.get('restart_s', float('nan')):.2f} s (mqtt {r.get('mqtt_s', float('nan')):.2f} s), "
        f"lost {r.get('lost', 0)}, disagree {r.get('disagree', 0)}, clean-up "
        f"{r.get('cleanup_s', float('nan')):.1f} s, round {r.get('wall_s', 0):.1f} s: "
        + ("ok" if not bad else f"{bad} VIOLATIONS ({what})")
    )


def print_report(result: dict[str, Any], *, rounds: bool = False) -> None:
    """The figures (and with ``rounds`` each round's line first)."""
    if rounds:
        for r in result["rounds"]:
            print(round_line(r, result["kills_planned"]))
    h, m = result["restart_to_healthy_s"], result["restart_to_mqtt_s"]
    mix = result["rounds_with"]

    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f} s"

    lines = [
        ("kills", f"{result['kills']} of {result['kills_planned']}"),
        ("booths / agents / seed", f"{result['booths']} / {result['agents']} / {result['seed']}"),
        (
            "calls before kills",
            f"{result['calls_before_kills']} (+{result['calls_in_flight']} in flight)",
        ),
        (
            "rounds with",
            f"waiting {mix['waiting']}, ringing {mix['ringing']}, connected "
            f"{mix['connected']}, wrap-up {mix['wrap_up']}",
        ),
        ("calls lost", str(result["calls_lost"])),
        ("calls duplicated", f"{result['calls_duplicated']} (phantom {result['calls_phantom']})"),
        ("agents stuck", str(result["agents_stuck"])),
        ("agent inconsistencies", str(result["agent_inconsistencies"])),
        ("booth/bridge disagreements", str(result["booth_bridge_disagreements"])),
        ("restart → healthy", f"mean {s(h['mean'])}, max {s(h['max'])}"),
        ("restart → MQTT connected", f"mean {s(m['mean'])}, max {s(m['max'])}"),
        ("tokens lost in restarts", str(result["tokens_lost"])),
        ("wall time", f"{result['wall_s']:.1f} s"),
    ]
    for k, v in lines:
        print(f"{k:28} {v}")
    total = result["violation_total"]
    if total:
        kinds = ", ".join(f"{k} {v}" for k, v in result["violations"].items())
        print(f"{'VIOLATIONS':28} {total}: {kinds}")
        for d in result["details"][:30]:
            print(f"  {d}")
        if result.get("workdir"):
            print(f"{'logs':28} {result['workdir']}")
    else:
        print(f"{'violations':28} 0")
    if result.get("aborted"):
        print(f"{'ABORTED':28} {result['aborted']}")
