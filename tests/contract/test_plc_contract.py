"""Contract of PLCs: I/O, registers, emergency input, dead-man heartbeat."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hal.devices import DeviceError, Plc
from hal.events import EmergencyChanged, PlcInputChanged


def safe_defaults(value: bool) -> Any:
    return lambda e: (
        isinstance(e, PlcInputChanged) and e.input == "safe_defaults" and e.value is value
    )


async def test_is_a_plc(make_plc: Any) -> None:
    assert isinstance(make_plc.device, Plc)


@pytest.mark.parametrize(("address", "value"), [(0, 0), (1, 1), (200, 12345), (65535, 65535)])
async def test_register_round_trip(make_plc: Any, address: int, value: int) -> None:
    plc = make_plc.device
    await plc.write_register(address, (value + 1) % 65536)
    await plc.write_register(address, value)
    assert await plc.read_register(address) == value


@pytest.mark.parametrize(("address", "value"), [(-1, 0), (65536, 0), (10, -1), (10, 65536)])
async def test_register_out_of_range(make_plc: Any, address: int, value: int) -> None:
    with pytest.raises(ValueError):
        await make_plc.device.write_register(address, value)


async def test_unknown_input_names_the_known_ones(make_plc: Any) -> None:
    plc = make_plc.device
    emergency: str = make_plc.params["emergency_input"]
    with pytest.raises(DeviceError, match=emergency):
        await plc.read_input("no-such-input")


async def test_heartbeat_advances_register(make_plc: Any) -> None:
    plc = make_plc.device
    register: int = make_plc.params["heartbeat_register"]
    before = await plc.read_register(register)
    await plc.heartbeat()
    await plc.heartbeat()
    assert await plc.read_register(register) == (before + 2) % 65536


async def test_dead_man_falls_back_to_safe_defaults(make_plc: Any, record: Any) -> None:
    plc = make_plc.device
    timeout: float = make_plc.params["heartbeat_timeout"]
    rec = record(plc)
    # regular heartbeats: no fallback
    for _ in range(6):
        await asyncio.sleep(timeout / 2)
        await plc.heartbeat()
    t_last = asyncio.get_running_loop().time()
    assert not [e for e in rec.events if safe_defaults(True)(e)]

    # heartbeats stop: fallback after the timeout
    event = await rec.wait_for(safe_defaults(True), 2 * timeout)
    assert 0.9 * timeout <= event.t - t_last <= 1.5 * timeout

    # the next heartbeat ends it
    start = len(rec.events)
    await plc.heartbeat()
    await rec.wait_for(safe_defaults(False), timeout / 2, start)


async def test_emergency_input(make_plc: Any, record: Any) -> None:
    plc, peer = make_plc.device, make_plc.peer
    emergency: str = make_plc.params["emergency_input"]
    rec = record(plc)
    assert plc.emergency_active() is False
    assert await plc.read_input(emergency) is False

    peer.trip_fire_alarm()
    event = await rec.wait_for(lambda e: isinstance(e, EmergencyChanged), 1.0)
    assert event.active is True
    assert plc.emergency_active() is True
    assert await plc.read_input(emergency) is True

    start = len(rec.events)
    peer.clear_fire_alarm()
    event = await rec.wait_for(lambda e: isinstance(e, EmergencyChanged), 1.0, start)
    assert event.active is False
    assert plc.emergency_active() is False


async def test_input_changes_are_reported(make_plc: Any, record: Any) -> None:
    plc, peer = make_plc.device, make_plc.peer
    emergency: str = make_plc.params["emergency_input"]
    rec = record(plc)
    peer.set_input(emergency, True)
    event = await rec.wait_for(
        lambda e: isinstance(e, PlcInputChanged) and e.input == emergency, 1.0
    )
    assert event.value is True
