"""A booth daemon on simulated hardware as a separate process, linked to a test Mosquitto."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mosquitto_harness import MosquittoBroker

from booth.control_client import ControlClient, DaemonUnavailable
from sim.booth_files import booth_config_text, fast_timing
from sim.brokers import stop_process

REPO = Path(__file__).resolve().parents[2]
LISA = Path(sys.executable).parent / "lisa"
BOOTH = "gartz-1"


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class BoothProcess:
    def __init__(
        self,
        workdir: Path,
        broker: MosquittoBroker,
        password: str,
        booth_id: str = BOOTH,
        *,
        link_grace: float | None = None,
    ) -> None:
        self.workdir = workdir
        self.booth_id = booth_id
        self.socket = Path(tempfile.mkdtemp(prefix="lisa-")) / "b.sock"
        mqtt = (
            f'\n[mqtt]\nurl = "{broker.url_tls}"\nusername = "{booth_id}"\n'
            f'password = "{password}"\n'
            f'ca_file = "{broker.ca_file}"\nretry_initial = 0.2\nretry_max = 1.0\n'
        )
        # fast timings (a visit takes ~3 s); link_grace: how long a visit survives a link loss
        text = booth_config_text(
            booth_id,
            workdir / "state",
            self.socket,
            mqtt_central=True,
            timing=fast_timing(link_grace=link_grace),
            extra=mqtt,
        )
        self.config = workdir / "booth.toml"
        self.config.write_text(text, "utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "booth.log"

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [str(LISA), "booth", "run", "--sim", "--config", str(self.config)],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, "the booth daemon's control socket", 30)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"booth exited:\n{self.log.read_text()[-3000:]}")
        if not self.socket.exists():
            return False
        try:
            self.state()
        except DaemonUnavailable:
            return False
        return True

    def state(self) -> str:
        with ControlClient(self.socket, timeout=10) as c:
            return str(c.call("status")["state"])

    def inject(self, name: str, **args: Any) -> None:
        with ControlClient(self.socket, timeout=10) as c:
            c.call("inject", input=name, args=args)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)
        shutil.rmtree(self.socket.parent, ignore_errors=True)
