"""A real coturn (``turnserver``) on loopback for media tests.

:class:`Coturn` writes a ``turnserver.conf`` into a directory of its own (see
``/work/shared/recipes.md``, "coturn on loopback"): listener and relay addresses 127.0.0.1, a
free listening port, a relay port range picked at random (checked free when chosen),
``allow-loopback-peers`` (without it ICE between two loopback relay candidates stays
``checking``), no CLI/TLS/DTLS/TCP relays, and either the long-term credential mechanism with one
static user or the TURN REST API (``use-auth-secret`` + ``static-auth-secret``). Pidfile, user
database and log live in the directory.

``start()`` spawns ``turnserver -c FILE`` and returns once the server answers a STUN binding
request on its UDP port (``ready_at`` is that moment, ``time.monotonic()``); ``stop()`` sends
SIGTERM, waits, then kills; ``restart()`` is both on the same ports. As a context manager it
starts on entry and stops on exit::

    with Coturn(tmp_path) as turn:
        RTCIceServer(turn.url, turn.username, turn.password)
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

HOST = "127.0.0.1"
TURNSERVER = "/usr/bin/turnserver"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
RELAY_PORTS = 40  # relay endpoints available: one per allocation (one ICE transport each)

_STUN_MAGIC = 0x2112A442
_BINDING_REQUEST = 0x0001
_BINDING_SUCCESS = 0x0101


def turnserver_binary() -> str | None:
    """The coturn executable: Debian's ``/usr/bin/turnserver`` or one on PATH, None if absent."""
    if os.access(TURNSERVER, os.X_OK):
        return TURNSERVER
    return shutil.which("turnserver")


def _bindable(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_listening_port() -> int:
    """A loopback port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if _bindable(port, socket.SOCK_STREAM):
            return port
    raise RuntimeError("no free loopback port for UDP and TCP")


def free_relay_range(size: int = RELAY_PORTS) -> tuple[int, int]:
    """``(min_port, max_port)``: ``size`` consecutive UDP ports, each free when checked.

    Free-ish only: another process may take one later (coturn then picks another in the range).
    The range starts at random in 20000–59999 so that parallel test runs rarely overlap.
    """
    for _ in range(200):
        low = random.randrange(20000, 60000 - size)
        if all(_bindable(p, socket.SOCK_DGRAM) for p in range(low, low + size)):
            return low, low + size - 1
    raise RuntimeError(f"no {size} consecutive free UDP ports on {HOST}")


def stun_binding(host: str, port: int, timeout: float) -> bool:
    """Send one STUN binding request over UDP; True when a matching success response came
    within ``timeout`` seconds."""
    txid = secrets.token_bytes(12)
    request = struct.pack("!HHI", _BINDING_REQUEST, 0, _STUN_MAGIC) + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (host, port))
            while True:
                data, _ = sock.recvfrom(2048)
                if len(data) >= 20:
                    kind, _length, magic = struct.unpack("!HHI", data[:8])
                    if kind == _BINDING_SUCCESS and magic == _STUN_MAGIC and data[8:20] == txid:
                        return True
        except (TimeoutError, ConnectionRefusedError):
            # nothing listening yet: the ICMP port-unreachable comes back as ECONNREFUSED
            return False


class Coturn:
    """A ``turnserver -c FILE`` process on 127.0.0.1, configured in ``directory``.

    ``auth="static"``: ``lt-cred-mech`` with the user ``username``/``password``;
    ``auth="secret"``: TURN REST API credentials from ``secret`` (``use-auth-secret``), minted
    by the client (e.g. :func:`cloud_bridge.turn.ice_servers_for`); ``username``/``password``
    are then not available.
    """

    def __init__(
        self,
        directory: Path,
        *,
        auth: Literal["static", "secret"] = "static",
        username: str = "alice",
        password: str = "s3cret",
        secret: str | None = None,
        realm: str = "test.local",
    ) -> None:
        binary = turnserver_binary()
        if binary is None:
            raise RuntimeError("coturn is not installed (Debian package 'coturn')")
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        self.realm = realm
        self._username = username
        self._password = password
        #: the ``static-auth-secret`` (``auth="secret"`` only)
        self.secret = (secret or secrets.token_hex(16)) if auth == "secret" else None
        self.host = HOST
        self.port = free_listening_port()
        self.min_port, self.max_port = free_relay_range()
        self.conf_file = self.dir / "turnserver.conf"
        self.log_file = self.dir / "turn.log"
        self.out_file = self.dir / "turnserver.out"  # stdout/stderr of the process
        #: ``time.monotonic()`` when the last ``start()`` got its first STUN answer
        self.ready_at: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self.conf_file.write_text(self.config_text(), encoding="utf-8")

    # ------------------------------------------------------------------ configuration
    def config_text(self) -> str:
        """The ``turnserver.conf`` this server runs with."""
        lines = [
            f"listening-ip={HOST}",
            f"relay-ip={HOST}",
            f"listening-port={self.port}",
            f"min-port={self.min_port}",
            f"max-port={self.max_port}",
            "lt-cred-mech",
        ]
        if self.auth == "secret":
            lines += ["use-auth-secret", f"static-auth-secret={self.secret}"]
        else:
            lines.append(f"user={self._username}:{self._password}")
        lines += [
            f"realm={self.realm}",
            "fingerprint",
            "allow-loopback-peers",
            "no-cli",
            "no-tls",
            "no-dtls",
            "no-tcp-relay",
            "no-rfc5780",  # one listener address: no alternate port to bind
            f"pidfile={self.dir / 'turnserver.pid'}",
            f"userdb={self.dir / 'turndb'}",
            f"log-file={self.log_file}",
            "simple-log",
        ]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ properties
    @property
    def url(self) -> str:
        """The TURN URL for a WebRTC ``RTCIceServer``: ``turn:127.0.0.1:PORT?transport=udp``."""
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def username(self) -> str:
        """The static user's name (``auth="static"`` only)."""
        if self.auth != "static":
            raise RuntimeError("coturn runs with use-auth-secret: mint credentials from .secret")
        return self._username

    @property
    def password(self) -> str:
        """The static user's password (``auth="static"`` only)."""
        if self.auth != "static":
            raise RuntimeError("coturn runs with use-auth-secret: mint credentials from .secret")
        return self._password

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the log file and of the process output, for failure messages."""
        parts = []
        for path in (self.log_file, self.out_file):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                parts.append(f"--- {path.name}\n{text[-chars:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Spawn ``turnserver -c FILE``; return once it answers STUN on its port.

        Raises RuntimeError (with the log's end) when it exits or does not answer in time.
        """
        if self.running:
            raise RuntimeError("coturn is already running")
        self._out = self.out_file.open("ab")
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._cleanup()
                raise RuntimeError(f"turnserver exited with {code}\n{self.log_tail()}")
            if stun_binding(self.host, self.port, timeout=0.05):
                self.ready_at = time.monotonic()
                return
        self.stop()
        raise RuntimeError(
            f"turnserver did not answer STUN on {self.host}:{self.port} within {timeout} s\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. No-op when not running."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._cleanup()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """``stop()`` then ``start()`` with the same configuration and ports."""
        self.stop()
        self.start(timeout)

    def _cleanup(self) -> None:
        self._proc = None
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> Coturn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
