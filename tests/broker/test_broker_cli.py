"""``lisa broker`` without a running broker: validation, files, certificates, the shipped config."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mosquitto_harness import SHIPPED_ACL, SHIPPED_CONF, derive_config
from typer.testing import CliRunner, Result

from booth import broker
from booth.broker_cli import app
from booth.config import MqttConfig

needs_passwd = pytest.mark.skipif(
    shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd (Debian 'mosquitto') missing"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A broker directory like /etc/mosquitto/lisa with the shipped ACL."""
    directory = tmp_path / "etc"
    directory.mkdir()
    shutil.copyfile(SHIPPED_ACL, directory / "acl")
    return directory


def test_registered_as_lisa_broker() -> None:
    eps = {ep.name: ep.value for ep in entry_points(group="lisa.commands")}
    assert eps.get("broker") == "booth.broker_cli:app"


@pytest.mark.parametrize(
    "bad", ["Booth-1", "bürger-1", "has_underscore", " x", "a" * 64, "a/b", "+", ""]
)
@pytest.mark.parametrize("command", ["provision-booth", "rotate", "revoke-booth"])
def test_invalid_booth_ids_are_rejected(etc: Path, command: str, bad: str) -> None:
    result = run(command, bad, "--dir", str(etc))
    assert result.exit_code == 2
    assert "invalid booth id" in result.stderr
    assert not (etc / "passwd").exists()


def test_bridge_is_reserved(etc: Path) -> None:
    result = run("provision-booth", "bridge", "--dir", str(etc))
    assert result.exit_code == 2
    assert "reserved for the cloud bridge" in result.stderr


def test_missing_mosquitto_passwd_names_the_debian_package(
    etc: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run("provision-booth", "booth-1", "--dir", str(etc))
    assert result.exit_code == 1
    assert "mosquitto_passwd not found" in result.stderr
    assert "Debian package 'mosquitto'" in result.stderr


def test_shipped_acl_has_every_rule() -> None:
    assert broker.check_acl(SHIPPED_ACL) == []


def test_missing_or_incomplete_acl_stops_provisioning(tmp_path: Path) -> None:
    result = run("provision-booth", "booth-1", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "systemd/mosquitto/acl" in result.stderr
    lines = SHIPPED_ACL.read_text().splitlines()
    (tmp_path / "acl").write_text(
        "\n".join(line for line in lines if "%u/cmd/result" not in line and "+/call" not in line)
    )
    problems = broker.check_acl(tmp_path / "acl")
    assert problems == [
        "missing rule: pattern write lisa/v1/booth/%u/cmd/result",
        "missing rule for bridge: topic write lisa/v1/booth/+/call",
    ]
    assert run("provision-booth", "booth-1", "--dir", str(tmp_path)).exit_code == 1
    assert not (tmp_path / "passwd").exists()


@needs_passwd
def test_provision_rotate_revoke_the_password_file(etc: Path, tmp_path: Path) -> None:
    first = run("provision-booth", "booth-1", "--dir", str(etc))
    assert first.exit_code == 0, first.output
    assert "Added booth 'booth-1'" in first.stderr
    assert "pattern rules" in first.stderr and "systemctl reload mosquitto" in first.stderr
    passwd = etc / "passwd"
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o600
    line = passwd.read_text().strip()
    assert line.startswith("booth-1:$7$")  # mosquitto_passwd's PBKDF2-SHA512

    snippet = tomllib.loads(first.stdout)
    assert snippet["central"] == {"kind": "mqtt"}
    mqtt = MqttConfig.model_validate(snippet["mqtt"])
    assert mqtt.username == "booth-1" and mqtt.client_id == "lisa-booth-booth-1"
    assert mqtt.keepalive == 15 and mqtt.url == "mqtts://BROKER-HOST:8883"
    assert mqtt.password is not None and len(mqtt.password.get_secret_value()) >= 43

    again = run("provision-booth", "booth-1", "--dir", str(etc))
    assert "Replaced the password of booth 'booth-1'" in again.stderr
    assert broker.users(passwd) == ["booth-1"]
    assert passwd.read_text().strip() != line

    out = tmp_path / "secret" / "pw"
    rotated = run("rotate", "booth-1", "--dir", str(etc), "--password-out", str(out))
    assert rotated.exit_code == 0, rotated.output
    password = out.read_text().strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert password not in rotated.output
    assert 'username = "booth-1"' in rotated.stdout and "# password" in rotated.stdout

    assert run("provision-bridge", "--dir", str(etc)).exit_code == 0
    assert broker.users(passwd) == ["booth-1", "bridge"]
    revoked = run("revoke-booth", "booth-1", "--dir", str(etc))
    assert revoked.exit_code == 0, revoked.output
    assert broker.users(passwd) == ["bridge"]

    for command in ("rotate", "revoke-booth"):
        gone = run(command, "booth-1", "--dir", str(etc))
        assert gone.exit_code == 1
        assert "booth-1" in gone.stderr
    assert (
        "lisa broker provision-booth booth-1" in run("rotate", "booth-1", "--dir", str(etc)).stderr
    )


@needs_passwd
def test_password_never_on_a_command_line(etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(args))
        return real(args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "run", spy)
    creds = broker.provision_booth(etc, "booth-1")
    assert calls and all(creds.password not in arg for call in calls for arg in call)


def test_reload_pid_of_a_missing_process(etc: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    result = run("revoke-booth", "booth-1", "--dir", str(etc), "--reload-pid", str(proc.pid))
    assert result.exit_code == 1  # nothing to revoke; the pid check is tested below
    with pytest.raises(broker.BrokerError, match="no process"):
        broker.reload_broker(proc.pid)


# ---------------------------------------------------------------------------------- certificates
def test_make_ca_and_server_and_client_certificates(tmp_path: Path) -> None:
    assert run("make-ca", str(tmp_path)).exit_code == 0
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    result = run(
        "make-cert",
        str(tmp_path),
        "--name",
        "mqtt.lisa.example",
        "--ip",
        "127.0.0.1",
        "--dns",
        "localhost",
    )
    assert result.exit_code == 0, result.output
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "server.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mqtt.lisa.example", "localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]

    assert run("make-cert", str(tmp_path), "--name", "booth-7", "--client").exit_code == 0
    client = x509.load_pem_x509_certificate((tmp_path / "booth-7.crt").read_bytes())
    client.verify_directly_issued_by(ca)
    cn = client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "booth-7"
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert stat.S_IMODE((tmp_path / "booth-7.key").stat().st_mode) == 0o600

    # existing files are kept unless --force
    again = run("make-ca", str(tmp_path))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert run("make-ca", str(tmp_path), "--force").exit_code == 0


def test_make_cert_errors(tmp_path: Path) -> None:
    no_ca = run("make-cert", str(tmp_path), "--name", "host")
    assert no_ca.exit_code == 1 and f"lisa broker make-ca {tmp_path}" in no_ca.stderr
    assert run("make-ca", str(tmp_path)).exit_code == 0
    bad = run("make-cert", str(tmp_path), "--name", "Not A Booth", "--client")
    assert bad.exit_code == 2 and "invalid booth id" in bad.stderr
    bad_ip = run("make-cert", str(tmp_path), "--name", "h", "--ip", "300.1.1.1")
    assert bad_ip.exit_code == 1 and "not an IP address" in bad_ip.stderr
    assert run("make-cert", str(tmp_path), "--name", "bridge", "--client").exit_code == 0


# --------------------------------------------------------------------------- the shipped config
def _directives(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.append((key, value.strip()))
    return out


def test_shipped_config_is_tls_only_and_closed() -> None:
    directives = _directives(SHIPPED_CONF.read_text())
    keys = [k for k, _ in directives]
    values = dict(directives)
    assert keys[0] == "per_listener_settings" and values["per_listener_settings"] == "false"
    assert [v for k, v in directives if k == "listener"] == ["8883"]  # no plain listener
    assert values["allow_anonymous"] == "false"
    assert values["password_file"] == "/etc/mosquitto/lisa/passwd"
    assert values["acl_file"] == "/etc/mosquitto/lisa/acl"
    assert values["require_certificate"] == "false"
    assert values["persistence"] == "true"
    for key in ("cafile", "certfile", "keyfile"):
        assert values[key].startswith("/etc/mosquitto/lisa/")
    for key in ("max_inflight_messages", "max_queued_messages", "message_size_limit"):
        assert int(values[key]) > 0
    assert 60 <= int(values["max_keepalive"]) <= 65535  # >= the bridge's and tools' keepalive
    # Debian's mosquitto.conf sets these; a second value would stop Mosquitto from starting
    for key in ("persistence_location", "pid_file", "log_dest", "user", "include_dir"):
        assert key not in keys
    text = SHIPPED_CONF.read_text()
    assert "#use_identity_as_username true" in text and "#require_certificate true" in text


def test_derived_test_config_changes_only_paths_and_port(tmp_path: Path) -> None:
    shipped = SHIPPED_CONF.read_text()
    derived = derive_config(shipped, tmp_path, 12345, client_certs=False)
    changed = [
        (a, b) for a, b in zip(shipped.splitlines(), derived.splitlines(), strict=True) if a != b
    ]
    assert ("listener 8883", "listener 12345 127.0.0.1") in changed
    assert all(
        a == "listener 8883" or a.replace("/etc/mosquitto/lisa/", f"{tmp_path}/") == b
        for a, b in changed
    )


def test_secret_files_are_written_private(tmp_path: Path) -> None:
    target = tmp_path / "dir" / "secret"
    broker.write_secret(target, "x\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    broker.write_secret(target, "y\n")
    assert target.read_text() == "y\n"
    assert os.listdir(target.parent) == ["secret"]
