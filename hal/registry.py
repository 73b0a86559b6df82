"""Drivers by name. Modules are imported lazily, so a simulated booth needs no native library.

Each entry is ``"module:Class"``; the class takes ``(name, options, context)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.events import DeviceKind

DRIVERS: dict[DeviceKind, dict[str, str]] = {
    DeviceKind.PRESENCE: {
        "sim": "sim.devices.presence:SimPresenceSensor",
        "hcsr04": "drivers.presence_gpio:HcSr04Sensor",
        "maxbotix": "drivers.presence_serial:MaxBotixSensor",
    },
    DeviceKind.DOOR: {
        "sim": "sim.devices.door:SimDoor",
        "plc": "drivers.door_plc:PlcDoor",
        "gpio": "drivers.door_gpio:GpioDoor",
    },
    DeviceKind.LIGHT: {
        "sim": "sim.devices.light:SimLightChannel",
        "plc": "drivers.light_plc:PlcLight",
        "gpio": "drivers.light_gpio:GpioLight",
        "dmx": "drivers.light_dmx:DmxLight",
    },
    DeviceKind.PLC: {
        "sim": "sim.devices.plc:SimPlc",
        "modbus-tcp": "drivers.plc_modbus:ModbusTcpPlc",
        "modbus-rtu": "drivers.plc_modbus:ModbusRtuPlc",
    },
    DeviceKind.NFC: {
        "sim": "sim.devices.nfc:SimNfcReader",
        "pcsc": "drivers.nfc_pcsc:PcscReader",
        "libnfc": "drivers.nfc_libnfc:LibnfcReader",
    },
    DeviceKind.SIGNATURE: {"sim": "sim.devices.signature:SimSignaturePad"},
    DeviceKind.CAMERA: {
        "sim": "sim.devices.camera:SimCamera",
        "opencv": "drivers.camera_opencv:OpenCvCamera",
    },
    DeviceKind.AUDIO: {
        "sim": "sim.devices.audio:SimAudioIO",
        "sounddevice": "drivers.audio_sounddevice:SoundDeviceAudio",
    },
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
