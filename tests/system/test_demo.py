"""``lisa demo --auto``: the whole system as processes (embedded broker, the real bridge, five
simulated booths) with simulated agents and citizens; a call is answered and transferred, every
process runs to the end, and nothing is left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

LISA = Path(sys.executable).parent / "lisa"
RUN_TIMEOUT = 120


@pytest.fixture
def workdir() -> Iterator[Path]:
    # short: the booths' control sockets live below it (a Unix socket path has ≤ 107 bytes)
    short = Path(tempfile.mkdtemp(prefix="lisa-demo-"))
    try:
        yield short / "demo"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def processes_using(path: Path) -> list[str]:
    """Command lines of running processes that mention ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [str(LISA), "demo", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the demo's clean shutdown stops its children
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"lisa demo did not finish within {RUN_TIMEOUT} s:\n{out}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def test_demo_auto_answers_and_transfers_calls(workdir: Path) -> None:
    result = run_demo("--auto", "--duration", "30", "--workdir", str(workdir), "--seed", "7")
    out = result.stdout
    assert result.returncode == 0, out
    assert "demo OK" in out, out
    summary = re.search(r"requested=(\d+) answered=(\d+) transferred=(\d+) ended=(\d+)", out)
    assert summary is not None, out
    requested, answered, transferred, _ = map(int, summary.groups())
    assert requested >= answered >= 1, out
    assert transferred >= 1, out
    # the live log tells the story of a call, from the supervisor's view
    assert re.search(r"call \w+ at [\w-]+: queued in clearing", out), out
    assert re.search(r"call \w+ at [\w-]+: connected to clearing2", out), out
    assert re.search(r"call \w+ at [\w-]+: transferred by clearing2 to [\w-]+", out), out
    assert "a citizen walks into booth" in out
    # `lisa bridge status` was printed, with the bridge still running
    assert "Bridge LISA Uckermark: running" in out, out
    # the instructions name the real commands
    assert f"sim console --socket {workdir / 'gartz-01' / 'booth.sock'}" in out, out
    assert f"bridge status --config {workdir / 'bridge.toml'}" in out, out
    assert re.search(r"agent --url http://127\.0\.0\.1:\d+ --user clearing1", out), out
    # every process of the demo ended with it; the logs stay
    assert processes_using(workdir) == []
    assert (workdir / "bridge" / "bridge.log").stat().st_size > 0
    for booth in ("gartz-01", "gramzow-01", "angermuende-01", "templin-01", "lychen-01"):
        assert (workdir / booth / "booth.log").stat().st_size > 0, booth


def test_demo_refuses_a_workdir_it_did_not_make(workdir: Path) -> None:
    workdir.mkdir()
    precious = workdir / "thesis.tex"
    precious.write_text("do not delete", "utf-8")
    result = run_demo("--auto", "--duration", "5", "--workdir", str(workdir))
    assert result.returncode == 1
    assert "holds files the demo did not make" in result.stdout
    assert precious.read_text("utf-8") == "do not delete"
    assert sorted(os.listdir(workdir)) == ["thesis.tex"]
