"""Health of the ``modbus-tcp`` PLC driver follows the communication with a real peer: the
simulated PLC (pymodbus server) going away and coming back, a peer that accepts connections but
never answers, and a PLC program with the wrong register-map version."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from drivers import plc_map
from drivers.plc_modbus import ModbusTcpPlc, ModbusTcpPlcOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceEvent, HealthChanged
from hal.health import HealthStatus, SelftestOutcome
from sim.plc_server import PlcServer

pytestmark = pytest.mark.realtime


def tcp_plc(port: int, **options: float) -> ModbusTcpPlc:
    opts = ModbusTcpPlcOptions(
        host="127.0.0.1",
        port=port,
        poll_interval=0.05,
        timeout=options.pop("timeout", 0.3),
        reconnect_initial=0.1,
        reconnect_max=0.4,
        max_failures=3,
    )
    return ModbusTcpPlc("plc", opts, DriverContext(clock=LoopClock()))


async def wait_until(check: Callable[[], bool], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[PlcServer]:
    server = PlcServer(heartbeat_timeout=30.0)
    await server.start_tcp("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


async def test_plc_lost_and_back(server: PlcServer) -> None:
    plc = tcp_plc(server.port)
    health: list[HealthStatus] = []

    def on_event(event: DeviceEvent) -> None:
        if isinstance(event, HealthChanged):
            health.append(event.health.status)

    plc.subscribe(on_event)
    await plc.start()
    try:
        assert plc.health().status is HealthStatus.OK
        assert server.heartbeats == 1  # the driver's heartbeat on connecting
        port = server.port

        await server.stop()
        await wait_until(lambda: plc.health().status is HealthStatus.UNAVAILABLE, "unavailable", 20)
        assert health[:2] == [HealthStatus.DEGRADED, HealthStatus.UNAVAILABLE]
        reason = plc.health().reason
        assert f"127.0.0.1:{port}" in reason and "3 failed attempts" in reason
        assert (await plc.selftest()).outcome is SelftestOutcome.FAIL

        # the PLC comes back on the same address: the driver reconnects on its own
        server2 = PlcServer(heartbeat_timeout=30.0)
        await server2.start_tcp("127.0.0.1", port)
        try:
            await wait_until(lambda: plc.health().status is HealthStatus.OK, "ok again", 20)
            assert health[-1] is HealthStatus.OK
            # the heartbeat on reconnect may land just after the first successful poll
            await wait_until(lambda: server2.heartbeats >= 1, "heartbeat on reconnect", 20)
            assert (await plc.selftest()).outcome is SelftestOutcome.PASS
        finally:
            await server2.stop()
    finally:
        await plc.stop()


async def test_peer_that_never_answers() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):
            pass
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    plc = tcp_plc(port, timeout=0.2)
    try:
        await plc.start()
        assert plc.health().status is HealthStatus.DEGRADED
        assert "no answer" in plc.health().reason
        await wait_until(lambda: plc.health().status is HealthStatus.UNAVAILABLE, "unavailable", 20)
    finally:
        await plc.stop()
        silent.close()
        await silent.wait_closed()


async def test_wrong_map_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plc_map, "MAP_VERSION", plc_map.MAP_VERSION + 1)
    server = PlcServer()
    await server.start_tcp("127.0.0.1", 0)  # a PLC program speaking the next map version
    monkeypatch.undo()
    plc = tcp_plc(server.port)
    try:
        await plc.start()
        health = plc.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert "register map version 2, this driver needs 1" in health.reason
        result = await plc.selftest()
        assert result.outcome is SelftestOutcome.FAIL
    finally:
        await plc.stop()
        await server.stop()
