"""Contract-test rigs: every registered driver of a device class must pass the same suite.

A *rig* is a started device plus its *peer*: the thing on the other side of the wire that the
tests use to cause outside stimuli (a person in front of the sonar, a card on the reader, a
fire alarm on the PLC input). The tests assert only through the ``hal.devices`` Protocol; the
peer is used only to stimulate.

For the ``sim`` drivers the peer is the simulated device itself (its test-control API). A real
driver gets its own factory in ``FACTORIES`` that builds it against its real protocol peer
(gpiozero MockFactory pins, a pymodbus server, a pseudo-terminal pair, ...) and wraps that peer
in an object with the methods listed in ``PEER_API`` for its device class. A registered driver
without a factory here fails the contract suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from recorder import Recorder

from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind
from hal.registry import driver_names, load_driver_class

#: Methods a rig's peer offers, per device class (the sim devices implement them directly).
PEER_API: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.PRESENCE: ("person_at", "no_echo", "empty"),
    DeviceKind.DOOR: ("obstruct", "clear", "egress_request", "entry_request"),
    DeviceKind.LIGHT: (),
    DeviceKind.PLC: ("set_input", "trip_fire_alarm", "clear_fire_alarm"),
    DeviceKind.NFC: ("present", "remove"),
    DeviceKind.SIGNATURE: ("draw_stroke",),
    DeviceKind.CAMERA: (),
    DeviceKind.AUDIO: (),
}

UID_SALT = b"contract-test-salt"


@dataclass
class Rig:
    """A started device, its stimulus peer and the driver's parameters the tests need
    (e.g. ``travel_time`` of a door, ``sample_interval`` of a sonar)."""

    device: Any
    peer: Any
    params: dict[str, Any] = field(default_factory=dict)


RigFactory = Callable[[DeviceKind], AbstractAsyncContextManager[Rig]]

#: Parameters the contract tests read, per device class: copied from the sim driver's options.
SIM_PARAMS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.PRESENCE: ("sample_interval", "max_range"),
    DeviceKind.DOOR: ("travel_time",),
    DeviceKind.PLC: ("heartbeat_register", "heartbeat_timeout", "emergency_input"),
    DeviceKind.AUDIO: ("loopback_level_dbfs",),
}


@asynccontextmanager
async def sim_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    """The ``sim`` driver with default options on the running loop's clock."""
    cls = load_driver_class(kind, "sim")
    options = cls.Options()
    context = DriverContext(clock=LoopClock(), uid_salt=UID_SALT)
    device = cls(f"{kind.value}-sim", options, context)
    params: dict[str, Any] = {name: getattr(options, name) for name in SIM_PARAMS.get(kind, ())}
    params["uid_salt"] = UID_SALT
    await device.start()
    try:
        yield Rig(device=device, peer=device, params=params)
    finally:
        await device.stop()


#: Rig factories per device class and driver name. Real drivers register theirs from a module
#: ``tests/contract/rigs_<name>.py`` with :func:`register` (imported below).
FACTORIES: dict[DeviceKind, dict[str, RigFactory]] = {kind: {"sim": sim_rig} for kind in DeviceKind}


def register(kind: DeviceKind, driver: str, factory: RigFactory) -> None:
    """Register the contract rig of a real driver (called by ``rigs_*.py`` modules)."""
    FACTORIES[kind][driver] = factory


def _load_rig_modules() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    for path in sorted(here.glob("rigs_*.py")):
        name = f"contract_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        module.register_rigs(register)


_load_rig_modules()


@asynccontextmanager
async def build_rig(kind: DeviceKind, driver: str) -> AsyncIterator[Rig]:
    factory = FACTORIES.get(kind, {}).get(driver)
    if factory is None:
        pytest.fail(
            f"{kind.value} driver {driver!r} is registered but has no contract rig: "
            "add a factory to FACTORIES in tests/contract/conftest.py"
        )
    async with factory(kind) as rig:
        missing = [name for name in PEER_API[kind] if not callable(getattr(rig.peer, name, None))]
        assert not missing, f"{kind.value}/{driver} peer lacks {missing}"
        yield rig


def _rig_fixture(kind: DeviceKind) -> Any:
    @pytest.fixture(name=f"make_{kind.value}", params=driver_names(kind))
    async def fixture(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
        async with build_rig(kind, request.param) as rig:
            yield rig

    return fixture


make_presence = _rig_fixture(DeviceKind.PRESENCE)
make_door = _rig_fixture(DeviceKind.DOOR)
make_light = _rig_fixture(DeviceKind.LIGHT)
make_plc = _rig_fixture(DeviceKind.PLC)
make_nfc = _rig_fixture(DeviceKind.NFC)
make_signature = _rig_fixture(DeviceKind.SIGNATURE)
make_camera = _rig_fixture(DeviceKind.CAMERA)
make_audio = _rig_fixture(DeviceKind.AUDIO)

ALL_DRIVERS = [(kind, name) for kind in DeviceKind for name in driver_names(kind)]


@pytest.fixture(params=ALL_DRIVERS, ids=[f"{k.value}-{n}" for k, n in ALL_DRIVERS])
async def make_device(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """Every registered driver of every device class (for the common device contract)."""
    kind, driver = request.param
    async with build_rig(kind, driver) as rig:
        yield rig


@pytest.fixture
def record() -> Callable[[Any], Recorder]:
    """``record(device)`` subscribes a :class:`Recorder` to ``device``."""
    return Recorder
