"""Controller robustness on virtual time: broken drivers, garbage, priorities, watchdog health."""

from __future__ import annotations

import asyncio
from typing import Any

from booth.machine import Trigger
from booth.trace import TraceRecord
from hal.clock import LoopClock
from hal.events import DistanceSample, DoorPosition
from sim.harness import SimBooth


async def started(overrides: dict[str, Any] | None = None) -> SimBooth:
    booth = SimBooth.from_example(LoopClock(), overrides)
    await booth.start()
    await until(booth, "idle")
    return booth


async def until(booth: SimBooth, state: str, within: float = 60.0) -> None:
    await booth.wait_state(state, within)


async def test_boots_through_selftest_to_idle() -> None:
    booth = await started()
    states = [r.data["state"] for r in booth.trace.history if r.kind == "state"]
    assert states[:3] == ["booting", "selftest", "idle"]
    assert all(r.passed for r in booth.controller.selftest_results.values())
    await booth.stop()


async def test_non_critical_actuator_failure_does_not_stop_service() -> None:
    booth = await started()
    booth.inject("device.fail", {"device": "light", "reason": "lamp driver dead"})
    booth.inject("person.enter")
    await until(booth, "queued")
    errors = [r for r in booth.trace.history if r.kind == "error"]
    assert any("light" in r.data["where"] for r in errors)
    await booth.stop()


async def test_hanging_driver_is_timed_out_and_emergency_still_opens_door() -> None:
    booth = await started()
    light: Any = booth.devices["light"]

    async def hang(*_: Any) -> None:
        await asyncio.Event().wait()

    light.set_sign = hang
    booth.inject("emergency.on")
    await until(booth, "emergency", within=10)
    door: Any = booth.devices["door"]
    await asyncio.sleep(2.5)
    assert door.position() is DoorPosition.OPEN
    assert any(
        r.kind == "error" and "no answer" in r.data.get("error", "") for r in booth.trace.history
    )
    assert await booth.controller.tick() is True
    await booth.stop()


async def test_device_garbage_event_is_reported_and_controller_keeps_running() -> None:
    booth = await started()
    bad = DistanceSample("presence", 1.0, "not a number")  # type: ignore[arg-type]
    booth.controller._on_device_event(bad)
    assert any(
        r.kind == "error" and r.data["where"] == "device presence" for r in booth.trace.history
    )
    booth.inject("person.enter")
    await until(booth, "queued")
    await booth.stop()


async def test_driver_raising_on_start_is_reported() -> None:
    booth = SimBooth.from_example(LoopClock())
    cam: Any = booth.devices["camera_document"]

    async def boom() -> None:
        raise RuntimeError("usb gone")

    cam.start = boom
    await booth.start()
    await until(booth, "idle")
    assert any(
        r.kind == "error" and "camera_document" in r.data["where"] for r in booth.trace.history
    )
    await booth.stop()


async def test_emergency_jumps_the_trigger_queue() -> None:
    booth = await started()
    ctrl = booth.controller
    seen: list[str] = []
    ctrl.trace.subscribe(lambda r: seen.append(r.data["state"]) if r.kind == "state" else None)
    for _ in range(5):
        ctrl.post(Trigger.PRESENCE_ON)
    ctrl.post(Trigger.EMERGENCY_ON)
    ctrl.emergency = True
    await asyncio.sleep(0.1)
    assert seen[0] == "emergency"
    await booth.stop()


async def test_watchdog_is_withheld_when_the_dispatcher_died() -> None:
    booth = await started()
    assert await booth.controller.tick() is True
    assert booth.controller._dispatcher is not None
    booth.controller._dispatcher.cancel()
    await asyncio.sleep(0)
    assert await booth.controller.tick() is False
    await booth.stop()


async def test_plc_heartbeat_keeps_dead_man_quiet() -> None:
    booth = await started()
    plc: Any = booth.devices["plc"]
    await asyncio.sleep(30.0)  # the main loop beats every tick
    assert plc.safe_defaults_active is False
    assert len(plc.actions_named("heartbeat")) >= 29
    booth._stop.set()  # the main loop stops: the PLC falls back to its safe defaults
    await asyncio.sleep(10.0)
    assert plc.safe_defaults_active is True
    await booth.stop()


async def test_trace_has_no_raw_card_uid() -> None:
    booth = await started()
    records: list[TraceRecord] = []
    booth.trace.subscribe(records.append)
    booth.inject("nfc.tap", {"uid": "04A1B2C3D4E5F6"})
    await until(booth, "maintenance")
    text = repr([r.to_dict() for r in booth.trace.history]).lower()
    assert "04a1b2c3d4e5f6" not in text
    await booth.stop()
