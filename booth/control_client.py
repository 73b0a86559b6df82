"""A small synchronous client for the booth's local control socket (``lisa diag``, ``lisa sim
console``, tests).

The protocol is newline-delimited JSON over a Unix stream socket: one request object per line
(``{"op": "status"}``), one answer object per line (``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}``). Streaming ops (``watch``, ``log`` with ``follow``) answer with a first line
and then send one object per line until the client closes the connection.

This module knows nothing of the server side and imports nothing heavy, so the command-line
tools start quickly.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_SOCKET = Path("/run/lisa/booth.sock")
SOCKET_ENV = "LISA_SOCKET"
#: longest request line the server accepts (bytes, without the newline)
MAX_REQUEST_LINE = 64 * 1024
#: longest answer line the client accepts (a support bundle is one line)
MAX_ANSWER_LINE = 64 * 1024 * 1024
#: what ``watch`` can follow
TOPICS = (
    "presence",
    "door",
    "light",
    "plc",
    "nfc",
    "signature",
    "camera",
    "audio",
    "state",
    "all",
)
START_HINT = "start it with: systemctl start lisa-booth"


class ControlClientError(Exception):
    """Talking to the daemon failed; ``exit_code`` is what a command-line tool should return."""

    exit_code = 1


class DaemonUnavailable(ControlClientError):
    """No daemon to talk to: socket missing, nobody listening, permission denied, no answer."""

    exit_code = 3


class RequestFailed(ControlClientError):
    """The daemon answered ``ok: false``; ``answer`` is the whole answer."""

    exit_code = 1

    def __init__(self, error: str, answer: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error
        self.answer = answer


class ConfigUnusable(ControlClientError):
    """The ``--config`` file given to find the socket cannot be read."""

    exit_code = 2


def socket_from_config(config: Path) -> Path:
    """``control.socket`` of a booth config file (the default when the file sets none).

    Only reads the TOML: a config with a problem elsewhere must not stop a technician from
    reaching the daemon. A relative path is relative to the current directory, as for the
    daemon.
    """
    try:
        data = tomllib.loads(config.read_text("utf-8"))
    except OSError as exc:
        raise ConfigUnusable(f"cannot read {config}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigUnusable(f"{config}: invalid TOML: {exc}") from None
    control = data.get("control")
    value = control.get("socket") if isinstance(control, dict) else None
    if value is None:
        return DEFAULT_SOCKET
    if not isinstance(value, str) or not value:
        raise ConfigUnusable(f"{config}: control.socket must be a path, got {value!r}")
    return Path(value)


def resolve_socket(socket_path: Path | None, config: Path | None) -> Path:
    """Which socket to use: ``--socket``, else ``--config``'s ``control.socket``, else
    ``$LISA_SOCKET``, else ``/run/lisa/booth.sock``."""
    if socket_path is not None:
        return socket_path
    if config is not None:
        return socket_from_config(config)
    env = os.environ.get(SOCKET_ENV)
    if env:
        return Path(env)
    return DEFAULT_SOCKET


class _LineSocket:
    """A connected Unix socket that reads and writes JSON lines."""

    def __init__(self, path: Path, timeout: float | None) -> None:
        self.path = path
        self._buf = bytearray()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except BaseException as exc:
            self.sock.close()
            raise _connect_error(path, exc) from None

    def close(self) -> None:
        self.sock.close()

    def send_bytes(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise DaemonUnavailable(
                f"the booth daemon does not accept data on {self.path} (timed out)"
            ) from None
        except OSError as exc:
            raise DaemonUnavailable(
                f"the connection to the booth daemon on {self.path} broke: {exc.strerror or exc}"
            ) from None

    def send(self, obj: dict[str, Any]) -> None:
        self.send_bytes(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")

    def read_line(self, timeout: float | None) -> bytes | None:
        """The next line (without newline); ``None`` when the daemon closed the connection."""
        self.sock.settimeout(timeout)
        while True:
            idx = self._buf.find(b"\n")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 1]
                return line
            if len(self._buf) > MAX_ANSWER_LINE:
                raise ControlClientError("the booth daemon sent an answer that is too long")
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise DaemonUnavailable(
                    f"the booth daemon did not answer within {timeout:g} s (socket {self.path})"
                ) from None
            except OSError as exc:
                raise DaemonUnavailable(
                    f"the connection to the booth daemon on {self.path} broke: "
                    f"{exc.strerror or exc}"
                ) from None
            if not chunk:
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None
            self._buf += chunk

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        line = self.read_line(timeout)
        if line is None:
            return None
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ControlClientError(
                f"the booth daemon sent something that is not JSON: {line[:200]!r}"
            ) from None
        if not isinstance(obj, dict):
            raise ControlClientError(f"the booth daemon sent an unexpected answer: {obj!r}")
        return obj


def _connect_error(path: Path, exc: BaseException) -> ControlClientError:
    if isinstance(exc, FileNotFoundError):
        return DaemonUnavailable(
            f"the booth daemon is not running (no control socket at {path}); {START_HINT}"
        )
    if isinstance(exc, ConnectionRefusedError):
        return DaemonUnavailable(
            f"the booth daemon is not running (nobody listens on {path}); {START_HINT}"
        )
    if isinstance(exc, PermissionError):
        return DaemonUnavailable(
            f"permission denied on the control socket {path}: join the group that owns it "
            "(sudo usermod -aG lisa $USER, then log in again) or use sudo"
        )
    if isinstance(exc, TimeoutError):
        return DaemonUnavailable(f"the booth daemon does not answer on {path} (timed out)")
    if isinstance(exc, OSError):
        return DaemonUnavailable(
            f"cannot connect to the control socket {path}: {exc.strerror or exc}"
        )
    return ControlClientError(f"cannot connect to the control socket {path}: {exc}")


class ControlClient:
    """Synchronous client. Requests share one connection (opened on first use); each stream
    gets a connection of its own.

    >>> with ControlClient(Path("/run/lisa/booth.sock")) as client:
    ...     client.call("status")["state"]
    """

    def __init__(self, path: Path | str = DEFAULT_SOCKET, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._conn: _LineSocket | None = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connect(self) -> None:
        """Connect now (raises :class:`DaemonUnavailable` with a clear message)."""
        if self._conn is None:
            self._conn = _LineSocket(self.path, self.timeout)

    def _connection(self) -> _LineSocket:
        self.connect()
        assert self._conn is not None
        return self._conn

    # -- low level (tests use these to send garbage) ---------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Send raw bytes on the request connection."""
        self._connection().send_bytes(data)

    def read_answer(self, timeout: float | None = None) -> dict[str, Any]:
        """Read one answer line from the request connection."""
        answer = self._connection().read(self.timeout if timeout is None else timeout)
        if answer is None:
            self.close()
            raise DaemonUnavailable(f"the booth daemon closed the connection on {self.path}")
        return answer

    # -- requests --------------------------------------------------------------------------------
    def request(self, op: str, *, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and return the answer as it is (``ok`` may be false)."""
        conn = self._connection()
        try:
            conn.send({"op": op, **fields})
            return self.read_answer(timeout)
        except ControlClientError:
            self.close()  # the connection is in an unknown state now
            raise

    def call(self, op: str, *, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Like :meth:`request`, but raises :class:`RequestFailed` for ``ok: false``."""
        answer = self.request(op, timeout=timeout, **fields)
        if not answer.get("ok"):
            raise RequestFailed(str(answer.get("error", "request failed")), answer)
        return answer

    def stream(
        self, op: str, *, idle_timeout: float | None = None, **fields: Any
    ) -> Generator[dict[str, Any], None, None]:
        """Start a streaming request on a connection of its own; yields the first answer, then
        every streamed object until the daemon ends the stream. Closing the generator closes
        the connection, which ends the stream on the daemon's side."""
        conn = _LineSocket(self.path, self.timeout)
        try:
            conn.send({"op": op, **fields})
            first = conn.read(self.timeout)
            if first is None:
                raise DaemonUnavailable(f"the booth daemon closed the connection on {self.path}")
            if not first.get("ok"):
                raise RequestFailed(str(first.get("error", "request failed")), first)
            yield first
            while True:
                item = conn.read(idle_timeout)
                if item is None:
                    return
                yield item
        finally:
            conn.close()
