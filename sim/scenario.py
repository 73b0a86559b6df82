"""Scenario files: inputs at virtual times and expectations, run against the real controller on
simulated hardware under virtual time.

Format (TOML)::

    name = "citizen walks through"          # optional
    description = "…"                        # optional
    duration = 60                             # optional: run until this time (default: last at + 1)

    [config]                                  # optional overrides of the simulated booth config
    presence.delay_on = 2.0

    [[step]]
    at = 1.0                                  # seconds of virtual time
    do = "person.enter"                       # an input (lisa sim inputs lists them)
    distance = 0.8                            # its arguments, if any

    [[expect]]
    at = 5.0
    state = "queued"                          # top-level state; also: detail, door, sign, screen

Expectations are checked after the inputs of the same instant have been handled.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from booth.config import ConfigError
from booth.machine import IN_CALL_SUBSTATES, TOP_STATES
from booth.screens import PAGES
from booth.trace import TraceRecord
from hal.clock import LoopClock
from hal.events import DoorPosition, SignState
from sim.harness import InputError, SimBooth, check_input
from sim.vtime import run_virtual

EXPECT_KEYS = ("state", "detail", "door", "sign", "screen")
SETTLE = 0.001  # expectations look 1 ms after their instant
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ScenarioError(Exception):
    """A malformed scenario file; the message names file, line and reason."""


@dataclass(frozen=True)
class Step:
    index: int
    line: int
    at: float
    do: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Expect:
    index: int
    line: int
    at: float
    checks: dict[str, str]


@dataclass
class Scenario:
    path: str
    name: str
    steps: list[Step]
    expects: list[Expect]
    config: dict[str, Any]
    duration: float


@dataclass
class Failure:
    expect: Expect
    actual: dict[str, str]
    context: list[dict[str, Any]]

    def report(self, path: str) -> str:
        wrong = [
            f"{k} is {self.actual.get(k)!r}, expected {v!r}"
            for k, v in self.expect.checks.items()
            if self.actual.get(k) != v
        ]
        lines = [
            f"{path}:{self.expect.line}: expectation #{self.expect.index} at t={self.expect.at:g} "
            f"failed: " + "; ".join(wrong),
            "  booth at that time: " + ", ".join(f"{k}={v}" for k, v in self.actual.items()),
            "  last events:",
        ]
        lines += [f"    {rec}" for rec in self.context]
        return "\n".join(lines)


@dataclass
class Result:
    scenario: Scenario
    failure: Failure | None
    records: list[TraceRecord] = field(default_factory=list)
    checked: int = 0

    @property
    def passed(self) -> bool:
        return self.failure is None


def _header_lines(text: str, header: str) -> list[int]:
    pat = re.compile(r"^\s*\[\[\s*" + re.escape(header) + r"\s*\]\]")
    return [i + 1 for i, line in enumerate(text.splitlines()) if pat.match(line)]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of seconds, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return float(value)


_CHOICES: dict[str, set[str]] = {
    "state": set(TOP_STATES),
    "detail": set(TOP_STATES) | {f"in_call.{s}" for s in IN_CALL_SUBSTATES},
    "door": {p.value for p in DoorPosition},
    "sign": {s.value for s in SignState},
    "screen": set(PAGES),
}


def parse_scenario(path: Path | str, text: str | None = None) -> Scenario:
    p = str(path)
    if text is None:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{m.group(1)}:{m.group(2)}" if m else "?"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError(f"{p}:{where}: invalid TOML: {reason}") from None

    allowed = {"name", "description", "duration", "config", "step", "expect"}
    for key in data:
        if key not in allowed:
            raise ScenarioError(
                f"{p}: unknown top-level key {key!r} (allowed: {', '.join(sorted(allowed))})"
            )
    raw_steps = data.get("step", [])
    raw_expects = data.get("expect", [])
    if not isinstance(raw_steps, list) or not isinstance(raw_expects, list):
        raise ScenarioError(f"{p}: 'step' and 'expect' must be arrays of tables ([[step]])")
    if not raw_expects:
        raise ScenarioError(f"{p}: no [[expect]] tables: a scenario must expect something")
    step_lines = _header_lines(text, "step")
    expect_lines = _header_lines(text, "expect")

    steps: list[Step] = []
    for i, raw in enumerate(raw_steps):
        line = step_lines[i] if i < len(step_lines) else 0
        where = f"{p}:{line}: step #{i + 1}"
        try:
            at = _number(raw.get("at"), "'at'")
            do = raw.get("do")
            if not isinstance(do, str):
                raise ValueError(f"'do' must name an input, got {do!r}")
            args = {k: v for k, v in raw.items() if k not in ("at", "do")}
            args = check_input(do, args)
        except (ValueError, InputError) as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        steps.append(Step(i + 1, line, at, do, args))

    expects: list[Expect] = []
    for i, raw in enumerate(raw_expects):
        line = expect_lines[i] if i < len(expect_lines) else 0
        where = f"{p}:{line}: expectation #{i + 1}"
        try:
            at = _number(raw.get("at"), "'at'")
            unknown = [k for k in raw if k != "at" and k not in EXPECT_KEYS]
            if unknown:
                raise ValueError(
                    f"unknown key {unknown[0]!r} (an expectation checks: {', '.join(EXPECT_KEYS)})"
                )
            checks = {k: raw[k] for k in EXPECT_KEYS if k in raw}
            if not checks:
                raise ValueError(f"expects nothing (give one of: {', '.join(EXPECT_KEYS)})")
            for k, v in checks.items():
                if v not in _CHOICES[k]:
                    raise ValueError(f"{k} {v!r} is not one of: {', '.join(sorted(_CHOICES[k]))}")
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        expects.append(Expect(i + 1, line, at, checks))

    config = data.get("config", {})
    if not isinstance(config, dict):
        raise ScenarioError(f"{p}: [config] must be a table")
    last = max([s.at for s in steps] + [e.at for e in expects])
    try:
        duration = _number(data.get("duration", last + 1.0), "'duration'")
    except ValueError as exc:
        raise ScenarioError(f"{p}: {exc}") from None
    if duration < last:
        raise ScenarioError(f"{p}: duration {duration:g} ends before the last step/expectation")
    return Scenario(p, str(data.get("name", Path(p).stem)), steps, expects, config, duration)


def observe(booth: SimBooth) -> dict[str, str]:
    ctrl = booth.controller
    door = booth.devices.get("door")
    light = booth.devices.get("light")
    obs = {
        "state": ctrl.state.split(".", 1)[0],
        "detail": ctrl.state,
        "door": door.position().value if door is not None else "none",  # type: ignore[attr-defined]
        "screen": ctrl.screen.page,
    }
    if light is not None:
        obs["sign"] = light.sign().value  # type: ignore[attr-defined]
    return obs


async def run_async(scenario: Scenario, on_record: Any = None) -> Result:
    loop = asyncio.get_running_loop()
    clock = LoopClock(epoch=EPOCH)
    try:
        booth = SimBooth.from_example(clock, scenario.config)
    except ConfigError as exc:
        raise ScenarioError(f"{scenario.path}: [config]: {exc}") from None
    records: list[TraceRecord] = []
    t0 = loop.time()

    def keep(rec: TraceRecord) -> None:
        rec = TraceRecord(rec.t - t0, rec.kind, rec.data)
        records.append(rec)
        if on_record is not None:
            on_record(rec)

    booth.trace.subscribe(keep)
    await booth.start()
    result = Result(scenario, None, records)

    # one timeline: inputs at their instant, expectations just after it
    timeline: list[tuple[float, int, Any]] = [(s.at, 0, s) for s in scenario.steps]
    timeline += [(e.at + SETTLE, 1, e) for e in scenario.expects]
    timeline.sort(key=lambda x: (x[0], x[1]))
    try:
        for at, _, item in timeline:
            delay = t0 + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if isinstance(item, Step):
                try:
                    booth.inject(item.do, item.args)
                except InputError as exc:
                    raise ScenarioError(
                        f"{scenario.path}:{item.line}: step #{item.index}: {exc}"
                    ) from None
            else:
                actual = observe(booth)
                result.checked += 1
                if any(actual.get(k) != v for k, v in item.checks.items()):
                    context = [r.to_dict() for r in records[-8:]]
                    result.failure = Failure(item, actual, context)
                    return result
        rest = t0 + scenario.duration - loop.time()
        if rest > 0:
            await asyncio.sleep(rest)
    finally:
        await booth.stop()
    return result


def run_scenario(scenario: Scenario, on_record: Any = None) -> Result:
    """Run a parsed scenario on a fresh virtual-time loop."""
    return run_virtual(run_async(scenario, on_record))
