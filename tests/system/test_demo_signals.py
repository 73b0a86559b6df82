"""``lisa demo`` whose output went away (``make demo | tee log``, then the terminal closed) still
stops on SIGTERM / SIGHUP, and none of its processes (bridge, five booths) outlives it."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

LISA = Path(sys.executable).parent / "lisa"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


@pytest.fixture
def workdir() -> Iterator[Path]:
    # short: the booths' control sockets live below it (a Unix socket path has ≤ 107 bytes)
    short = Path(tempfile.mkdtemp(prefix="lisa-sig-"))
    try:
        yield short / "demo"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def children_of(pid: int) -> dict[int, str]:
    """pid → command line of the running children of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def running(pid: int, cmdline: str) -> bool:
    """``pid`` still runs (not a zombie) with the same command line."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and now == cmdline


def read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float) -> bytes:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            pytest.fail(f"no {marker!r} from lisa demo:\n{seen.decode(errors='replace')}")
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            seen += os.read(fd, 65536)
    return seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_demo_stops_after_its_output_pipe_broke(workdir: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [str(LISA), "demo", "--auto", "--duration", "60", "--workdir", str(workdir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # both gone, as with a closed terminal
    )
    children: dict[int, str] = {}
    try:
        read_until(proc, b"Running for 60 s", START_TIMEOUT)  # every process is up
        children = children_of(proc.pid)
        names = " ".join(children.values())
        assert "bridge run" in names and names.count("booth run") == 5, children
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone: the next line the demo prints breaks
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"lisa demo still runs {STOP_TIMEOUT:g} s after {sig.name}")
        left = {pid: cmd for pid, cmd in children.items() if running(pid, cmd)}
        assert not left, f"outlived the demo: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()  # its children get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            proc.wait()
        deadline = time.monotonic() + 15
        while any(running(p, c) for p, c in children.items()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid, cmd in children.items():
            if running(pid, cmd):
                os.kill(pid, signal.SIGKILL)
