"""``lisa sim console``: drive a running simulated booth (``lisa booth run --sim``) by hand.

It attaches through the booth's control socket. On a terminal it shows a live view (state,
screen page, door, presence distance and filter, sign, link, device health, last events) fed by
a ``watch all`` stream and a periodic ``status``, and reads commands on a prompt line. With
stdin not a terminal (piped) it works line by line without the live view: each command's result,
then a one-line state summary, so it can be scripted::

    printf 'person.enter\\nwait 3\\nstatus\\nquit\\n' | lisa sim console --socket S

Commands: the simulator inputs (``lisa sim inputs``) with ``key=value`` arguments, the short
aliases below, ``status``, ``wait N`` (N real seconds), ``help``, ``quit``.
"""

from __future__ import annotations

import os
import select
import shlex
import sys
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from booth.control_client import ControlClient, ControlClientError, resolve_socket
from sim.harness import INPUTS, InputError, check_input

ALIASES: dict[str, str] = {
    "e": "person.enter",
    "l": "person.leave",
    "a": "agent.answer",
    "h": "agent.hangup",
    "f": "emergency.on",
    "F": "emergency.off",
    "o": "door.obstruct",
    "c": "door.clear",
}
MAX_WAIT = 3600.0
STATUS_EVERY = 1.0


@dataclass
class Command:
    kind: str  # empty | quit | help | status | wait | input | error
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


def parse_command(line: str) -> Command:
    """Parse one console line. Never raises: problems come back as ``kind == "error"``."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        return Command("error", error=f"cannot read {line.strip()!r}: {exc}")
    if not tokens:
        return Command("empty")
    word, rest = tokens[0], tokens[1:]
    if word in ("quit", "exit"):
        return Command("quit")
    if word in ("help", "?"):
        return Command("help")
    if word == "status":
        if rest:
            return Command("error", error="status takes no arguments")
        return Command("status")
    if word == "wait":
        try:
            if len(rest) != 1:
                raise ValueError
            seconds = float(rest[0])
        except ValueError:
            return Command("error", error="usage: wait SECONDS (e.g. wait 3)")
        if not 0.0 <= seconds <= MAX_WAIT:
            return Command("error", error=f"wait takes 0 to {MAX_WAIT:g} seconds, got {seconds:g}")
        return Command("wait", seconds=seconds)
    name = ALIASES.get(word, word)
    if name not in INPUTS:
        return Command(
            "error", error=f"unknown command {word!r}; type help for the inputs and aliases"
        )
    args: dict[str, Any] = {}
    for token in rest:
        key, sep, value = token.partition("=")
        if not sep or not key:
            return Command(
                "error", error=f"argument {token!r} must be key=value (e.g. queue=wohngeld)"
            )
        args[key] = value
    try:
        check_input(name, args)
    except InputError as exc:
        return Command("error", error=str(exc))
    return Command("input", name=name, args=args)


def help_text() -> str:
    lines = ["inputs (key=value arguments; [optional]):"]
    for spec in INPUTS.values():
        shown = [f"{k}=<{t.__name__}>" for k, t in spec.args.items()]
        shown += [f"[{k}=<{t.__name__}>]" for k, t in spec.optional.items()]
        lines.append(f"  {spec.name:<19} {' '.join(shown):<24} {spec.help}")
    lines.append("aliases: " + ", ".join(f"{k}={v}" for k, v in ALIASES.items()))
    lines.append("also: status, wait N (real seconds), help, quit")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ text
def _m(value: Any) -> str:
    return "no echo" if value is None else f"{value:.2f}m"


def summary(st: dict[str, Any]) -> str:
    """One line: where the booth is now."""
    state = st.get("state")
    detail = st.get("detail")
    pres = st.get("presence") or {}
    door = str(st.get("door"))
    if st.get("entry_locked"):
        door += "/locked"
    parts = [
        f"state={state}" + (f" ({detail})" if detail and detail != state else ""),
        f"screen={(st.get('screen') or {}).get('page')}",
        f"door={door}",
        f"present={'yes' if pres.get('present') else 'no'}",
        f"sonar={_m(st.get('distance'))}",
        f"sign={st.get('sign')}",
        f"link={'up' if st.get('link') else 'down'}",
    ]
    if st.get("emergency"):
        parts.append("EMERGENCY")
    if st.get("queue_position"):
        parts.append(f"queue_position={st.get('queue_position')}")
    failures = st.get("failures") or {}
    if failures:
        parts.append("faults=" + ",".join(failures))
    return " ".join(parts)


def status_text(st: dict[str, Any]) -> str:
    pres = st.get("presence") or {}
    light = st.get("light") or {}
    screen = st.get("screen") or {}
    lines = [
        f"booth {st.get('booth')}: state {st.get('state')} ({st.get('detail')})",
        f"  screen    {screen.get('page')} {screen.get('params') or ''}".rstrip(),
        f"  door      {st.get('door')}, entry {'locked' if st.get('entry_locked') else 'open'}",
        f"  presence  {'present' if pres.get('present') else 'nobody'} (sonar "
        f"{_m(st.get('distance'))}, median {_m(pres.get('median'))}, near "
        f"{'yes' if pres.get('near') else 'no'})",
        f"  sign      {st.get('sign')}; light {light.get('scene')} {light.get('brightness')}",
        f"  link      {'up' if st.get('link') else 'down'}; emergency "
        f"{'ACTIVE' if st.get('emergency') else 'no'}",
    ]
    unhealthy = []
    for slot, dev in (st.get("devices") or {}).items():
        health = dev.get("health") or {}
        if health.get("status") != "ok":
            unhealthy.append(f"{slot} {health.get('status')} ({health.get('reason')})")
    lines.append("  devices   " + ("; ".join(unhealthy) if unhealthy else "all ok"))
    return "\n".join(lines)


def describe_event(rec: dict[str, Any]) -> str:
    t = rec.get("t")
    stamp = f"{t:9.1f}" if isinstance(t, int | float) else " " * 9
    kind = rec.get("kind")
    rest = {k: v for k, v in rec.items() if k not in ("t", "kind")}
    if kind == "state":
        text = f"-> {rest.get('detail') or rest.get('state')}"
    else:
        text = " ".join(f"{k}={v}" for k, v in rest.items())
    return f"{stamp} {kind:<8} {text}"


# ------------------------------------------------------------------------------------ session
class ConsoleSession:
    """Carries out commands against the daemon; the same for piped and live use."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.failures = 0

    def status(self) -> dict[str, Any]:
        return self.client.call("status")

    def execute(self, cmd: Command) -> str:
        """Result text of one command (raises :class:`ControlClientError` when the daemon is
        gone; daemon-side refusals come back as text)."""
        if cmd.kind == "error":
            self.failures += 1
            return f"error: {cmd.error}"
        if cmd.kind == "help":
            return help_text()
        if cmd.kind == "wait":
            time.sleep(cmd.seconds)
            return f"waited {cmd.seconds:g} s"
        if cmd.kind == "status":
            return status_text(self.status())
        if cmd.kind == "input":
            answer = self.client.request("inject", input=cmd.name, args=cmd.args)
            if not answer.get("ok"):
                self.failures += 1
                return f"error: {answer.get('error')}"
            return str(answer.get("result"))
        return ""


def run_piped(client: ControlClient, lines: Iterable[str], write: Callable[[str], None]) -> int:
    """Line by line, for scripts: result and one-line summary after every command.
    Returns 0, or 1 when a command failed."""
    session = ConsoleSession(client)
    write(summary(session.status()))
    for raw in lines:
        cmd = parse_command(raw)
        if cmd.kind == "empty":
            continue
        write(f"> {raw.strip()}")
        if cmd.kind == "quit":
            break
        result = session.execute(cmd)
        if result:
            write(result)
        if cmd.kind not in ("help", "error"):
            write(summary(session.status()))
    return 1 if session.failures else 0


# ------------------------------------------------------------------------------------ live view
_HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "unavailable": "bold red"}


class LiveView:
    """The interactive screen: status poll + ``watch all`` stream + a prompt line."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.session = ConsoleSession(client)
        self.status: dict[str, Any] = {}
        self.presence: dict[str, Any] = {}
        self.events: deque[str] = deque(maxlen=14)
        self.message = "type help for the commands; quit to leave"
        self.buffer = ""
        self.stream_error = ""
        self._stop = threading.Event()

    def _watch(self) -> None:
        watcher = ControlClient(self.client.path, timeout=self.client.timeout)
        try:
            for item in watcher.stream("watch", topic="all", samples=True, idle_timeout=10.0):
                if self._stop.is_set():
                    return
                if item.get("stream"):
                    continue
                if item.get("kind") == "presence":
                    self.presence = item
                else:
                    self.events.append(describe_event(item))
        except ControlClientError as exc:
            self.stream_error = str(exc)

    def render(self) -> RenderableType:
        st = self.status
        pres = self.presence or {}
        info = Table.grid(padding=(0, 2))
        info.add_column(style="bold")
        info.add_column()
        state = str(st.get("state", "?"))
        style = {
            "idle": "green",
            "emergency": "bold white on red",
            "fault": "bold red",
            "maintenance": "yellow",
        }.get(state, "bold cyan")
        info.add_row("state", Text(f"{state} ({st.get('detail')})", style=style))
        info.add_row("screen", str((st.get("screen") or {}).get("page")))
        info.add_row(
            "door", f"{st.get('door')}, entry {'locked' if st.get('entry_locked') else 'open'}"
        )
        info.add_row(
            "presence",
            f"{'PRESENT' if pres.get('present', st.get('present')) else 'nobody'}  sonar "
            f"{_m(pres.get('distance', st.get('distance')))}  median {_m(pres.get('median'))}  "
            f"near {'yes' if pres.get('near') else 'no'}"
            + ("  (held: door closed)" if pres.get("door_hold") else ""),
        )
        info.add_row("sign", str(st.get("sign")))
        light = st.get("light") or {}
        info.add_row("light", f"{light.get('scene')} {light.get('brightness')}")
        info.add_row("link", "up" if st.get("link") else Text("down", style="red"))
        if st.get("emergency"):
            info.add_row("emergency", Text("ACTIVE", style="bold red"))
        if st.get("queue_position"):
            info.add_row("queue", f"position {st.get('queue_position')}")
        devices = Table.grid(padding=(0, 2))
        devices.add_column()
        devices.add_column()
        for slot, dev in (st.get("devices") or {}).items():
            health = dev.get("health") or {}
            hs = str(health.get("status"))
            reason = f" {health.get('reason')}" if health.get("reason") else ""
            devices.add_row(slot, Text(hs + reason, style=_HEALTH_STYLE.get(hs, "white")))
        top = Table.grid(padding=(0, 4))
        top.add_column()
        top.add_column()
        top.add_row(info, devices)
        events = Text("\n".join(self.events) or "(no events yet)")
        footer = [Text(self.message)]
        if self.stream_error:
            footer.append(Text(f"event stream: {self.stream_error}", style="red"))
        footer.append(Text(f"> {self.buffer}", style="bold") + Text("█", style="blink"))
        return Group(
            Panel(
                top,
                title=f"LISA sim console – booth {st.get('booth', '?')}",
                subtitle=str(self.client.path),
            ),
            Panel(events, title="last events"),
            *footer,
        )

    def _command(self, line: str) -> bool:
        cmd = parse_command(line)
        if cmd.kind == "quit":
            return False
        if cmd.kind == "empty":
            return True
        if cmd.kind == "help":
            self.message = (
                "inputs: " + ", ".join(INPUTS) + " (key=value arguments; lisa sim inputs "
                "lists them)\naliases: "
                + ", ".join(f"{k}={v}" for k, v in ALIASES.items())
                + "\nalso: status, wait N, help, quit"
            )
            return True
        try:
            self.message = f"> {line.strip()}: {self.session.execute(cmd)}"
        except ControlClientError as exc:
            self.message = f"error: {exc}"
        return True

    def run(self) -> int:
        self.status = self.session.status()
        threading.Thread(target=self._watch, name="console-watch", daemon=True).start()
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        console = Console()
        last_status = 0.0
        escape = False
        try:
            tty.setcbreak(fd)
            with Live(self.render(), console=console, screen=True, auto_refresh=False) as live:
                running = True
                while running:
                    ready, _, _ = select.select([fd], [], [], 0.2)
                    if ready:
                        for ch in os.read(fd, 1024).decode("utf-8", "ignore"):
                            if escape:  # skip the rest of an escape sequence (arrow keys)
                                escape = not ch.isalpha() and ch != "~"
                                continue
                            if ch == "\x1b":
                                escape = True
                            elif ch in ("\r", "\n"):
                                line, self.buffer = self.buffer, ""
                                running = self._command(line)
                                last_status = 0.0
                                if not running:
                                    break
                            elif ch in ("\x7f", "\b"):
                                self.buffer = self.buffer[:-1]
                            elif ch == "\x04":
                                running = False
                                break
                            elif ch == "\x15":  # Ctrl-U
                                self.buffer = ""
                            elif ch.isprintable():
                                self.buffer += ch
                    if time.monotonic() - last_status >= STATUS_EVERY:
                        last_status = time.monotonic()
                        try:
                            self.status = self.session.status()
                        except ControlClientError as exc:
                            self.message = f"error: {exc}"
                    live.update(self.render(), refresh=True)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop.set()
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        return 0


# ------------------------------------------------------------------------------------ entry
def run_console(socket: Path | None, config: Path | None) -> int:
    """Entry point of ``lisa sim console``; returns the exit code (3: no daemon)."""
    try:
        path = resolve_socket(socket, config)
        client = ControlClient(path, timeout=30.0)
        with client:
            st = client.call("status")
            if not st.get("simulated"):
                sys.stderr.write(
                    f"lisa sim console: the booth on {path} is not simulated; the console only "
                    "attaches to a booth started with: lisa booth run --sim\n"
                )
                return 2
            if sys.stdin.isatty() and sys.stdout.isatty():
                return LiveView(client).run()

            def write(text: str) -> None:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

            return run_piped(client, sys.stdin, write)
    except ControlClientError as exc:
        sys.stderr.write(f"lisa sim console: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 0


__all__ = [
    "ALIASES",
    "Command",
    "ConsoleSession",
    "LiveView",
    "help_text",
    "parse_command",
    "run_console",
    "run_piped",
    "status_text",
    "summary",
]
