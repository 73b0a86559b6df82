"""Contract rigs of the Modbus PLC drivers and the door / light driver ``plc``.

The real peer is :class:`sim.plc_server.PlcServer`, a pymodbus Modbus server holding the
documented register map, on the test's own loop:

- ``modbus-tcp``: Modbus TCP on a free loopback port;
- ``modbus-rtu``: Modbus RTU to the pymodbus serial (RTU) server: on real time through
  pseudo-terminals (two pty pairs joined like a null-modem cable,
  :class:`sim.plc_server.PtyNullModem`; the driver opens one tty, the server the other), on the
  virtual-time loop over a loopback TCP byte stream (see ``plc_rtu_rig``);
- door ``plc`` and light ``plc``: the PLC over TCP, the door / light on it. The door is started
  before the PLC, as the booth does it (slot order), so it must find the PLC lazily.

The server itself is the stimulus peer (``set_input``, ``trip_fire_alarm``, ``obstruct``,
``egress_request``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from drivers import plc_map
from drivers.door_plc import PlcDoor, PlcDoorOptions
from drivers.light_plc import PlcLight, PlcLightOptions
from drivers.plc_modbus import (
    ModbusRtuPlc,
    ModbusRtuPlcOptions,
    ModbusTcpPlc,
    ModbusTcpPlcOptions,
)
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind
from sim.plc_server import PlcServer, PtyNullModem
from sim.vtime import VirtualTimeLoop

UID_SALT = b"contract-test-salt"
POLL = 0.02  # s
TIMEOUT = 0.5  # s per request
PLC_HEARTBEAT_TIMEOUT = 1.0  # s: the dead-man contract test waits a few of these
DOOR_TRAVEL = 0.5  # s
QUIET_HEARTBEAT_TIMEOUT = 60.0  # s: door / light tests never send heartbeats


@dataclass
class Rig:
    """What the contract fixtures use of a rig (same fields as ``conftest.Rig``)."""

    device: Any
    peer: Any
    params: dict[str, Any] = field(default_factory=dict)


def _context() -> DriverContext:
    return DriverContext(clock=LoopClock(), uid_salt=UID_SALT)


def _tcp_plc(server: PlcServer, context: DriverContext) -> ModbusTcpPlc:
    options = ModbusTcpPlcOptions(
        host="127.0.0.1", port=server.port, poll_interval=POLL, timeout=TIMEOUT
    )
    plc = ModbusTcpPlc("plc", options, context)
    context.devices["plc"] = plc
    return plc


def _plc_params() -> dict[str, Any]:
    return {
        "heartbeat_register": plc_map.HEARTBEAT.address,
        "heartbeat_timeout": PLC_HEARTBEAT_TIMEOUT,
        "emergency_input": plc_map.EMERGENCY_INPUT,
        "uid_salt": UID_SALT,
    }


@asynccontextmanager
async def _running(server: PlcServer, *devices: Any) -> AsyncIterator[None]:
    """Start the devices in order; stop them in reverse, then the server."""
    started: list[Any] = []
    try:
        for device in devices:
            await device.start()
            started.append(device)
        yield
    finally:
        for device in reversed(started):
            await device.stop()
        await server.stop()


@asynccontextmanager
async def plc_tcp_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    server = PlcServer(travel_time=DOOR_TRAVEL, heartbeat_timeout=PLC_HEARTBEAT_TIMEOUT)
    await server.start_tcp("127.0.0.1", 0)
    plc = _tcp_plc(server, _context())
    async with _running(server, plc):
        yield Rig(device=plc, peer=server, params=_plc_params())


@asynccontextmanager
async def plc_rtu_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    """RTU through a pseudo-terminal pair on a real-time loop. On the virtual-time loop the pty
    cannot work (the kernel hands tty data on asynchronously, so the loop jumps over every
    response timeout before the answer is readable): there the same pymodbus RTU server and the
    same driver talk RTU frames over a loopback TCP byte stream (pyserial ``socket://`` URL).
    ``tests/integration/test_plc_rtu_pty.py`` runs the driver through the pty on real time."""
    # no parity on the pty: this kernel's pty refuses PARENB in tcsetattr now and then (EINVAL)
    server = PlcServer(travel_time=DOOR_TRAVEL, heartbeat_timeout=PLC_HEARTBEAT_TIMEOUT)
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(asyncio.get_running_loop(), VirtualTimeLoop):
            await server.start_rtu("socket://127.0.0.1:0", baudrate=19200, parity="N")
            serial_port = f"socket://127.0.0.1:{server.port}"
        else:
            serial_port, server_end = await stack.enter_async_context(PtyNullModem())
            await server.start_rtu(server_end, baudrate=19200, parity="N")
        options = ModbusRtuPlcOptions(
            serial_port=serial_port, baudrate=19200, parity="N", poll_interval=POLL, timeout=TIMEOUT
        )
        context = _context()
        plc = ModbusRtuPlc("plc", options, context)
        context.devices["plc"] = plc
        async with _running(server, plc):
            yield Rig(device=plc, peer=server, params=_plc_params())


@asynccontextmanager
async def door_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    server = PlcServer(travel_time=DOOR_TRAVEL, heartbeat_timeout=QUIET_HEARTBEAT_TIMEOUT)
    await server.start_tcp("127.0.0.1", 0)
    context = _context()
    door = PlcDoor("door", PlcDoorOptions(), context)
    context.devices["door"] = door
    plc = _tcp_plc(server, context)
    # the booth starts the door before the PLC (slot order): the door finds the PLC lazily
    async with _running(server, door, plc):
        yield Rig(device=door, peer=server, params={"travel_time": DOOR_TRAVEL})


@asynccontextmanager
async def light_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    server = PlcServer(travel_time=DOOR_TRAVEL, heartbeat_timeout=QUIET_HEARTBEAT_TIMEOUT)
    await server.start_tcp("127.0.0.1", 0)
    context = _context()
    plc = _tcp_plc(server, context)
    light = PlcLight("light", PlcLightOptions(), context)
    context.devices["light"] = light
    async with _running(server, plc, light):
        yield Rig(device=light, peer=server, params={})


def register_rigs(
    register: Callable[
        [DeviceKind, str, Callable[[DeviceKind], AbstractAsyncContextManager[Rig]]], None
    ],
) -> None:
    register(DeviceKind.PLC, "modbus-tcp", plc_tcp_rig)
    register(DeviceKind.PLC, "modbus-rtu", plc_rtu_rig)
    register(DeviceKind.DOOR, "plc", door_rig)
    register(DeviceKind.LIGHT, "plc", light_rig)
