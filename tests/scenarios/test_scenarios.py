"""The shipped example scenarios (sim/scenarios) and the scenario runner's contract.

Every scenario runs in-process on virtual time against the real controller and must pass; the
folder as a whole must walk every top-level state; the CLI (``lisa sim run``) reports failures
(exit 1) and malformed files (exit 2) with file:line and reason, and ``--json`` prints one JSON
object per line.
"""

from __future__ import annotations

import functools
import itertools
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from booth.machine import IN_CALL_SUBSTATES, TOP_STATES
from sim.scenario import Result, parse_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "sim" / "scenarios"
FILES = sorted(SCENARIO_DIR.glob("*.toml"))


@functools.cache
def run_file(path: Path) -> Result:
    return run_scenario(parse_scenario(path))


def records(path: Path) -> list[dict[str, Any]]:
    return [r.to_dict() for r in run_file(path).records]


def has(recs: list[dict[str, Any]], **subset: Any) -> bool:
    return any(all(r.get(k) == v for k, v in subset.items()) for r in recs)


def after_state(recs: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    """The records from the first entry into ``state`` on."""
    for i, r in enumerate(recs):
        if r["kind"] == "state" and r["state"] == state:
            return recs[i:]
    return []


def test_the_folder_holds_scenarios() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_passes(path: Path) -> None:
    data = tomllib.loads(path.read_text("utf-8"))
    assert data.get("name"), f"{path.name}: give the scenario a name"
    assert data.get("description"), f"{path.name}: say which rule it proves (description)"
    result = run_file(path)
    assert result.passed, result.failure.report(str(path)) if result.failure else ""
    assert result.checked == len(result.scenario.expects)


def test_the_folder_visits_every_state() -> None:
    states: set[str] = set()
    details: set[str] = set()
    for path in FILES:
        for r in records(path):
            if r["kind"] == "state":
                states.add(r["state"])
                details.add(r["detail"])
    missing = [s for s in TOP_STATES if s not in states]
    assert not missing, f"no scenario visits: {', '.join(missing)}"
    for sub in IN_CALL_SUBSTATES:
        assert f"in_call.{sub}" in details, f"no scenario visits in_call.{sub}"


# What the expectation keys (state, detail, door, sign, screen) cannot see: the trace shows it.
def _call_ended(reason: str) -> dict[str, Any]:
    return {"kind": "info", "event": "call ended by booth", "reason": reason}


EMERGENCY_LIGHT = {
    "kind": "actuator",
    "device": "light",
    "action": "scene",
    "value": "emergency",
    "brightness": 1.0,
}
DOOR_OPEN = {"kind": "actuator", "device": "door", "action": "open"}
DOOR_UNLOCK = {"kind": "actuator", "device": "door", "action": "unlock_entry"}

AFTER: dict[str, tuple[str, list[dict[str, Any]]]] = {
    # scenario stem: (from the first entry into this state on, these records must appear)
    "02-abandon-while-queued": ("farewell", [_call_ended("citizen_left")]),
    "03-citizen-leaves-during-call": ("farewell", [_call_ended("citizen_left")]),
    "06-citizen-sitting-still": ("farewell", [_call_ended("citizen_left")]),
    "07-emergency-from-idle": ("emergency", [EMERGENCY_LIGHT, DOOR_OPEN, DOOR_UNLOCK]),
    "08-emergency-from-queued": (
        "emergency",
        [_call_ended("emergency"), EMERGENCY_LIGHT, DOOR_OPEN, DOOR_UNLOCK],
    ),
    "09-emergency-from-in-call": (
        "emergency",
        [_call_ended("emergency"), EMERGENCY_LIGHT, DOOR_OPEN, DOOR_UNLOCK],
    ),
    "10-emergency-from-maintenance": ("emergency", [EMERGENCY_LIGHT, DOOR_OPEN, DOOR_UNLOCK]),
    "11-emergency-from-fault": ("emergency", [EMERGENCY_LIGHT, DOOR_OPEN, DOOR_UNLOCK]),
    "14-door-failure": ("fault", [DOOR_OPEN, DOOR_UNLOCK]),
    "15-door-jam": ("fault", [_call_ended("fault"), DOOR_OPEN, DOOR_UNLOCK]),
    "16-plc-failure": ("fault", [_call_ended("fault"), DOOR_OPEN, DOOR_UNLOCK]),
    "19-link-loss-during-call": ("farewell", [_call_ended("link_lost")]),
    "22-nobody-reachable": (
        "farewell",
        [
            {
                "kind": "actuator",
                "device": "display",
                "action": "show",
                "page": "unavailable",
                "params": {"opening_hours": "Mo–Fr 8–16 Uhr, Do bis 18 Uhr", "phone": "03984 70-0"},
            }
        ],
    ),
}


@pytest.mark.parametrize("stem", sorted(AFTER))
def test_scenario_trace_shows_what_expectations_cannot(stem: str) -> None:
    state, wanted = AFTER[stem]
    recs = after_state(records(SCENARIO_DIR / f"{stem}.toml"), state)
    assert recs, f"{stem} never enters {state}"
    for rec in wanted:
        assert has(recs, **rec), f"{stem}: after entering {state}, no record like {rec}"


def test_link_loss_retries_with_growing_backoff() -> None:
    recs = records(SCENARIO_DIR / "18-link-loss-idle.toml")
    assert has(recs, kind="info", event="entry refused", reason="entry locked")
    delays = [r["delay"] for r in recs if r.get("event") == "reconnect scheduled"]
    assert len(delays) >= 4
    assert all(b > a for a, b in itertools.pairwise(delays))


def test_plc_dead_man_trips_only_when_the_pc_cannot_reach_the_plc() -> None:
    safe = {"kind": "input", "device": "plc", "input": "safe_defaults", "value": True}
    for path in FILES:
        if path.stem != "16-plc-failure":
            assert not has(records(path), **safe), f"{path.name}: heartbeat missed"
    assert has(after_state(records(SCENARIO_DIR / "16-plc-failure.toml"), "fault"), **safe)


def test_unknown_card_is_no_badge() -> None:
    recs = records(SCENARIO_DIR / "20-maintenance-badge.toml")
    cards = [r["badge"] for r in recs if r["kind"] == "input" and r.get("card") is True]
    assert cards == [False, True, False, True]
    maint = [r for r in recs if r.get("event") == "maintenance"]
    assert [m["enter"] for m in maint] == [True, False]  # the unknown cards asked for nothing


# ---------------------------------------------------------------------------- the CLI


def lisa(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "lisa"
    cmd = [str(script)] if script.exists() else [shutil.which("lisa") or "lisa"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


def test_cli_json_output() -> None:
    path = SCENARIO_DIR / "01-citizen-walkthrough.toml"
    proc = lisa("sim", "run", "--json", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    kinds = {d["kind"] for d in lines}
    assert kinds == {"state", "actuator", "verdict"}
    assert all(isinstance(d["t"], int | float) for d in lines if d["kind"] != "verdict")
    states = [d["detail"] for d in lines if d["kind"] == "state"]
    assert states[:3] == ["booting", "selftest", "idle"]
    assert "in_call.transferring" in states
    verdict = lines[-1]
    assert verdict["kind"] == "verdict"
    assert verdict["passed"] is True
    assert verdict["scenario"] == str(path)
    assert verdict["checked"] == len(parse_scenario(path).expects)


def test_cli_runs_the_whole_folder() -> None:
    proc = lisa("sim", "run", *map(str, FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASS ") == len(FILES)


WRONG = """\
name = "deliberately wrong"
description = "the booth is queued at 6 s, not in a call"

[[step]]
at = 2.0
do = "person.enter"

[[expect]]
at = 1.0
state = "idle"

[[expect]]
at = 6.0
state = "in_call"
sign = "occupied"
"""


def test_cli_failed_expectation_exits_1_and_names_file_line_expected_actual(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(WRONG, "utf-8")
    proc = lisa("sim", "run", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"FAIL {path}" in proc.stdout
    assert f"{path}:12: expectation #2 at t=6 failed" in proc.stdout
    assert "state is 'queued', expected 'in_call'" in proc.stdout
    assert "sign is" not in proc.stdout.split("\n")[1]  # only the wrong key is reported
    # --json carries the same report in the verdict
    proc = lisa("sim", "run", "--json", str(path))
    assert proc.returncode == 1
    verdict = json.loads(proc.stdout.splitlines()[-1])
    assert verdict["kind"] == "verdict" and verdict["passed"] is False
    assert f"{path}:12:" in verdict["report"]


EXPECT_IDLE = '\n[[expect]]\nat = 2.0\nstate = "idle"\n'

MALFORMED: dict[str, tuple[str, str, str]] = {
    # case: (file content, where (":line" after the path), reason in the message)
    "bad TOML": ('name = "x"\n[[step]\nat = 1\n', ":2:7:", "invalid TOML"),
    "unknown input": (
        '[[step]]\nat = 1\ndo = "person.fly"\n' + EXPECT_IDLE,
        ":1:",
        "step #1: unknown input 'person.fly'",
    ),
    "missing argument": (
        '[[step]]\nat = 1\ndo = "nfc.tap"\n' + EXPECT_IDLE,
        ":1:",
        "input 'nfc.tap' needs argument 'uid'",
    ),
    "wrong argument type": (
        '[[step]]\nat = 1\ndo = "presence.distance"\ndistance = "near"\n' + EXPECT_IDLE,
        ":1:",
        "argument 'distance' must be float, got 'near'",
    ),
    "unknown expectation key": (
        '[[step]]\nat = 1\ndo = "person.enter"\n\n[[expect]]\nat = 2\nstat = "idle"\n',
        ":5:",
        "expectation #1: unknown key 'stat'",
    ),
    "invalid state name": (
        '[[expect]]\nat = 2\nstate = "sleeping"\n',
        ":1:",
        "expectation #1: state 'sleeping' is not one of",
    ),
    "negative time": (
        '[[step]]\nat = -1\ndo = "person.enter"\n' + EXPECT_IDLE,
        ":1:",
        "step #1: 'at' must not be negative",
    ),
    # a file-wide problem: the message names the file, there is no line to point at
    "no expectations": (
        'name = "x"\n[[step]]\nat = 1\ndo = "person.enter"\n',
        ":",
        "no [[expect]] tables",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_cli_malformed_scenario_exits_2_with_file_line_and_reason(
    case: str, tmp_path: Path
) -> None:
    text, where, reason = MALFORMED[case]
    path = tmp_path / "malformed.toml"
    path.write_text(text, "utf-8")
    proc = lisa("sim", "run", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = next(
        (ln for ln in proc.stderr.splitlines() if ln.startswith("malformed scenario")), ""
    )
    assert f"malformed scenario {path}{where}" in message, proc.stderr
    assert reason in message, proc.stderr
    assert "PASS" not in proc.stdout and "FAIL" not in proc.stdout


def test_malformed_file_among_good_ones_still_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[expect]]\nat = -2\nstate = "idle"\n', "utf-8")
    good = SCENARIO_DIR / "07-emergency-from-idle.toml"
    proc = lisa("sim", "run", str(good), str(bad))
    assert proc.returncode == 2
    assert f"PASS {good}" in proc.stdout
    assert f"{bad}:1: expectation #1: 'at' must not be negative" in proc.stderr


# ---------------------------------------------------------------------------- the tester doc


def test_tester_doc_lists_every_input_and_every_scenario() -> None:
    from sim.harness import INPUTS

    doc = (ROOT / "docs" / "scenarios.md").read_text("utf-8")
    missing = [name for name in INPUTS if f"| `{name}` |" not in doc]
    assert not missing, f"docs/scenarios.md lacks inputs: {', '.join(missing)}"
    missing = [p.name for p in FILES if f"| `{p.name}` |" not in doc]
    assert not missing, f"docs/scenarios.md lacks scenarios: {', '.join(missing)}"
