"""The control socket end to end: a real ``lisa booth run --sim`` daemon in a subprocess, driven
through :class:`ControlClient`, ``lisa diag …`` and ``lisa sim console`` (all as subprocesses)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from booth.control_client import ControlClient, DaemonUnavailable, RequestFailed

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "booth" / "examples" / "booth-sim.toml"
LISA = Path(sys.executable).parent / "lisa"
SALT = "sim-salt-not-secret"
BADGE_HASH = "4035869d1c00969ed5466de4b5bfd7675df90ef94a8eead588d7d6d599c7c0c8"
START_TIMEOUT = 30.0


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    socket: Path
    config: Path
    log: Path

    def client(self) -> ControlClient:
        return ControlClient(self.socket, timeout=30.0)

    def state(self) -> str:
        with self.client() as c:
            return str(c.call("status")["state"])

    def inject(self, name: str, **args: Any) -> dict[str, Any]:
        with self.client() as c:
            return c.call("inject", input=name, args=args)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds, with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def write_config(directory: Path, sock: Path) -> Path:
    text = EXAMPLE.read_text("utf-8")
    text, n_state = re.subn(r"(?m)^state_dir = .*$", f'state_dir = "{directory / "state"}"', text)
    text, n_sock = re.subn(r"(?m)^socket = .*$", f'socket = "{sock}"', text)
    assert n_state == 1 and n_sock == 1, "the example config changed its layout"
    path = directory / "booth.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory for sockets (Unix socket paths are limited to ~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="lisa-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon(tmp_path: Path, short_dir: Path) -> Iterator[Daemon]:
    sock = short_dir / "booth.sock"
    config = write_config(tmp_path, sock)
    log = tmp_path / "daemon.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            [str(LISA), "booth", "run", "--sim", "--config", str(config), "--socket", str(sock)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    d = Daemon(proc, sock, config, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"the daemon exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            if sock.exists():
                try:
                    if d.state() == "idle":
                        break
                except DaemonUnavailable:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the daemon did not become idle:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield d
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def lisa(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "LISA_SOCKET"}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [str(LISA), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        cwd=cwd,
    )


# ------------------------------------------------------------------------------------ status
def test_status_through_client_and_cli(daemon: Daemon) -> None:
    with daemon.client() as c:
        st = c.call("status")
    assert st["booth"] == "sim-1" and st["state"] == "idle" and st["link"] is True
    assert st["versions"]["lisa"] and st["versions"]["python"] and st["uptime"] >= 0
    assert set(st["devices"]) >= {"presence", "door", "plc", "camera_main", "audio"}

    res = lisa("diag", "status", "--socket", str(daemon.socket))
    assert res.returncode == 0, res.stderr
    assert "Booth sim-1" in res.stdout and "idle" in res.stdout and "camera_main" in res.stdout

    # the socket from --config, and from $LISA_SOCKET; --json prints JSON only
    res = lisa("diag", "status", "--json", "--config", str(daemon.config))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["state"] == "idle"
    res = lisa("diag", "status", "--json", env={"LISA_SOCKET": str(daemon.socket)})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["booth"] == "sim-1"


def test_socket_mode_is_0660(daemon: Daemon) -> None:
    assert daemon.socket.stat().st_mode & 0o777 == 0o660


# ------------------------------------------------------------------------------------ selftest
def test_selftest_exit_codes(daemon: Daemon) -> None:
    s = str(daemon.socket)
    res = lisa("diag", "selftest", "--socket", s)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "all passed" in res.stdout

    daemon.inject("device.fail", device="camera_document", reason="lens cracked")
    res = lisa("diag", "selftest", "--socket", s)
    assert res.returncode == 1
    assert "FAILED" in res.stdout and "lens cracked" in res.stdout

    res = lisa("diag", "selftest", "camera_document", "--json", "--socket", s)
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["passed"] is False and list(out["results"]) == ["camera_document"]

    res = lisa("diag", "selftest", "door", "--socket", s)
    assert res.returncode == 0

    res = lisa("diag", "selftest", "toaster", "--socket", s)
    assert res.returncode == 1
    assert "unknown device 'toaster' (devices: presence, door" in res.stderr


# ------------------------------------------------------------------------------------ actuate
def test_actuate_refused_while_citizen_inside_then_accepted_in_maintenance(
    daemon: Daemon,
) -> None:
    s = str(daemon.socket)
    res = lisa("diag", "actuate", "door", "open", "--socket", s)
    assert res.returncode == 2 and "add --yes to move hardware" in res.stderr

    res = lisa("diag", "actuate", "toaster", "open", "--yes", "--socket", s)
    assert res.returncode == 1 and "unknown device 'toaster'" in res.stderr
    assert "door, light, audio, camera_main" in res.stderr

    assert daemon.inject("person.enter")["result"] == "citizen entered"
    wait_for(lambda: daemon.state() in ("occupied", "queued"), "a citizen in the booth")

    res = lisa("diag", "actuate", "door", "open", "--yes", "--socket", s)
    assert res.returncode == 1
    assert "refused: a citizen is in the booth (state " in res.stderr
    assert "switch to maintenance first" in res.stderr

    res = lisa("diag", "maintenance", "on", "--socket", s)
    assert res.returncode == 0, res.stderr
    assert "maintenance" in res.stdout
    assert daemon.state() == "maintenance"

    res = lisa("diag", "actuate", "door", "open", "--yes", "--socket", s)
    assert res.returncode == 0, res.stderr
    res = lisa("diag", "actuate", "light", "scene", "consultation", "0.8", "--yes", "--socket", s)
    assert res.returncode == 0, res.stderr
    res = lisa("diag", "actuate", "camera_main", "grab", "--yes", "--json", "--socket", s)
    assert res.returncode == 0, res.stderr
    grab = json.loads(res.stdout)["result"]
    assert grab["width"] > 0 and grab["height"] > 0 and "mean_brightness" in grab

    with daemon.client() as c:
        records = c.call("log", lines=200)["records"]
        wait_for(lambda: c.call("status")["door"] == "open", "the door to open")
    audit = [r for r in records if r.get("event") == "diag actuate"]
    assert [(r["device"], r["action"]) for r in audit] == [
        ("door", "open"),
        ("light", "scene"),
        ("camera_main", "grab"),
    ]

    res = lisa("diag", "maintenance", "off", "--socket", s)
    assert res.returncode == 0, res.stderr


# ------------------------------------------------------------------------------------ protocol
def test_malformed_requests_get_errors_and_the_connection_keeps_working(daemon: Daemon) -> None:
    with daemon.client() as c:
        cases: list[tuple[bytes, str]] = [
            (b"this is not json\n", "not valid JSON"),
            (b"[1, 2, 3]\n", "must be a JSON object"),
            (b'{"op": "explode"}\n', "unknown op 'explode'"),
            (b'{"op": "log", "lines": -4}\n', "'lines' must be within 0..100000"),
            (b'{"op": "maintenance"}\n', "needs 'enter'"),
            (b'{"op": "log", "follow": "yes"}\n', "'follow' must be true or false"),
            (b'{"op": "actuate", "device": "door"}\n', "needs 'action'"),
            (b'{"op": "watch", "topic": "weather"}\n', "unknown topic 'weather'"),
            (b'{"op": "inject", "input": "person.fly"}\n', "unknown input 'person.fly'"),
            (b"z" * (70 * 1024) + b"\n", "request too long"),
        ]
        for raw, expected in cases:
            c.send_raw(raw)
            answer = c.read_answer()
            assert answer["ok"] is False and expected in answer["error"], (raw[:40], answer)
            assert c.request("status")["state"] == "idle"  # same connection, still fine
        # a request split over several writes, and two requests in one write
        c.send_raw(b'{"op": "sta')
        c.send_raw(b'tus"}\n{"op": "log", "lines": 1}\n')
        assert c.read_answer()["state"] == "idle"
        assert len(c.read_answer()["records"]) == 1
        with pytest.raises(RequestFailed, match=r"not configured|unknown device"):
            c.call("actuate", device="elevator", action="up")
    assert daemon.proc.poll() is None


def test_abrupt_clients_do_not_hurt_the_daemon(daemon: Daemon) -> None:
    for payload in (b"", b'{"op": "status"', b'{"op": "watch", "topic": "all"}\n'):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(daemon.socket))
        raw.sendall(payload)
        raw.close()
    assert daemon.state() == "idle"


# ------------------------------------------------------------------------------------ watch/log
def test_watch_and_log(daemon: Daemon) -> None:
    s = str(daemon.socket)
    res = lisa("diag", "watch", "presence", "--count", "3", "--json", "--socket", s)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 3
    assert all(r["kind"] == "presence" for r in lines)
    assert lines[0]["distance"] == pytest.approx(2.4) and lines[0]["present"] is False

    with daemon.client() as c:
        stream = c.stream("watch", topic="state", idle_timeout=20)
        assert next(stream)["topic"] == "state"
        c.call("inject", input="person.enter", args={})
        states = []
        for rec in stream:
            assert rec["kind"] == "state"
            states.append(rec["state"])
            if rec["state"] in ("occupied", "queued"):
                break
        stream.close()
    assert "occupied" in states

    res = lisa("diag", "log", "-n", "5", "--json", "--socket", s)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 5

    with daemon.client() as c:
        follow = c.stream("log", lines=2, follow=True, idle_timeout=20)
        first = next(follow)
        assert len(first["records"]) == 2
        c.call("inject", input="door.obstruct", args={})
        for rec in follow:
            if rec.get("input") == "door.obstruct":
                break
        follow.close()


# ------------------------------------------------------------------------------------ bundle
def test_bundle_is_redacted(daemon: Daemon, tmp_path: Path) -> None:
    daemon.inject("nfc.tap", uid="04A1B2C3D4E5F6")  # the technician badge: maintenance on
    wait_for(lambda: daemon.state() == "maintenance", "the badge to switch to maintenance")
    out = tmp_path / "support" / "bundle.tar.gz"
    res = lisa("diag", "bundle", "-o", str(out), "--socket", str(daemon.socket))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    assert out.stat().st_mode & 0o777 == 0o600

    raw = gzip.decompress(out.read_bytes())
    for secret in (SALT, BADGE_HASH, "04A1B2C3D4E5F6"):
        assert secret.encode() not in raw, f"{secret} leaked into the bundle"

    files: dict[str, bytes] = {}
    with tarfile.open(out) as tar:
        for member in tar.getmembers():
            fh = tar.extractfile(member)
            if fh is not None:
                files[Path(member.name).name] = fh.read()
    assert set(files) == {
        "config-redacted.json",
        "versions.json",
        "state-history.jsonl",
        "selftest.json",
        "status.json",
    }
    config = json.loads(files["config-redacted.json"])
    assert config["maintenance"]["uid_salt"] == "***"
    assert config["maintenance"]["badge_hashes"] == ["***"]
    assert config["booth"]["id"] == "sim-1"
    assert json.loads(files["versions.json"])["lisa"]
    history = [json.loads(line) for line in files["state-history.jsonl"].splitlines()]
    assert 0 < len(history) <= 500
    assert any(r["kind"] == "state" and r["state"] == "maintenance" for r in history)
    assert json.loads(files["selftest.json"])["door"]["outcome"] == "pass"
    assert json.loads(files["status.json"])["state"] == "maintenance"


# ------------------------------------------------------------------------------------ no daemon
def test_diag_without_daemon_exits_3(short_dir: Path) -> None:
    missing = short_dir / "booth.sock"
    res = lisa("diag", "status", "--socket", str(missing))
    assert res.returncode == 3
    assert res.stderr.strip() == (
        f"lisa diag: the booth daemon is not running (no control socket at {missing}); "
        "start it with: systemctl start lisa-booth"
    )
    assert res.stdout == ""

    stale = short_dir / "stale.sock"  # left over from a crashed daemon: nobody listens
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    for args in (
        ["status"],
        ["selftest"],
        ["log"],
        ["watch", "door"],
        ["bundle"],
        ["maintenance", "on"],
        ["actuate", "door", "open", "--yes"],
    ):
        res = lisa("diag", *args, "--socket", str(stale), cwd=short_dir)
        assert res.returncode == 3, (args, res.stderr)
        assert "the booth daemon is not running (nobody listens on" in res.stderr

    res = lisa("sim", "console", "--socket", str(missing), stdin="status\n")
    assert res.returncode == 3
    assert "the booth daemon is not running" in res.stderr


def test_hash_uid_and_drivers_need_no_daemon() -> None:
    res = lisa("diag", "hash-uid", "04A1B2C3D4E5F6", "--config", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == BADGE_HASH
    res = lisa("diag", "hash-uid", "04:a1:b2:c3:d4:e5:f6", "--config", str(EXAMPLE))
    assert res.stdout.strip() == BADGE_HASH
    res = lisa("diag", "hash-uid", "xyz", "--config", str(EXAMPLE))
    assert res.returncode == 2 and "hex digits" in res.stderr

    res = lisa("diag", "drivers", "--json", "--config", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert "sim" in out["available"]["door"] and "sim" in out["available"]["camera"]
    assert out["configured"]["camera_document"] == {
        "class": "camera",
        "driver": "sim",
        "known": True,
    }


# ------------------------------------------------------------------------------------ console
def test_console_piped_script(daemon: Daemon) -> None:
    script = "person.enter\nwait 4\nbogus command\nstatus\nquit\nperson.leave\n"
    res = lisa("sim", "console", "--socket", str(daemon.socket), stdin=script)
    out = res.stdout
    assert "> person.enter\ncitizen entered\nstate=idle" in out
    assert "error: unknown command 'bogus'; type help" in out
    status_block = out.split("> status\n", 1)[1]
    assert re.search(r"booth sim-1: state (occupied|queued)", status_block)
    assert re.search(r"^state=(occupied|queued) .*present=yes", status_block, re.MULTILINE)
    assert "> quit" in out and "person.leave" not in out  # nothing runs after quit
    assert res.returncode == 1  # one command failed (bogus)

    res = lisa("sim", "console", "--config", str(daemon.config), stdin="e\nhelp\n")
    assert res.returncode == 0, res.stderr
    assert "entry refused" in res.stdout or "citizen entered" in res.stdout
    assert "agent.transfer" in res.stdout and "e=person.enter" in res.stdout
