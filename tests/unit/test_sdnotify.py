"""Tests for booth.sdnotify against real AF_UNIX datagram sockets (no mocks)."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from booth.sdnotify import SystemdNotifier, watchdog_interval

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract AF_UNIX sockets exist only on Linux"
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket playing systemd's notification socket, and its path."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    try:
        yield sock, path
    finally:
        sock.close()


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run without any systemd variables from the calling environment."""
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


def recv(sock: socket.socket) -> bytes:
    return sock.recv(4096)


# --- datagrams -----------------------------------------------------------------------------


def test_ready_with_status_is_one_datagram(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier(path)
    assert notifier.ready("Bereit, Tür zu") is True
    assert recv(sock) == "READY=1\nSTATUS=Bereit, Tür zu".encode()


def test_ready_without_status(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert SystemdNotifier(path).ready() is True
    assert recv(sock) == b"READY=1"


def test_status_watchdog_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    with SystemdNotifier(path) as notifier:
        assert notifier.status("in_call") is True
        assert notifier.watchdog() is True
        assert notifier.stopping() is True
    assert recv(sock) == b"STATUS=in_call"
    assert recv(sock) == b"WATCHDOG=1"
    assert recv(sock) == b"STOPPING=1"


def test_reloading_carries_monotonic_usec(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert SystemdNotifier(path).reloading() is True
    assert re.fullmatch(rb"RELOADING=1\nMONOTONIC_USEC=\d+", recv(sock))


def test_send_keeps_field_order_and_flattens_newlines(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    notifier = SystemdNotifier(path)
    assert notifier.send(STATUS="door\nfault", ERRNO=5) is True
    assert recv(sock) == b"STATUS=door fault\nERRNO=5"
    assert notifier.send() is False  # nothing to send


def test_socket_from_environment(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = SystemdNotifier()
    assert notifier.enabled
    assert notifier.socket_path == path
    assert notifier.watchdog() is True
    assert recv(sock) == b"WATCHDOG=1"


def test_explicit_path_wins_over_environment(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "elsewhere.sock"))
    assert SystemdNotifier(path).stopping() is True
    assert recv(sock) == b"STOPPING=1"


@linux_only
def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"lisa-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notifier = SystemdNotifier()
        assert notifier.ready("selftest ok") is True
        assert notifier.watchdog() is True
        assert recv(sock) == b"READY=1\nSTATUS=selftest ok"
        assert recv(sock) == b"WATCHDOG=1"
    finally:
        sock.close()


# --- no socket, bad socket -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_noop_without_socket(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    notifier = SystemdNotifier()
    assert not notifier.enabled
    assert notifier.socket_path is None
    assert notifier.ready("x") is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.reloading() is False
    assert notifier.send(FOO="bar") is False
    notifier.close()


def test_unsupported_address_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="booth.sdnotify"):
        notifier = SystemdNotifier("relative/notify.sock")
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "unsupported NOTIFY_SOCKET" in caplog.text


def test_send_error_does_not_raise_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "missing.sock")  # nobody listens here
    notifier = SystemdNotifier(path)
    with caplog.at_level(logging.WARNING, logger="booth.sdnotify"):
        assert notifier.ready("x") is False
        assert notifier.watchdog() is False
        assert notifier.stopping() is False
    warnings = [r for r in caplog.records if r.name == "booth.sdnotify"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert path in warnings[0].getMessage()

    # Once the socket appears (systemd re-executed, say) sending works again.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    try:
        assert notifier.watchdog() is True
        assert recv(sock) == b"WATCHDOG=1"
    finally:
        sock.close()
        notifier.close()


def test_send_error_when_listener_goes_away(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier(path)
    assert notifier.watchdog() is True
    assert recv(sock) == b"WATCHDOG=1"
    sock.close()
    os.unlink(path)
    assert notifier.watchdog() is False


# --- watchdog_interval -------------------------------------------------------------------------


def test_watchdog_interval_is_half_of_watchdog_sec(
    no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    assert SystemdNotifier().watchdog_interval() == 15.0


def test_watchdog_interval_with_matching_pid(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "5000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 2.5


def test_watchdog_interval_pid_mismatch(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    assert SystemdNotifier().watchdog_interval() is None


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": ""},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "-1"},
        {"WATCHDOG_USEC": "thirty"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "self"},
        {"WATCHDOG_PID": "1"},
    ],
)
def test_watchdog_interval_none(env: dict[str, str]) -> None:
    assert watchdog_interval(env) is None


def test_watchdog_interval_from_mapping() -> None:
    env = {"WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 0.0005
