"""``lisa agent``: a terminal client for agents (and a scripted one for tests and operators).

Interactive::

    lisa agent --url http://127.0.0.1:8080 --user clearing1

prints live events (offers ring with call id, booth and queue) and reads commands, one a line
(``help`` lists them). Scripted::

    lisa agent -u clearing1 --password-stdin --script "ready; wait offer 30; accept; hangup"

runs the steps (``;`` or newlines between them) and exits 0 when all succeeded, 1 on the first
failed step, 2 on wrong usage or a failed login. ``--json`` prints every received event as one
JSON line on stdout (messages then go to stderr).

It stays one module (slightly over 500 lines): it is one CLI, whose step parser, output and
session are used only by its two modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cloud_bridge.agent_client import AgentClient, ApiError, NoCurrentCall

app = typer.Typer(
    help="Terminal client for agents: live offers and calls; interactive or scripted.",
    pretty_exceptions_enable=False,
)

WAIT_KINDS = ("offer", "connected", "ended", "withdrawn", "transferred", "consult", "status")
AGENT_STATUSES = ("logged_out", "ready", "not_ready", "offered", "busy", "wrap_up")
DEFAULT_WAIT_S = 30.0

HELP = """\
  ready                          ready for calls (logs you in to the ACD)
  pause [REASON]                 not ready (default reason: break)
  logout                         log out of the ACD (no more offers)
  accept [CALL]                  take the call offered to you (default: the current offer)
  decline [CALL]                 refuse it
  hangup [CALL]                  end your call
  transfer QUEUE                 blind transfer to a queue
  transfer @CLERK [fallback Q]   blind transfer to a clerk (queue Q when the clerk stays busy)
  consult QUEUE|@CLERK           ask someone first (then: complete | cancel)
  complete | cancel              hand over after the consultation / give it up
  status | queues                your status, the queues
  cmd BOOTH COMMAND [JSON-ARGS]  send a command to a booth: cmd gartz-1 light.set {"brightness": 1}
  wait offer|connected|ended|withdrawn [S]   wait for that event (default 30 s)
  wait S                         pause S seconds
  expect status STATUS           fail unless your status is STATUS
  help | quit"""


class UsageError(Exception):
    """A malformed command or script step."""


class StepFailed(Exception):
    """A step that did not succeed (API error, timeout, unmet expectation)."""


@dataclass(frozen=True, slots=True)
class Step:
    verb: str
    args: tuple[str, ...]
    text: str
    json_args: dict[str, Any] = field(default_factory=dict)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_step(line: str) -> Step:
    """One command line; :class:`UsageError` with the reason when malformed."""
    text = line.strip()
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    if verb == "cmd":
        parts = rest.strip().split(maxsplit=2)
        if len(parts) < 2:
            raise UsageError("cmd BOOTH COMMAND [JSON-ARGS]")
        args: dict[str, Any] = {}
        if len(parts) == 3:
            try:
                args = json.loads(parts[2])
            except ValueError as exc:
                raise UsageError(f"cmd: arguments are not JSON: {exc}") from None
            if not isinstance(args, dict):
                raise UsageError("cmd: arguments must be a JSON object")
        return Step(verb, (parts[0], parts[1]), text, args)
    words = tuple(rest.split())
    n = len(words)
    if verb in ("ready", "logout", "status", "queues", "help", "quit", "exit"):
        if n:
            raise UsageError(f"{verb} takes no arguments")
    elif verb == "pause":
        if n > 1:
            raise UsageError("pause [REASON] (one word, e.g. lunch)")
    elif verb in ("accept", "decline", "hangup", "complete", "cancel"):
        if n > 1:
            raise UsageError(f"{verb} [CALL]")
    elif verb in ("transfer", "consult"):
        ok = n == 1 or (n == 3 and words[0].startswith("@") and words[1] == "fallback")
        if not ok or words[0] in ("@", "") or (n == 3 and not words[2]):
            raise UsageError(f"{verb} QUEUE | {verb} @CLERK [fallback QUEUE]")
    elif verb == "wait":
        if n == 1 and _number(words[0]) is not None:
            pass
        elif n in (1, 2) and words[0] in WAIT_KINDS:
            if n == 2 and _number(words[1]) is None:
                raise UsageError(f"wait {words[0]} [TIMEOUT_S]: not a number: {words[1]}")
        else:
            raise UsageError(f"wait {'|'.join(WAIT_KINDS[:4])} [TIMEOUT_S] | wait SECONDS")
    elif verb == "expect":
        if n != 2 or words[0] != "status" or words[1] not in AGENT_STATUSES:
            raise UsageError(f"expect status {'|'.join(AGENT_STATUSES)}")
    elif verb == "":
        raise UsageError("empty step")
    else:
        raise UsageError(f"unknown command {verb!r} (help lists the commands)")
    return Step("quit" if verb == "exit" else verb, words, text)


def parse_script(text: str) -> list[Step]:
    """Steps separated by ``;`` or newlines; blank ones and ``#`` comments are skipped."""
    steps = []
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0] if raw_line.lstrip().startswith("#") else raw_line
        for part in line.split(";"):
            if part.strip():
                try:
                    steps.append(parse_step(part))
                except UsageError as exc:
                    raise UsageError(f"step {part.strip()!r}: {exc}") from None
    return steps


class Output:
    """Human messages (rich; stdout, with ``--json`` stderr), errors (stderr) and, with
    ``--json``, raw events as JSON lines on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(stderr=as_json, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, text: str) -> None:
        self.console.print(text)

    def error(self, text: str) -> None:
        self.err.print(f"[red]{escape(text)}[/]")

    def raw(self, item: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(item, separators=(",", ":"), default=str) + "\n")
        sys.stdout.flush()

    def event(self, kinds: frozenset[str], item: dict[str, Any]) -> None:
        if self.as_json:
            self.raw(item)
            return
        text = describe(kinds, item)
        if text:
            self.say(text)


def describe(kinds: frozenset[str], item: dict[str, Any]) -> str | None:
    """The line shown for an event that concerns me (None: not shown)."""
    e = {k: escape(str(v)) for k, v in item.items() if v is not None}
    if "offer" in kinds:
        if item.get("consult_for"):
            return (
                f"[bold yellow]RING[/] consultation from {e['consult_for']} about call "
                f"{e['call']} (booth {e.get('booth', '?')}) - accept | decline"
            )
        return (
            f"[bold yellow]RING[/] call {e['call']} from booth {e.get('booth', '?')} "
            f"(queue {e.get('queue', '?')}, {e.get('ring_timeout_s', '?')} s) - accept | decline"
        )
    if "withdrawn" in kinds:
        return f"offer {e['call']} withdrawn ({e.get('reason', '')})"
    if "connected" in kinds:
        return (
            f"[bold green]CONNECTED[/] call {e['id']} with booth {e.get('booth', '?')} "
            f"(queue {e.get('queue', '?')})"
        )
    if "ended" in kinds:
        return f"[bold]ENDED[/] call {e['call']} ({e.get('reason', '')})"
    if "transferred" in kinds:
        return f"call {e['id']} handed over to {e.get('agent') or e.get('queue') or '?'}"
    if "consult" in kinds:
        return (
            f"consultation on call {e['call']}: {e.get('agent')} + {e.get('consultant')} "
            f"{e.get('state', '')}"
        )
    if "status" in kinds:
        reason = f" ({e['reason']})" if item.get("reason") else ""
        return f"status: [bold]{e.get('status')}[/]{reason}"
    if item.get("type") == "connection":
        if item.get("state") == "lost":
            return f"[yellow]event stream lost, reconnecting in {e.get('retry_s')} s[/]"
        return f"[red]event stream closed: {e.get('reason', '')}[/]"
    if item.get("type") == "error":
        return f"[red]server: {e.get('detail', '')}[/]"
    return None


class Session:
    """Runs steps against one logged-in client."""

    def __init__(self, client: AgentClient, out: Output, *, interactive: bool) -> None:
        self.client = client
        self.out = out
        self.interactive = interactive

    async def run(self, step: Step) -> bool:
        """Run one step; False for ``quit``. Raises :class:`StepFailed`."""
        try:
            return await self._run(step)
        except ApiError as exc:
            raise StepFailed(f"{step.text}: {exc.detail} ({exc.status} {exc.code})") from None
        except NoCurrentCall as exc:
            raise StepFailed(f"{step.text}: {exc}") from None
        except TimeoutError as exc:
            raise StepFailed(f"{step.text}: {exc}") from None
        except ConnectionError as exc:
            raise StepFailed(f"{step.text}: {exc}") from None
        except httpx.HTTPError as exc:
            raise StepFailed(f"{step.text}: bridge unreachable: {exc}") from None

    async def _run(self, step: Step) -> bool:
        c, a, say = self.client, step.args, self.out.say
        verb = step.verb
        if verb == "quit":
            return False
        if verb == "help":
            say("[bold]Commands[/]\n" + escape(HELP))
        elif verb == "ready":
            say(_status_line(await c.set_status("ready")))
        elif verb == "pause":
            say(_status_line(await c.set_status("not_ready", a[0] if a else None)))
        elif verb == "logout":
            say(_status_line(await c.set_status("logged_out")))
        elif verb == "accept":
            call = a[0] if a else c.current_offer
            await c.accept(call)
            say(f"accepted call {escape(str(call))}")
        elif verb == "decline":
            await c.decline(a[0] if a else None)
            say("declined")
        elif verb == "hangup":
            await c.hangup(a[0] if a else None)
            say("hung up")
        elif verb in ("transfer", "consult"):
            target = a[0]
            clerk = target[1:] if target.startswith("@") else None
            queue = a[2] if len(a) == 3 else (None if clerk else target)
            mode: Literal["blind", "consult"] = "consult" if verb == "consult" else "blind"
            await c.transfer(queue, clerk, mode=mode)
            say(f"{'consulting' if mode == 'consult' else 'transferred to'} {escape(target)}")
        elif verb == "complete":
            await c.complete_transfer(a[0] if a else None)
            say("handed over")
        elif verb == "cancel":
            await c.cancel_transfer(a[0] if a else None)
            say("consultation cancelled")
        elif verb == "status":
            await self._show_status()
        elif verb == "queues":
            self._show_queues(await c.queues())
        elif verb == "cmd":
            result = await c.booth_command(a[0], a[1], step.json_args)
            if not result.get("ok", False):
                raise StepFailed(f"{step.text}: booth refused: {result.get('error')}")
            say(f"ok: {escape(json.dumps(result.get('result'), default=str))}")
        elif verb == "wait":
            await self._wait(a)
        elif verb == "expect":
            status = await c.agent_status()
            if status != a[1]:
                raise StepFailed(f"{step.text}: status is {status}")
            say(f"status is {escape(status)}")
        return True

    async def _wait(self, a: tuple[str, ...]) -> None:
        seconds = _number(a[0])
        if seconds is not None:
            await asyncio.sleep(seconds)
            return
        timeout = float(a[1]) if len(a) == 2 else DEFAULT_WAIT_S
        await self.client.wait_for(a[0], timeout)

    async def _show_status(self) -> None:
        data = await self.client.whoami()
        agent = data.get("agent")
        user = data["user"]
        self.out.say(
            f"{escape(user['name'])} ({escape(user['role'])})"
            + (f": {_status_line(agent)}" if agent else ": not an agent")
        )
        if self.client.current_offer:
            self.out.say(f"offered: call {escape(self.client.current_offer)}")
        if self.client.current_call:
            self.out.say(f"in call: {escape(self.client.current_call)}")

    def _show_queues(self, queues: list[dict[str, Any]]) -> None:
        table = Table(
            "queue", "name", "open", "waiting", "ringing", "connected", "ready", "logged in"
        )
        for q in queues:
            table.add_row(
                escape(str(q.get("id"))),
                escape(str(q.get("name", ""))),
                "yes" if q.get("open") else "no",
                *(str(q.get(k, "")) for k in ("waiting", "ringing", "connected", "ready")),
                str(q.get("logged_in", "")),
            )
        self.out.console.print(table)


def _status_line(agent: dict[str, Any]) -> str:
    reason = f" ({escape(str(agent['reason']))})" if agent.get("reason") else ""
    call = f", call {escape(str(agent['call']))}" if agent.get("call") else ""
    return f"status [bold]{escape(str(agent.get('status')))}[/]{reason}{call}"


async def _print_events(client: AgentClient, out: Output) -> None:
    async for kinds, item in client.live():
        out.event(kinds, item)


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Reads stdin in a daemon thread (never keeps the process alive)."""

    def reader() -> None:
        while True:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            if not line:
                loop.call_soon_threadsafe(queue.put_nowait, None)
                return
            loop.call_soon_threadsafe(queue.put_nowait, line)

    threading.Thread(target=reader, name="agent-stdin", daemon=True).start()


async def _interactive(session: Session, out: Output) -> int:
    out.say(
        f"logged in as [bold]{escape(session.client.user)}[/]; type [bold]help[/] for the "
        "commands, [bold]quit[/] to leave"
    )
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    _stdin_lines(asyncio.get_running_loop(), lines)
    while True:
        line = await lines.get()
        if line is None:
            break
        if not line.strip():
            continue
        try:
            if not await session.run(parse_step(line)):
                break
        except (UsageError, StepFailed) as exc:
            out.error(str(exc))
    agent = session.client.agent or {}
    if agent.get("status") in ("ready", "not_ready"):
        with contextlib.suppress(ApiError, httpx.HTTPError):
            await session.client.set_status("logged_out")
            out.say("logged out of the ACD")
    return 0


async def _scripted(session: Session, steps: list[Step], out: Output) -> int:
    for step in steps:
        try:
            if not await session.run(step):
                break
        except StepFailed as exc:
            out.error(f"failed: {exc}")
            return 1
    return 0


async def _main(
    url: str,
    user: str,
    password: str,
    steps: list[Step] | None,
    out: Output,
    http_timeout: float,
) -> int:
    client = AgentClient(url, user, timeout=http_timeout)
    printer: asyncio.Task[None] | None = None
    try:
        try:
            await client.login(password)
            printer = asyncio.create_task(_print_events(client, out))
            await client.connect(timeout=http_timeout)
        except ApiError as exc:
            out.error(f"login failed: {exc.detail} ({exc.status} {exc.code})")
            return 2
        except (httpx.HTTPError, OSError, TimeoutError, ConnectionError) as exc:
            out.error(f"cannot reach the bridge at {url}: {exc or type(exc).__name__}")
            return 2
        session = Session(client, out, interactive=steps is None)
        if steps is None:
            return await _interactive(session, out)
        return await _scripted(session, steps, out)
    finally:
        with contextlib.suppress(Exception):
            await client.logout()
        await client.close()
        if printer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(printer, 2.0)


def _usage(message: str) -> NoReturn:
    sys.stderr.write(f"lisa agent: {message}\n")
    raise typer.Exit(2)


@app.callback(invoke_without_command=True)
def agent(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Option("--url", envvar="LISA_URL", help="The bridge's API (scheme://host:port)."),
    ] = "http://127.0.0.1:8080",
    user: Annotated[
        str,
        typer.Option(
            "--user", "-u", envvar="LISA_USER", help="Your login name.", show_default=False
        ),
    ] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from stdin's first line (else $LISA_PASSWORD or a prompt).",
        ),
    ] = False,
    script: Annotated[
        str | None,
        typer.Option(
            "--script",
            "-s",
            help='Run these steps and exit, e.g. "ready; wait offer 30; accept; hangup".',
            show_default=False,
        ),
    ] = None,
    script_file: Annotated[
        str | None,
        typer.Option(
            "--script-file",
            help="Run the steps in this file ('-' = stdin, after the password line with "
            "--password-stdin).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every received event as one JSON line.")
    ] = False,
    http_timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds for HTTP requests and connecting.")
    ] = 10.0,
) -> None:
    """Log in as an agent and take calls: interactive by default, or run a --script.

    Exit codes: 0 ok; 1 a script step failed; 2 wrong usage or failed login."""
    if ctx.invoked_subcommand is not None:
        return
    if not user:
        _usage("--user is required (or $LISA_USER)")
    if script is not None and script_file is not None:
        _usage("give --script or --script-file, not both")
    if not url.startswith(("http://", "https://")):
        _usage(f"--url must start with http:// or https://: {url}")
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    text = script
    if script_file is not None:
        try:
            text = sys.stdin.read() if script_file == "-" else Path(script_file).read_text("utf-8")
        except OSError as exc:
            _usage(f"cannot read {script_file}: {exc.strerror or exc}")
    steps: list[Step] | None = None
    if text is not None:
        try:
            steps = parse_script(text)
        except UsageError as exc:
            _usage(str(exc))
    if password is None:
        password = os.environ.get("LISA_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            _usage("no password: use --password-stdin or $LISA_PASSWORD")
        password = str(typer.prompt(f"Password for {user}", hide_input=True))
    out = Output(as_json)
    try:
        code = asyncio.run(_main(url, user, password, steps, out, http_timeout))
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)
