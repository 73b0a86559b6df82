"""``lisa broker …``: accounts and certificates of the LISA Mosquitto broker.

Run on the broker host as root (the password file and ACL live in /etc/mosquitto/lisa/). Output
meant for files (the booth's config snippet) goes to stdout, everything else to stderr.
Exit codes: 0 done; 1 failed (the reason is on stderr); 2 wrong usage (e.g. invalid booth id).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from booth import broker
from booth.broker import BrokerError, Credentials

app = typer.Typer(
    help="Accounts (booths, bridge) and TLS certificates of the LISA Mosquitto broker.",
    no_args_is_help=True,
)

DirOpt = Annotated[
    Path,
    typer.Option("--dir", help="Directory with the broker's passwd and acl files (see lisa.conf)."),
]
PasswordOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-out",
        help="Write the password to this file (mode 0600) instead of printing it.",
        show_default=False,
    ),
]
ReloadOpt = Annotated[
    int | None,
    typer.Option(
        "--reload-pid",
        help="Send SIGHUP to this Mosquitto process so it re-reads passwd and acl "
        "(default: only remind you to run `systemctl reload mosquitto`).",
        show_default=False,
    ),
]
UrlOpt = Annotated[str, typer.Option("--url", help="Broker URL for the booth's config snippet.")]
CaFileOpt = Annotated[
    str,
    typer.Option("--ca-file", help="Where the booth keeps the broker's CA certificate."),
]
BoothIdArg = Annotated[str, typer.Argument(help="Booth id (= its MQTT username).")]


def _say(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"lisa broker: {message}\n")
    raise typer.Exit(code)


def _booth_id(booth_id: str) -> str:
    try:
        return broker.validate_booth_id(booth_id)
    except BrokerError as exc:
        _fail(str(exc), 2)


def _reload(pid: int | None) -> None:
    if pid is None:
        _say("Reload the broker so it takes effect: systemctl reload mosquitto")
        return
    try:
        broker.reload_broker(pid)
    except BrokerError as exc:
        _fail(str(exc))
    _say(f"Sent SIGHUP to Mosquitto (pid {pid}): it re-read the password file and the ACL.")


def _password_out(creds: Credentials, password_out: Path | None) -> str | None:
    """The password for the snippet, or None when it went to ``password_out``."""
    if password_out is None:
        return creds.password
    try:
        broker.write_secret(password_out, creds.password + "\n")
    except OSError as exc:
        _fail(f"cannot write {password_out}: {exc}")
    _say(f"Password of {creds.username!r} written to {password_out} (mode 0600).")
    return None


def _snippet(
    booth_id: str, creds: Credentials, password_out: Path | None, url: str, ca_file: str
) -> None:
    password = _password_out(creds, password_out)
    _say(
        f"Config for /etc/lisa/booth.toml of booth {booth_id} (it holds the password: "
        "keep that file root:lisa 0640):"
    )
    sys.stdout.write(broker.booth_config_snippet(booth_id, password, url=url, ca_file=ca_file))
    sys.stdout.flush()


@app.command("provision-booth")
def provision_booth(
    booth_id: BoothIdArg,
    directory: DirOpt = broker.DEFAULT_DIR,
    password_out: PasswordOutOpt = None,
    url: UrlOpt = "mqtts://BROKER-HOST:8883",
    ca_file: CaFileOpt = "/etc/lisa/mqtt-ca.crt",
    reload_pid: ReloadOpt = None,
) -> None:
    """Create (or replace) the broker account of a booth with a new random password."""
    booth_id = _booth_id(booth_id)
    try:
        creds = broker.provision_booth(directory, booth_id)
    except BrokerError as exc:
        _fail(str(exc))
    acl = broker.acl_path(directory)
    _say(
        f"{'Replaced the password of' if creds.replaced else 'Added'} booth {booth_id!r} in "
        f"{broker.passwd_path(directory)}."
    )
    _say(f"ACL {acl} is in place: its pattern rules confine {booth_id!r} to its own topics.")
    _snippet(booth_id, creds, password_out, url, ca_file)
    _reload(reload_pid)


@app.command("rotate")
def rotate(
    booth_id: BoothIdArg,
    directory: DirOpt = broker.DEFAULT_DIR,
    password_out: PasswordOutOpt = None,
    url: UrlOpt = "mqtts://BROKER-HOST:8883",
    ca_file: CaFileOpt = "/etc/lisa/mqtt-ca.crt",
    reload_pid: ReloadOpt = None,
) -> None:
    """Give a provisioned booth a new password (the old one stops working after the reload)."""
    booth_id = _booth_id(booth_id)
    try:
        creds = broker.rotate_booth(directory, booth_id)
    except BrokerError as exc:
        _fail(str(exc))
    _say(f"New password for booth {booth_id!r} in {broker.passwd_path(directory)}.")
    _snippet(booth_id, creds, password_out, url, ca_file)
    _say(
        "After the reload the old password stops working and the booth's open connection is "
        "closed: put the new password into its /etc/lisa/booth.toml (or LISA_MQTT_PASSWORD), "
        "then restart it: systemctl restart lisa-booth"
    )
    _reload(reload_pid)


@app.command("revoke-booth")
def revoke_booth(
    booth_id: BoothIdArg,
    directory: DirOpt = broker.DEFAULT_DIR,
    reload_pid: ReloadOpt = None,
) -> None:
    """Delete a booth's broker account: it can no longer log in after the reload."""
    booth_id = _booth_id(booth_id)
    try:
        broker.revoke_booth(directory, booth_id)
    except BrokerError as exc:
        _fail(str(exc))
    _say(f"Removed booth {booth_id!r} from {broker.passwd_path(directory)}.")
    _say("The reload also disconnects the booth if it is connected now.")
    _reload(reload_pid)


@app.command("provision-bridge")
def provision_bridge(
    directory: DirOpt = broker.DEFAULT_DIR,
    password_out: PasswordOutOpt = None,
    reload_pid: ReloadOpt = None,
) -> None:
    """Create the cloud bridge's account (user 'bridge'), or give it a new password."""
    try:
        creds = broker.provision_bridge(directory)
    except BrokerError as exc:
        _fail(str(exc))
    _say(
        f"{'Replaced the password of' if creds.replaced else 'Added'} user "
        f"{creds.username!r} in {broker.passwd_path(directory)}."
    )
    password = _password_out(creds, password_out)
    if password is not None:
        sys.stdout.write(f"username = {creds.username}\npassword = {password}\n")
    _reload(reload_pid)


@app.command("make-ca")
def make_ca(
    directory: Annotated[Path, typer.Argument(help="Where to write ca.crt and ca.key.")],
    name: Annotated[str, typer.Option("--name", help="CA common name.")] = ("LISA private MQTT CA"),
    days: Annotated[int, typer.Option("--days", min=1, help="Validity in days.")] = 3650,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Create a private CA (EC P-256) for the broker and, optionally, client certificates."""
    try:
        files = broker.make_ca(directory, name=name, days=days, overwrite=force)
    except BrokerError as exc:
        _fail(str(exc))
    _say(f"CA certificate {files.cert} (give it to booths and the bridge as ca_file)")
    _say(f"CA key {files.key} (mode 0600; keep it off the broker, offline if you can)")


@app.command("make-cert")
def make_cert(
    directory: Annotated[Path, typer.Argument(help="Where to write the certificate and key.")],
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="Server: the broker's host name (or IP) clients connect to. "
            "Client (--client): the booth id, or 'bridge'.",
        ),
    ],
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help="Extra IP address SAN (repeatable).")
    ] = None,
    dns: Annotated[
        list[str] | None, typer.Option("--dns", help="Extra DNS name SAN (repeatable).")
    ] = None,
    client: Annotated[
        bool, typer.Option("--client", help="A client certificate with CN = --name.")
    ] = False,
    ca_dir: Annotated[
        Path | None,
        typer.Option("--ca-dir", help="Directory of ca.crt/ca.key (default: DIRECTORY)."),
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Validity in days.")] = 825,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Issue a server certificate (server.crt/server.key, with SANs) or a client certificate
    (<name>.crt/<name>.key) from the CA made by make-ca."""
    if client and name != broker.BRIDGE_USER:
        _booth_id(name)
    try:
        files = broker.make_cert(
            directory,
            name,
            ips=ip or [],
            dns=dns or [],
            client=client,
            ca_dir=ca_dir,
            days=days,
            overwrite=force,
        )
    except BrokerError as exc:
        _fail(str(exc))
    _say(f"certificate {files.cert}")
    _say(f"key {files.key} (mode 0600)")
    if not client:
        _say("Restart the broker to load a new server certificate: systemctl restart mosquitto")
