"""Credentials and certificates for the LISA Mosquitto broker (``lisa broker …``).

The broker (``systemd/mosquitto/lisa.conf``) authenticates every client with the password file
``/etc/mosquitto/lisa/passwd`` and confines it with the pattern ACL ``/etc/mosquitto/lisa/acl``:

* a booth's MQTT username **is its booth id**; the ACL's ``pattern`` rules (``%u`` = username)
  let it write ``lisa/v1/booth/<id>/{availability,state,health,event,cmd/result}`` and read
  ``lisa/v1/booth/<id>/{cmd,call}`` and ``lisa/v1/bridge/availability`` — nothing else, so no
  per-booth ACL line is needed;
* the cloud bridge logs in as :data:`BRIDGE_USER` (a booth id that is therefore reserved).

Passwords are hashed by Mosquitto's own ``mosquitto_passwd`` (PBKDF2-SHA512); the clear-text
password is handed to it on stdin, never on the command line (where ``ps`` would show it).
Mosquitto reads the files again on SIGHUP (``systemctl reload mosquitto``); :func:`reload_broker`
sends that signal to a given pid.

The certificate helpers (:func:`make_ca`, :func:`make_cert`) build a small private CA with the
``cryptography`` library: for operators without a public CA, and for the tests.

It stays one module (slightly over 500 lines): it is the one place that provisions the broker
(users, ACL, certificates) behind ``lisa broker``; callers use it as ``booth.broker``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lisa_messages import BOOTH_ID_PATTERN, BRIDGE_AVAILABILITY, ROOT

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

DEFAULT_DIR = Path("/etc/mosquitto/lisa")
PASSWD_NAME = "passwd"
ACL_NAME = "acl"
BRIDGE_USER = "bridge"
#: Usernames that can never be booth ids (the ACL gives them other rights).
RESERVED_IDS = frozenset({BRIDGE_USER})
#: The system user Mosquitto drops its privileges to (Debian); it must read passwd and acl.
MOSQUITTO_USER = "mosquitto"
DEBIAN_PACKAGE = "mosquitto"
PASSWORD_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits

#: The ACL lines every booth relies on (``%u`` = the booth id); :func:`check_acl` looks for them.
BOOTH_ACL_RULES: tuple[str, ...] = (
    f"pattern write {ROOT}/booth/%u/availability",
    f"pattern write {ROOT}/booth/%u/state",
    f"pattern write {ROOT}/booth/%u/health",
    f"pattern write {ROOT}/booth/%u/event",
    f"pattern write {ROOT}/booth/%u/cmd/result",
    f"pattern write {ROOT}/booth/%u/media/out",
    f"pattern read {ROOT}/booth/%u/cmd",
    f"pattern read {ROOT}/booth/%u/call",
    f"pattern read {ROOT}/booth/%u/media",
    f"pattern read {BRIDGE_AVAILABILITY}",
)
#: The ACL lines of the bridge user (they follow ``user bridge``).
BRIDGE_ACL_RULES: tuple[str, ...] = (
    f"topic read {ROOT}/booth/+/#",
    f"topic write {ROOT}/booth/+/cmd",
    f"topic write {ROOT}/booth/+/call",
    f"topic write {ROOT}/booth/+/media",
    f"topic readwrite {BRIDGE_AVAILABILITY}",
)


class BrokerError(Exception):
    """A provisioning step failed; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    replaced: bool  # the user existed before and got a new password


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


# ------------------------------------------------------------------------------------- validation
def validate_booth_id(booth_id: str) -> str:
    """Return ``booth_id`` if it can be a booth's MQTT username, else raise :class:`BrokerError`."""
    if not re.fullmatch(BOOTH_ID_PATTERN, booth_id):
        raise BrokerError(
            f"invalid booth id {booth_id!r}: use 1-63 lower-case letters, digits and '-', "
            "starting with a letter or digit (e.g. hgw-sparkasse-01)"
        )
    if booth_id in RESERVED_IDS:
        raise BrokerError(f"{booth_id!r} is reserved for the cloud bridge; choose another booth id")
    return booth_id


def generate_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


# ---------------------------------------------------------------------------------- password file
def passwd_path(directory: Path) -> Path:
    return directory / PASSWD_NAME


def acl_path(directory: Path) -> Path:
    return directory / ACL_NAME


def _mosquitto_passwd() -> str:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise BrokerError(
            "mosquitto_passwd not found: install the Debian package "
            f"'{DEBIAN_PACKAGE}' (apt-get install {DEBIAN_PACKAGE})"
        )
    return tool


def users(passwd_file: Path) -> list[str]:
    """The usernames in a Mosquitto password file (empty when the file does not exist)."""
    try:
        text = passwd_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    names = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split(":", 1)[0])
    return names


def user_exists(passwd_file: Path, username: str) -> bool:
    return username in users(passwd_file)


def _secure(path: Path) -> None:
    """0600, and owned by the ``mosquitto`` user when we are root: Mosquitto reads the password
    and ACL files after dropping its privileges (also on every reload)."""
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        try:
            import pwd

            entry = pwd.getpwnam(MOSQUITTO_USER)
        except KeyError:
            return
        os.chown(path, entry.pw_uid, entry.pw_gid)


def set_password(passwd_file: Path, username: str, password: str) -> bool:
    """Add ``username`` or replace its password; returns True when it existed before.

    A missing file is created (``mosquitto_passwd -c``); an existing one is never truncated.
    """
    if not password or "\n" in password:
        raise BrokerError("the password must be one non-empty line")
    tool = _mosquitto_passwd()
    existed = user_exists(passwd_file, username)
    passwd_file.parent.mkdir(parents=True, exist_ok=True)
    args = [tool]
    if not passwd_file.exists():
        args.append("-c")
    args += [str(passwd_file), username]
    # Without -b, mosquitto_passwd reads the password (twice) from stdin.
    proc = subprocess.run(
        args,
        input=f"{password}\n{password}\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise BrokerError(f"mosquitto_passwd failed for {username!r}: {_tool_error(proc)}")
    if not user_exists(passwd_file, username):
        raise BrokerError(f"mosquitto_passwd did not add {username!r} to {passwd_file}")
    _secure(passwd_file)
    return existed


def delete_user(passwd_file: Path, username: str) -> None:
    """Remove ``username`` (``mosquitto_passwd -D``); :class:`BrokerError` when it is not there."""
    if not user_exists(passwd_file, username):
        raise BrokerError(f"{username!r} is not in {passwd_file}")
    proc = subprocess.run(
        [_mosquitto_passwd(), "-D", str(passwd_file), username],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0 or user_exists(passwd_file, username):
        raise BrokerError(f"mosquitto_passwd -D failed for {username!r}: {_tool_error(proc)}")
    _secure(passwd_file)


def _tool_error(proc: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((proc.stderr + " " + proc.stdout).split())
    # mosquitto_passwd prints its prompts on stdout
    text = text.replace("Password:", "").replace("Reenter password:", "").strip()
    return text or f"exit code {proc.returncode}"


# -------------------------------------------------------------------------------------------- ACL
def _acl_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def check_acl(acl_file: Path) -> list[str]:
    """Problems of the ACL file for the booth and bridge rules (empty list = fine)."""
    try:
        text = acl_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{acl_file} does not exist"]
    lines = _acl_lines(text)
    problems = [f"missing rule: {rule}" for rule in BOOTH_ACL_RULES if rule not in lines]
    try:
        start = lines.index(f"user {BRIDGE_USER}")
    except ValueError:
        return [*problems, f"missing section: user {BRIDGE_USER}"]
    section: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("user "):
            break
        section.append(line)
    problems += [
        f"missing rule for {BRIDGE_USER}: {r}" for r in BRIDGE_ACL_RULES if r not in section
    ]
    return problems


def require_acl(directory: Path) -> Path:
    """The ACL file of ``directory``; :class:`BrokerError` unless it holds the LISA rules."""
    acl = acl_path(directory)
    problems = check_acl(acl)
    if problems:
        raise BrokerError(
            f"the broker ACL is not ready ({'; '.join(problems)}); install the template: "
            f"install -m 0600 -o {MOSQUITTO_USER} -g {MOSQUITTO_USER} systemd/mosquitto/acl {acl}"
        )
    return acl


# ------------------------------------------------------------------------------------ provisioning
def provision_booth(directory: Path, booth_id: str) -> Credentials:
    """Give ``booth_id`` a new random password (adds or replaces the user)."""
    validate_booth_id(booth_id)
    require_acl(directory)
    password = generate_password()
    replaced = set_password(passwd_path(directory), booth_id, password)
    return Credentials(booth_id, password, replaced)


def provision_bridge(directory: Path) -> Credentials:
    """Give the bridge user a new random password (adds or replaces it)."""
    require_acl(directory)
    password = generate_password()
    replaced = set_password(passwd_path(directory), BRIDGE_USER, password)
    return Credentials(BRIDGE_USER, password, replaced)


def rotate_booth(directory: Path, booth_id: str) -> Credentials:
    """A new password for a booth that is already provisioned."""
    validate_booth_id(booth_id)
    if not user_exists(passwd_path(directory), booth_id):
        raise BrokerError(
            f"booth {booth_id!r} has no broker account in {passwd_path(directory)}; "
            f"create one with: lisa broker provision-booth {booth_id}"
        )
    return provision_booth(directory, booth_id)


def revoke_booth(directory: Path, booth_id: str) -> None:
    """Delete a booth's broker account: it cannot log in any more after the next reload."""
    validate_booth_id(booth_id)
    delete_user(passwd_path(directory), booth_id)


def reload_broker(pid: int) -> None:
    """Make Mosquitto re-read its password file and ACL (what ``systemctl reload`` does)."""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise BrokerError(f"no process {pid} to reload") from None
    except PermissionError:
        raise BrokerError(f"not allowed to signal process {pid} (run as root)") from None


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------- config snippets
def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def booth_config_snippet(
    booth_id: str,
    password: str | None,
    *,
    url: str = "mqtts://BROKER-HOST:8883",
    ca_file: str = "/etc/lisa/mqtt-ca.crt",
) -> str:
    """The ``[central]``/``[mqtt]`` tables for the booth's /etc/lisa/booth.toml.

    ``password=None`` writes a comment instead (the password went to a file)."""
    pw = (
        f"password = {_toml_str(password)}"
        if password is not None
        else '# password = "..."  (see the password file; or env LISA_MQTT_PASSWORD)'
    )
    return "\n".join(
        [
            "[central]",
            'kind = "mqtt"',
            "",
            "[mqtt]",
            f"url = {_toml_str(url)}",
            f"username = {_toml_str(booth_id)}",
            pw,
            f"ca_file = {_toml_str(ca_file)}",
            "# with client certificates (CN = booth id) instead of a password:",
            f'# cert_file = "/etc/lisa/{booth_id}.crt"',
            f'# key_file = "/etc/lisa/{booth_id}.key"',
            "keepalive = 15",
            f"client_id = {_toml_str(f'lisa-booth-{booth_id}')}",
            "",
        ]
    )


# ---------------------------------------------------------------------------------- certificates
CA_CERT = "ca.crt"
CA_KEY = "ca.key"


def _new_key() -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: EllipticCurvePrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(path, pem.decode("ascii"))


def _check_new(paths: Sequence[Path], overwrite: bool) -> None:
    if overwrite:
        return
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise BrokerError(f"refusing to overwrite {', '.join(existing)} (use --force)")


def make_ca(
    directory: Path,
    *,
    name: str = "LISA private MQTT CA",
    days: int = 3650,
    overwrite: bool = False,
) -> CertFiles:
    """A self-signed CA: ``directory/ca.crt`` (public) and ``directory/ca.key`` (0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    _check_new([cert_path, key_path], overwrite)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertFiles(cert_path, key_path)


def make_cert(
    directory: Path,
    name: str,
    *,
    ips: Sequence[str] = (),
    dns: Sequence[str] = (),
    client: bool = False,
    ca_dir: Path | None = None,
    stem: str | None = None,
    days: int = 825,
    overwrite: bool = False,
) -> CertFiles:
    """A certificate signed by the CA in ``ca_dir`` (default ``directory``).

    Server (default): CN and a DNS SAN ``name`` (or an IP SAN when ``name`` is an address),
    plus ``ips``/``dns``; written to ``directory/server.{crt,key}`` to match lisa.conf.
    Client (``client=True``): CN = ``name``, a booth id or ``bridge`` (the broker's username
    with ``use_identity_as_username``); written to ``directory/<name>.{crt,key}``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if client and name != BRIDGE_USER:
        validate_booth_id(name)
    if not client and not name:
        raise BrokerError("a server certificate needs a host name (--name)")
    ca_dir = ca_dir or directory
    try:
        ca_cert = x509.load_pem_x509_certificate((ca_dir / CA_CERT).read_bytes())
        ca_key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), None)
    except FileNotFoundError as exc:
        raise BrokerError(
            f"no CA in {ca_dir} ({exc.filename} missing): run lisa broker make-ca {ca_dir}"
        ) from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise BrokerError(f"{ca_dir / CA_KEY}: expected the EC key written by make-ca")
    stem = stem or (name if client else "server")
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    _check_new([cert_path, key_path], overwrite)

    sans: list[x509.GeneralName] = []
    if not client:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    for extra in dns:
        sans.append(x509.DNSName(extra))
    for ip in ips:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise BrokerError(f"not an IP address: {ip!r}") from None

    key = _new_key()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    if not client:
        _secure(key_path)  # Mosquitto may read it after dropping privileges
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertFiles(cert_path, key_path)
