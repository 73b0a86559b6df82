"""Remote commands: refused where they would endanger the citizen or make no sense."""

from __future__ import annotations

from typing import Any

import pytest

from booth.commands import CommandExecutor, CommandRefused
from hal.clock import LoopClock
from lisa_messages import COMMAND_ARGS, Command
from sim.harness import SimBooth


async def booth_at_idle() -> SimBooth:
    booth = SimBooth.from_example(LoopClock())
    await booth.start()
    await booth.wait_state("idle")
    return booth


async def run(booth: SimBooth, cmd: str, **args: Any) -> dict[str, Any]:
    command = Command(id="x", cmd=cmd, args=args)
    return await CommandExecutor(booth.controller).execute(cmd, command.parsed_args(), "agent1")


async def test_ping_reports_state_and_clock() -> None:
    booth = await booth_at_idle()
    result = await run(booth, "ping")
    assert result["state"] == "idle" and result["clock"].endswith("Z")
    await booth.stop()


async def test_door_close_refused_when_obstructed_and_in_emergency() -> None:
    booth = await booth_at_idle()
    booth.inject("door.obstruct")
    with pytest.raises(CommandRefused, match="obstructed"):
        await run(booth, "door.close")
    booth.inject("door.clear")
    booth.inject("emergency.on")
    await booth.wait_state("emergency")
    with pytest.raises(CommandRefused, match="emergency"):
        await run(booth, "door.close")
    assert (await run(booth, "door.open"))["door"] == "opening"  # opening is never refused
    await booth.stop()


async def test_session_commands_need_a_citizen() -> None:
    booth = await booth_at_idle()
    with pytest.raises(CommandRefused, match="no citizen session"):
        await run(booth, "session.end")
    with pytest.raises(CommandRefused, match="only in a call"):
        await run(booth, "signature.request", document="Antrag")
    booth.inject("person.enter")
    booth.inject("agent.answer")
    await booth.wait_state("queued")
    booth.inject("agent.answer")
    await booth.wait_state("in_call")
    assert (await run(booth, "signature.request", document="Antrag"))["requested"]
    await booth.wait_state("in_call.signing")
    with pytest.raises(CommandRefused, match="citizen is in the booth"):
        await run(booth, "selftest.run")
    with pytest.raises(CommandRefused, match="maintenance cannot start"):
        await run(booth, "maintenance.enter")
    await run(booth, "display.show", page="unavailable", params={"phone": "0"})
    assert booth.controller.screen.page == "unavailable"
    await run(booth, "session.end")
    await booth.wait_state("farewell")
    await booth.stop()


async def test_display_rejects_unknown_pages_and_light_obeys() -> None:
    booth = await booth_at_idle()
    with pytest.raises(CommandRefused, match="unknown page"):
        await run(booth, "display.show", page="nope")
    result = await run(booth, "light.set", scene="consultation", brightness=0.8, sign="occupied")
    assert result == {"scene": "consultation", "brightness": 0.8, "sign": "occupied"}
    cam = await run(booth, "doccam.set", zoom=0.5)
    assert cam["zoom"] == 0.5
    await booth.stop()


def test_every_command_has_a_handler() -> None:
    for cmd in COMMAND_ARGS:
        assert hasattr(CommandExecutor, "_" + cmd.replace(".", "_")), cmd
