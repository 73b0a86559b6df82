"""The cloud bridge as a separate process (``lisa bridge run``) on a test Mosquitto."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from booth_process import wait_for
from mosquitto_harness import MosquittoBroker

from sim.brokers import stop_process

LISA = Path(sys.executable).parent / "lisa"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bridge_config(
    workdir: Path, broker: MosquittoBroker, password: str, booths: list[str], port: int
) -> str:
    (workdir / "mqtt.pw").write_text(password + "\n", "utf-8")
    lines = [
        "[bridge]",
        'name = "Testkreis"',
        f'database = "{workdir / "bridge.db"}"',
        'phone = "03984 70-0"',
        "agent_grace_s = 30",
        "booth_offline_grace_s = 60",
        "[mqtt]",
        f'url = "{broker.url_tls}"',
        'username = "bridge"',
        f'password_file = "{workdir / "mqtt.pw"}"',
        f'tls_ca = "{broker.ca_file}"',
        "[http]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[acd]",
        "ring_timeout_s = 15",
        "wrapup_s = 0",
        "[[site]]",
        'id = "test"',
        'name = "Testfiliale"',
    ]
    for b in booths:
        lines += ["[[booth]]", f'id = "{b}"', 'site = "test"', f'name = "Kabine {b}"']
    lines += [
        "[[queue]]",
        'id = "clearing"',
        'name = "Bürgerservice – Empfang"',
        "[[queue]]",
        'id = "wohngeld"',
        'name = "Wohngeldstelle"',
        "[[agent]]",
        'id = "clearing1"',
        'display_name = "Bürgerservice – Empfang"',
        "queues = { clearing = 1 }",
        "[[agent]]",
        'id = "wohngeld1"',
        'display_name = "Wohngeldstelle"',
        "queues = { wohngeld = 1 }",
    ]
    return "\n".join(lines) + "\n"


class BridgeProcess:
    def __init__(self, workdir: Path, broker: MosquittoBroker, booths: list[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if "bridge" not in broker.passwords:
            broker.provision_bridge()
        self.config = workdir / "bridge.toml"
        self.config.write_text(
            bridge_config(workdir, broker, broker.bridge_password, booths, self.port), "utf-8"
        )
        self.log = workdir / "bridge.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def lisa(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LISA), "bridge", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def add_user(self, name: str, role: str, password: str) -> None:
        done = self.lisa(
            "user", "add", name, "--role", role, "--config", str(self.config),
            "--password-stdin", stdin=password + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [str(LISA), "bridge", "run", "--config", str(self.config)],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthy, "the bridge's HTTP API", 30)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"bridge exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict[str, Any]:
        done = self.lisa("status", "--config", str(self.config), "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


def wait_status(
    bridge: BridgeProcess, check: Any, what: str, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = bridge.status()
        if check(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last status: {data}")
        time.sleep(0.1)
