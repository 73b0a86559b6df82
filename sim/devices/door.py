"""Simulated motorised door (operator with position feedback, entry lock and obstruction sensor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.clock import TimerHandle
from hal.devices import DeviceError
from hal.events import DeviceKind, DoorObstructionChanged, DoorPosition, DoorPositionChanged
from hal.health import SelftestResult
from sim.devices._base import SimDevice


class SimDoorOptions(DriverOptions):
    travel_time: float = Field(
        2.0, gt=0.0, description="Seconds for a full travel from closed to open (or back)."
    )
    initial_position: Literal["closed", "open"] = Field(
        "closed", description="Where the door is when the driver is created."
    )
    initial_entry_locked: bool = Field(
        False, description="Whether entry from outside is locked when the driver is created."
    )


@dataclass
class _Motion:
    target: DoorPosition  # OPEN or CLOSED
    direction: int  # +1 opening, -1 closing
    t_start: float
    fraction_start: float
    deadline: float  # when a jammed motion gives up
    stalled: bool = False


class SimDoor(SimDevice):
    """A door operator. ``open()``/``close()`` only start the motion; position feedback arrives
    as ``DoorPositionChanged`` events (``OPENING``/``CLOSING``, then ``OPEN``/``CLOSED``).

    The position is kept as a fraction, 0.0 = closed .. 1.0 = open; reversing mid-travel takes
    time proportional to the remaining travel. Locking only blocks entry from outside, never
    egress.

    Test control:

    - ``obstruct()`` / ``clear()``: the obstruction sensor trips / clears
      (``DoorObstructionChanged``); a closing door stops at once (``STOPPED``) and ``close()``
      raises ``DeviceError("door obstructed")`` while obstructed;
    - ``egress_request()``: a person inside pushes to leave: the door opens regardless of the
      entry lock (returns False only if the operator is failed);
    - ``entry_request() -> bool``: a person outside wants in: opens and returns True unless entry
      is locked or the device failed;
    - ``jam()``: motion never completes: after 2 x ``travel_time`` the door reports ``STOPPED``
      and health ``UNAVAILABLE`` "door did not reach <target> within <n> s";
    - ``fail(reason)``: stops motion, health ``UNAVAILABLE``, ``open``/``close`` raise;
      ``recover()`` undoes ``fail`` and ``jam``;
    - ``assert_position(p)``, ``fraction()``.
    """

    kind = DeviceKind.DOOR
    Options = SimDoorOptions

    def __init__(self, name: str, options: SimDoorOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.travel_time = options.travel_time
        is_open = options.initial_position == "open"
        self._fraction = 1.0 if is_open else 0.0
        self._position = DoorPosition.OPEN if is_open else DoorPosition.CLOSED
        self._entry_locked = options.initial_entry_locked
        self._obstructed = False
        self._jammed = False
        self._motion: _Motion | None = None
        self._timer: TimerHandle | None = None

    # -- protocol ------------------------------------------------------------------------------
    def position(self) -> DoorPosition:
        return self._position

    def obstructed(self) -> bool:
        return self._obstructed

    def entry_locked(self) -> bool:
        return self._entry_locked

    async def open(self) -> None:
        """Start opening (returns at once; watch the position events)."""
        self._record("open")
        self._check()
        self._move(DoorPosition.OPEN)

    async def close(self) -> None:
        """Start closing; raises ``DeviceError("door obstructed")`` while obstructed."""
        self._record("close")
        self._check()
        if self._obstructed:
            raise DeviceError("door obstructed")
        self._move(DoorPosition.CLOSED)

    async def lock_entry(self) -> None:
        """Block entry from outside (egress stays possible)."""
        self._record("lock_entry")
        self._check()
        self._entry_locked = True

    async def unlock_entry(self) -> None:
        self._record("unlock_entry")
        self._check()
        self._entry_locked = False

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        return self._result(
            True,
            f"position {self._position.value}",
            {"position": self._position.value, "fraction": round(self.fraction(), 3)},
        )

    # -- test control --------------------------------------------------------------------------
    def fraction(self) -> float:
        """Current opening, 0.0 = closed .. 1.0 = open."""
        motion = self._motion
        if motion is None or motion.stalled:
            return self._fraction
        moved = (self.clock.now() - motion.t_start) / self.travel_time
        return min(1.0, max(0.0, motion.fraction_start + motion.direction * moved))

    def assert_position(self, position: DoorPosition | str) -> None:
        """Test helper: raise ``AssertionError`` unless the door is at ``position``."""
        expected = DoorPosition(position)
        if self._position is not expected:
            raise AssertionError(
                f"{self.name}: expected door {expected.value}, it is {self._position.value} "
                f"(fraction {self.fraction():.2f})"
            )

    def obstruct(self) -> None:
        """Test control: something is in the doorway. A closing door stops at once."""
        if not self._obstructed:
            self._obstructed = True
            self.emit(DoorObstructionChanged(self.name, self.clock.now(), True))
        if self._position is DoorPosition.CLOSING:
            self._halt()

    def clear(self) -> None:
        """Test control: the doorway is clear again."""
        if self._obstructed:
            self._obstructed = False
            self.emit(DoorObstructionChanged(self.name, self.clock.now(), False))

    def egress_request(self) -> bool:
        """Test control: a person inside pushes to leave. The operator opens regardless of the
        entry lock or an obstruction. Returns False only if the operator is failed."""
        if self.failed:
            return False
        self._move(DoorPosition.OPEN)
        return True

    def entry_request(self) -> bool:
        """Test control: a person outside wants in. Opens and returns True unless entry is
        locked or the device failed (then nothing moves and it returns False)."""
        if self.failed or self._entry_locked:
            return False
        self._move(DoorPosition.OPEN)
        return True

    def jam(self) -> None:
        """Test control: the door jams. The current (or next) motion never completes; 2 x
        ``travel_time`` after it started the door reports ``STOPPED`` and health
        ``UNAVAILABLE``. ``recover()`` clears the jam."""
        self._jammed = True
        motion = self._motion
        if motion is not None and not motion.stalled:
            self._fraction = self.fraction()
            motion.fraction_start = self._fraction
            motion.stalled = True
            self._schedule(motion)

    # -- motion --------------------------------------------------------------------------------
    def _move(self, target: DoorPosition) -> None:
        current = self.fraction()
        self._fraction = current
        self._cancel_timer()
        goal = 1.0 if target is DoorPosition.OPEN else 0.0
        if current == goal:
            self._motion = None
            self._set_position(target)
            return
        now = self.clock.now()
        direction = 1 if goal > current else -1
        motion = _Motion(
            target=target,
            direction=direction,
            t_start=now,
            fraction_start=current,
            deadline=now + 2 * self.travel_time,
            stalled=self._jammed,
        )
        self._motion = motion
        # the timer is armed before anybody can observe the motion: a caller that sleeps
        # exactly the travel time after open() finds the door open
        self._schedule(motion)
        self._set_position(DoorPosition.OPENING if direction > 0 else DoorPosition.CLOSING)

    def _schedule(self, motion: _Motion) -> None:
        """Arm the timer that ends ``motion`` (arrival, or the jam timeout)."""
        self._cancel_timer()
        now = self.clock.now()
        if motion.stalled:
            self._timer = self.clock.call_later(
                motion.deadline - now, lambda: self._give_up(motion)
            )
        else:
            goal = 1.0 if motion.target is DoorPosition.OPEN else 0.0
            remaining = abs(goal - motion.fraction_start) * self.travel_time
            self._timer = self.clock.call_later(
                motion.t_start + remaining - now, lambda: self._arrive(motion)
            )

    def _arrive(self, motion: _Motion) -> None:
        if self._motion is not motion:
            return
        self._timer = None
        self._motion = None
        self._fraction = 1.0 if motion.target is DoorPosition.OPEN else 0.0
        self._set_position(motion.target)

    def _give_up(self, motion: _Motion) -> None:
        if self._motion is not motion:
            return
        self._timer = None
        self.fail(f"door did not reach {motion.target.value} within {2 * self.travel_time:g} s")

    def _halt(self) -> None:
        """Stop where the door is now; a moving door reports ``STOPPED``."""
        self._fraction = self.fraction()
        self._cancel_timer()
        was_moving = self._motion is not None
        self._motion = None
        if was_moving:
            self._set_position(DoorPosition.STOPPED)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set_position(self, position: DoorPosition) -> None:
        if position is self._position:
            return
        self._position = position
        self.emit(DoorPositionChanged(self.name, self.clock.now(), position))

    def _on_fail(self) -> None:
        self._halt()

    def _on_recover(self) -> None:
        self._jammed = False

    async def _on_stop(self) -> None:
        self._halt()
