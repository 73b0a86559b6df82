"""Minimal ``sd_notify(3)`` client for running the booth under systemd.

The protocol is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX``
socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` names a Linux abstract
socket). No third-party dependency, and nothing here ever raises because of the
notification channel: the booth must keep running whether or not systemd (or
anything else) listens.

Typical use in the daemon::

    notifier = SystemdNotifier()
    notifier.ready("idle")
    interval = watchdog_interval()  # None: no watchdog configured
    # ... in the main loop, every ``interval`` seconds, only after a health check:
    notifier.watchdog()
    # ... on shutdown:
    notifier.stopping()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType

__all__ = ["SystemdNotifier", "watchdog_interval"]

_log = logging.getLogger(__name__)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return how often (seconds) the daemon should send ``WATCHDOG=1``, or None.

    systemd passes ``WatchdogSec=`` as ``$WATCHDOG_USEC`` (microseconds). The
    recommended ping interval is half of it. If ``$WATCHDOG_PID`` is set it must
    be this process's pid, otherwise the watchdog belongs to another process
    (e.g. we were started by a wrapper) and None is returned. Missing, zero,
    negative or unparsable values also give None.

    ``environ`` defaults to :data:`os.environ`.
    """
    env = os.environ if environ is None else environ
    raw_usec = env.get("WATCHDOG_USEC", "").strip()
    if not raw_usec:
        return None
    try:
        usec = int(raw_usec)
    except ValueError:
        _log.warning("ignoring unparsable WATCHDOG_USEC=%r", raw_usec)
        return None
    if usec <= 0:
        return None
    raw_pid = env.get("WATCHDOG_PID", "").strip()
    if raw_pid:
        try:
            pid = int(raw_pid)
        except ValueError:
            _log.warning("ignoring watchdog: unparsable WATCHDOG_PID=%r", raw_pid)
            return None
        if pid != os.getpid():
            return None
    return usec / 1_000_000 / 2


class SystemdNotifier:
    """Send state notifications to systemd's notification socket.

    Every method returns True when the datagram was handed to the kernel and
    False otherwise: no socket configured (not started by systemd with
    ``Type=notify``), an unsupported socket address, or a send error. Send
    errors are logged as a warning once per notifier, never raised.

    The socket is opened lazily on the first send and reused; after a send
    error it is closed and opened again on the next send. Methods are safe to
    call from several threads.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        """Use ``socket_path``, or ``$NOTIFY_SOCKET`` when it is None.

        An empty value disables the notifier. A leading ``@`` selects the Linux
        abstract socket namespace (the ``@`` stands for the leading NUL byte).
        """
        path = os.environ.get("NOTIFY_SOCKET", "") if socket_path is None else socket_path
        self._address: str | bytes | None = None
        self._socket_path: str | None = path or None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        if not path:
            return
        if path.startswith("@"):
            # Abstract namespace: the name starts with a NUL byte, not NUL-terminated.
            self._address = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self._address = path
        else:
            # systemd itself only hands out absolute paths or abstract names.
            self._warn_once("unsupported NOTIFY_SOCKET address %r, notifications disabled", path)

    @property
    def socket_path(self) -> str | None:
        """The configured socket address as given (``@name`` for abstract), or None."""
        return self._socket_path

    @property
    def enabled(self) -> bool:
        """True when a usable notification socket address is configured."""
        return self._address is not None

    def ready(self, status: str = "") -> bool:
        """Tell systemd that start-up is finished (``READY=1``), with an optional status."""
        if status:
            return self.send(READY=1, STATUS=status)
        return self.send(READY=1)

    def status(self, text: str) -> bool:
        """Set the free-form status line shown by ``systemctl status``."""
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        """Ping the service watchdog (``WATCHDOG=1``).

        Call it from the main loop after a successful health check, never from
        an independent timer: the point is that a hung loop stops the pings.
        """
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        """Tell systemd that the service is shutting down (``STOPPING=1``)."""
        return self.send(STOPPING=1)

    def reloading(self) -> bool:
        """Tell systemd that the service reloads its configuration (``RELOADING=1``).

        ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in microseconds) is included because
        ``Type=notify-reload`` (systemd >= 253) requires it; older versions ignore
        it. Send :meth:`ready` when the reload is done.
        """
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec)

    def send(self, **fields: object) -> bool:
        """Send ``KEY=VALUE`` fields as one datagram, in the order given.

        Values are converted with :func:`str`; newlines inside a value are
        replaced by spaces since the protocol is line based. Returns False
        without sending when there are no fields or no socket.
        """
        if self._address is None or not fields:
            return False
        message = "\n".join(
            f"{key}={str(value).replace(chr(10), ' ')}" for key, value in fields.items()
        )
        data = message.encode("utf-8", errors="replace")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(data, self._address)
            except OSError as exc:
                self._close_locked()
                self._warn_once(
                    "sd_notify to %s failed: %s (further failures are not logged)",
                    self._socket_path,
                    exc,
                )
                return False
        return True

    def close(self) -> None:
        """Close the notification socket (a later send opens it again)."""
        with self._lock:
            self._close_locked()

    def watchdog_interval(self) -> float | None:
        """Ping interval in seconds from the environment; see :func:`watchdog_interval`."""
        return watchdog_interval()

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _close_locked(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def _warn_once(self, msg: str, *args: object) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(msg, *args)
