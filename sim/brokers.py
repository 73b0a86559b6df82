"""MQTT brokers for the demo and the benchmarks, on the loopback interface.

- :class:`EmbeddedBroker`: amqtt inside this process, on an asyncio loop in a background thread
  (``lisa demo``: nothing to install beyond the venv);
- :class:`MosquittoBroker`: a private ``mosquitto -c CONFIG`` process (``lisa bench link``), never
  the system service.

Both listen on 127.0.0.1 only and allow anonymous clients; both stop cleanly (``stop()`` or the
context manager) and can be started again on the same port (an outage in a benchmark).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts TCP connections (``TimeoutError`` otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:g} s"
                ) from None
            time.sleep(0.02)


class _Broker:
    host = "127.0.0.1"
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedBroker(_Broker):
    """amqtt (MQTT 3.1.1; retained messages and last will work) on a loop in its own thread."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    def config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            return
        for name in ("amqtt", "transitions"):  # amqtt logs every connection at INFO
            logging.getLogger(name).setLevel(logging.ERROR)
        loop = asyncio.new_event_loop()
        started: dict[str, BaseException | None] = {}
        ready = threading.Event()
        tasks: list[asyncio.Task[None]] = []

        async def run_broker() -> None:
            broker_class = importlib.import_module("amqtt.broker").Broker
            try:
                self._broker = broker_class(
                    self.config()
                )  # must be created inside the running loop
                await self._broker.start()
            except BaseException as exc:
                started["error"] = exc
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            tasks.append(loop.create_task(run_broker()))
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the embedded broker did not start within {timeout:g} s")
        error = started.get("error")
        if error is not None:
            self.stop()
            raise RuntimeError(f"the embedded broker did not start: {error}") from error

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread, broker = self._loop, self._thread, self._broker
        if loop is None or thread is None:
            return
        if broker is not None and not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            try:
                future.result(timeout)
            except Exception:  # a broker that fails to shut down is still stopped below
                logging.getLogger("lisa.sim.broker").debug("amqtt shutdown", exc_info=True)
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = self._thread = self._broker = None


MOSQUITTO_CONFIG = """\
# lisa: a private, loopback-only Mosquitto for benchmarks and tests
listener {port} 127.0.0.1
allow_anonymous true
{persistence}
set_tcp_nodelay true
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages {max_inflight}
log_dest stderr
log_type error
log_type warning
"""


class MosquittoBroker(_Broker):
    """``mosquitto -c CONFIG`` as a child process. ``stop()`` then ``start()`` again gives an
    outage: without persistence every session and retained message is gone afterwards;
    ``persistence=True`` keeps them in ``workdir/persist/`` (``mosquitto.db``)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        max_inflight: int = 1000,
        executable: str | None = None,
        workdir: Path | None = None,
        persistence: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.max_inflight = max_inflight
        self.persistence = persistence
        exe = executable or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise FileNotFoundError("mosquitto not found: install the Debian package mosquitto")
        self.executable = exe
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lisa-mosquitto-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.config_file = workdir / "mosquitto.conf"
        self.log_file = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            MOSQUITTO_CONFIG.format(
                port=self.port, max_inflight=self.max_inflight, persistence=self._persistence()
            )
            # as root, Mosquitto would switch to the user "mosquitto", which can neither enter
            # the private work directory nor write its persistence file there
            + ("user root\n" if os.geteuid() == 0 else ""),
            "utf-8",
        )
        with self.log_file.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [self.executable, "-c", str(self.config_file)],
                stdout=log,
                stderr=log,
            )
        try:
            wait_listening(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            text = self.log_file.read_text("utf-8", "replace") if self.log_file.exists() else ""
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {text}") from None

    def _persistence(self) -> str:
        if not self.persistence:
            return "persistence false"
        store = self.workdir / "persist"
        store.mkdir(parents=True, exist_ok=True)
        return f"persistence true\npersistence_location {store}/"

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS), 0 when unknown."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
