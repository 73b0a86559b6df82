"""The ``lisa`` console script: subcommand groups are registered through the ``lisa.commands``
entry points (``booth``, ``diag``, ``sim``, ``bench``, and later ``bridge``/``agent``), so this
module never imports the simulator or the cloud bridge."""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from booth.config import ConfigError, load_config

err = Console(stderr=True)

booth_app = typer.Typer(
    help="The booth controller daemon and its configuration.", no_args_is_help=True
)


def _root() -> typer.Typer:
    app = typer.Typer(
        help="LISA – digital citizen offices: booth controller, simulator, diagnostics.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    seen: set[str] = set()
    for ep in sorted(entry_points(group="lisa.commands"), key=lambda e: e.name):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not break the other commands
            err.print(f"[yellow]warning:[/] command group {ep.name!r} unavailable: {exc}")
            continue
        app.add_typer(sub, name=ep.name)
    return app


def main() -> None:
    _root()(prog_name="lisa")


@booth_app.command("check-config")
def check_config(
    file: Annotated[Path, typer.Argument(help="Booth config (TOML)")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result")] = False,
) -> None:
    """Validate a booth config file; exit 0 when valid, 2 with every problem otherwise."""
    try:
        config, _ = load_config(file)
    except ConfigError as exc:
        if as_json:
            print(json.dumps({"ok": False, "file": str(file), "problems": exc.problems}))
        else:
            err.print(f"[red]{file}: invalid configuration[/]", highlight=False)
            for line in str(exc).splitlines():
                err.print(f"  {line}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"ok": True, "file": str(file), "booth": config.booth.id}))
    else:
        slots = ", ".join(f"{s}={d.driver}" for s, d in config.devices.slots().items())
        print(f"{file}: OK (booth {config.booth.id}; devices: {slots})")


@booth_app.command("run")
def run(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Booth config (TOML). Default: /etc/lisa/booth.toml, with --sim the shipped "
            "simulated booth.",
            show_default=False,
        ),
    ] = None,
    sim: Annotated[
        bool, typer.Option("--sim", help="Use simulated drivers for every device")
    ] = False,
    socket: Annotated[
        Path | None, typer.Option("--socket", help="Control socket path (overrides config)")
    ] = None,
    demo_agent: Annotated[
        float | None,
        typer.Option("--demo-agent", help="(sim) a simulated agent answers after N s"),
    ] = None,
    booth_id: Annotated[
        str | None, typer.Option("--id", help="Booth id (overrides booth.id)")
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="Talk to the bridge through this broker: mqtt://HOST:PORT or mqtts://HOST:PORT "
            "(credentials from [mqtt] or LISA_MQTT_USERNAME / LISA_MQTT_PASSWORD)",
        ),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="State directory (overrides state_dir)")
    ] = None,
    screen_port: Annotated[
        int | None,
        typer.Option(
            "--screen-port",
            min=0,
            max=65535,
            help="Serve the booth screens on 127.0.0.1:PORT (overrides screen.port); 0: off",
        ),
    ] = None,
) -> None:
    """Run the booth controller daemon (systemd: Type=notify with watchdog)."""
    from booth.daemon import run_daemon

    if config is None:
        config = (
            Path(__file__).resolve().parent / "examples" / "booth-sim.toml"
            if sim
            else Path("/etc/lisa/booth.toml")
        )
    code = run_daemon(
        config,
        sim=sim,
        socket=socket,
        demo_agent=demo_agent,
        booth_id=booth_id,
        broker=broker,
        state_dir=state_dir,
        screen_port=screen_port,
    )
    raise typer.Exit(code)


@booth_app.command("diagram")
def diagram(
    write: Annotated[
        Path | None, typer.Option("--write", help="Write docs/state-machine.md to this path")
    ] = None,
) -> None:
    """Print (or write) the state diagram generated from the state machine."""
    from booth.machine import state_machine_doc

    doc = state_machine_doc()
    if write is None:
        sys.stdout.write(doc)
    else:
        write.write_text(doc, encoding="utf-8")
        print(f"wrote {write}")


@booth_app.command("config-reference")
def config_reference_cmd(
    write: Annotated[
        Path | None, typer.Option("--write", help="Write docs/config.md to this path")
    ] = None,
) -> None:
    """Print (or write) the configuration reference generated from the config models."""
    from booth.config_doc import config_reference

    doc = config_reference()
    if write is None:
        sys.stdout.write(doc)
    else:
        write.write_text(doc, encoding="utf-8")
        print(f"wrote {write}")


@booth_app.command("asyncapi")
def asyncapi_cmd(
    write: Annotated[
        Path | None, typer.Option("--write", help="Write docs/asyncapi.yaml to this path")
    ] = None,
) -> None:
    """Print (or write) the AsyncAPI 3.0 document of the MQTT contract (needs PyYAML)."""
    from lisa_messages.asyncapi import asyncapi_yaml

    doc = asyncapi_yaml()
    if write is None:
        sys.stdout.write(doc)
    else:
        write.write_text(doc, encoding="utf-8")
        print(f"wrote {write}")
