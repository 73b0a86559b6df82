"""The PLC register map: the document matches the code, the map is consistent, and the PLC-wired
drivers say clearly what is missing (pymodbus, a Modbus PLC in the booth config)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drivers import plc_map
from drivers.door_plc import PlcDoor, PlcDoorOptions
from drivers.light_plc import PlcLight, PlcLightOptions
from drivers.plc_modbus import (
    ModbusRtuPlc,
    ModbusRtuPlcOptions,
    ModbusTcpPlc,
    ModbusTcpPlcOptions,
    find_modbus_plc,
)
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import DeviceError
from hal.events import DeviceKind, LightScene, SignState
from hal.health import HealthStatus, SelftestOutcome
from hal.registry import load_driver_class
from sim.devices.plc import SimPlc, SimPlcOptions

DOC = Path(__file__).parents[2] / "docs" / "plc-register-map.md"


def test_register_map_doc_is_fresh() -> None:
    assert DOC.read_text(encoding="utf-8") == plc_map.render_markdown(), (
        "docs/plc-register-map.md is stale: run "
        "`python -m drivers.plc_map --write docs/plc-register-map.md`"
    )


def test_every_point_is_in_the_doc() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for point in plc_map.ALL_POINTS.values():
        assert f"| {point.address} | `{point.name}` |" in doc


@pytest.mark.parametrize("table", list(plc_map.Table))
def test_tables_are_contiguous_from_1(table: plc_map.Table) -> None:
    points = plc_map.TABLES[table]
    assert [p.address for p in points.values()] == list(range(1, len(points) + 1))
    assert all(p.table is table for p in points.values())


def test_names_are_unique_across_tables() -> None:
    names = [p.name for table in plc_map.TABLES.values() for p in table.values()]
    assert len(names) == len(set(names)) == len(plc_map.ALL_POINTS)


def test_codes_cover_every_value_once() -> None:
    assert set(plc_map.LIGHT_SCENE_CODES) == set(LightScene)
    assert set(plc_map.SIGN_CODES) == set(SignState)
    assert len(set(plc_map.LIGHT_SCENE_CODES.values())) == len(LightScene)
    assert len(set(plc_map.SIGN_CODES.values())) == len(SignState)
    # a PLC that holds zeros shows "out of service" and light off
    assert plc_map.sign_from_code(0) is SignState.OUT_OF_SERVICE
    assert plc_map.scene_from_code(0) is LightScene.OFF
    assert plc_map.sign_from_code(99) is None


def test_the_drivers_name_only_mapped_points() -> None:
    assert plc_map.EMERGENCY_INPUT in plc_map.DISCRETE_INPUTS
    assert plc_map.SAFE_DEFAULTS_INPUT in plc_map.DISCRETE_INPUTS
    assert set(plc_map.DOOR_INPUTS) <= set(plc_map.DISCRETE_INPUTS)
    # written in one request each: they must be adjacent
    coils = plc_map.COILS
    assert coils["door_close_request"].address == coils["door_open_request"].address + 1
    assert plc_map.LIGHT_BRIGHTNESS.address == plc_map.LIGHT_SCENE.address + 1


def test_registry_names() -> None:
    assert load_driver_class(DeviceKind.PLC, "modbus-tcp") is ModbusTcpPlc
    assert load_driver_class(DeviceKind.PLC, "modbus-rtu") is ModbusRtuPlc
    assert load_driver_class(DeviceKind.DOOR, "plc") is PlcDoor
    assert load_driver_class(DeviceKind.LIGHT, "plc") is PlcLight


async def test_missing_pymodbus_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pymodbus" or m.startswith("pymodbus.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pymodbus", None)
    context = DriverContext(clock=LoopClock())
    plc = ModbusTcpPlc("plc", ModbusTcpPlcOptions(host="127.0.0.1"), context)
    door = PlcDoor("door", PlcDoorOptions(), context)
    context.devices.update(plc=plc, door=door)
    await door.start()
    await plc.start()  # must not raise
    health = plc.health()
    assert health.status is HealthStatus.UNAVAILABLE
    assert "pip install lisa[hardware]" in health.reason
    result = await plc.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    assert "pip install lisa[hardware]" in result.message
    assert (await door.selftest()).outcome is SelftestOutcome.NOT_PRESENT
    assert door.health().status is HealthStatus.UNAVAILABLE
    with pytest.raises(DeviceError, match="pymodbus"):
        await plc.heartbeat()
    await door.stop()
    await plc.stop()


async def test_plc_wired_devices_need_a_modbus_plc() -> None:
    context = DriverContext(clock=LoopClock())
    door = PlcDoor("door", PlcDoorOptions(), context)
    await door.start()  # no plc at all: must not raise
    assert door.health().status is HealthStatus.UNAVAILABLE
    assert "no [devices.plc]" in door.health().reason
    result = await door.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "no [devices.plc]" in result.message
    with pytest.raises(DeviceError, match=r"no \[devices\.plc\]"):
        await door.open()

    context.devices["plc"] = SimPlc("plc", SimPlcOptions(), context)
    light = PlcLight("light", PlcLightOptions(), context)
    await light.start()
    assert light.health().status is HealthStatus.UNAVAILABLE
    assert "'modbus-tcp' or 'modbus-rtu'" in light.health().reason
    with pytest.raises(DeviceError, match="modbus-tcp"):
        find_modbus_plc(context, "light")


def test_rtu_options_defaults() -> None:
    options = ModbusRtuPlcOptions(serial_port="/dev/lisa-plc-rtu")
    assert (options.baudrate, options.parity, options.bytesize, options.stopbits) == (
        19200,
        "E",
        8,
        1,
    )
    plc = ModbusRtuPlc("plc", options, DriverContext(clock=LoopClock()))
    assert plc.endpoint() == "/dev/lisa-plc-rtu (19200 8E1, unit 1)"
