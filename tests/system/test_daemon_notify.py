"""The daemon speaks the systemd notify protocol: READY, STATUS, WATCHDOG from the main loop after a
health check, STOPPING on SIGTERM — checked against a datagram socket standing in for systemd."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "booth" / "examples" / "booth-sim.toml"
LISA = Path(sys.executable).parent / "lisa"


def test_daemon_notifies_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    short = Path(tempfile.mkdtemp(prefix="lisa-"))
    try:
        notify_path = short / "notify.sock"
        sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sd.bind(str(notify_path))
        sd.settimeout(20)
        text = EXAMPLE.read_text("utf-8")
        text = re.sub(r"(?m)^state_dir = .*$", f'state_dir = "{tmp_path / "state"}"', text)
        text = re.sub(r"(?m)^socket = .*$", f'socket = "{short / "b.sock"}"', text)
        config = tmp_path / "booth.toml"
        config.write_text(text, "utf-8")
        env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
        proc = subprocess.Popen(
            [str(LISA), "booth", "run", "--sim", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            messages: list[str] = []

            def receive_until(pred: str) -> None:
                deadline = time.monotonic() + 20
                while not any(pred in m for m in messages):
                    assert time.monotonic() < deadline, f"no {pred!r} in {messages}"
                    messages.append(sd.recv(4096).decode())

            receive_until("READY=1")
            receive_until("STATUS=state=idle")
            count = sum("WATCHDOG=1" in m for m in messages)
            while count < 3:  # pings keep coming (every 0.5 s with WatchdogSec=1 s)
                msg = sd.recv(4096).decode()
                messages.append(msg)
                count += "WATCHDOG=1" in msg
            proc.send_signal(signal.SIGTERM)
            receive_until("STOPPING=1")
            assert proc.wait(timeout=15) == 0
            ready = next(m for m in messages if "READY=1" in m)
            assert "STATUS=" in ready
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sd.close()
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_daemon_with_bad_config_exits_2_and_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "booth.toml"
    config.write_text('[booth]\nid = "x"\n[devices.door]\ndriver = "sim"\n', "utf-8")
    res = subprocess.run(
        [str(LISA), "booth", "run", "--config", str(config)], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert "devices.presence: Field required" in res.stderr
