"""A booth daemon on simulated hardware as a separate process, linked to a test Mosquitto."""

from __future__ import annotations

import re
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
from sim.brokers import stop_process

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "booth" / "examples" / "booth-sim.toml"
LISA = Path(sys.executable).parent / "lisa"
BOOTH = "gartz-1"
FAST = """
[presence]
delay_on = 0.3
delay_off = 1.0
[timing]
privacy_reset = 0.3
[devices.door.options]
travel_time = 0.3
"""


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
        text = EXAMPLE.read_text("utf-8")
        text = re.sub(r"(?m)^state_dir = .*$", f'state_dir = "{workdir / "state"}"', text)
        text = re.sub(r"(?m)^socket = .*$", f'socket = "{self.socket}"', text)
        text = re.sub(r'(?m)^id = "sim-1"$', f'id = "{booth_id}"', text)
        text = text.replace('[central]\nkind = "sim"', '[central]\nkind = "mqtt"')
        # drop the example's timing/presence tables and use fast ones (a visit takes ~3 s)
        text = re.sub(r"(?ms)^\[presence\].*?(?=^\[)", "", text)
        text = re.sub(r"(?ms)^\[timing\].*?(?=^\[)", "", text)
        text = text.replace(
            "[devices.door.options]\ntravel_time = 2.0          # s to open or close\n", ""
        )
        fast = FAST
        if link_grace is not None:  # how long a visit survives a link loss (default 20 s)
            fast = fast.replace("[timing]\n", f"[timing]\nlink_grace = {link_grace}\n")
        text += fast
        text += (
            f'\n[mqtt]\nurl = "{broker.url_tls}"\nusername = "{booth_id}"\n'
            f'password = "{password}"\n'
            f'ca_file = "{broker.ca_file}"\nretry_initial = 0.2\nretry_max = 1.0\n'
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
