"""``lisa diag …``: diagnostics for technicians on the booth PC.

Every command except ``hash-uid`` and ``drivers`` talks to the running booth daemon through its
local control socket (:mod:`booth.control_client`). Exit codes: 0 success; 1 the daemon refused
or a check failed (e.g. a failed self-test); 2 wrong usage (missing ``--yes``, bad argument or
config); 3 the daemon cannot be reached (not running, no socket, permission denied).

It stays one module (slightly over 500 lines): it is one CLI's commands, sharing the
control-socket helpers and exit codes above.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from booth.control_client import (
    TOPICS,
    ControlClient,
    ControlClientError,
    resolve_socket,
)

app = typer.Typer(
    help="Diagnostics for technicians on the booth PC.",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

SocketOpt = Annotated[
    Path | None,
    typer.Option(
        "--socket",
        help="Control socket of the booth daemon (default: control.socket of --config, else "
        "$LISA_SOCKET, else /run/lisa/booth.sock).",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Booth config (TOML) naming the control socket.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only (for scripts).")]


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"lisa diag: {message}\n")
    raise typer.Exit(code)


def _client(socket: Path | None, config: Path | None, timeout: float = 30.0) -> ControlClient:
    try:
        return ControlClient(resolve_socket(socket, config), timeout=timeout)
    except ControlClientError as exc:
        _fail(str(exc), exc.exit_code)


def _call(
    client: ControlClient, op: str, timeout: float | None = None, **fields: Any
) -> dict[str, Any]:
    try:
        return client.call(op, timeout=timeout, **fields)
    except ControlClientError as exc:
        _fail(str(exc), exc.exit_code)
    finally:
        client.close()


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _metres(value: Any) -> str:
    return "no echo" if value is None else f"{value:.2f} m"


_HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "unavailable": "red"}
_OUTCOME_STYLE = {"pass": "green", "fail": "red", "error": "red", "not-present": "yellow"}


# ------------------------------------------------------------------------------------ status
@app.command("status")
def status(
    as_json: JsonOpt = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """State of the booth, its devices and the link (exit 3 when the daemon is not running)."""
    st = _call(_client(socket, config), "status")
    st.pop("ok", None)
    if as_json:
        _print_json(st)
        return
    booth = Table(title=f"Booth {st.get('booth')}", show_header=False, title_justify="left")
    booth.add_column("what", style="bold")
    booth.add_column("value")
    state = str(st.get("state"))
    detail = st.get("detail")
    booth.add_row("state", state + (f" ({detail})" if detail and detail != state else ""))
    booth.add_row("screen", str((st.get("screen") or {}).get("page")))
    booth.add_row("link", "up" if st.get("link") else "[red]down[/]")
    booth.add_row("emergency", "[red]ACTIVE[/]" if st.get("emergency") else "no")
    locked = st.get("entry_locked")
    booth.add_row(
        "door",
        f"{_fmt(st.get('door'))}, entry {'locked' if locked else 'open'}"
        if locked is not None
        else _fmt(st.get("door")),
    )
    pres = st.get("presence") or {}
    booth.add_row(
        "presence",
        f"{'present' if pres.get('present') else 'nobody'} (sonar {_metres(st.get('distance'))}, "
        f"median {_metres(pres.get('median'))})",
    )
    booth.add_row("sign", _fmt(st.get("sign")))
    light = st.get("light")
    if light:
        booth.add_row("light", f"{light.get('scene')} {round(100 * light.get('brightness', 0))}%")
    if st.get("in_session"):
        pos = st.get("queue_position")
        booth.add_row("visit", "citizen in the booth" + (f", queue position {pos}" if pos else ""))
    failures = st.get("failures") or {}
    if failures:
        booth.add_row(
            "out of service", "[red]" + "; ".join(f"{k}: {v}" for k, v in failures.items()) + "[/]"
        )
    versions = st.get("versions") or {}
    booth.add_row("version", f"lisa {versions.get('lisa')}, Python {versions.get('python')}")
    booth.add_row("uptime", f"{_fmt(st.get('uptime'))} s")
    out.print(booth)

    devices = Table(title="Devices", title_justify="left")
    for col in ("device", "driver", "critical", "health", "reason", "self-test"):
        devices.add_column(col)
    for slot, dev in (st.get("devices") or {}).items():
        health = dev.get("health") or {}
        hs = str(health.get("status"))
        sto = dev.get("selftest")
        devices.add_row(
            slot,
            str(dev.get("driver")),
            _fmt(dev.get("critical")),
            f"[{_HEALTH_STYLE.get(hs, 'white')}]{hs}[/]",
            str(health.get("reason") or ""),
            f"[{_OUTCOME_STYLE.get(str(sto), 'white')}]{sto}[/]" if sto else "–",
        )
    out.print(devices)


# ------------------------------------------------------------------------------------ selftest
@app.command("selftest")
def selftest(
    device: Annotated[str | None, typer.Argument(help="Only this device (e.g. door)")] = None,
    as_json: JsonOpt = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run the device self-tests now. Exit 0: all passed; 1: a test failed or was refused."""
    fields: dict[str, Any] = {} if device is None else {"device": device}
    answer = _call(_client(socket, config, timeout=120.0), "selftest", **fields)
    results: dict[str, Any] = answer.get("results") or {}
    passed = bool(answer.get("passed"))
    if as_json:
        _print_json({"passed": passed, "results": results})
    else:
        table = Table(title="Self-test", title_justify="left")
        for col in ("device", "result", "message"):
            table.add_column(col)
        for slot, res in results.items():
            outcome = str(res.get("outcome"))
            table.add_row(
                slot,
                f"[{_OUTCOME_STYLE.get(outcome, 'white')}]{outcome}[/]",
                str(res.get("message", "")),
            )
        out.print(table)
        out.print("[green]all passed[/]" if passed else "[red]FAILED[/]")
    raise typer.Exit(0 if passed else 1)


# ------------------------------------------------------------------------------------ watch/log
def _describe(rec: dict[str, Any]) -> str:
    kind = rec.get("kind")
    if kind == "presence":
        return (
            f"sonar {_metres(rec.get('distance'))}  median {_metres(rec.get('median'))}  "
            f"near {_fmt(rec.get('near'))}  present {_fmt(rec.get('present'))}"
            + ("  (held: door stayed closed)" if rec.get("door_hold") else "")
        )
    if kind == "dropped":
        return f"{rec.get('count')} records dropped (too slow)"
    rest = {k: v for k, v in rec.items() if k not in ("t", "kind")}
    if kind == "state":
        return f"-> {rest.get('detail') or rest.get('state')}"
    return "  ".join(
        f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
        for k, v in rest.items()
    )


_KIND_STYLE = {
    "state": "bold cyan",
    "error": "bold red",
    "health": "yellow",
    "actuator": "magenta",
    "input": "green",
    "presence": "blue",
    "dropped": "red",
}


def _print_record(rec: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    kind = str(rec.get("kind"))
    t = rec.get("t")
    stamp = f"{t:10.3f}" if isinstance(t, int | float) else " " * 10
    style = _KIND_STYLE.get(kind, "white")
    out.print(f"{stamp}  [{style}]{kind:<9}[/] ", end="", soft_wrap=True)
    out.print(_describe(rec), markup=False, soft_wrap=True)


def _follow(items: Iterator[dict[str, Any]], count: int | None, as_json: bool) -> None:
    shown = 0
    try:
        if count is not None and count <= 0:
            return
        for rec in items:
            _print_record(rec, as_json)
            shown += 1
            if count is not None and shown >= count:
                break
    except KeyboardInterrupt:
        pass
    except ControlClientError as exc:
        _fail(str(exc), exc.exit_code)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


@app.command("watch")
def watch(
    topic: Annotated[str, typer.Argument(help=f"One of: {', '.join(TOPICS)}")],
    count: Annotated[
        int | None, typer.Option("--count", "-n", min=1, help="Stop after N lines")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Live readout of one part of the booth until Ctrl-C.

    Topics: presence (plus the sonar distance and the filter every 0.5 s), door, light, plc,
    nfc, signature, camera, audio, state, all."""
    if topic not in TOPICS:
        _fail(f"unknown topic {topic!r} (topics: {', '.join(TOPICS)})", 2)
    client = _client(socket, config)
    stream = client.stream("watch", topic=topic)
    try:
        next(stream)  # the daemon's acknowledgement
    except ControlClientError as exc:
        _fail(str(exc), exc.exit_code)
    if not as_json:
        err.print(f"watching {topic} on {client.path} (Ctrl-C to stop)")
    _follow(stream, count, as_json)


@app.command("log")
def log_cmd(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Recent records")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The booth's recent trace: state changes, inputs, actuator commands, health, errors."""
    client = _client(socket, config)
    if not follow:
        answer = _call(client, "log", lines=lines)
        for rec in answer.get("records") or []:
            _print_record(rec, as_json)
        return
    stream = client.stream("log", lines=lines, follow=True)
    try:
        first = next(stream)
    except ControlClientError as exc:
        _fail(str(exc), exc.exit_code)
    for rec in first.get("records") or []:
        _print_record(rec, as_json)
    _follow(stream, None, as_json)


# ------------------------------------------------------------------------------------ actuate
@app.command("actuate")
def actuate(
    device: Annotated[
        str,
        typer.Argument(help="door, light, audio, camera_main, camera_document, signature or plc"),
    ],
    action: Annotated[str, typer.Argument(help="e.g. open, scene, tone, grab, output")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments of the action")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really move the hardware")] = False,
    as_json: JsonOpt = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Drive one device by hand (needs --yes; refused while a citizen is inside).

    Examples: door open|close|lock|unlock; light scene consultation 0.8; light sign
    out-of-service; audio tone [Hz] [s]; audio loop on; camera_main grab; camera_document
    zoom 0.5; signature enable|disable|clear; plc heartbeat; plc output door_release on.
    While a citizen is in the booth, switch to maintenance first."""
    if not yes:
        _fail("add --yes to move hardware", 2)
    answer = _call(
        _client(socket, config), "actuate", device=device, action=action, args=list(args or [])
    )
    if as_json:
        answer.pop("ok", None)
        _print_json(answer)
        return
    result = answer.get("result")
    detail = ""
    if isinstance(result, dict):
        detail = ": " + ", ".join(f"{k}={_fmt(v)}" for k, v in result.items())
    print(f"{device} {action}{(' ' + ' '.join(args)) if args else ''}: done{detail}")


# ------------------------------------------------------------------------------------ bundle
def _tar_add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@app.command("bundle")
def bundle(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the .tar.gz (default: lisa-bundle-<booth>-<time>.tar.gz here)",
            show_default=False,
        ),
    ] = None,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a support bundle (.tar.gz) and print its path.

    It holds the config with secrets redacted, versions, the last 500 trace records, the last
    self-test results and the status."""
    answer = _call(_client(socket, config, timeout=60.0), "bundle")
    now = time.time()
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        booth = re.sub(r"[^a-z0-9-]", "", str(answer.get("booth", "booth")))
        output = Path(f"lisa-bundle-{booth}-{stamp}.tar.gz")
    history = "".join(
        json.dumps(rec, ensure_ascii=False) + "\n" for rec in answer.get("trace") or []
    )
    config_doc = {"config_file": answer.get("config_file"), **(answer.get("config") or {})}
    members = {
        "config-redacted.json": _dumps(config_doc),
        "versions.json": _dumps(
            {**(answer.get("versions") or {}), "created": answer.get("created")}
        ),
        "state-history.jsonl": history.encode("utf-8"),
        "selftest.json": _dumps(answer.get("selftest") or {}),
        "status.json": _dumps(answer.get("status") or {}),
    }
    top = output.name.removesuffix(".tar.gz").removesuffix(".tgz") or "lisa-bundle"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as fh:
            output.chmod(0o600)
            with tarfile.open(fileobj=fh, mode="w:gz") as tar:
                for name, data in members.items():
                    _tar_add(tar, f"{top}/{name}", data, now)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    print(output)


# ------------------------------------------------------------------------------------ maintenance
@app.command("maintenance")
def maintenance(
    mode: Annotated[str, typer.Argument(help="on or off")],
    as_json: JsonOpt = False,
    socket: SocketOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Switch the booth into maintenance (out of service, free to actuate) or back."""
    if mode not in ("on", "off"):
        _fail(f"maintenance takes on or off, got {mode!r}", 2)
    answer = _call(_client(socket, config), "maintenance", enter=mode == "on")
    if as_json:
        answer.pop("ok", None)
        _print_json(answer)
        return
    if answer.get("reached"):
        print(f"maintenance {mode}: booth now in state {answer.get('state')}")
    else:
        print(f"maintenance {mode}: {answer.get('note')}")


# ------------------------------------------------------------------------------------ offline
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _config_data(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    except tomllib.TOMLDecodeError as exc:
        _fail(f"{path}: invalid TOML: {exc}", 2)


@app.command("hash-uid")
def hash_uid_cmd(
    uid: Annotated[str, typer.Argument(help="Card UID in hex, e.g. 04A1B2C3D4E5F6")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Booth config (TOML) with maintenance.uid_salt")
    ] = Path("/etc/lisa/booth.toml"),
) -> None:
    """Print the salted hash of a badge UID for maintenance.badge_hashes (no daemon needed)."""
    from hal.base import hash_uid

    text = re.sub(r"[\s:\-]", "", uid)
    if not text or len(text) % 2 or not _HEX.match(text):
        _fail(f"the UID must be hex digits, e.g. 04A1B2C3D4E5F6 (got {uid!r})", 2)
    raw = bytes.fromhex(text)
    if not 4 <= len(raw) <= 10:
        _fail(f"a card UID has 4 to 10 bytes, got {len(raw)}", 2)
    data = _config_data(config)
    maint = data.get("maintenance")
    salt = maint.get("uid_salt") if isinstance(maint, dict) else None
    if salt is None:
        from booth.config import MaintenanceConfig

        salt = MaintenanceConfig().uid_salt.get_secret_value()
        sys.stderr.write(
            f"warning: {config} sets no maintenance.uid_salt; using the default salt. "
            "Set a secret salt before you enrol badges.\n"
        )
    if not isinstance(salt, str) or not salt:
        _fail(f"{config}: maintenance.uid_salt must be a non-empty string", 2)
    print(hash_uid(raw, salt.encode()))


@app.command("drivers")
def drivers(
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Available drivers per device class and the configured ones (no daemon needed).

    With --config, shows which driver each configured device uses; exit 1 when one is
    unknown."""
    from booth.config import DEVICE_SLOTS
    from hal.events import DeviceKind
    from hal.registry import driver_names

    available = {kind.value: driver_names(kind) for kind in DeviceKind}
    configured: dict[str, dict[str, Any]] = {}
    if config is not None:
        devices = _config_data(config).get("devices")
        devices = devices if isinstance(devices, dict) else {}
        for slot, (kind, _critical) in DEVICE_SLOTS.items():
            dev = devices.get(slot)
            if not isinstance(dev, dict):
                continue
            name = dev.get("driver")
            configured[slot] = {
                "class": kind.value,
                "driver": name,
                "known": name in available[kind.value],
            }
    if as_json:
        _print_json({"available": available, **({"configured": configured} if config else {})})
        return
    table = Table(title="Drivers", title_justify="left")
    table.add_column("device class")
    table.add_column("available drivers")
    if config is not None:
        table.add_column("configured in " + str(config))
    for kind_name, names in available.items():
        row = [kind_name, ", ".join(names) or "–"]
        if config is not None:
            uses = []
            for slot, c in configured.items():
                if c["class"] != kind_name:
                    continue
                mark = "" if c["known"] else " [red](unknown driver)[/]"
                uses.append(f"{slot}={c['driver']}{mark}")
            row.append("; ".join(uses) or "–")
        table.add_row(*row)
    out.print(table)
    if any(not c["known"] for c in configured.values()):
        raise typer.Exit(1)
