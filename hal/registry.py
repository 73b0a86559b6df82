"""Drivers by name. Modules are imported lazily, so a simulated booth needs no native library.

Each entry is ``"module:Class"``; the class takes ``(name, options, context)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.events import DeviceKind

DRIVERS: dict[DeviceKind, dict[str, str]] = {
    DeviceKind.PRESENCE: {"sim": "sim.devices.presence:SimPresenceSensor"},
    DeviceKind.DOOR: {"sim": "sim.devices.door:SimDoor"},
    DeviceKind.LIGHT: {"sim": "sim.devices.light:SimLightChannel"},
    DeviceKind.PLC: {"sim": "sim.devices.plc:SimPlc"},
    DeviceKind.NFC: {"sim": "sim.devices.nfc:SimNfcReader"},
    DeviceKind.SIGNATURE: {"sim": "sim.devices.signature:SimSignaturePad"},
    DeviceKind.CAMERA: {"sim": "sim.devices.camera:SimCamera"},
    DeviceKind.AUDIO: {"sim": "sim.devices.audio:SimAudioIO"},
}


class DriverNotFound(LookupError):
    pass


def driver_names(kind: DeviceKind) -> list[str]:
    return sorted(DRIVERS.get(kind, {}))


def load_driver_class(kind: DeviceKind, name: str) -> Any:
    """Import and return the driver class for ``kind``/``name``.

    Raises ``DriverNotFound`` with the known names when ``name`` is unknown; an ``ImportError``
    of the driver module propagates (real drivers import native libraries lazily in ``start()``).
    """
    try:
        ref = DRIVERS[kind][name]
    except KeyError:
        known = ", ".join(driver_names(kind)) or "none"
        raise DriverNotFound(f"unknown {kind.value} driver {name!r} (known: {known})") from None
    module_name, _, class_name = ref.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)
