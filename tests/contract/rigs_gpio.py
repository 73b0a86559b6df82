"""Contract rigs of the GPIO door and light drivers on gpiozero's ``MockFactory``.

Each rig installs a fresh ``MockFactory(pin_class=MockPWMPin)`` as gpiozero's pin factory (the
drivers' ``pin_factory = "mock"`` uses it), builds its peer on the same pins, and resets and
restores the factory afterwards.

- ``door/gpio``: :class:`DoorOperatorPeer` plays the certified door operator. It watches the
  driver's relay outputs (every pin change is reported to it; it acts on the loop) and drives
  the reed contacts after the travel time: a request relay energising starts a motion (open,
  or close unless obstructed), the contact of the limit the door leaves releases at once, the
  one it reaches is made on arrival. ``obstruct()`` drives the obstruction input and stops a
  closing door (as the operator does), ``egress_request()`` is the inside push button (opens,
  whatever the entry-lock relay says), ``entry_request()`` the outside activator (refused
  while the entry-lock relay is energised). ``jam()`` makes motions never arrive.
- ``light/gpio``: :class:`LightPins` reads the output levels (inside duty cycle, sign RGB).

Both run on real time (see ``tests/conftest.py``); the unit tests reuse the peers on virtual
time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from drivers.door_gpio import GpioDoor, GpioDoorOptions
from drivers.light_gpio import GpioLight, GpioLightOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind

#: Travel time of the rig's door (real time: short, but long against loop latency).
DOOR_TRAVEL = 0.3
#: Open contact pin of the rig (the driver's default has none; the unit tests cover that).
OPEN_CONTACT_PIN = 6


def _pin_classes() -> tuple[type, type]:
    """``(WiredInputPin, RelayPin)``, defined on first use so gpiozero is imported lazily."""
    from gpiozero.pins.mock import MockPWMPin

    class WiredInputPin(MockPWMPin):  # type: ignore[misc]
        """An input wired to an outside contact: the contact sets the level, the pull resistor
        does not override it (a contact to GND beats the internal pull-up). The stock mock pin
        drives itself to its pull whenever a device claims it."""

        def _set_pull(self, value: str) -> None:
            self._pull = value

    class RelayPin(MockPWMPin):  # type: ignore[misc]
        """An output that reports every change (also going back to input on close)."""

        listener: Callable[[], None] | None = None

        def _change_state(self, value: float) -> bool:
            changed: bool = super()._change_state(value)
            if changed and self.listener is not None:
                self.listener()
            return changed

        def _set_function(self, value: str) -> None:
            super()._set_function(value)
            if self.listener is not None:
                self.listener()

    return WiredInputPin, RelayPin


@asynccontextmanager
async def mock_factory() -> AsyncIterator[Any]:
    """A fresh ``MockFactory`` installed as gpiozero's pin factory for the duration."""
    import gpiozero
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    previous = gpiozero.Device.pin_factory
    factory = MockFactory(pin_class=MockPWMPin)
    gpiozero.Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        gpiozero.Device.pin_factory = previous


class DoorOperatorPeer:
    """The door operator on the far side of the GPIO wires (see the module docstring)."""

    def __init__(self, factory: Any, options: GpioDoorOptions, initially_open: bool = False):
        self._loop = asyncio.get_running_loop()
        self.options = options
        self.travel_time = options.travel_time
        wired, relay = _pin_classes()
        self.closed_pin = factory.pin(options.closed_contact_pin, pin_class=wired)
        self.open_pin = (
            None
            if options.open_contact_pin is None
            else factory.pin(options.open_contact_pin, pin_class=wired)
        )
        self.obstruction_pin = factory.pin(options.obstruction_pin, pin_class=wired)
        self.relay_pins: dict[str, Any] = {
            "open": factory.pin(options.open_relay_pin, pin_class=relay),
            "close": factory.pin(options.close_relay_pin, pin_class=relay),
            "lock": factory.pin(options.entry_lock_relay_pin, pin_class=relay),
        }
        #: every relay change seen: ``(loop time, relay, energised)``
        self.relay_log: list[tuple[float, str, bool]] = []
        self._energised = dict.fromkeys(self.relay_pins, False)
        for name, pin in self.relay_pins.items():
            pin.listener = self._listener(name, pin)
        self.fraction = 1.0 if initially_open else 0.0
        self._motion: tuple[float, float, float] | None = None  # goal, t0, fraction at t0
        self._timer: asyncio.TimerHandle | None = None
        self.obstructed = False
        self.jammed = False
        self._update_contacts()
        self._drive_obstruction()

    # -- the driver's relays -------------------------------------------------------------------
    def _listener(self, name: str, pin: Any) -> Callable[[], None]:
        def changed() -> None:
            with contextlib.suppress(RuntimeError):  # loop closed (teardown)
                self._loop.call_soon_threadsafe(self._on_relay, name, self._relay_level(pin))

        return changed

    def _relay_level(self, pin: Any) -> bool:
        """Whether the relay on ``pin`` is energised (a pin that is not an output is not)."""
        return pin.function == "output" and bool(pin.state) == self.options.relay_active_high

    def _on_relay(self, name: str, energised: bool) -> None:
        if energised == self._energised[name]:
            return
        self._energised[name] = energised
        self.relay_log.append((self._loop.time(), name, energised))
        if not energised:
            return
        if name == "open":
            self._move(1.0)
        elif name == "close" and not self.obstructed:
            self._move(0.0)

    def energised(self, relay: str) -> bool:
        """Whether the driver's ``open`` / ``close`` / ``lock`` relay is energised now (read
        from the wire; the operator's reaction to a change follows on the loop)."""
        return self._relay_level(self.relay_pins[relay])

    # -- stimuli (contract PEER_API + extras) ----------------------------------------------------
    def obstruct(self) -> None:
        """Something is in the doorway: the safety edge trips; a closing door stops."""
        self.obstructed = True
        self._drive_obstruction()
        if self._motion is not None and self._motion[0] == 0.0:
            self._halt()

    def clear(self) -> None:
        self.obstructed = False
        self._drive_obstruction()

    def egress_request(self) -> bool:
        """The inside push button: the operator opens whatever the entry lock says."""
        self._move(1.0)
        return True

    def entry_request(self) -> bool:
        """The outside activator: refused while the entry-lock relay is energised."""
        if self.energised("lock"):
            return False
        self._move(1.0)
        return True

    def operator_closes(self) -> None:
        """The operator closes on its own (its hold-open time is over), unless obstructed."""
        if not self.obstructed:
            self._move(0.0)

    def jam(self) -> None:
        """Motions from now on never reach their limit (the contacts still release)."""
        self.jammed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def unjam(self) -> None:
        """The obstacle is gone: a stalled motion carries on to its limit."""
        motion = self._motion
        self.jammed = False
        if motion is not None:
            self._move(motion[0])

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for pin in self.relay_pins.values():
            pin.listener = None

    # -- motion --------------------------------------------------------------------------------
    def fraction_now(self) -> float:
        if self._motion is None:
            return self.fraction
        goal, t0, start = self._motion
        moved = (self._loop.time() - t0) / self.travel_time
        if self.jammed:
            moved = min(moved, 0.5 * abs(goal - start))
        return start + moved if goal > start else start - moved

    def moving(self) -> bool:
        return self._motion is not None

    def _move(self, goal: float) -> None:
        current = min(1.0, max(0.0, self.fraction_now()))
        self._halt()
        if current == goal:
            return
        self.fraction = current
        self._motion = (goal, self._loop.time(), current)
        self._update_contacts()
        if not self.jammed:
            self._timer = self._loop.call_later(
                abs(goal - current) * self.travel_time, self._arrive
            )

    def _arrive(self) -> None:
        assert self._motion is not None
        self.fraction = self._motion[0]
        self._motion = None
        self._timer = None
        self._update_contacts()

    def _halt(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._motion is not None:
            self.fraction = min(1.0, max(0.0, self.fraction_now()))
            self._motion = None
        self._update_contacts()

    # -- the driver's inputs -------------------------------------------------------------------
    def _drive(self, pin: Any, contact_made: bool) -> None:
        """A contact to GND (pull-up inputs) or to 3V3 (pull-down inputs)."""
        high = not contact_made if self.options.inputs_pull_up else contact_made
        pin.drive_high() if high else pin.drive_low()

    def _update_contacts(self) -> None:
        at_rest = self._motion is None
        self._drive(self.closed_pin, at_rest and self.fraction <= 0.0)
        if self.open_pin is not None:
            self._drive(self.open_pin, at_rest and self.fraction >= 1.0)

    def _drive_obstruction(self) -> None:
        made = self.obstructed != self.options.obstruction_normally_closed
        self._drive(self.obstruction_pin, made)


class LightPins:
    """The far side of the GPIO light's wires: output levels as the lamps see them."""

    def __init__(self, factory: Any, options: GpioLightOptions):
        self.options = options
        self.inside_pin = factory.pin(options.inside_pin)
        self.sign_pins: dict[str, Any] = {
            "red": factory.pin(options.sign_red_pin),
            "green": factory.pin(options.sign_green_pin),
        }
        if options.sign_blue_pin is not None and options.sign_type == "rgb":
            self.sign_pins["blue"] = factory.pin(options.sign_blue_pin)
        if options.sign_amber_pin is not None and options.sign_type == "leds":
            self.sign_pins["amber"] = factory.pin(options.sign_amber_pin)

    @staticmethod
    def _level(pin: Any, active_high: bool) -> float:
        if pin.function != "output":
            return 0.0
        value = float(pin.state)
        return value if active_high else 1.0 - value

    def inside(self) -> float:
        """Inside light duty cycle 0..1 (as the dimmer sees it)."""
        return self._level(self.inside_pin, self.options.inside_active_high)

    def sign(self) -> dict[str, float]:
        """Level 0..1 of each sign output, by colour."""
        return {
            colour: self._level(pin, self.options.sign_active_high)
            for colour, pin in self.sign_pins.items()
        }


# --- rigs ---------------------------------------------------------------------------------------


def door_factory(rig_cls: Callable[..., Any]) -> Callable[[DeviceKind], Any]:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        async with mock_factory() as factory:
            options = GpioDoorOptions(
                pin_factory="mock", open_contact_pin=OPEN_CONTACT_PIN, travel_time=DOOR_TRAVEL
            )
            peer = DoorOperatorPeer(factory, options)
            door = GpioDoor("door-gpio", options, DriverContext(clock=LoopClock()))
            await door.start()
            try:
                yield rig_cls(device=door, peer=peer, params={"travel_time": DOOR_TRAVEL})
            finally:
                await door.stop()
                peer.close()

    return rig


def light_factory(rig_cls: Callable[..., Any]) -> Callable[[DeviceKind], Any]:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        async with mock_factory() as factory:
            options = GpioLightOptions(pin_factory="mock")
            light = GpioLight("light-gpio", options, DriverContext(clock=LoopClock()))
            await light.start()
            try:
                yield rig_cls(device=light, peer=LightPins(factory, options), params={})
            finally:
                await light.stop()

    return rig


RigFactory = Callable[[DeviceKind], AbstractAsyncContextManager[Any]]


def register_rigs(register: Callable[[DeviceKind, str, RigFactory], None]) -> None:
    # the Rig dataclass lives in the contract conftest, whose module name depends on pytest's
    # import mode: take it from the module that hands us ``register``
    rig_cls = register.__globals__["Rig"]
    register(DeviceKind.DOOR, "gpio", door_factory(rig_cls))
    register(DeviceKind.LIGHT, "gpio", light_factory(rig_cls))
