"""``lisa demo``: a booth on simulated hardware and the hardware simulator console, in one command.

Starts ``lisa booth run --sim`` as a separate process (as on a booth PC, with its own control
socket; a simulated agent answers a few seconds after a citizen walks in), waits for it, and
attaches ``lisa sim console``. Without a terminal (``--auto`` or stdin piped) it plays one visit
through the console and exits. Later issues extend the demo to the whole system.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sim.bench import lisa_executable

app = typer.Typer(help="Run the demo: a simulated booth with the simulator console.")

EXAMPLE = Path(__file__).resolve().parent.parent / "booth" / "examples" / "booth-sim.toml"
AUTO_SCRIPT = [
    "status",
    "person.enter",
    "wait 3",
    "status",
    "wait 5",
    "status",
    "agent.transfer queue=wohngeld",
    "wait 6",
    "status",
    "agent.hangup",
    "wait 1",
    "person.leave",
    "wait 13",
    "status",
    "quit",
]


def prepare(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text("utf-8")
    text = text.replace('state_dir = "var/booth-sim"', f'state_dir = "{workdir}/state"')
    text = text.replace('socket = "var/booth-sim/booth.sock"', f'socket = "{workdir}/booth.sock"')
    config = workdir / "booth.toml"
    config.write_text(text, "utf-8")
    return config


@app.callback(invoke_without_command=True)
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its files")] = Path(
        "var/demo"
    ),
    auto: Annotated[
        bool, typer.Option("--auto", help="Play one visit instead of the interactive console")
    ] = False,
    answer_after: Annotated[
        float, typer.Option(help="The simulated agent answers after this many seconds")
    ] = 5.0,
) -> None:
    """A booth on simulated hardware (separate process) and the simulator console attached."""
    from booth.control_client import ControlClient
    from sim.console import run_console, run_piped

    workdir = workdir.resolve()
    config = prepare(workdir)
    socket = workdir / "booth.sock"
    socket.unlink(missing_ok=True)
    log = (workdir / "booth.log").open("ab")
    cmd = [
        lisa_executable(),
        "booth",
        "run",
        "--sim",
        "--config",
        str(config),
        "--demo-agent",
        str(answer_after),
    ]
    print(f"starting the booth: {' '.join(cmd)}\n  (log: {workdir / 'booth.log'})")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    code = 0
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if proc.poll() is not None:
                print(
                    f"the booth daemon exited with {proc.returncode}; see {workdir}/booth.log",
                    file=sys.stderr,
                )
                raise typer.Exit(1)
            if time.monotonic() > deadline:
                print("the booth daemon did not come up within 30 s", file=sys.stderr)
                raise typer.Exit(1)
            time.sleep(0.1)
        with ControlClient(socket) as client:  # let the self-test finish first
            while client.call("status").get("state") in ("booting", "selftest"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        print(
            "booth is up. In the console type `help`; `e` walks a citizen in, `l` lets them "
            "leave, `f`/`F` trip/clear the fire alarm, `quit` ends the demo.\n"
        )
        if auto or not sys.stdin.isatty():
            piped = [] if auto or sys.stdin.isatty() else list(sys.stdin)
            lines = piped or AUTO_SCRIPT
            with ControlClient(socket) as client:
                code = run_piped(client, lines, lambda s: print(s, flush=True))
        else:
            code = run_console(socket, None)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    raise typer.Exit(code)
