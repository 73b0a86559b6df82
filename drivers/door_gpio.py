"""Door operator wired straight to GPIO (no PLC): relays ask, reed contacts tell.

Wiring (BCM numbers are the defaults; every pin is an option):

=================  =====  ==============================================================
signal             pin    meaning
=================  =====  ==============================================================
open relay         17     output; asks the operator to open (its "open"/"hold open" input)
close relay        27     output; asks the operator to close
entry-lock relay   22     output; disables the operator's *outside* activator only — the
                          inside push button / egress sensor is never wired through it
closed contact     5      input; reed made = door closed
open contact       None   input (optional); reed made = door fully open
obstruction        13     input; the operator's safety-edge / presence-sensor output
=================  =====  ==============================================================

Relays are gpiozero ``OutputDevice`` (``relay_active_high``); inputs are gpiozero
``DigitalInputDevice`` (a ``Button`` without the hold thread) with the internal pull-up when
``inputs_pull_up`` (contacts switch to ground), else pull-down.
An NC obstruction output (``obstruction_normally_closed``) reads a broken wire as obstructed.

``relay_mode = "level"``: the relay of the last request stays energised until the next request
(``open`` releases ``close`` and vice versa; an obstruction releases ``close``).
``"impulse"``: the relay is energised for ``impulse_time`` seconds.

Position: ``closed`` / ``open`` from the contacts; ``opening`` / ``closing`` from a request or
from a contact releasing on its own (a citizen leaving through the operator's inside button,
the operator closing by itself). Without an open contact the door counts as open
``travel_time`` after the closed contact released. If the target limit is not reached within
2 × ``travel_time`` the door reports ``stopped`` and health ``unavailable`` "door did not reach
… within … s"; reaching a limit later makes it healthy again.

Obstruction while closing: the certified operator stops (and usually reverses) by itself; the
driver releases the close relay and reports ``stopped``; ``close()`` is refused while
obstructed. Asking it to reopen is the booth controller's job (``booth.door``); set
``reopen_on_obstruction`` to have the driver request ``open`` itself (standalone use).

``stop()`` de-energises every relay: the operator falls back to its own program, entry
unlocked. Egress is never blocked by anything this driver does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from drivers._gpio import PinFactoryName, PinName, close_all, loop_callback, pin_factory
from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.clock import TimerHandle
from hal.devices import DeviceError
from hal.events import DeviceKind, DoorObstructionChanged, DoorPosition, DoorPositionChanged
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

Input = Literal["closed", "open", "obstruction"]


class GpioDoorOptions(DriverOptions):
    open_relay_pin: PinName = Field(17, description="Relay output asking the operator to open.")
    close_relay_pin: PinName = Field(27, description="Relay output asking the operator to close.")
    entry_lock_relay_pin: PinName = Field(
        22,
        description="Relay output disabling the operator's outside activator (never the inside).",
    )
    closed_contact_pin: PinName = Field(5, description="Reed contact input: made = door closed.")
    open_contact_pin: PinName | None = Field(
        None, description="Optional reed contact input: made = door fully open."
    )
    obstruction_pin: PinName = Field(
        13, description="Input from the operator's safety edge / presence sensor."
    )
    relay_active_high: bool = Field(True, description="Relays energise on a high output.")
    relay_mode: Literal["level", "impulse"] = Field(
        "level", description="Hold the request relay (level) or pulse it (impulse)."
    )
    impulse_time: float = Field(0.5, gt=0.0, description="Relay pulse length in impulse mode (s).")
    inputs_pull_up: bool = Field(
        True, description="Inputs use the internal pull-up and are active low (contact to GND)."
    )
    obstruction_normally_closed: bool = Field(
        False, description="The obstruction output opens on obstruction (NC, wire-break safe)."
    )
    bounce_time: float | None = Field(
        None, gt=0.0, description="Debounce time of the inputs (s); none by default."
    )
    travel_time: float = Field(
        3.0, gt=0.0, description="Seconds for a full travel; limits missed after 2x = fault."
    )
    reopen_on_obstruction: bool = Field(
        False,
        description="Request open on an obstruction while closing (the controller does it).",
    )
    pin_factory: PinFactoryName = Field(
        "default", description="gpiozero pin factory: default (the Pi) or mock (tests)."
    )


@dataclass
class _Pins:
    open_relay: Any
    close_relay: Any
    lock_relay: Any
    closed: Any
    open: Any | None
    obstruction: Any

    def all(self) -> list[Any]:
        devices = [self.open_relay, self.close_relay, self.lock_relay, self.closed]
        if self.open is not None:
            devices.append(self.open)
        devices.append(self.obstruction)
        return devices


class GpioDoor(DeviceBase):
    """Door operator on GPIO relays and reed contacts (see the module docstring)."""

    kind = DeviceKind.DOOR
    Options = GpioDoorOptions

    def __init__(self, name: str, options: GpioDoorOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.travel_time = options.travel_time
        self._pins: _Pins | None = None
        self._unavailable: str | None = "not started"
        self._position = DoorPosition.UNKNOWN
        self._obstructed = False
        self._entry_locked = False
        self._closed_made = False
        self._open_made = False
        self._target: DoorPosition | None = None  # OPEN / CLOSED while moving
        self._motion_fault: str | None = None
        self._deadline: TimerHandle | None = None
        self._assumed_arrival: TimerHandle | None = None
        self._impulse: TimerHandle | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Claim the pins. Missing GPIO hardware or gpiozero: health ``unavailable``."""
        if self._pins is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            pins = self._open_pins(loop)
        except Exception as exc:
            self._unavailable = f"GPIO unavailable: {exc}"
            self.set_health(HealthStatus.UNAVAILABLE, self._unavailable)
            return
        self._pins = pins
        self._unavailable = None
        self._motion_fault = None
        self._closed_made = bool(pins.closed.is_active)
        self._open_made = bool(pins.open is not None and pins.open.is_active)
        self._on_obstruction(self._obstruction_active(bool(pins.obstruction.is_active)))
        if self._closed_made:
            self._set_position(DoorPosition.CLOSED)
        elif self._open_made or pins.open is None:
            self._set_position(DoorPosition.OPEN)  # without an open contact: assumed
        else:
            self._set_position(DoorPosition.UNKNOWN)  # somewhere in between
        self.set_health(HealthStatus.OK, "")

    async def stop(self) -> None:
        """Release every relay and the pins (idempotent)."""
        self._cancel_timers()
        if self._impulse is not None:
            self._impulse.cancel()
            self._impulse = None
        self._target = None
        pins = self._pins
        self._pins = None
        self._unavailable = "stopped"
        self._entry_locked = False
        if pins is not None:
            for relay in (pins.open_relay, pins.close_relay, pins.lock_relay):
                with contextlib.suppress(Exception):
                    relay.off()
            close_all(pins.all())

    def _open_pins(self, loop: asyncio.AbstractEventLoop) -> _Pins:
        factory = pin_factory(self.options.pin_factory)
        from gpiozero import DigitalInputDevice, OutputDevice

        opts = self.options
        created: list[Any] = []

        def relay(pin: PinName) -> Any:
            device = OutputDevice(
                pin, active_high=opts.relay_active_high, initial_value=False, pin_factory=factory
            )
            created.append(device)
            return device

        def contact(pin: PinName, which: Input) -> Any:
            # a Button without its hold thread (whose join makes close() take 0.1 s)
            device = DigitalInputDevice(
                pin, pull_up=opts.inputs_pull_up, bounce_time=opts.bounce_time, pin_factory=factory
            )
            created.append(device)
            device.when_activated = loop_callback(
                loop, functools.partial(self._on_input, which, True)
            )
            device.when_deactivated = loop_callback(
                loop, functools.partial(self._on_input, which, False)
            )
            return device

        try:
            return _Pins(
                open_relay=relay(opts.open_relay_pin),
                close_relay=relay(opts.close_relay_pin),
                lock_relay=relay(opts.entry_lock_relay_pin),
                closed=contact(opts.closed_contact_pin, "closed"),
                open=(
                    None
                    if opts.open_contact_pin is None
                    else contact(opts.open_contact_pin, "open")
                ),
                obstruction=contact(opts.obstruction_pin, "obstruction"),
            )
        except Exception:
            close_all(created)
            raise

    # -- protocol ------------------------------------------------------------------------------
    def position(self) -> DoorPosition:
        return self._position

    def obstructed(self) -> bool:
        return self._obstructed

    def entry_locked(self) -> bool:
        return self._entry_locked

    async def open(self) -> None:
        """Ask the operator to open (returns at once; watch the position events)."""
        self._request_open(self._require())

    async def close(self) -> None:
        """Ask the operator to close; ``DeviceError("door obstructed")`` while obstructed."""
        pins = self._require()
        if self._obstructed:
            raise DeviceError("door obstructed")
        self._drive(pins, DoorPosition.CLOSED)
        if self._closed_made:
            self._arrive(DoorPosition.CLOSED)
            return
        self._begin(DoorPosition.CLOSED)

    async def lock_entry(self) -> None:
        """Energise the entry-lock relay: the outside activator is disabled, egress is not."""
        self._require().lock_relay.on()
        self._entry_locked = True

    async def unlock_entry(self) -> None:
        self._require().lock_relay.off()
        self._entry_locked = False

    async def selftest(self) -> SelftestResult:
        pins = self._pins
        if pins is None:
            return self._selftest_result(
                SelftestOutcome.FAIL, f"device unavailable: {self._unavailable}"
            )
        details = {
            "position": self._position.value,
            "closed_contact": bool(pins.closed.is_active),
            "open_contact": None if pins.open is None else bool(pins.open.is_active),
            "obstructed": self._obstructed,
            "entry_locked": self._entry_locked,
        }
        if pins.open is not None and pins.closed.is_active and pins.open.is_active:
            return self._selftest_result(
                SelftestOutcome.FAIL,
                "closed and open contacts are both made (wiring or contact fault)",
                details,
            )
        if self._motion_fault is not None:
            return self._selftest_result(SelftestOutcome.FAIL, self._motion_fault, details)
        locked = "locked" if self._entry_locked else "unlocked"
        return self._selftest_result(
            SelftestOutcome.PASS, f"position {self._position.value}, entry {locked}", details
        )

    def _selftest_result(
        self, outcome: SelftestOutcome, message: str, details: dict[str, Any] | None = None
    ) -> SelftestResult:
        return SelftestResult(self.name, outcome, message, details or {})

    # -- requests ------------------------------------------------------------------------------
    def _require(self) -> _Pins:
        if self._pins is None:
            raise DeviceError(f"{self.name}: {self._unavailable}")
        return self._pins

    def _request_open(self, pins: _Pins) -> None:
        self._drive(pins, DoorPosition.OPEN)
        if self._open_made or (pins.open is None and self._position is DoorPosition.OPEN):
            self._arrive(DoorPosition.OPEN)
            return
        self._begin(DoorPosition.OPEN)

    def _drive(self, pins: _Pins, target: DoorPosition) -> None:
        """Energise the relay for ``target`` (releasing the other one)."""
        on, off = (
            (pins.open_relay, pins.close_relay)
            if target is DoorPosition.OPEN
            else (pins.close_relay, pins.open_relay)
        )
        if self._impulse is not None:
            self._impulse.cancel()
            self._impulse = None
        off.off()
        on.on()
        if self.options.relay_mode == "impulse":
            self._impulse = self.clock.call_later(self.options.impulse_time, lambda: self._end(on))

    def _end(self, relay: Any) -> None:
        self._impulse = None
        if self._pins is not None:
            relay.off()

    # -- position bookkeeping ------------------------------------------------------------------
    def _on_input(self, which: Input, active: bool) -> None:
        """A contact changed (already on the loop; events arrive in order)."""
        if self._pins is None:
            return
        if which == "obstruction":
            self._on_obstruction(self._obstruction_active(active))
        elif which == "closed":
            if active == self._closed_made:
                return
            self._closed_made = active
            if active:
                self._arrive(DoorPosition.CLOSED)
            elif self._target is not DoorPosition.OPEN:
                self._begin(DoorPosition.OPEN)  # opened by the operator itself (e.g. egress)
            elif self._pins.open is None:
                self._arm_assumed_arrival()
        else:
            if active == self._open_made:
                return
            self._open_made = active
            if active:
                self._arrive(DoorPosition.OPEN)
            elif self._target is not DoorPosition.CLOSED:
                self._begin(DoorPosition.CLOSED)  # closing by itself (hold-open time over)

    def _obstruction_active(self, input_active: bool) -> bool:
        return input_active != self.options.obstruction_normally_closed

    def _on_obstruction(self, obstructed: bool) -> None:
        if obstructed == self._obstructed:
            return
        self._obstructed = obstructed
        self.emit(DoorObstructionChanged(self.name, self.clock.now(), obstructed))
        if obstructed and self._position is DoorPosition.CLOSING and self._pins is not None:
            # the operator stops by itself; stop asking it to close
            self._pins.close_relay.off()
            self._cancel_timers()
            self._target = None
            self._set_position(DoorPosition.STOPPED)
            if self.options.reopen_on_obstruction:
                self._request_open(self._pins)

    def _begin(self, target: DoorPosition) -> None:
        """A motion towards ``target`` started (requested, or seen on the contacts)."""
        self._cancel_timers()
        self._target = target
        self._deadline = self.clock.call_later(2 * self.travel_time, lambda: self._give_up(target))
        if target is DoorPosition.OPEN and self._pins is not None and self._pins.open is None:
            if not self._closed_made:
                self._arm_assumed_arrival()
        self._set_position(
            DoorPosition.OPENING if target is DoorPosition.OPEN else DoorPosition.CLOSING
        )

    def _arm_assumed_arrival(self) -> None:
        """No open contact: count the door open one travel time after it left closed."""
        if self._assumed_arrival is not None:
            self._assumed_arrival.cancel()
        self._assumed_arrival = self.clock.call_later(
            self.travel_time, lambda: self._arrive(DoorPosition.OPEN)
        )

    def _arrive(self, position: DoorPosition) -> None:
        self._cancel_timers()
        self._target = None
        self._set_position(position)
        if self._motion_fault is not None:
            self._motion_fault = None
            self.set_health(HealthStatus.OK, "")

    def _give_up(self, target: DoorPosition) -> None:
        self._deadline = None
        if self._target is not target:
            return
        self._cancel_timers()
        self._target = None
        self._set_position(DoorPosition.STOPPED)
        self._motion_fault = f"door did not reach {target.value} within {2 * self.travel_time:g} s"
        self.set_health(HealthStatus.UNAVAILABLE, self._motion_fault)

    def _cancel_timers(self) -> None:
        for timer in (self._deadline, self._assumed_arrival):
            if timer is not None:
                timer.cancel()
        self._deadline = None
        self._assumed_arrival = None

    def _set_position(self, position: DoorPosition) -> None:
        if position is self._position:
            return
        self._position = position
        self.emit(DoorPositionChanged(self.name, self.clock.now(), position))
