"""``lisa demo``: the whole LISA system of the Landkreis Uckermark on one machine.

It runs, each as it runs in production:

- an MQTT broker (amqtt embedded in this process, loopback only; or ``--broker`` for another);
- the real cloud bridge as a child process (``lisa bridge run --demo``) with the tenant config
  ``cloud_bridge/examples/uckermark.toml`` (its database in the work directory);
- the five booths of the county (gartz-01 … lychen-01), each a ``lisa booth run --sim``
  process on simulated hardware with its own state directory and control socket;
- simulated agents in this process (:mod:`sim.demo_agents`): clearing2 at the front desk, who
  hands every citizen on to a service, and sozial2, pflege1, aok1 at the services;
- simulated citizens (:mod:`sim.demo_citizens`) who walk into idle booths every few seconds.

A supervisor's view of the bridge's live events is printed as a compact log. Anyone can take
over as an agent with ``lisa agent`` (accounts clearing1, sozial1, wohngeld1, super1, tech1,
password ``demo``), watch with ``lisa bridge status`` or attach ``lisa sim console`` to a booth.
It runs until Ctrl-C (or SIGTERM, SIGHUP), then stops everything in order: citizens, agents (log
out), booths and bridge (SIGTERM), broker; also when its output is gone (``lisa demo | tee log``
and the terminal closed: later lines go to /dev/null). Its children never outlive it (Linux: the
kernel SIGTERMs them when the demo dies).

``--auto`` (also when stdin is not a terminal) runs it for ``--duration`` seconds, prints
``lisa bridge status`` and a summary and exits 0 only when a call was answered, a call was
transferred and every process still ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from sim.booth_files import booth_config_text

if TYPE_CHECKING:
    from sim.demo_agents import Monitor, SimAgent, Stats
    from sim.demo_citizens import CitizenWalker

app = typer.Typer(
    help="Run the demo: MQTT broker, the cloud bridge, five simulated booths, simulated agents "
    "and citizens."
)

REPO = Path(__file__).resolve().parent.parent
BRIDGE_EXAMPLE = REPO / "cloud_bridge" / "examples" / "uckermark.toml"
MARKER = ".lisa-demo"
#: accounts of the demo's simulated agents (created by ``lisa bridge run --demo``)
SIM_AGENTS = ("clearing2", "sozial2", "pflege1", "aok1")
SUPERVISOR = "super1"
#: accounts for people who want to take part (all created by ``lisa bridge run --demo``)
HUMAN_ACCOUNTS = (
    ("clearing1", "front desk (Empfang): takes the citizens first, transfers them"),
    ("sozial1", "Sozialamt (grundsicherung, hilfe-zur-pflege, eingliederungshilfe, …)"),
    ("wohngeld1", "Wohngeldstelle (no simulated agent there: log in and transfer to it)"),
    ("super1", "supervisor: sees everything, may end any call"),
    ("tech1", "technician: booth commands (lisa agent: `cmd gartz-01 selftest.run`)"),
)
DEFAULT_DURATION = 40.0
START_TIMEOUT = 60.0  # for the bridge and for the booths to come up
STOP_TIMEOUT = 10.0  # SIGTERM, then SIGKILL
MAX_SOCKET_PATH = 100  # a Unix socket path has at most 107 bytes
#: what an old demo may have left in the work directory (it is wiped only when it holds no more)
OLD_LAYOUT = {"booth.toml", "booth.log", "booth.sock", "bridge.log", "state", "bridge.toml"}


class DemoError(Exception):
    """The demo cannot start; the message says why (exit 1, or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Stopped(Exception):
    """Ctrl-C / SIGTERM during the start."""


# ----------------------------------------------------------------------------------- output
def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null: its reader went away (``lisa demo |
    tee log`` and the terminal closed). What is still buffered, later lines and the flush at
    exit then go nowhere instead of failing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def write_line(text: str, stream: TextIO | None = None) -> bool:
    """``text`` and a newline to ``stream`` (stdout), flushed; False (and the stream sent to
    /dev/null) when its pipe or terminal is gone: the demo runs on and stops as it should."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):  # BrokenPipeError, EIO of a hung-up terminal, closed
        _to_devnull(stream)
        return False
    return True


class Printer:
    """One line at a time (the citizens' thread and the asyncio tasks both print). After
    :meth:`mute` the live log is silent (the summary is being printed, the demo goes down).
    Printing never fails: once the output is gone (:func:`write_line`) lines are dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._muted = False
        self.gone = False

    def _write(self, text: str) -> None:
        if not self.gone and not write_line(text):
            self.gone = True

    def line(self, text: str = "") -> None:
        with self._lock:
            self._write(text)

    def event(self, text: str) -> None:
        with self._lock:
            if not self._muted:
                self._write(f"{time.strftime('%H:%M:%S')}  {text}")

    def mute(self) -> None:
        with self._lock:
            self._muted = True


def shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def lisa_command() -> tuple[str, str]:
    """(the ``lisa`` executable to run, how to write it in instructions)."""
    from sim.bench import lisa_executable

    exe = lisa_executable()
    on_path = shutil.which("lisa")
    if on_path and Path(on_path).resolve() == Path(exe).resolve():
        return exe, "lisa"
    return exe, shown(Path(exe))


# --------------------------------------------------------------------------- the work directory
@dataclass(frozen=True)
class BoothSetup:
    id: str
    name: str
    site: str
    dir: Path

    @property
    def config(self) -> Path:
        return self.dir / "booth.toml"

    @property
    def socket(self) -> Path:
        return self.dir / "booth.sock"

    @property
    def log(self) -> Path:
        return self.dir / "booth.log"


@dataclass
class Layout:
    workdir: Path
    booths: list[BoothSetup]

    @property
    def bridge_config(self) -> Path:
        return self.workdir / "bridge.toml"

    @property
    def bridge_dir(self) -> Path:
        return self.workdir / "bridge"

    @property
    def database(self) -> Path:
        return self.bridge_dir / "bridge.db"

    @property
    def bridge_log(self) -> Path:
        return self.bridge_dir / "bridge.log"


def plan(workdir: Path) -> Layout:
    """The booths of the tenant config, each with its directory in ``workdir``."""
    from cloud_bridge.config import BridgeConfigError, load_bridge_config

    try:
        cfg = load_bridge_config(BRIDGE_EXAMPLE)
    except BridgeConfigError as exc:
        raise DemoError(f"the shipped bridge config is invalid: {exc}") from None
    booths = [BoothSetup(b.id, b.name, b.site, workdir / b.id) for b in cfg.booths]
    for b in booths:
        if len(str(b.socket).encode()) > MAX_SOCKET_PATH:
            raise DemoError(
                f"the control socket path {b.socket} is too long for a Unix socket; "
                "choose a shorter --workdir"
            )
    return Layout(workdir, booths)


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _bridge_running(layout: Layout) -> int | None:
    try:
        pid = int(json.loads((layout.bridge_dir / "bridge.pid").read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid


def wipe(layout: Layout) -> None:
    """Start clean: remove what an earlier demo left (refuses a directory the demo did not
    make, and one a running demo uses)."""
    workdir = layout.workdir
    if workdir.exists() and not workdir.is_dir():
        raise DemoError(f"--workdir {workdir} is not a directory")
    workdir.mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in workdir.iterdir()}
    ours = OLD_LAYOUT | {"bridge", MARKER, "dms"} | {b.id for b in layout.booths}
    if entries and MARKER not in entries and not entries <= ours:
        raise DemoError(
            f"--workdir {workdir} holds files the demo did not make; the demo wipes its work "
            "directory at every start: give a new or empty directory"
        )
    pid = _bridge_running(layout)
    busy = [b.id for b in layout.booths if _socket_answers(b.socket)]
    if pid is not None or busy or _socket_answers(workdir / "booth.sock"):
        raise DemoError(
            f"another demo runs in {workdir} (bridge pid {pid}, booths {', '.join(busy) or '-'});"
            " stop it or give another --workdir"
        )
    for path in workdir.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    (workdir / MARKER).write_text("made by `lisa demo`: wiped at every demo start\n", "utf-8")


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _replace(text: str, pattern: str, line: str, what: str) -> str:
    text, count = re.subn(pattern, lambda _: line, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise DemoError(f"cannot set {what}: no line matches {pattern!r} in the example config")
    return text


#: the demo's forms to sign (title, pages); each has an empty signature field "Unterschrift"
#: on its last page
DEMO_FORMS = (("Antrag_auf_Wohngeld", 4), ("Vollmacht", 1), ("Meldebescheinigung_Antrag", 2))


def demo_forms(directory: Path) -> Path:
    """A few PDF forms for the portal's template list (the demo's agents pick one to sign)."""
    from booth.signing.pdf import blank_pdf

    directory.mkdir(parents=True, exist_ok=True)
    for name, pages in DEMO_FORMS:
        path = directory / f"{name}.pdf"
        if not path.exists():
            title = name.replace("_", " ")
            path.write_bytes(blank_pdf(pages, field_name="Unterschrift", title=title))
    return directory


def write_bridge_config(layout: Layout, broker_url: str, port: int) -> Path:
    """The Uckermark tenant config with the database in the work directory, the broker and the
    API port of this demo."""
    from cloud_bridge.config import BridgeConfigError, load_bridge_config

    layout.bridge_dir.mkdir(parents=True, exist_ok=True)
    text = BRIDGE_EXAMPLE.read_text("utf-8")
    header = f"# Written by `lisa demo` from {shown(BRIDGE_EXAMPLE)} (wiped at every demo start).\n"
    text = _replace(
        text, r"^database = .*$", f"database = {_toml_str(str(layout.database))}", "database"
    )
    text = _replace(text, r"^url = \"mqtts?://.*$", f"url = {_toml_str(broker_url)}", "mqtt.url")
    text = _replace(text, r"^port = \d+.*$", f"port = {port}", "http.port")
    forms = demo_forms(layout.bridge_dir / "formulare")
    text += f"\n[signing]\ntemplates_dir = {_toml_str(str(forms))}\n"
    layout.bridge_config.write_text(header + text, "utf-8")
    try:
        cfg = load_bridge_config(layout.bridge_config)
    except BridgeConfigError as exc:
        raise DemoError(f"the demo's bridge config is invalid: {exc}") from None
    if cfg.bridge.database != layout.database or cfg.http.port != port:
        raise DemoError(f"{layout.bridge_config}: database or port did not take")
    return layout.bridge_config


def write_booth_config(booth: BoothSetup) -> Path:
    """booth-sim.toml with this booth's id, name, state directory and control socket."""
    booth.dir.mkdir(parents=True, exist_ok=True)
    try:
        dms = booth.dir.parent / "dms"
        dms.mkdir(parents=True, exist_ok=True)
        text = booth_config_text(
            booth.id,
            booth.dir / "state",
            booth.socket,
            name=booth.name,
            site=booth.site,
            dms_dir=dms,
        )
    except ValueError as exc:
        raise DemoError(str(exc)) from None
    booth.config.write_text(text, "utf-8")
    return booth.config


# ------------------------------------------------------------------------------ the processes
def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the demo dies (even by SIGKILL),
    so no booth or bridge is left behind; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the demo died before the prctl took
            os.kill(os.getpid(), signal.SIGTERM)

    return set_pdeathsig


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Children:
    """The demo's child processes. Each in a process group of its own: Ctrl-C reaches only
    the demo, which stops them in order."""

    children: list[Child] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], log: Path) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:  # the child keeps its own descriptor
            out.write(f"$ {' '.join(cmd)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent(),  # only a prctl call: safe beside threads
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def stop(self, names: list[str] | None = None, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (all at once), then SIGKILL whoever still runs after ``timeout``."""
        chosen = [c for c in self.children if names is None or c.name in names]
        for c in chosen:
            if c.alive():
                with contextlib.suppress(ProcessLookupError):
                    c.proc.terminate()
        deadline = time.monotonic() + timeout
        for c in chosen:
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()


# ----------------------------------------------------------------------------------- the demo
@dataclass
class Options:
    workdir: Path
    auto: bool
    duration: float
    broker: str | None
    seed: int | None


@dataclass
class Demo:
    opts: Options
    out: Printer
    layout: Layout
    lisa: str
    lisa_shown: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    children: Children = field(default_factory=Children)
    rng: random.Random = field(default_factory=random.Random)
    broker_url: str = ""
    api_url: str = ""
    screen_ports: dict[str, int] = field(default_factory=dict)
    embedded: Any = None
    monitor: Monitor | None = None
    monitor_task: asyncio.Task[None] | None = None
    agents: list[SimAgent] = field(default_factory=list)
    agent_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    walker: CitizenWalker | None = None
    reported_dead: set[str] = field(default_factory=set)

    # ---------------------------------------------------------------------------- start
    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        self._check_stop()

    def start_broker(self) -> None:
        if self.opts.broker is None:
            from sim.brokers import EmbeddedBroker

            self.embedded = EmbeddedBroker()
            try:
                self.embedded.start()
            except (RuntimeError, TimeoutError, OSError) as exc:
                raise DemoError(f"the embedded MQTT broker did not start: {exc}") from None
            self.broker_url = self.embedded.url
            return
        from sim.brokers import wait_listening

        host, port = broker_address(self.opts.broker)
        try:
            wait_listening(host, port, 5.0)
        except TimeoutError:
            raise DemoError(f"nothing listens at the broker {self.opts.broker}") from None
        self.broker_url = f"mqtt://{host}:{port}"

    async def start_bridge(self) -> None:
        from sim.brokers import free_port

        port = free_port()
        config = write_bridge_config(self.layout, self.broker_url, port)
        check = await asyncio.to_thread(
            subprocess.run,
            [self.lisa, "bridge", "check-config", str(config)],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise DemoError(
                f"lisa bridge check-config {config} failed:\n{check.stdout}{check.stderr}"
            )
        self.api_url = f"http://127.0.0.1:{port}"
        cmd = [self.lisa, "bridge", "run", "--config", str(config), "--demo"]
        cmd += ["--broker", self.broker_url, "--port", str(port)]
        child = self.children.start("bridge", cmd, self.layout.bridge_log)
        self.start_booths()
        await self._wait_http(child)

    async def _wait_http(self, child: Child) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                self._check_stop()
                if not child.alive():
                    raise DemoError(
                        f"the bridge exited with {child.proc.returncode}; see {shown(child.log)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.api_url}/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise DemoError(f"the bridge did not answer within {START_TIMEOUT:g} s")
                await self._pause(0.1)

    async def start_monitor(self) -> None:
        from cloud_bridge.agent_client import AgentClient
        from cloud_bridge.service_cli import DEMO_PASSWORD
        from sim.demo_agents import Monitor

        client = AgentClient(self.api_url, SUPERVISOR)
        await client.login(DEMO_PASSWORD)
        self.monitor = Monitor(client, self.out.event)
        self.monitor_task = asyncio.create_task(self.monitor.run(), name="demo-monitor")
        await asyncio.sleep(0)  # the monitor listens now: it gets the snapshot and all after it
        await client.connect()
        deadline = time.monotonic() + START_TIMEOUT
        while not (await client.status()).get("mqtt"):
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the bridge did not reach the broker {self.broker_url} within "
                    f"{START_TIMEOUT:g} s; see {shown(self.layout.bridge_log)}"
                )
            await self._pause(0.1)

    def start_booths(self) -> None:
        from sim.brokers import free_port

        for b in self.layout.booths:
            config = write_booth_config(b)
            self.screen_ports[b.id] = port = free_port()
            cmd = [self.lisa, "booth", "run", "--sim", "--config", str(config)]
            cmd += ["--broker", self.broker_url, "--id", b.id, "--screen-port", str(port)]
            self.children.start(b.id, cmd, b.log)

    async def wait_booths(self) -> None:
        """Until every booth is idle (self-test passed, MQTT link up)."""
        from booth.control_client import ControlClient, ControlClientError

        def state_of(path: Path) -> str | None:
            try:
                with ControlClient(path, timeout=2.0) as client:
                    return str(client.call("status").get("state"))
            except ControlClientError:
                return None

        waiting = {b.id: b for b in self.layout.booths}
        deadline = time.monotonic() + START_TIMEOUT
        states: dict[str, str | None] = {}
        while waiting:
            self._check_stop()
            for child in self.children.dead():
                raise DemoError(
                    f"{child.name} exited with {child.proc.returncode}; see {shown(child.log)}"
                )
            for b in list(waiting.values()):
                if b.socket.exists():
                    states[b.id] = await asyncio.to_thread(state_of, b.socket)
                    if states[b.id] == "idle":
                        del waiting[b.id]
            if waiting and time.monotonic() > deadline:
                late = ", ".join(f"{k} ({states.get(k) or 'no socket'})" for k in waiting)
                raise DemoError(f"booths not idle after {START_TIMEOUT:g} s: {late}")
            if waiting:
                await self._pause(0.2)

    async def start_agents(self) -> None:
        from cloud_bridge.service_cli import DEMO_PASSWORD
        from sim.demo_agents import SimAgent

        for user in SIM_AGENTS:
            rng = random.Random(self.rng.random())
            self.agents.append(SimAgent(self.api_url, user, DEMO_PASSWORD, self.out.event, rng=rng))
        await asyncio.gather(*(a.start() for a in self.agents))
        for agent in self.agents:
            self.agent_tasks.append(asyncio.create_task(agent.run(), name=f"agent-{agent.user}"))
        assert self.monitor is not None
        deadline = time.monotonic() + 5.0  # the live log shows them ready before the banner
        while time.monotonic() < deadline and any(
            self.monitor.agents.get(user) != "ready" for user in SIM_AGENTS
        ):
            await self._pause(0.05)

    def start_citizens(self) -> None:
        from sim.demo_citizens import CitizenWalker

        self.walker = CitizenWalker(
            {b.id: b.socket for b in self.layout.booths},
            self.out.event,
            rng=random.Random(self.rng.random()),
        )
        self.walker.start()

    # ---------------------------------------------------------------------------- run
    def instructions(self) -> None:
        lisa, work = self.lisa_shown, self.layout.workdir
        first = self.layout.booths[0]
        p = self.out.line
        p()
        p("=" * 78)
        p("LISA demo – Landkreis Uckermark: broker, cloud bridge, 5 booths, agents, citizens")
        p("=" * 78)
        kind = "embedded amqtt" if self.embedded is not None else "external"
        p(f"MQTT broker   {self.broker_url} ({kind})")
        p(f"cloud bridge  {self.api_url}  config {shown(self.layout.bridge_config)}")
        p(f"booths        {', '.join(b.id for b in self.layout.booths)} (simulated hardware)")
        p(f"agents        simulated: {', '.join(SIM_AGENTS)} (clearing2 = front desk)")
        p("citizens      walk into an idle booth every few seconds")
        p("logs          " + shown(self.layout.bridge_log))
        for b in self.layout.booths:
            p("              " + shown(b.log))
        p()
        p(f"Agents' portal (browser): {self.api_url}/   log in as clearing1, password demo")
        p("Booth screens (monitor · touch display · outside board):")
        for b in self.layout.booths:
            port = self.screen_ports.get(b.id)
            if port:
                base = f"http://127.0.0.1:{port}"
                p(f"  {b.id:<10} {base}/  {base}/touch  {base}/outside")
        p()
        p("Watch (in another terminal):")
        p(f"  {lisa} bridge status --config {shown(self.layout.bridge_config)}")
        p(f"  {lisa} sim console --socket {shown(first.socket)}")
        p("      (one booth live; `e` walks a citizen in, `l` lets them leave, `help`)")
        p("Take over as an agent (password: demo):")
        p(f"  {lisa} agent --url {self.api_url} --user clearing1")
        for name, role in HUMAN_ACCOUNTS:
            p(f"      {name:<10} {role}")
        p("Signed documents (a demo document system): " + shown(work / "dms"))
        p(f"Work directory {shown(work)} (wiped at the next start).")
        if self.opts.auto:
            p(f"Running for {self.opts.duration:g} s, then a summary.")
        else:
            p("Ctrl-C stops everything.")
        p("=" * 78)
        p()

    def check_children(self) -> bool:
        """Report a child that died (once); True while all run."""
        dead = self.children.dead()
        for child in dead:
            if child.name not in self.reported_dead:
                self.reported_dead.add(child.name)
                self.out.event(
                    f"!! {child.name} exited with {child.proc.returncode}; see {shown(child.log)}"
                )
        return not dead

    async def run(self) -> int:
        self.start_broker()
        self.out.line(f"MQTT broker {self.broker_url}")
        started = time.monotonic()
        self.out.line("starting the cloud bridge and the booths …")
        await self.start_bridge()  # the booths start meanwhile: they need only the broker
        await self.start_monitor()
        self.out.line(f"cloud bridge up at {self.api_url} ({time.monotonic() - started:.0f} s)")
        await self.wait_booths()
        self.out.line(f"booths idle ({time.monotonic() - started:.0f} s)")
        await self.start_agents()
        self.instructions()
        self.start_citizens()
        loop = asyncio.get_running_loop()
        end = loop.time() + self.opts.duration if self.opts.auto else None
        healthy = True
        while not self.stop.is_set():
            healthy = self.check_children() and healthy
            if self.opts.auto and not healthy:
                break  # the verdict is clear
            if end is not None and loop.time() >= end:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)
        if self.walker is not None:
            await asyncio.to_thread(self.walker.stop)
        healthy = self.check_children() and healthy
        return await self.finish(healthy)

    async def finish(self, healthy: bool) -> int:
        assert self.monitor is not None
        self.out.mute()  # the numbers and the status are of this moment
        return await self._verdict(replace(self.monitor.stats), healthy)

    async def _verdict(self, stats: Stats, healthy: bool) -> int:
        if self.opts.auto:
            await self.print_status()
        self.out.line()
        self.out.line(f"summary: {stats.line()}")
        if self.walker is not None:
            self.out.line(
                f"citizens: {self.walker.entered} walked in, {self.walker.left} left again"
            )
        if not self.opts.auto:
            return 0
        problems = []
        if stats.answered < 1:
            problems.append("no call was answered")
        if stats.transferred < 1:
            problems.append("no call was transferred")
        if not healthy:
            problems.append("a process exited: " + ", ".join(sorted(self.reported_dead)))
        if problems:
            self.out.line("demo FAILED: " + "; ".join(problems))
            return 1
        self.out.line("demo OK: calls were answered and transferred, every process ran")
        return 0

    async def print_status(self) -> None:
        cmd = [self.lisa, "bridge", "status", "--config", str(self.layout.bridge_config)]
        self.out.line()
        self.out.line(
            f"$ {self.lisa_shown} bridge status --config {shown(self.layout.bridge_config)}"
        )
        env = dict(os.environ, COLUMNS="110")
        result = await asyncio.to_thread(
            subprocess.run, cmd, capture_output=True, text=True, env=env
        )
        self.out.line((result.stdout + result.stderr).rstrip())

    # ---------------------------------------------------------------------------- stop
    async def shutdown(self) -> None:
        """Citizens, the supervisor view, agents (log out), booths, bridge, broker – each step
        bounded in time."""
        if self.walker is not None:
            await asyncio.to_thread(self.walker.stop)
        if self.monitor is not None:  # quiet from here on: the rest is the demo going down
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.monitor.client.logout(), 5.0)
            await self.monitor.client.close()
        if self.monitor_task is not None:
            self.monitor_task.cancel()
            await asyncio.gather(self.monitor_task, return_exceptions=True)
        for task in self.agent_tasks:
            task.cancel()
        await asyncio.gather(*self.agent_tasks, return_exceptions=True)
        if self.agents:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(a.shutdown() for a in self.agents), return_exceptions=True),
                    STOP_TIMEOUT,
                )
        booths = [b.id for b in self.layout.booths]
        await asyncio.to_thread(self.children.stop, booths)
        await asyncio.to_thread(self.children.stop, ["bridge"])
        await asyncio.to_thread(self.children.stop)  # anything else
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
        if self.children.children:
            self.out.line("stopped: agents logged out, booths and bridge ended, broker stopped")


def broker_address(url: str) -> tuple[str, int]:
    """``--broker mqtt://HOST:PORT`` → (host, port); DemoError (exit 2) otherwise."""
    from booth.mqtt_link import MqttUrlError, parse_url

    try:
        host, port, tls = parse_url(url)
    except MqttUrlError as exc:
        raise DemoError(str(exc), code=2) from None
    if tls:
        raise DemoError("--broker takes mqtt://HOST:PORT (no TLS)", code=2)
    return host, port


async def run_demo(opts: Options) -> int:
    out = Printer()
    lisa, lisa_shown = lisa_command()
    try:
        if opts.broker is not None:
            broker_address(opts.broker)  # a wrong URL must not wipe the work directory
        layout = plan(opts.workdir)
        wipe(layout)
    except DemoError as exc:
        write_line(f"lisa demo: {exc}", sys.stderr)
        return exc.code
    demo = Demo(opts, out, layout, lisa, lisa_shown, rng=random.Random(opts.seed))
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def on_signal() -> None:
        if not demo.stop.is_set():
            demo.stop.set()  # first: nothing may keep the demo from stopping
            out.line("\nstopping …")

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    code = 1
    try:
        code = await demo.run()
    except Stopped:
        code = 0
    except DemoError as exc:
        write_line(f"lisa demo: {exc}", sys.stderr)
        code = exc.code
    finally:
        await demo.shutdown()
        for sig in signals:
            loop.remove_signal_handler(sig)
    return code


@app.callback(invoke_without_command=True)
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its files (wiped at every start)")
    ] = Path("var/demo"),
    auto: Annotated[
        bool,
        typer.Option(
            "--auto",
            help="Run for --duration seconds, print the bridge status and a summary; exit 0 "
            "when a call was answered and one transferred (default without a terminal)",
        ),
    ] = False,
    duration: Annotated[
        float, typer.Option(min=1.0, help="Seconds to run with --auto")
    ] = DEFAULT_DURATION,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="Use this MQTT broker (mqtt://HOST:PORT, anonymous) instead of the embedded one",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the simulated agents and citizens")
    ] = None,
) -> None:
    """The whole system on this machine: MQTT broker, the cloud bridge (Uckermark), five booths
    on simulated hardware, simulated agents and citizens, with a live log. Ctrl-C stops it."""
    auto = auto or not sys.stdin.isatty()
    opts = Options(workdir.resolve(), auto, duration, broker, seed)
    raise typer.Exit(asyncio.run(run_demo(opts)))
