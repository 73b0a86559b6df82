"""Builds the configured devices. Drivers are looked up by name and imported lazily."""

from __future__ import annotations

import logging
from typing import Any

from booth.config import DEVICE_SLOTS, BoothConfig
from hal.base import DriverContext, DriverOptions
from hal.clock import Clock
from hal.devices import Device
from hal.registry import load_driver_class

log = logging.getLogger("lisa.booth.devices")


def force_sim(data: dict[str, Any]) -> dict[str, Any]:
    """Config data with every device switched to the simulated driver (``--sim``).

    Options of devices that were not simulated already are dropped (they belong to the real
    driver)."""
    out = dict(data)
    devices = dict(out.get("devices", {}))
    for slot in DEVICE_SLOTS:
        dev = devices.get(slot)
        if isinstance(dev, dict) and dev.get("driver") != "sim":
            devices[slot] = {**{k: v for k, v in dev.items() if k != "options"}, "driver": "sim"}
    out["devices"] = devices
    return out


def build_devices(
    config: BoothConfig, options: dict[str, DriverOptions], clock: Clock
) -> dict[str, Device]:
    """Instantiate every configured device, named by its slot (``door``, ``camera_main``, …)."""
    context = DriverContext(
        clock=clock, uid_salt=config.maintenance.uid_salt.get_secret_value().encode()
    )
    devices: dict[str, Device] = {}
    for slot, dev_cfg in config.devices.slots().items():
        cls = load_driver_class(DEVICE_SLOTS[slot][0], dev_cfg.driver)
        device = cls(slot, options[slot], context)
        devices[slot] = device
        context.devices[slot] = device
    return devices
