"""Simulated drivers: the test-control API and sim-specific behaviour (runs on virtual time)."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

import pydantic
import pytest
from recorder import Recorder

from hal.base import DeviceBase, DriverContext, DriverOptions, hash_uid
from hal.clock import LoopClock
from hal.devices import DeviceError
from hal.events import (
    CameraControls,
    CameraRole,
    CardPresented,
    CardRemoved,
    DeviceKind,
    DistanceSample,
    DoorObstructionChanged,
    DoorPosition,
    DoorPositionChanged,
    EmergencyChanged,
    HealthChanged,
    LightScene,
    PenSamples,
    PlcInputChanged,
    SignState,
)
from hal.health import HealthStatus, SelftestOutcome
from hal.registry import driver_group, load_driver_class
from sim.devices._base import SimDevice
from sim.devices.audio import SimAudioIO
from sim.devices.camera import SimCamera
from sim.devices.door import SimDoor
from sim.devices.light import SimLightChannel
from sim.devices.nfc import SimNfcReader
from sim.devices.plc import SimPlc
from sim.devices.presence import SimPresenceSensor
from sim.devices.signature import SimSignaturePad
from sim.vtime import VirtualTimeLoop

D = TypeVar("D", bound=SimDevice)
SALT = b"unit-test-salt"


def build(cls: type[D], salt: bytes = SALT, **options: Any) -> D:
    factory: Any = cls  # each sim class takes (name, its own Options, context)
    device: D = factory(
        f"{cls.kind.value}-1",
        cls.Options(**options),
        DriverContext(clock=LoopClock(), uid_salt=salt),
    )
    return device


def now() -> float:
    return asyncio.get_running_loop().time()


@pytest.fixture
async def started() -> AsyncIterator[Callable[[D], Awaitable[D]]]:
    """``await started(device)`` starts it; the fixture stops it again."""
    devices: list[SimDevice] = []

    async def start(device: D) -> D:
        await device.start()
        devices.append(device)
        return device

    yield start
    for device in devices:
        await device.stop()


# --- common ------------------------------------------------------------------------------------


async def test_tests_run_on_virtual_time() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0 = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - t0 == pytest.approx(3600)


SIM_CLASSES = [load_driver_class(kind, "sim") for kind in DeviceKind]


@pytest.mark.parametrize("cls", SIM_CLASSES, ids=lambda c: c.__name__)
def test_options_are_documented_and_strict(cls: Any) -> None:
    (ep,) = entry_points(group=driver_group(cls.kind), name="sim")
    assert ep.value.endswith(":" + cls.__name__)
    assert issubclass(cls, DeviceBase)
    assert issubclass(cls.Options, DriverOptions)
    assert cls.Options.model_fields, "every sim driver has options"
    for name, info in cls.Options.model_fields.items():
        assert info.description, f"{cls.__name__}.Options.{name} lacks a description"
    cls.Options()  # all defaults
    with pytest.raises(pydantic.ValidationError):
        cls.Options(no_such_option=1)


def _action(device: Any) -> Awaitable[Any]:
    """An actuator request (or read) the device must refuse while failed."""
    calls: dict[DeviceKind, Callable[[], Awaitable[Any]]] = {
        DeviceKind.DOOR: lambda: device.open(),
        DeviceKind.LIGHT: lambda: device.set_scene(LightScene.STANDBY, 0.5),
        DeviceKind.PLC: lambda: device.heartbeat(),
        DeviceKind.SIGNATURE: lambda: device.enable(),
        DeviceKind.CAMERA: lambda: device.grab(),
        DeviceKind.AUDIO: lambda: device.input_level(0.1),
    }
    return calls[device.kind]()


@pytest.mark.parametrize("cls", SIM_CLASSES, ids=lambda c: c.__name__)
async def test_fail_and_recover(cls: Any, started: Any) -> None:
    device = await started(build(cls))
    events = Recorder(device)
    assert (await device.selftest()).passed

    device.fail("wire cut")
    assert device.health().status is HealthStatus.UNAVAILABLE
    assert device.health().reason == "wire cut"
    assert [e.health.status for e in events.of(HealthChanged)] == [HealthStatus.UNAVAILABLE]
    result = await device.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert "wire cut" in result.message
    if cls.kind not in (DeviceKind.PRESENCE, DeviceKind.NFC):
        with pytest.raises(DeviceError, match="wire cut"):
            await _action(device)

    device.recover()
    assert device.health().status is HealthStatus.OK
    assert events.of(HealthChanged)[-1].health.status is HealthStatus.OK
    assert (await device.selftest()).passed
    if cls.kind not in (DeviceKind.PRESENCE, DeviceKind.NFC):
        await _action(device)


# --- presence ----------------------------------------------------------------------------------


async def collect_samples(sensor: SimPresenceSensor, count: int) -> list[DistanceSample]:
    events = Recorder(sensor)
    await asyncio.sleep(sensor.options.sample_interval * count - 1e-6)
    events.unsubscribe()
    return events.of(DistanceSample)


async def test_presence_reads_empty_room_then_person(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor))
    samples = await collect_samples(sensor, 3)
    assert [s.distance for s in samples] == [2.4, 2.4, 2.4]
    sensor.person_at(0.7)
    samples = await collect_samples(sensor, 2)
    assert [s.distance for s in samples] == [0.7, 0.7]
    assert sensor.last_distance() == 0.7
    sensor.empty()
    assert [s.distance for s in await collect_samples(sensor, 1)] == [2.4]


async def test_presence_sample_times_follow_interval(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor, sample_interval=0.25))
    samples = await collect_samples(sensor, 8)
    times = [s.t for s in samples]
    assert len(times) == 8
    assert [round(b - a, 9) for a, b in itertools.pairwise(times)] == [0.25] * 7


async def test_presence_spurious_readings_then_back(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor))
    sensor.spurious(0.5, count=2)
    samples = await collect_samples(sensor, 4)
    assert [s.distance for s in samples] == [0.5, 0.5, 2.4, 2.4]
    assert sensor.health().ok


async def test_presence_no_echo(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor))
    sensor.no_echo()
    assert [s.distance for s in await collect_samples(sensor, 2)] == [None, None]
    result = await sensor.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "no echo" in result.message


async def test_presence_garbage_degrades_then_recovers(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor, plausible_to_recover=3))
    events = Recorder(sensor)
    sensor.garbage(count=5)
    await asyncio.sleep(0.5 - 1e-6)  # the 5 garbage samples
    samples = events.of(DistanceSample)
    assert [s.distance for s in samples] == [None] * 5
    assert sensor.health().status is HealthStatus.DEGRADED
    assert sensor.health().reason == "implausible reading"
    assert (await sensor.selftest()).outcome is SelftestOutcome.FAIL

    await asyncio.sleep(0.2)  # two plausible samples: not yet
    assert sensor.health().status is HealthStatus.DEGRADED
    await asyncio.sleep(0.1)  # the third
    assert sensor.health().ok
    for s in events.of(DistanceSample):
        assert s.distance is None or (math.isfinite(s.distance) and 0.02 <= s.distance <= 4.0)
    statuses = [e.health.status for e in events.of(HealthChanged)]
    assert statuses == [HealthStatus.DEGRADED, HealthStatus.OK]


async def test_presence_out_of_range_is_implausible(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor, max_range=3.0))
    sensor.person_at(3.5)
    samples = await collect_samples(sensor, 1)
    assert samples[0].distance is None
    assert sensor.last_distance() is None
    assert sensor.health().status is HealthStatus.DEGRADED


async def test_presence_failed_sensor_is_silent(started: Any) -> None:
    sensor = await started(build(SimPresenceSensor))
    sensor.fail("cable")
    assert await collect_samples(sensor, 3) == []
    assert sensor.last_distance() is None
    sensor.recover()
    assert [s.distance for s in await collect_samples(sensor, 1)] == [2.4]


async def test_presence_noise_is_seeded() -> None:
    async def run(seed: int) -> list[float | None]:
        sensor = build(SimPresenceSensor, noise=0.02, seed=seed)
        await sensor.start()
        try:
            return [s.distance for s in await collect_samples(sensor, 10)]
        finally:
            await sensor.stop()

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again
    assert first != other
    assert len(set(first)) > 1
    assert all(d is not None and abs(d - 2.4) < 0.2 for d in first)


async def test_presence_stop_is_idempotent() -> None:
    sensor = build(SimPresenceSensor)
    await sensor.start()
    await sensor.stop()
    await sensor.stop()
    assert not sensor.running
    assert await collect_samples(sensor, 3) == []


# --- door --------------------------------------------------------------------------------------


async def test_door_travel_takes_travel_time(started: Any) -> None:
    door = await started(build(SimDoor, travel_time=2.0))
    events = Recorder(door)
    t0 = now()
    await door.open()
    door.assert_position(DoorPosition.OPENING)
    await asyncio.sleep(1.0)
    assert door.fraction() == pytest.approx(0.5)
    await asyncio.sleep(1.0)
    door.assert_position("open")
    moves = events.of(DoorPositionChanged)
    assert [e.position for e in moves] == [DoorPosition.OPENING, DoorPosition.OPEN]
    assert moves[-1].t - t0 == pytest.approx(2.0)
    assert [a[1] for a in door.actions] == ["open"]
    assert door.actions[0][0] == pytest.approx(t0)


async def test_door_reversal_is_proportional(started: Any) -> None:
    door = await started(build(SimDoor, travel_time=2.0))
    events = Recorder(door)
    await door.open()
    await asyncio.sleep(0.5)  # a quarter open
    t_reverse = now()
    await door.close()
    await asyncio.sleep(0.6)
    closed = events.of(DoorPositionChanged)[-1]
    assert closed.position is DoorPosition.CLOSED
    assert closed.t - t_reverse == pytest.approx(0.5)


async def test_door_open_when_open_is_a_noop(started: Any) -> None:
    door = await started(build(SimDoor, initial_position="open"))
    events = Recorder(door)
    door.assert_position(DoorPosition.OPEN)
    await door.open()
    await asyncio.sleep(3)
    assert events.of(DoorPositionChanged) == []
    assert [a[1] for a in door.actions] == ["open"]


async def test_door_assert_position_fails_loudly(started: Any) -> None:
    door = await started(build(SimDoor))
    with pytest.raises(AssertionError, match="expected door open, it is closed"):
        door.assert_position(DoorPosition.OPEN)


async def test_door_obstruction_while_opening_does_not_stop(started: Any) -> None:
    door = await started(build(SimDoor))
    events = Recorder(door)
    await door.open()
    await asyncio.sleep(0.5)
    door.obstruct()
    door.obstruct()  # idempotent: one event
    await asyncio.sleep(2)
    door.assert_position(DoorPosition.OPEN)
    assert [e.obstructed for e in events.of(DoorObstructionChanged)] == [True]
    with pytest.raises(DeviceError) as err:
        await door.close()
    assert str(err.value) == "door obstructed"
    door.clear()
    assert [e.obstructed for e in events.of(DoorObstructionChanged)] == [True, False]


async def test_door_obstruction_stops_closing_at_once(started: Any) -> None:
    door = await started(build(SimDoor, initial_position="open"))
    await door.close()
    await asyncio.sleep(0.5)
    door.obstruct()
    door.assert_position(DoorPosition.STOPPED)
    assert door.fraction() == pytest.approx(0.75)
    await asyncio.sleep(5)
    assert door.fraction() == pytest.approx(0.75)


async def test_door_jam_times_out(started: Any) -> None:
    door = await started(build(SimDoor, travel_time=2.0))
    events = Recorder(door)
    door.jam()
    t0 = now()
    await door.open()
    await asyncio.sleep(3.9)
    door.assert_position(DoorPosition.OPENING)
    assert door.health().ok
    await asyncio.sleep(0.2)
    door.assert_position(DoorPosition.STOPPED)
    health = door.health()
    assert health.status is HealthStatus.UNAVAILABLE
    assert health.reason == "door did not reach open within 4 s"
    assert health.since == pytest.approx(t0 + 4.0)
    assert [e.position for e in events.of(DoorPositionChanged)] == [
        DoorPosition.OPENING,
        DoorPosition.STOPPED,
    ]
    with pytest.raises(DeviceError, match="did not reach"):
        await door.close()
    assert (await door.selftest()).outcome is SelftestOutcome.FAIL

    door.recover()
    await door.open()
    await asyncio.sleep(2.1)
    door.assert_position(DoorPosition.OPEN)


async def test_door_jam_mid_travel_counts_from_motion_start(started: Any) -> None:
    door = await started(build(SimDoor, travel_time=2.0))
    t0 = now()
    await door.open()
    await asyncio.sleep(1.0)
    door.jam()
    frozen = door.fraction()
    assert frozen == pytest.approx(0.5)
    await asyncio.sleep(2.0)
    assert door.fraction() == pytest.approx(frozen)
    door.assert_position(DoorPosition.OPENING)
    assert door.health().ok
    await asyncio.sleep(1.0)
    door.assert_position(DoorPosition.STOPPED)
    assert door.fraction() == pytest.approx(frozen)
    assert door.health().status is HealthStatus.UNAVAILABLE
    assert door.health().since == pytest.approx(t0 + 4.0)


async def test_door_fail_stops_motion_and_refuses(started: Any) -> None:
    door = await started(build(SimDoor))
    await door.open()
    await asyncio.sleep(1.0)
    door.fail("motor fuse")
    door.assert_position(DoorPosition.STOPPED)
    await asyncio.sleep(5)
    door.assert_position(DoorPosition.STOPPED)
    assert door.fraction() == pytest.approx(0.5)
    with pytest.raises(DeviceError, match="motor fuse"):
        await door.close()
    with pytest.raises(DeviceError):
        await door.lock_entry()
    assert door.egress_request() is False
    assert door.entry_request() is False
    assert [a[1] for a in door.actions] == ["open", "close", "lock_entry"]


async def test_door_egress_ignores_lock_and_obstruction(started: Any) -> None:
    door = await started(build(SimDoor, initial_entry_locked=True))
    door.obstruct()
    assert door.entry_request() is False
    assert door.egress_request() is True
    await asyncio.sleep(2.0)
    door.assert_position(DoorPosition.OPEN)
    assert door.entry_locked()


async def test_door_stop_cancels_motion() -> None:
    door = build(SimDoor)
    await door.start()
    await door.open()
    await asyncio.sleep(1.0)
    await door.stop()
    door.assert_position(DoorPosition.STOPPED)
    await door.stop()


# --- light -------------------------------------------------------------------------------------


async def test_light_records_actions_and_validates(started: Any) -> None:
    light = await started(build(SimLightChannel))
    assert light.scene() == (LightScene.OFF, 0.0)
    assert light.sign() is SignState.OUT_OF_SERVICE
    await light.set_scene(LightScene.CONSULTATION, 0.8)
    await light.set_sign(SignState.OCCUPIED)
    with pytest.raises(ValueError):
        await light.set_scene("disco", 0.5)
    with pytest.raises(ValueError):
        await light.set_scene(LightScene.STANDBY, 2.0)
    assert light.scene() == (LightScene.CONSULTATION, 0.8)
    assert [(a[1], a[2]) for a in light.actions] == [
        ("set_scene", {"scene": "consultation", "brightness": 0.8}),
        ("set_sign", {"sign": "occupied"}),
        ("set_scene", {"scene": "disco", "brightness": 0.5}),
        ("set_scene", {"scene": "standby", "brightness": 2.0}),
    ]
    light.fail("dali bus")
    with pytest.raises(DeviceError):
        await light.set_sign(SignState.FREE)
    assert light.sign() is SignState.OCCUPIED


# --- plc ---------------------------------------------------------------------------------------


async def test_plc_unknown_names(started: Any) -> None:
    plc = await started(build(SimPlc))
    with pytest.raises(DeviceError, match="known: door_release, emergency_light"):
        await plc.write_output("fog_machine", True)
    with pytest.raises(DeviceError, match="emergency"):
        plc.set_input("nope", True)
    await plc.write_output("door_release", True)
    assert plc.output("door_release") is True


async def test_plc_options_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        SimPlc.Options(emergency_input="fire")
    with pytest.raises(pydantic.ValidationError):
        SimPlc.Options(safe_outputs={"nope": True})


async def test_plc_dead_man_applies_safe_outputs(started: Any) -> None:
    plc = await started(build(SimPlc, heartbeat_timeout=3.0))
    events = Recorder(plc)
    await plc.write_output("door_release", False)
    await asyncio.sleep(2.9)
    assert not plc.safe_defaults_active
    await plc.heartbeat()
    await asyncio.sleep(2.9)
    assert not plc.safe_defaults_active
    await asyncio.sleep(0.2)
    assert plc.safe_defaults_active
    assert plc.output("door_release") is True
    assert plc.output("sign_out_of_service") is True
    await asyncio.sleep(10)  # stays in safe defaults, reported once
    changes = [(e.input, e.value) for e in events.of(PlcInputChanged)]
    assert changes == [("safe_defaults", True)]
    await plc.heartbeat()
    assert not plc.safe_defaults_active
    assert [(e.input, e.value) for e in events.of(PlcInputChanged)][-1] == ("safe_defaults", False)


async def test_plc_dead_man_trips_when_communication_fails(started: Any) -> None:
    plc = await started(build(SimPlc))
    plc.fail("modbus timeout")
    with pytest.raises(DeviceError):
        await plc.heartbeat()
    await asyncio.sleep(3.1)
    assert plc.safe_defaults_active


async def test_plc_watchdog_only_while_started() -> None:
    plc = build(SimPlc)
    await asyncio.sleep(10)
    assert not plc.safe_defaults_active
    await plc.start()
    await plc.stop()
    await asyncio.sleep(10)
    assert not plc.safe_defaults_active


async def test_plc_heartbeat_register_wraps(started: Any) -> None:
    plc = await started(build(SimPlc, heartbeat_register=7))
    await plc.write_register(7, 65535)
    await plc.heartbeat()
    assert await plc.read_register(7) == 0
    assert [a[1] for a in plc.actions] == ["write_register", "heartbeat"]


async def test_plc_fire_alarm_events_only_on_change(started: Any) -> None:
    plc = await started(build(SimPlc))
    events = Recorder(plc)
    plc.trip_fire_alarm()
    plc.trip_fire_alarm()
    plc.set_input("door_obstruction", True)
    plc.clear_fire_alarm()
    assert [e.active for e in events.of(EmergencyChanged)] == [True, False]
    assert [(e.input, e.value) for e in events.of(PlcInputChanged)] == [
        ("emergency", True),
        ("door_obstruction", True),
        ("emergency", False),
    ]
    assert not plc.emergency_active()


# --- nfc ---------------------------------------------------------------------------------------


def _contains(obj: Any, needles: tuple[bytes, ...], seen: set[int] | None = None) -> bool:
    """Whether any needle (raw bytes, or its hex) is reachable from ``obj``."""
    seen = set() if seen is None else seen
    if isinstance(obj, bytes | bytearray):
        return any(n in obj for n in needles)
    if isinstance(obj, str):
        return any(n.hex() in obj.lower() for n in needles)
    if isinstance(obj, dict):
        return any(
            _contains(k, needles, seen) or _contains(v, needles, seen) for k, v in obj.items()
        )
    if isinstance(obj, list | tuple | set | frozenset):
        return any(_contains(v, needles, seen) for v in obj)
    if isinstance(obj, type) or id(obj) in seen:
        return False
    seen.add(id(obj))  # objects stay alive during the walk, so their ids are stable
    if hasattr(obj, "__dict__"):
        return _contains(vars(obj), needles, seen)
    slots = [n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ())]
    return any(_contains(getattr(obj, n, None), needles, seen) for n in slots)


async def test_nfc_never_keeps_the_raw_uid(started: Any) -> None:
    reader = await started(build(SimNfcReader))
    events = Recorder(reader)
    uid = bytes.fromhex("04a2243b5c6180")
    returned = reader.present("04:A2:24:3B:5C:61:80")
    assert returned == hash_uid(uid, SALT)
    assert reader.card_hash() == returned
    assert not _contains(reader, (uid,))
    assert not _contains(events.events, (uid,))


async def test_nfc_salt_matters_and_bytes_accepted(started: Any) -> None:
    a = await started(build(SimNfcReader, salt=b"booth-a"))
    b = await started(build(SimNfcReader, salt=b"booth-b"))
    uid = b"\x04\x11\x22\x33"
    assert a.present(uid) != b.present(uid)


async def test_nfc_new_card_replaces_old_and_atr(started: Any) -> None:
    reader = await started(build(SimNfcReader, atr="3B00"))
    events = Recorder(reader)
    reader.present("04112233")
    reader.present("04445566", atr="3B8F")
    reader.remove()
    reader.remove()
    kinds = [type(e).__name__ for e in events.events]
    assert kinds == ["CardPresented", "CardRemoved", "CardPresented", "CardRemoved"]
    assert [e.atr for e in events.of(CardPresented)] == ["3B00", "3B8F"]
    assert len(events.of(CardRemoved)) == 2


@pytest.mark.parametrize("uid", ["", "zz11", "123", "0102", b"\x01" * 11])
async def test_nfc_rejects_bad_uids(started: Any, uid: str | bytes) -> None:
    reader = await started(build(SimNfcReader))
    with pytest.raises(ValueError):
        reader.present(uid)


async def test_nfc_failed_reader_sees_nothing(started: Any) -> None:
    reader = await started(build(SimNfcReader))
    reader.present("04112233")
    events = Recorder(reader)
    reader.fail("usb")
    assert not reader.card_present()
    assert reader.present("04112233") is None
    assert [type(e) for e in events.events] == [CardRemoved, HealthChanged]


# --- signature ---------------------------------------------------------------------------------


async def test_signature_sample_rate_option() -> None:
    with pytest.raises(pydantic.ValidationError):
        SimSignaturePad.Options(sample_rate_hz=499)
    pad = build(SimSignaturePad, sample_rate_hz=1000)
    assert pad.sample_rate_hz == 1000


async def test_signature_stroke_samples_batches_and_interpolation(started: Any) -> None:
    pad = await started(build(SimSignaturePad))
    events = Recorder(pad)
    await pad.enable()
    t0 = now()
    emitted = await pad.draw_stroke([(0, 0), (1000, 0), (1000, 1000)], duration=0.1, pressure=700)
    assert now() - t0 == pytest.approx(0.1)
    batches = events.of(PenSamples)
    samples = [s for b in batches for s in b.samples]
    assert emitted == len(samples) == 51 == pad.samples_emitted
    assert len(batches) == 5
    assert [round(b.t - t0, 6) for b in batches] == [0.02, 0.04, 0.06, 0.08, 0.1]
    for batch in batches:
        assert all(s.t <= batch.t + 1e-9 for s in batch.samples)
    assert [round(s.t - t0, 6) for s in samples] == [round(i * 0.002, 6) for i in range(51)]
    assert (samples[0].x, samples[0].y) == (0, 0)
    assert (samples[25].x, samples[25].y) == (1000, 0)  # half the path length
    assert (samples[50].x, samples[50].y) == (1000, 1000)
    assert (samples[10].x, samples[10].y) == (400, 0)
    assert {s.pressure for s in samples} == {700}
    assert pad.ink() == samples
    await pad.clear()
    assert pad.ink() == []
    assert pad.samples_emitted == 51


async def test_signature_disable_mid_stroke_drops_the_rest(started: Any) -> None:
    pad = await started(build(SimSignaturePad))
    await pad.enable()
    stroke = asyncio.create_task(pad.draw_stroke([(0, 0), (5000, 3000)], duration=0.2))
    await asyncio.sleep(0.05)
    await pad.disable()
    emitted = await stroke
    assert emitted == 21  # samples of the first two batches (t <= 40 ms)
    await pad.draw_stroke([(0, 0), (10, 10)], 0.1)
    assert pad.samples_emitted == 21


@pytest.mark.parametrize(
    ("points", "duration", "pressure"),
    [([], 0.1, 500), ([(0, 0)], 0.0, 500), ([(0, 0)], 0.1, 1024), ([(10001, 0)], 0.1, 500)],
)
async def test_signature_rejects_bad_strokes(
    started: Any, points: list[tuple[int, int]], duration: float, pressure: int
) -> None:
    pad = await started(build(SimSignaturePad))
    await pad.enable()
    with pytest.raises(ValueError):
        await pad.draw_stroke(points, duration, pressure)


# --- camera ------------------------------------------------------------------------------------


async def test_camera_pattern_moves_and_is_deterministic(started: Any) -> None:
    cam = await started(build(SimCamera, role="document", width=64, height=48))
    other = await started(build(SimCamera, role="document", width=64, height=48))
    assert cam.role is CameraRole.DOCUMENT
    frames = [await cam.grab() for _ in range(4)]
    assert [f.seq for f in frames] == [1, 2, 3, 4]
    assert len({f.data for f in frames}) == 4
    assert all(len(f.data) == 64 * 48 and f.pixel_format == "gray8" for f in frames)
    assert [(await other.grab()).data for _ in range(4)] == [f.data for f in frames]


async def test_camera_paces_to_fps(started: Any) -> None:
    cam = await started(build(SimCamera, fps=10))
    frames = [await cam.grab() for _ in range(3)]
    assert [round(b.t - a.t, 6) for a, b in itertools.pairwise(frames)] == [0.1, 0.1]


async def test_camera_brightness_scales_pixels(started: Any) -> None:
    cam = await started(build(SimCamera, width=32, height=8))
    frozen = cam
    frozen.freeze()
    normal = await frozen.grab()
    await frozen.set_controls(CameraControls(brightness=0.25))
    darker = await frozen.grab()
    assert darker.data != normal.data
    assert all(abs(d - round(n / 2)) <= 1 for n, d in zip(normal.data, darker.data, strict=True))
    assert frozen.actions[-1][1:] == (
        "set_controls",
        {"zoom": None, "focus": None, "brightness": 0.25},
    )


async def test_camera_black_frozen_unplugged(started: Any) -> None:
    cam = await started(build(SimCamera, width=32, height=24))
    cam.black()
    assert not any((await cam.grab()).data)
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.FAIL and result.message == "image is black"

    cam.normal()
    cam.freeze()
    a, b = await cam.grab(), await cam.grab()
    assert a.data == b.data and b.seq == a.seq + 1
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.FAIL and result.message == "image is frozen"

    cam.normal()
    cam.unplug()
    assert cam.health().status is HealthStatus.UNAVAILABLE
    with pytest.raises(DeviceError, match="unplugged"):
        await cam.grab()
    assert (await cam.selftest()).outcome is SelftestOutcome.FAIL

    cam.normal()
    assert cam.health().ok
    assert (await cam.selftest()).passed


async def test_camera_selftest_reports_missing_frames(started: Any) -> None:
    cam = await started(build(SimCamera))
    await cam.grab()

    async def unplug_soon() -> None:
        await asyncio.sleep(0.01)
        cam.unplug()

    task = asyncio.create_task(unplug_soon())
    result = await cam.selftest()
    await task
    assert result.outcome is SelftestOutcome.FAIL
    assert result.message.startswith("no frame")


# --- audio -------------------------------------------------------------------------------------


async def test_audio_levels(started: Any) -> None:
    audio = await started(build(SimAudioIO))
    assert await audio.input_level(0.2) == pytest.approx(-60.0, abs=0.01)
    tone = asyncio.create_task(audio.play_test_tone(1000.0, 1.0))
    await asyncio.sleep(0)
    assert await audio.input_level(0.2) == pytest.approx(-20.0, abs=0.01)
    await tone
    # half the window with tone: half the loopback power (-23 dB) on top of ambient
    tone = asyncio.create_task(audio.play_test_tone(1000.0, 0.1))
    await asyncio.sleep(0)
    assert await audio.input_level(0.2) == pytest.approx(-23.0, abs=0.05)
    await tone
    assert [a[1] for a in audio.actions] == ["play_test_tone", "play_test_tone"]


async def test_audio_selftest_passes_with_numbers(started: Any) -> None:
    audio = await started(build(SimAudioIO))
    result = await audio.selftest()
    assert result.passed
    assert result.details["rise_db"] == pytest.approx(40.0, abs=0.1)


async def test_audio_muted_microphone_fails_selftest(started: Any) -> None:
    audio = await started(build(SimAudioIO))
    audio.mute_microphone()
    assert await audio.input_level() == -120.0
    result = await audio.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert "-120.0 dBFS without" in result.message and "0.0 dB" in result.message
    audio.unmute_microphone()
    assert (await audio.selftest()).passed


async def test_audio_noisy_room_fails_selftest(started: Any) -> None:
    audio = await started(build(SimAudioIO))
    audio.set_ambient(-30.0)
    result = await audio.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert result.details["rise_db"] < 20.0


async def test_audio_rejects_bad_tones(started: Any) -> None:
    audio = await started(build(SimAudioIO))
    with pytest.raises(ValueError):
        await audio.play_test_tone(5.0, 0.5)
    with pytest.raises(ValueError):
        await audio.play_test_tone(1000.0, 0.0)
    await audio.set_induction_loop(True)
    assert audio.induction_loop()
