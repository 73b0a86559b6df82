"""``lisa sim …``: scenario runner, input catalogue, interactive console."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sim.day import day_command
from sim.harness import INPUTS
from sim.load import load_command

app = typer.Typer(help="Hardware simulator: scenarios, console.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("run")
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files (TOML)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per state change / actuator command")
    ] = False,
) -> None:
    """Run scenarios on virtual time. Exit 0: all expectations hold; 1: one failed; 2: malformed."""
    from sim.scenario import ScenarioError, parse_scenario, run_scenario

    worst = 0
    for path in scenarios:
        try:
            scenario = parse_scenario(path)
        except ScenarioError as exc:
            err.print(
                f"[red]malformed scenario[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            worst = max(worst, 2)
            continue

        def emit(rec: object) -> None:
            d = rec.to_dict()  # type: ignore[attr-defined]
            if d["kind"] in ("state", "actuator"):
                sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")

        try:
            result = run_scenario(scenario, emit if as_json else None)
        except ScenarioError as exc:
            err.print(
                f"[red]malformed scenario[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            worst = max(worst, 2)
            continue
        if as_json:
            verdict = {
                "kind": "verdict",
                "scenario": str(path),
                "passed": result.passed,
                "checked": result.checked,
            }
            if result.failure:
                verdict["report"] = result.failure.report(str(path))
            sys.stdout.write(json.dumps(verdict, ensure_ascii=False) + "\n")
        if result.passed:
            if not as_json:
                print(
                    f"PASS {path} ({result.checked} expectations, {len(scenario.steps)} steps, "
                    f"{scenario.duration:g} s virtual)"
                )
        else:
            assert result.failure is not None
            if not as_json:
                print(f"FAIL {path}")
                print(result.failure.report(str(path)))
            worst = max(worst, 1)
    raise typer.Exit(worst)


@app.command("inputs")
def inputs() -> None:
    """List the simulator inputs usable in scenarios and the console."""
    for spec in INPUTS.values():
        args = [f"{k}=<{t.__name__}>" for k, t in spec.args.items()]
        args += [f"[{k}=<{t.__name__}>]" for k, t in spec.optional.items()]
        print(f"{spec.name:<20} {' '.join(args):<28} {spec.help}")


@app.command("console")
def console(
    socket: Annotated[
        Path | None,
        typer.Option(
            "--socket",
            help="Control socket of the simulated booth (default: control.socket of --config, "
            "else $LISA_SOCKET, else /run/lisa/booth.sock).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Booth config naming the control socket.", show_default=False
        ),
    ] = None,
) -> None:
    """Attach to a running simulated booth (lisa booth run --sim): live view and inputs.

    Commands: the inputs of `lisa sim inputs` with key=value arguments, the aliases e l a h f F
    o c, status, wait N, help, quit. With stdin piped it works line by line: each command's
    result, then a one-line state summary (exit 1 when a command failed, 3: no daemon)."""
    from sim.console import run_console

    raise typer.Exit(run_console(socket, config))


@app.command("plc-server")
def plc_server(
    port: Annotated[int, typer.Option("--port", help="TCP port (0: a free one, printed).")] = 5020,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    travel_time: Annotated[
        float, typer.Option("--travel-time", min=0.01, help="Door travel time (s).")
    ] = 2.0,
    heartbeat_timeout: Annotated[
        float,
        typer.Option("--heartbeat-timeout", min=0.1, help="Dead-man timeout of the PLC (s)."),
    ] = 3.0,
    unit_id: Annotated[int, typer.Option("--unit-id", min=0, max=247, help="Modbus unit id.")] = 1,
) -> None:
    """A simulated booth PLC: Modbus TCP server with the register map of
    docs/plc-register-map.md, a door operator, fire alarm and dead-man.

    Prints what happens, one line each. Commands on stdin: fire on|off, obstruct, clear,
    egress, entry, jam, fault on|off, deadman, status, help, quit."""
    from sim.plc_server import run_cli

    raise typer.Exit(run_cli(host, port, travel_time, heartbeat_timeout, unit_id))


app.command("load")(load_command)
app.command("day")(day_command)


@app.command("sign")
def sign(
    input_pdf: Annotated[Path, typer.Argument(help="PDF to sign")],
    output_pdf: Annotated[Path, typer.Argument(help="Signed PDF to write")],
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Demo keys (created on first use). Default: $XDG_STATE_HOME/lisa-sim-sign or "
            "./var/lisa-sim-sign",
        ),
    ] = None,
    field: Annotated[str, typer.Option("--field", help="Signature field name")] = "Signature1",
    page: Annotated[int, typer.Option("--page", help="Page (0-based) for a new field")] = 0,
    box: Annotated[
        str | None, typer.Option("--box", help="x1,y1,x2,y2 in points for a new field")
    ] = None,
    tsa: Annotated[str | None, typer.Option("--tsa", help="Timestamp authority URL (B-T)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic strokes")] = 7,
) -> None:
    """Sign a PDF with a simulated citizen signature (synthetic strokes, 500 Hz, 1,024 pressure
    levels), its sealed biometric data, and demo keys. Prints where the keys are."""
    from booth.signing.pdf import SigningError, SignOptions
    from sim.sign_demo import default_state_dir, sim_sign

    directory = state_dir or default_state_dir()
    rect: tuple[int, int, int, int] | None = None
    if box:
        try:
            a, b, c, d = (int(v) for v in box.split(","))
        except ValueError:
            err.print("--box must be x1,y1,x2,y2", highlight=False)
            raise typer.Exit(2) from None
        rect = (a, b, c, d)
    try:
        data = input_pdf.read_bytes()
        result, keys, created = sim_sign(
            data, directory, SignOptions(field_name=field, page=page, box=rect, tsa_url=tsa), seed
        )
        output_pdf.write_bytes(result.pdf)
    except (OSError, SigningError, ValueError) as exc:
        err.print(f"[red]lisa sim sign:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    print(
        f"signed {input_pdf} -> {output_pdf} (field {result.field_name}, PAdES {result.level}, "
        f"biometric blob {result.blob_size} bytes, document sha256 {result.document_sha256})"
    )
    print(f"demo keys {'created' if created else 'reused'} in {keys.directory}:")
    for what, path in keys.all.items():
        print(f"  {what}: {path}")
    print(
        f"verify:  lisa signature verify --root {keys.root_cert} {output_pdf}\n"
        f"decrypt: lisa signature biometrics --key {keys.bio_private} {output_pdf}"
    )


@app.command("media-check")
def media_check(
    seconds: Annotated[float, typer.Option(min=1, help="How long media is measured")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> None:
    """A simulated booth and an agent's media peer through the real signalling path on
    loopback (embedded broker, the real bridge): setup time, frame rates both ways, audio,
    glass-to-glass latency, audio/video offset, real-time text. Exit 1 when media failed."""
    import asyncio

    from sim.media_check import measure, print_result

    try:
        result = asyncio.run(measure(seconds))
    except (TimeoutError, RuntimeError, OSError) as exc:
        err.print(f"[red]media check failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result))
    else:
        print_result(result)
    ok = (result.get("booth_to_agent_fps") or 0) > 0 and result.get("audio_ok")
    raise typer.Exit(0 if ok else 1)


@app.command("soak-broker")
def soak_broker(
    restarts: Annotated[int, typer.Option(min=1, help="Broker restarts")] = 100,
    rate: Annotated[float, typer.Option(min=1, help="Booth events per second")] = 100.0,
    up_s: Annotated[float, typer.Option(min=0.1, help="Seconds up between restarts")] = 1.0,
    down_s: Annotated[float, typer.Option(min=0.0, help="Seconds down per restart")] = 0.3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Booth events through a real Mosquitto restarted again and again (persistence on, as
    in production): every event reaches the consumer exactly once. Exit 1 otherwise."""
    from sim.soak_broker import ok, print_report, run_broker_soak

    result = run_broker_soak(restarts, rate, up_s, down_s)
    if as_json:
        print(json.dumps(result))
    else:
        print_report(result)
    raise typer.Exit(0 if ok(result) else 1)


@app.command("soak-bridge")
def soak_bridge(
    kills: Annotated[int, typer.Option("--kills", min=0, help="Bridge SIGKILLs (rounds)")] = 50,
    booths: Annotated[int, typer.Option("--booths", min=1, help="Simulated booths")] = 6,
    agents: Annotated[int, typer.Option("--agents", min=1, help="ACD agents")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the roles and timings")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object at the end")] = False,
) -> None:
    """SIGKILL the real bridge again and again with calls waiting, ringing, connected and in
    wrap-up (Mosquitto, the bridge and simulated booths as processes, agents over HTTP): no
    call lost or duplicated, no agent stuck, booths and bridge agree. One line per kill (on
    stderr with --json), then the figures. Exit 1 on any violation, 2 when it cannot run."""
    from sim.soak_bridge import print_report, run_bridge_soak

    def progress(line: str) -> None:
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)

    try:
        result = run_bridge_soak(kills, booths, agents, seed, progress=progress)
    except (OSError, RuntimeError) as exc:  # no mosquitto, the system did not start
        err.print(f"[red]soak-bridge cannot run:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_report(result)
    raise typer.Exit(1 if result["violation_total"] else 0)
