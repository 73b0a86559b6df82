"""Contract every driver of every device class fulfils (see conftest: ``make_device``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hal.devices import PROTOCOLS, Device
from hal.events import DeviceEvent, DeviceKind
from hal.health import HealthStatus, SelftestOutcome


async def test_implements_its_protocol(make_device: Any) -> None:
    device = make_device.device
    assert isinstance(device, Device)
    assert isinstance(device.kind, DeviceKind)
    assert isinstance(device, PROTOCOLS[device.kind])
    assert isinstance(device.name, str) and device.name


async def test_health_starts_ok(make_device: Any) -> None:
    health = make_device.device.health()
    assert health.status is HealthStatus.OK, health
    assert health.to_dict()["status"] == "ok"


async def test_selftest_passes_on_healthy_device(make_device: Any) -> None:
    device = make_device.device
    result = await device.selftest()
    assert result.device == device.name
    assert result.outcome is SelftestOutcome.PASS, result.message
    assert result.message


async def test_subscribe_returns_working_unsubscribe(make_device: Any) -> None:
    device = make_device.device
    seen: list[DeviceEvent] = []
    unsubscribe: Callable[[], None] = device.subscribe(seen.append)
    assert callable(unsubscribe)
    unsubscribe()
    unsubscribe()  # idempotent


async def test_stop_is_idempotent_and_start_again_works(make_device: Any) -> None:
    device = make_device.device
    await device.stop()
    await device.stop()
    await device.start()
    assert device.health().status is HealthStatus.OK
