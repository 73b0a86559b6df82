"""``lisa demo``: a booth on simulated hardware talking MQTT to a simulated cloud bridge, and the
hardware simulator console, in one command.

Without ``--broker`` the demo embeds an MQTT broker (amqtt, loopback only, on a free port) in its
own process; it starts the simulated bridge (:class:`sim.bridge_sim.SimBridge`) against it and
then ``lisa booth run --sim --broker mqtt://127.0.0.1:PORT`` as a separate process (as on a booth
PC, with its own control socket and outbox), so every event and every call message really goes
through MQTT. The simulated bridge puts a caller in the queue at once, an agent answers after
``--answer-after`` seconds and hangs up after ``--hangup-after``. It waits for the booth to be
idle and attaches ``lisa sim console``. Without a terminal (``--auto`` or stdin piped) it plays
one visit through the console and exits. With ``--broker mqtt://HOST:PORT`` it uses that broker
(anonymous access) instead of the embedded one.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from sim.bench import lisa_executable

app = typer.Typer(
    help="Run the demo: embedded MQTT broker, simulated bridge, simulated booth, console."
)

EXAMPLE = Path(__file__).resolve().parent.parent / "booth" / "examples" / "booth-sim.toml"
# timers of the simulated agent when the demo plays its script (answers after 3 s, talks 5 s)
AUTO_ANSWER_AFTER = 3.0
AUTO_HANGUP_AFTER = 5.0
# The visit of --auto, timed for the timers above: presence needs 1.5 s to count, then the call
# is requested and queued at once, answered 3 s later and ended by the agent 5 s after that; the
# citizen leaves, presence times out (8 s), the privacy reset (3 s) and the door (2 s) follow.
AUTO_SCRIPT = [
    "status",
    "person.enter",
    "wait 3",
    "status",  # queued
    "wait 3",
    "status",  # in_call (talking)
    "wait 5",
    "status",  # farewell: the agent hung up
    "person.leave",
    "wait 14",
    "status",  # idle again
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


def _broker_address(url: str) -> tuple[str, int]:
    from booth.mqtt_link import MqttUrlError, parse_url

    try:
        host, port, tls = parse_url(url)
    except MqttUrlError as exc:
        print(f"lisa demo: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    if tls:
        print("lisa demo: --broker takes mqtt://HOST:PORT (no TLS)", file=sys.stderr)
        raise typer.Exit(2)
    return host, port


def _wait_for_booth(proc: subprocess.Popen[bytes], socket: Path, workdir: Path) -> str:
    """Wait for the control socket, then for idle (at most 30 s); returns the state."""
    from booth.control_client import ControlClient

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
    state = "booting"
    with ControlClient(socket) as client:  # self-test, then the MQTT link comes up: idle
        while time.monotonic() < deadline and proc.poll() is None:
            state = str(client.call("status").get("state"))
            if state == "idle":
                break
            time.sleep(0.1)
    return state


@app.callback(invoke_without_command=True)
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its files")] = Path(
        "var/demo"
    ),
    auto: Annotated[
        bool, typer.Option("--auto", help="Play one visit instead of the interactive console")
    ] = False,
    answer_after: Annotated[
        float | None,
        typer.Option(
            help="The simulated agent answers after this many seconds "
            f"[default: 5; {AUTO_ANSWER_AFTER:g} when playing the script]",
            show_default=False,
        ),
    ] = None,
    hangup_after: Annotated[
        float | None,
        typer.Option(
            help="The simulated agent hangs up this many seconds after answering "
            f"[default: 60; {AUTO_HANGUP_AFTER:g} when playing the script]",
            show_default=False,
        ),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="Use this MQTT broker (mqtt://HOST:PORT, anonymous) instead of the embedded one",
        ),
    ] = None,
) -> None:
    """A booth on simulated hardware (separate process) talking MQTT to a simulated cloud bridge,
    with the simulator console attached."""
    from booth.control_client import ControlClient
    from sim.bridge_sim import BridgeAction, SimBridge
    from sim.brokers import EmbeddedBroker
    from sim.console import run_console, run_piped

    scripted = auto or not sys.stdin.isatty()
    if answer_after is None:
        answer_after = AUTO_ANSWER_AFTER if scripted else 5.0
    if hangup_after is None:
        hangup_after = AUTO_HANGUP_AFTER if scripted else 60.0
    workdir = workdir.resolve()
    config = prepare(workdir)
    socket = workdir / "booth.sock"
    socket.unlink(missing_ok=True)
    print_lock = threading.Lock()

    def say(text: str) -> None:
        with print_lock:
            print(text, flush=True)

    embedded: EmbeddedBroker | None = None
    bridge: SimBridge | None = None
    proc: subprocess.Popen[bytes] | None = None
    booth_log = (workdir / "booth.log").open("ab")
    bridge_log = (workdir / "bridge.log").open("a", encoding="utf-8")

    def on_action(action: BridgeAction) -> None:
        line = f"[bridge] booth {action.booth} session {action.session[:8]}: {action.type}" + (
            f" – {action.detail}" if action.detail else ""
        )
        bridge_log.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        bridge_log.flush()
        if scripted:
            say(line)

    code = 0
    try:
        if broker is None:
            embedded = EmbeddedBroker()
            embedded.start()
            host, port = embedded.host, embedded.port
            url = embedded.url
            print(f"embedded MQTT broker (amqtt) on {url}")
        else:
            host, port = _broker_address(broker)
            url = f"mqtt://{host}:{port}"
            print(f"MQTT broker {url}")
        bridge = SimBridge(
            host, port, answer_after=answer_after, hangup_after=hangup_after, on_action=on_action
        )
        try:
            bridge.start()
        except (OSError, TimeoutError) as exc:
            print(f"lisa demo: cannot reach the broker {url}: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        print(
            f"simulated cloud bridge online: an agent answers {answer_after:g} s after a call "
            f"request and hangs up {hangup_after:g} s later (log: {workdir / 'bridge.log'})"
        )
        cmd = [
            lisa_executable(),
            "booth",
            "run",
            "--sim",
            "--config",
            str(config),
            "--broker",
            url,
        ]
        print(f"starting the booth: {' '.join(cmd)}\n  (log: {workdir / 'booth.log'})")
        proc = subprocess.Popen(cmd, stdout=booth_log, stderr=booth_log)
        state = _wait_for_booth(proc, socket, workdir)
        if state != "idle":
            print(f"warning: the booth is {state!r}, not idle, after 30 s", file=sys.stderr)
        print(
            "booth is up. In the console type `help`; `e` walks a citizen in, `l` lets them "
            "leave, `f`/`F` trip/clear the fire alarm, `quit` ends the demo. The simulated "
            "bridge answers and hangs up by itself (the agent.* inputs need a booth with a "
            "simulated central: lisa booth run --sim without --broker).\n"
        )
        if scripted:
            piped = [] if auto else list(sys.stdin)
            lines = piped or AUTO_SCRIPT
            with ControlClient(socket) as client:
                code = run_piped(client, lines, say)
        else:
            code = run_console(socket, None)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if bridge is not None:
            bridge.stop()
        if embedded is not None:
            embedded.stop()
        booth_log.close()
        bridge_log.close()
    raise typer.Exit(code)
