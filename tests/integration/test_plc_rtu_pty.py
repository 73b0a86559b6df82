"""The ``modbus-rtu`` PLC driver (and the door driver ``plc`` on it) through a pseudo-terminal
pair on real time: two pty pairs joined like a null-modem cable (``PtyNullModem``); the driver
opens one tty, pymodbus' serial RTU server (``PlcServer.start_rtu``) the other.

The contract suite runs ``modbus-rtu`` too; on the virtual-time loop it has to use a loopback
byte stream instead of the pty (see ``tests/contract/rigs_plc.py``), so this file is where the
pty itself is exercised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from recorder import Recorder

from drivers import plc_map
from drivers.door_plc import PlcDoor, PlcDoorOptions
from drivers.plc_modbus import ModbusRtuPlc, ModbusRtuPlcOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import (
    DeviceEvent,
    DoorPosition,
    DoorPositionChanged,
    EmergencyChanged,
    PlcInputChanged,
)
from hal.health import HealthStatus, SelftestOutcome
from sim.plc_server import PlcServer, PtyNullModem

pytestmark = pytest.mark.realtime

TRAVEL = 0.4
DEADMAN = 0.8


@dataclass
class RtuRig:
    server: PlcServer
    plc: ModbusRtuPlc
    door: PlcDoor
    events: Recorder  # of the PLC and the door

    async def wait_for(self, match: Callable[[DeviceEvent], bool], within: float) -> DeviceEvent:
        return await self.events.wait_for(match, within)


@pytest.fixture
async def rtu() -> AsyncIterator[RtuRig]:
    async with PtyNullModem() as (plc_end, server_end):
        server = PlcServer(travel_time=TRAVEL, heartbeat_timeout=DEADMAN)
        # no parity on a pty: this kernel refuses PARENB on ptys now and then (EINVAL)
        await server.start_rtu(server_end, baudrate=19200, parity="N")
        context = DriverContext(clock=LoopClock())
        options = ModbusRtuPlcOptions(
            serial_port=plc_end, parity="N", poll_interval=0.03, timeout=0.3
        )
        plc = ModbusRtuPlc("plc", options, context)
        door = PlcDoor("door", PlcDoorOptions(), context)
        context.devices.update(plc=plc, door=door)
        events = Recorder(plc, door)
        await door.start()
        await plc.start()
        try:
            yield RtuRig(server, plc, door, events)
        finally:
            await door.stop()
            await plc.stop()
            await server.stop()


async def test_rtu_through_the_pty(rtu: RtuRig) -> None:
    plc, door, server = rtu.plc, rtu.door, rtu.server
    assert plc.health().status is HealthStatus.OK, plc.health()
    result = await plc.selftest()
    assert result.outcome is SelftestOutcome.PASS, result.message
    assert "/dev/pts/" in result.message
    assert result.details["map_version"] == plc_map.MAP_VERSION

    for address, value in [(0, 7), (200, 12345), (65535, 65535)]:
        await plc.write_register(address, value)
        assert await plc.read_register(address) == value
        assert server.register(address) == value

    server.trip_fire_alarm()
    event = await rtu.wait_for(lambda e: isinstance(e, EmergencyChanged), 2.0)
    assert isinstance(event, EmergencyChanged) and event.active
    assert plc.emergency_active() and await plc.read_input("emergency")
    server.clear_fire_alarm()
    await rtu.wait_for(lambda e: isinstance(e, EmergencyChanged) and not e.active, 2.0)

    # the door through the PLC over RTU (the fire alarm made the PLC open it)
    await rtu.wait_for(lambda e: door.position() is DoorPosition.OPEN, 3 * TRAVEL)
    await plc.heartbeat()  # keep the dead-man quiet: in safe defaults the PLC would not close
    await door.close()
    await rtu.wait_for(
        lambda e: isinstance(e, DoorPositionChanged) and e.position is DoorPosition.CLOSED,
        3 * TRAVEL,
    )
    await door.lock_entry()
    assert server.output("entry_lock") is True
    assert server.entry_request() is False

    # no heartbeat: the dead-man trips; the next heartbeat ends it
    await rtu.wait_for(
        lambda e: isinstance(e, PlcInputChanged) and e.input == "safe_defaults" and e.value,
        3 * DEADMAN,
    )
    await plc.heartbeat()
    await rtu.wait_for(
        lambda e: isinstance(e, PlcInputChanged) and e.input == "safe_defaults" and not e.value,
        DEADMAN,
    )


async def test_rtu_peer_gone_makes_plc_and_door_unavailable(rtu: RtuRig) -> None:
    assert rtu.door.health().status is HealthStatus.OK
    await rtu.server.stop()  # nobody answers on the line any more
    await rtu.wait_for(lambda e: rtu.plc.health().status is HealthStatus.DEGRADED, 3.0)
    await rtu.wait_for(lambda e: rtu.plc.health().status is HealthStatus.UNAVAILABLE, 5.0)
    await rtu.wait_for(lambda e: rtu.door.health().status is HealthStatus.UNAVAILABLE, 1.0)
    assert "PLC unavailable" in rtu.door.health().reason
