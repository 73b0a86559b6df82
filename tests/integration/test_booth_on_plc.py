"""The real booth controller with its door, light and PLC on a Modbus TCP PLC: `lisa sim
plc-server` in a subprocess is the PLC (register map: docs/plc-register-map.md).

Wiring as ``booth/examples/booth-plc.toml``: plc ``modbus-tcp``, door ``plc``, light ``plc``; the
other devices (presence included) simulated. The server is driven through its stdin commands
(``entry``, ``fire on``, ...) and observed through ``status`` (JSON) lines: coils, inputs,
registers and the door commands it took. The PLC resets a door command coil as soon as it has taken
the command (handshake), so "the door-open request register was set" shows as an ``open`` entry in
its command log.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from booth.config import deep_merge, parse_config
from hal.clock import LoopClock
from hal.health import HealthStatus
from sim.harness import SimBooth

pytestmark = pytest.mark.realtime

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "booth" / "examples" / "booth-plc.toml"
LISA = Path(sys.executable).parent / "lisa"
TRAVEL = 0.5  # s, the simulated door
DEADMAN = 1.5  # s, the simulated PLC's heartbeat timeout


class PlcServerProcess:
    """``lisa sim plc-server`` as a subprocess: stdin commands, stdout lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.port = 0
        self._new_line = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))
            self._new_line.set()

    async def wait_line(self, match: Callable[[str], bool], start: int, within: float) -> str:
        async with asyncio.timeout(within):
            while True:
                for line in self.lines[start:]:
                    if match(line):
                        return line
                start = len(self.lines)
                self._new_line.clear()
                await self._new_line.wait()

    async def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()

    async def status(self) -> dict[str, Any]:
        start = len(self.lines)
        await self.command("status")
        line = await self.wait_line(lambda s: s.startswith("status "), start, 5.0)
        result: dict[str, Any] = json.loads(line.removeprefix("status "))
        return result

    async def wait_status(
        self, check: Callable[[dict[str, Any]], bool], what: str, within: float = 10.0
    ) -> dict[str, Any]:
        """Poll ``status`` until ``check`` holds (deadline ``within`` s)."""
        deadline = time.monotonic() + within
        while True:
            status = await self.status()
            if check(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"PLC server: timed out waiting for {what}; last: {status}")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        self.proc.kill()
        await self.proc.wait()
        await self._reader


@pytest.fixture
async def plc_server() -> AsyncIterator[PlcServerProcess]:
    proc = await asyncio.create_subprocess_exec(
        str(LISA),
        "sim",
        "plc-server",
        "--port",
        "0",
        "--travel-time",
        str(TRAVEL),
        "--heartbeat-timeout",
        str(DEADMAN),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    server = PlcServerProcess(proc)
    try:
        line = await server.wait_line(lambda s: s.startswith("listening on "), 0, 30.0)
        match = re.search(r":(\d+) ", line)
        assert match, line
        server.port = int(match.group(1))
        yield server
    finally:
        if proc.returncode is None:
            await server.kill()


def booth_on(port: int, tmp: Path) -> SimBooth:
    data = tomllib.loads(EXAMPLE.read_text("utf-8"))
    data = deep_merge(
        data,
        {
            "state_dir": str(tmp / "state"),
            "control": {"socket": str(tmp / "booth.sock")},
            "devices": {
                "plc": {"options": {"port": port, "poll_interval": 0.05, "timeout": 0.5}},
            },
            "presence": {"delay_on": 0.3, "delay_off": 1.0},
            "timing": {"tick": 0.2, "privacy_reset": 0.5, "reclose_delay": 0.5},
        },
    )
    config, options = parse_config(data, str(EXAMPLE))
    return SimBooth(config, options, LoopClock())


async def wait_booth(booth: SimBooth, states: tuple[str, ...], within: float = 15.0) -> str:
    """Wait until the booth's top-level state is one of ``states``; returns it."""
    deadline = time.monotonic() + within
    while (top := booth.controller.state.split(".", 1)[0]) not in states:
        if time.monotonic() > deadline:
            status = booth.controller.status()
            raise AssertionError(f"booth: timed out waiting for {states}; it is in {top}: {status}")
        await asyncio.sleep(0.02)
    await booth.controller.settled()
    return top


async def wait_until(check: Callable[[], bool], what: str, within: float = 5.0) -> None:
    """Poll an in-process condition (the booth's view lags the PLC by up to a poll)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_walk_in_fire_alarm_and_dead_man_through_the_plc(
    plc_server: PlcServerProcess, tmp_path: Path
) -> None:
    booth = booth_on(plc_server.port, tmp_path)
    await booth.start()
    try:
        await wait_booth(booth, ("idle",))
        status = await plc_server.wait_status(
            lambda s: s["sign"] == "free" and s["door"] == "closed", "idle: sign free, door closed"
        )
        assert status["coils"]["entry_lock"] is False
        assert status["light"]["scene"] == "standby"

        # the heartbeat register keeps changing
        seen = {status["heartbeat"]}
        for _ in range(3):
            status = await plc_server.wait_status(
                lambda s: s["heartbeat"] not in seen, "a new heartbeat value", within=3.0
            )
            seen.add(status["heartbeat"])
        assert status["inputs"]["safe_defaults"] is False

        # a citizen walks in: the outside sensor opens the door, the sonar sees them ...
        await plc_server.command("entry")
        await plc_server.wait_status(lambda s: s["door"] in ("opening", "open"), "door opens")
        booth.dev("presence").person_at(0.7)
        await wait_booth(booth, ("occupied", "queued"))
        # ... and the booth closes the door through the PLC and locks entry
        status = await plc_server.wait_status(
            lambda s: s["door"] == "closed" and s["coils"]["entry_lock"],
            "door closed and entry locked after the walk-in",
        )
        closes = [c for c in status["commands"] if c["name"] == "close" and not c["refused"]]
        assert closes, status["commands"]
        assert status["sign"] == "occupied"
        assert status["light"] == {"scene": "consultation", "brightness": 1.0}
        door = booth.dev("door")
        await wait_until(lambda: door.position().value == "closed", "the booth sees it closed")
        assert door.entry_locked() is True

        # fire alarm on the PLC: the booth goes into emergency and asks for the door to open
        t_fire = (await plc_server.status())["t"]
        await plc_server.command("fire on")
        await wait_booth(booth, ("emergency",), within=5.0)
        status = await plc_server.wait_status(
            lambda s: (
                any(
                    c["name"] == "open" and not c["refused"] and c["t"] >= t_fire
                    for c in s["commands"]
                )
                and s["door"] == "open"
                and s["sign"] == "out-of-service"
                and s["light"] == {"scene": "emergency", "brightness": 1.0}
            ),
            "door-open request, door open, sign out of service, emergency light",
        )
        assert status["inputs"]["emergency"] is True
        assert status["coils"]["entry_lock"] is False
        assert booth.controller.emergency is True
        await wait_until(lambda: door.position().value == "open", "the booth sees it open")
        assert booth.dev("light").sign().value == "out-of-service"
    finally:
        await booth.stop()

    # the PC stopped writing its heartbeat: the PLC's dead-man applies the safe defaults
    status = await plc_server.wait_status(
        lambda s: s["inputs"]["safe_defaults"], "safe defaults after the heartbeat stopped"
    )
    assert status["sign"] == "out-of-service"
    assert status["coils"]["entry_lock"] is False


async def test_killed_plc_takes_the_booth_out_of_service(
    plc_server: PlcServerProcess, tmp_path: Path
) -> None:
    booth = booth_on(plc_server.port, tmp_path)
    await booth.start()
    try:
        await wait_booth(booth, ("idle",))
        assert booth.dev("plc").health().status is HealthStatus.OK
        assert booth.dev("door").health().status is HealthStatus.OK

        await plc_server.kill()
        await wait_booth(booth, ("fault",), within=10.0)
        plc, door = booth.dev("plc").health(), booth.dev("door").health()
        assert plc.status is HealthStatus.UNAVAILABLE, plc
        assert door.status is HealthStatus.UNAVAILABLE, door
        assert "PLC" in door.reason
        failures = booth.controller.critical_failures()
        assert {"plc", "door"} <= set(failures), failures
        assert booth.controller.status()["state"] == "fault"
    finally:
        await booth.stop()
