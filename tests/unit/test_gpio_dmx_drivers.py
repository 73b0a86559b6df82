"""The GPIO door, GPIO light and DMX light drivers against their peers, beyond the contract.

- ``door_gpio`` / ``light_gpio`` on gpiozero's ``MockFactory`` with the peers of
  ``tests/contract/rigs_gpio.py``; on virtual time (the mock pins answer at once, the peer's
  door motion runs on loop timers).
- ``light_dmx`` on a pseudo-terminal pair with the peer of ``tests/contract/rigs_dmx.py``; on
  real time (a worker thread writes the frames). Waits are for frames / events, with bounds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError
from recorder import Recorder

from drivers.door_gpio import GpioDoor, GpioDoorOptions
from drivers.light_dmx import DmxLight, DmxLightOptions, pro_message
from drivers.light_gpio import GpioLight, GpioLightOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import DeviceError
from hal.events import (
    DoorObstructionChanged,
    DoorPosition,
    DoorPositionChanged,
    HealthChanged,
    LightScene,
    SignState,
)
from hal.health import HealthStatus, SelftestOutcome


def _load(stem: str) -> ModuleType:
    # own module name: the contract conftest registers its copy under "contract_<stem>"
    name = f"unit_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "contract" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rigs_gpio = _load("rigs_gpio")
rigs_dmx = _load("rigs_dmx")

TRAVEL = 2.0  # door travel time (virtual seconds)


class Events(Recorder):
    """A device's events, with the door positions reported and a wait for one."""

    def positions(self, start: int = 0) -> list[DoorPosition]:
        return [e.position for e in self.events[start:] if isinstance(e, DoorPositionChanged)]

    async def position(self, position: DoorPosition, within: float, start: int = 0) -> None:
        await self.wait_for(
            lambda e: isinstance(e, DoorPositionChanged) and e.position is position, within, start
        )


def context() -> DriverContext:
    return DriverContext(clock=LoopClock())


# --- door ---------------------------------------------------------------------------------------


@asynccontextmanager
async def door_rig(
    initially_open: bool = False, **options: Any
) -> AsyncIterator[tuple[GpioDoor, Any, Events]]:
    async with rigs_gpio.mock_factory() as factory:
        opts = GpioDoorOptions(pin_factory="mock", travel_time=TRAVEL, **options)
        peer = rigs_gpio.DoorOperatorPeer(factory, opts, initially_open=initially_open)
        door = GpioDoor("door", opts, context())
        events = Events(door)
        await door.start()
        try:
            yield door, peer, events
        finally:
            await door.stop()
            peer.close()


async def test_door_position_from_the_contacts_at_start() -> None:
    async with door_rig(open_contact_pin=6) as (door, _, events):
        assert door.position() is DoorPosition.CLOSED
        assert events.positions() == [DoorPosition.CLOSED]  # reported at start
    async with door_rig(initially_open=True, open_contact_pin=6) as (door, _, _):
        assert door.position() is DoorPosition.OPEN
    async with door_rig(initially_open=True) as (door, _, _):  # no open contact: assumed
        assert door.position() is DoorPosition.OPEN


async def test_entry_lock_relay_locks_only_the_outside() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, events):
        assert peer.energised("lock") is False
        await door.lock_entry()
        assert peer.energised("lock") is True
        assert door.entry_locked() is True
        assert peer.entry_request() is False
        assert peer.egress_request() is True  # the inside button is not wired through the lock
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        assert peer.energised("open") is False  # the operator opened by itself
        await door.unlock_entry()
        assert peer.energised("lock") is False
        assert door.entry_locked() is False


async def test_stop_releases_every_relay() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, events):
        await door.lock_entry()
        await door.open()
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        assert peer.energised("open") and peer.energised("lock")
        await door.stop()
        assert not any(peer.energised(r) for r in ("open", "close", "lock"))
        assert door.entry_locked() is False
        with pytest.raises(DeviceError, match="stopped"):
            await door.open()


async def test_level_mode_holds_the_request_relay() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, events):
        await door.open()
        assert peer.energised("open") and not peer.energised("close")
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        assert peer.energised("open")
        await door.close()
        assert peer.energised("close") and not peer.energised("open")


async def test_impulse_mode_pulses_the_relay() -> None:
    async with door_rig(open_contact_pin=6, relay_mode="impulse", impulse_time=0.3) as (
        door,
        peer,
        events,
    ):
        await door.open()
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        log = [(relay, on) for _, relay, on in peer.relay_log]
        assert log == [("open", True), ("open", False)]
        (t_on, _, _), (t_off, _, _) = peer.relay_log
        assert t_off - t_on == pytest.approx(0.3, abs=0.01)
        assert peer.energised("open") is False


async def test_obstruction_while_closing_stops_asking_to_close() -> None:
    async with door_rig(initially_open=True, open_contact_pin=6) as (door, peer, events):
        await door.close()
        await asyncio.sleep(TRAVEL / 4)
        start = len(events.events)
        peer.obstruct()
        await events.position(DoorPosition.STOPPED, 1.0, start)
        assert [type(e) for e in events.events[start:]] == [
            DoorObstructionChanged,
            DoorPositionChanged,
        ]
        assert peer.energised("close") is False
        assert peer.energised("open") is False  # reopening is the controller's call by default
        with pytest.raises(DeviceError, match="obstructed"):
            await door.close()


async def test_reopen_on_obstruction_requests_open() -> None:
    async with door_rig(initially_open=True, open_contact_pin=6, reopen_on_obstruction=True) as (
        door,
        peer,
        events,
    ):
        await door.close()
        await asyncio.sleep(TRAVEL / 4)
        start = len(events.events)
        peer.obstruct()
        await events.position(DoorPosition.OPEN, 2 * TRAVEL, start)
        assert events.positions(start) == [
            DoorPosition.STOPPED,
            DoorPosition.OPENING,
            DoorPosition.OPEN,
        ]
        assert peer.energised("open") and not peer.energised("close")
        assert [r for _, r, on in peer.relay_log if on][-1] == "open"


async def test_normally_closed_obstruction_input_is_wire_break_safe() -> None:
    async with door_rig(obstruction_normally_closed=True) as (door, peer, events):
        assert door.obstructed() is False
        # a cut wire reads like an open NC contact: obstructed
        peer.obstruction_pin.drive_high()
        await events.wait_for(lambda e: isinstance(e, DoorObstructionChanged), 1.0)
        assert door.obstructed() is True
        peer.clear()
        await events.wait_for(
            lambda e: isinstance(e, DoorObstructionChanged) and not e.obstructed, 1.0
        )


async def test_active_low_relays_and_pull_down_inputs() -> None:
    async with door_rig(relay_active_high=False, inputs_pull_up=False, open_contact_pin=6) as (
        door,
        peer,
        events,
    ):
        assert door.position() is DoorPosition.CLOSED
        assert peer.closed_pin.state is True  # contact to 3V3 with a pull-down
        assert peer.relay_pins["open"].state == 1  # released relay: high
        await door.open()
        assert peer.relay_pins["open"].state == 0  # energised: low
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)


async def test_operator_moving_by_itself_is_reported() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, events):
        peer.egress_request()
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        start = len(events.events)
        peer.operator_closes()
        await events.position(DoorPosition.CLOSED, 2 * TRAVEL, start)
        assert events.positions(start) == [DoorPosition.CLOSING, DoorPosition.CLOSED]
        assert door.health().ok


async def test_without_open_contact_the_door_counts_open_after_the_travel_time() -> None:
    async with door_rig() as (door, peer, events):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        start = len(events.events)
        await door.open()
        opened = await events.wait_for(
            lambda e: isinstance(e, DoorPositionChanged) and e.position is DoorPosition.OPEN,
            3 * TRAVEL,
            start,
        )
        assert opened.t - t0 == pytest.approx(TRAVEL, abs=0.05)
        assert events.positions(start) == [DoorPosition.OPENING, DoorPosition.OPEN]
        start = len(events.events)
        await door.close()
        await events.position(DoorPosition.CLOSED, 2 * TRAVEL, start)
        start = len(events.events)
        peer.egress_request()  # opened by the operator: seen when the closed contact releases
        await events.position(DoorPosition.OPEN, 2 * TRAVEL, start)
        assert events.positions(start) == [DoorPosition.OPENING, DoorPosition.OPEN]


async def test_door_that_misses_its_limit_is_stopped_and_unavailable() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, events):
        peer.jam()
        t0 = asyncio.get_running_loop().time()
        await door.open()
        await events.position(DoorPosition.STOPPED, 3 * TRAVEL)
        health = door.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert health.reason == f"door did not reach open within {2 * TRAVEL:g} s"
        assert health.since - t0 == pytest.approx(2 * TRAVEL, abs=0.05)
        result = await door.selftest()
        assert result.outcome is SelftestOutcome.FAIL
        assert "did not reach open" in result.message
        # it comes back once it reaches a limit again
        peer.unjam()
        await events.position(DoorPosition.OPEN, 2 * TRAVEL)
        assert door.health().ok
        assert (await door.selftest()).passed


async def test_selftest_flags_contradicting_contacts() -> None:
    async with door_rig(open_contact_pin=6) as (door, peer, _):
        assert (await door.selftest()).passed
        peer.open_pin.drive_low()  # both reeds made
        result = await door.selftest()
        assert result.outcome is SelftestOutcome.FAIL
        assert "both made" in result.message


async def test_door_without_gpio_reports_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpiozero

    monkeypatch.setattr(gpiozero.Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    door = GpioDoor("door", GpioDoorOptions(), context())
    await door.start()  # must not raise
    health = door.health()
    assert health.status is HealthStatus.UNAVAILABLE
    assert health.reason.startswith("GPIO unavailable: ")
    with pytest.raises(DeviceError, match="GPIO unavailable"):
        await door.open()
    assert (await door.selftest()).outcome is SelftestOutcome.FAIL
    await door.stop()


# --- GPIO light ---------------------------------------------------------------------------------


@asynccontextmanager
async def light_rig(**options: Any) -> AsyncIterator[tuple[GpioLight, Any]]:
    async with rigs_gpio.mock_factory() as factory:
        opts = GpioLightOptions(pin_factory="mock", **options)
        light = GpioLight("light", opts, context())
        await light.start()
        try:
            yield light, rigs_gpio.LightPins(factory, opts)
        finally:
            await light.stop()


@pytest.mark.parametrize(
    ("scene", "brightness", "level"),
    [
        (LightScene.OFF, 0.7, 0.0),
        (LightScene.STANDBY, 0.3, 0.3),
        (LightScene.CONSULTATION, 0.35, 0.35),
        (LightScene.MAINTENANCE, 1.0, 1.0),
        (LightScene.EMERGENCY, 0.2, 1.0),
    ],
)
async def test_inside_light_level_per_scene(
    scene: LightScene, brightness: float, level: float
) -> None:
    async with light_rig() as (light, pins):
        await light.set_scene(scene, brightness)
        assert pins.inside() == pytest.approx(level)
        assert light.scene() == (scene, brightness)


async def test_inside_light_active_low_and_pwm_frequency() -> None:
    async with light_rig(inside_active_high=False, pwm_frequency=2000) as (light, pins):
        await light.set_scene(LightScene.CONSULTATION, 0.25)
        assert pins.inside_pin.state == pytest.approx(0.75)  # inverted duty cycle on the pin
        assert pins.inside() == pytest.approx(0.25)
        assert pins.inside_pin.frequency == 2000


async def test_rgb_sign_levels_per_state() -> None:
    async with light_rig() as (light, pins):
        await light.set_sign(SignState.FREE)
        assert pins.sign() == {"red": 0.0, "green": 1.0, "blue": 0.0}
        await light.set_sign(SignState.OCCUPIED)
        assert pins.sign() == {"red": 1.0, "green": 0.0, "blue": 0.0}


async def test_rgb_sign_amber_when_occupied() -> None:
    async with light_rig(occupied="amber") as (light, pins):
        await light.set_sign(SignState.OCCUPIED)
        assert pins.sign() == {"red": 1.0, "green": 0.5, "blue": 0.0}


async def test_out_of_service_blinks_red() -> None:
    async with light_rig(blink_period=1.0) as (light, pins):
        await light.set_sign(SignState.FREE)
        await light.set_sign(SignState.OUT_OF_SERVICE)
        seen = [pins.sign()["red"]]
        await asyncio.sleep(0.25)  # virtual time: sample in the middle of each half period
        for _ in range(4):
            await asyncio.sleep(0.5)
            seen.append(pins.sign()["red"])
        assert seen == [1.0, 0.0, 1.0, 0.0, 1.0]
        assert pins.sign()["green"] == 0.0
        await light.set_sign(SignState.FREE)  # the blinking stops
        await asyncio.sleep(1.5)
        assert pins.sign() == {"red": 0.0, "green": 1.0, "blue": 0.0}


@pytest.mark.parametrize(
    ("out_of_service", "expected"),
    [
        ("red", {"red": 1.0, "green": 0.0, "amber": 0.0}),
        ("off", {"red": 0, "green": 0, "amber": 0}),
    ],
)
async def test_lamp_sign_out_of_service_styles(
    out_of_service: str, expected: dict[str, float]
) -> None:
    async with light_rig(
        sign_type="leds", sign_amber_pin=19, occupied="amber", out_of_service=out_of_service
    ) as (light, pins):
        await light.set_sign(SignState.OUT_OF_SERVICE)
        assert pins.sign() == expected
        await asyncio.sleep(0.75)  # steady: no blinking
        assert pins.sign() == expected
        await light.set_sign(SignState.OCCUPIED)
        assert pins.sign() == {"red": 0.0, "green": 0.0, "amber": 1.0}
        await light.set_sign(SignState.FREE)
        assert pins.sign() == {"red": 0.0, "green": 1.0, "amber": 0.0}


def test_lamp_sign_amber_needs_an_amber_lamp() -> None:
    with pytest.raises(ValidationError, match="sign_amber_pin"):
        GpioLightOptions(sign_type="leds", occupied="amber")
    with pytest.raises(ValidationError, match="sign_blue_pin"):
        GpioLightOptions(sign_type="rgb", sign_blue_pin=None)


async def test_light_restart_restores_scene_and_sign() -> None:
    async with light_rig() as (light, pins):
        await light.set_scene(LightScene.CONSULTATION, 0.6)
        await light.set_sign(SignState.OCCUPIED)
        await light.stop()
        assert pins.inside() == 0.0  # released
        with pytest.raises(DeviceError):
            await light.set_sign(SignState.FREE)
        await light.start()
        assert pins.inside() == pytest.approx(0.6)
        assert pins.sign()["red"] == 1.0


async def test_light_on_a_plain_mock_factory_still_dims() -> None:
    """Another GPIO driver (the sonar) may have installed a MockFactory without PWM pins."""
    import gpiozero
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    previous = gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory = MockFactory()
    try:
        light = GpioLight("light", GpioLightOptions(pin_factory="mock"), context())
        await light.start()
        assert light.health().ok, light.health()
        await light.set_scene(LightScene.STANDBY, 0.3)
        assert gpiozero.Device.pin_factory.pin(12, pin_class=MockPWMPin).state == pytest.approx(0.3)
        await light.stop()
    finally:
        gpiozero.Device.pin_factory.reset()
        gpiozero.Device.pin_factory = previous


async def test_light_without_gpio_reports_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpiozero

    monkeypatch.setattr(gpiozero.Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    light = GpioLight("light", GpioLightOptions(), context())
    await light.start()
    assert light.health().status is HealthStatus.UNAVAILABLE
    assert light.health().reason.startswith("GPIO unavailable: ")
    with pytest.raises(ValueError):  # a bad value is still a ValueError
        await light.set_scene(LightScene.STANDBY, 2.0)
    with pytest.raises(DeviceError, match="GPIO unavailable"):
        await light.set_scene(LightScene.STANDBY, 0.5)
    result = await light.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "GPIO unavailable" in result.message
    await light.stop()


# --- DMX ----------------------------------------------------------------------------------------

WAIT = 3.0  # upper bound of every wait for a frame / event (they come within ~50 ms)
INSIDE = [1, 5]
SIGN = (10, 11, 12)


@asynccontextmanager
async def dmx_rig(interface: str = "open", **options: Any) -> AsyncIterator[tuple[DmxLight, Any]]:
    peer = rigs_dmx.DmxPeer(interface)
    opts = DmxLightOptions(
        port=peer.port,
        interface=interface,
        inside_channels=INSIDE,
        sign_channels=SIGN,
        **options,
    )
    light = DmxLight("light", opts, context())
    await light.start()
    try:
        yield light, peer
    finally:
        await light.stop()
        peer.close()


def slots(frame: bytes, channels: Any) -> tuple[int, ...]:
    return tuple(frame[c - 1] for c in channels)


@pytest.mark.realtime
@pytest.mark.parametrize("interface", ["open", "pro"])
async def test_dmx_scene_and_sign_reach_the_channels(interface: str) -> None:
    async with dmx_rig(interface, blink_period=0.4) as (light, peer):
        assert light.health().ok
        await light.set_scene(LightScene.CONSULTATION, 0.35)
        await light.set_sign(SignState.FREE)
        frame = await peer.wait_frame(lambda f: slots(f, INSIDE) == (89, 89), WAIT)
        assert slots(frame, SIGN) == (0, 255, 0)
        assert sum(frame) == 2 * 89 + 255  # nothing on the other channels

        await light.set_scene(LightScene.EMERGENCY, 0.2)  # emergency: full light
        await peer.wait_frame(lambda f: slots(f, INSIDE) == (255, 255), WAIT)
        await light.set_scene(LightScene.OFF, 0.8)
        await peer.wait_frame(lambda f: slots(f, INSIDE) == (0, 0), WAIT)

        await light.set_sign(SignState.OCCUPIED)
        await peer.wait_frame(lambda f: slots(f, SIGN) == (255, 0, 0), WAIT)
        await light.set_sign(SignState.OUT_OF_SERVICE)  # blinking red, frame by frame
        await peer.wait_frame(lambda f: slots(f, SIGN) == (0, 0, 0), WAIT)
        await peer.wait_frame(lambda f: slots(f, SIGN) == (255, 0, 0), WAIT)
        await peer.wait_frame(lambda f: slots(f, SIGN) == (0, 0, 0), WAIT)
        assert peer.framing_errors == 0
        assert all(len(f) == 512 for f in peer.frames)


@pytest.mark.realtime
async def test_dmx_amber_and_steady_out_of_service() -> None:
    async with dmx_rig(occupied="amber", out_of_service="red") as (light, peer):
        await light.set_sign(SignState.OCCUPIED)
        await peer.wait_frame(lambda f: slots(f, SIGN) == (255, 128, 0), WAIT)
        await light.set_sign(SignState.OUT_OF_SERVICE)
        await peer.wait_frame(lambda f: slots(f, SIGN) == (255, 0, 0), WAIT)
        await peer.wait_frames(10, WAIT)
        assert all(slots(f, SIGN) == (255, 0, 0) for f in peer.frames[-10:])


@pytest.mark.realtime
async def test_dmx_refreshes_continuously_at_the_refresh_rate() -> None:
    async with dmx_rig(refresh_hz=20.0) as (light, peer):
        await light.set_scene(LightScene.STANDBY, 0.5)
        await peer.wait_frame(lambda f: f[0] == 128, WAIT)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await peer.wait_frames(10, WAIT)  # no change requested: frames keep coming
        elapsed = loop.time() - t0
        assert elapsed >= 9 / 20.0 * 0.9  # not faster than the rate
        assert elapsed <= 10 / 20.0 * 3  # and not much slower
        assert all(f[0] == 128 for f in peer.frames[-10:])
        result = await light.selftest()
        assert result.passed, result.message
        assert result.details["frames_sent"] >= 10


def test_pro_message_framing() -> None:
    universe = bytes(range(256)) * 2
    message = pro_message(universe)
    assert message[:4] == bytes([0x7E, 6, 513 & 0xFF, 513 >> 8])
    assert message[4] == 0  # start code
    assert message[5:-1] == universe
    assert message[-1] == 0xE7
    assert len(message) == 4 + 513 + 1


def test_dmx_channel_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        DmxLightOptions(inside_channels=[1, 2], sign_channels=(2, 3, 4))
    with pytest.raises(ValidationError):
        DmxLightOptions(inside_channels=[0])
    with pytest.raises(ValidationError):
        DmxLightOptions(sign_channels=(510, 511, 513))
    with pytest.raises(ValidationError):
        DmxLightOptions(inside_channels=[])


@pytest.mark.realtime
@pytest.mark.parametrize(
    ("port", "reason"),
    [
        ("/nonexistent/ttyUSB9", "No such file or directory"),
        ("/dev/null", "Inappropriate ioctl"),  # not a tty
    ],
)
async def test_dmx_missing_or_garbage_port_reports_why(port: str, reason: str) -> None:
    light = DmxLight("light", DmxLightOptions(port=port), context())
    await light.start()  # must not raise
    try:
        health = light.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert health.reason.startswith(f"cannot open DMX port {port!r}: ")
        assert reason in health.reason
        with pytest.raises(DeviceError, match="cannot open DMX port"):
            await light.set_sign(SignState.FREE)
        assert light.sign() is SignState.FREE  # kept: sent once the interface is back
        result = await light.selftest()
        assert result.outcome is SelftestOutcome.FAIL
        assert reason in result.message
    finally:
        await light.stop()


@pytest.mark.realtime
async def test_dmx_interface_unplugged_and_back(tmp_path: Path) -> None:
    link = tmp_path / "dmx"  # a udev-style symlink to the interface
    peer = rigs_dmx.DmxPeer("open")
    os.symlink(peer.port, link)
    light = DmxLight("light", DmxLightOptions(port=str(link), reconnect_interval=0.05), context())
    events = Events(light)
    await light.start()
    try:
        await peer.wait_frames(2, WAIT)
        start = len(events.events)
        peer.unplug()
        lost = await events.wait_for(
            lambda e: isinstance(e, HealthChanged) and not e.health.ok, WAIT, start
        )
        assert isinstance(lost, HealthChanged)
        assert "DMX" in lost.health.reason and str(link) in lost.health.reason
        with pytest.raises(DeviceError):
            await light.set_scene(LightScene.MAINTENANCE, 1.0)

        # plugged in again (a new tty behind the same link): frames and health come back
        peer.close()
        peer = rigs_dmx.DmxPeer("open")
        link.unlink()
        os.symlink(peer.port, link)
        start = len(events.events)
        await events.wait_for(lambda e: isinstance(e, HealthChanged) and e.health.ok, WAIT, start)
        frame = await peer.wait_frame(lambda f: f[0] == 255, WAIT)  # the kept request
        assert frame[0] == 255
    finally:
        await light.stop()
        peer.close()
