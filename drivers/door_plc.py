"""The door operator wired through the booth's Modbus PLC (door driver ``plc``).

Commands are the PLC's command coils ``door_open_request`` / ``door_close_request`` (one write,
the PLC takes and resets them) and the level coil ``entry_lock``; the position comes from the
operator's inputs as the PLC driver polls them (``door_open_limit``, ``door_closed_limit``,
``door_moving`` + ``door_opening``; moving nowhere and at no end position is ``STOPPED``), the
obstruction from ``door_obstruction``. ``door_fault`` makes the door ``unavailable``, as does an
unavailable PLC. Needs ``[devices.plc]`` with driver ``modbus-tcp`` or ``modbus-rtu``; see
``docs/plc-register-map.md``.
"""

from __future__ import annotations

from drivers.plc_modbus import ModbusPlcBase, PlcWiredDevice
from hal.base import DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import DeviceKind, DoorObstructionChanged, DoorPosition, DoorPositionChanged
from hal.health import SelftestOutcome, SelftestResult

_FAULT = "the door operator reports a fault (PLC input door_fault)"


class PlcDoorOptions(DriverOptions):
    """No options: the door follows the booth's PLC (``[devices.plc]``)."""


def position_from_inputs(plc: ModbusPlcBase) -> DoorPosition:
    """The door position the operator's inputs describe."""
    if plc.input("door_moving"):
        return DoorPosition.OPENING if plc.input("door_opening") else DoorPosition.CLOSING
    open_limit, closed_limit = plc.input("door_open_limit"), plc.input("door_closed_limit")
    if open_limit and not closed_limit:
        return DoorPosition.OPEN
    if closed_limit and not open_limit:
        return DoorPosition.CLOSED
    if open_limit and closed_limit:  # both end switches: wiring fault
        return DoorPosition.UNKNOWN
    return DoorPosition.STOPPED


class PlcDoor(PlcWiredDevice):
    """A door whose operator is wired to the PLC. ``open()``/``close()`` only start the motion;
    position feedback arrives as ``DoorPositionChanged`` events."""

    kind = DeviceKind.DOOR
    Options = PlcDoorOptions

    def __init__(self, name: str, options: PlcDoorOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._position = DoorPosition.UNKNOWN
        self._obstructed = False
        self._fault = False
        self._wanted_position: DoorPosition | None = None
        self._wanted_lock: bool | None = None

    # -- protocol ------------------------------------------------------------------------------
    def position(self) -> DoorPosition:
        return self._position

    def obstructed(self) -> bool:
        return self._obstructed

    def entry_locked(self) -> bool:
        plc = self._plc
        return plc is not None and plc.output("entry_lock")

    async def open(self) -> None:
        """Ask the PLC to open (also while locked or obstructed: egress is never blocked)."""
        self._wanted_position = DoorPosition.OPEN
        await self._command(open_door=True)

    async def close(self) -> None:
        """Ask the PLC to close; refused (``DeviceError``) while obstructed, during an
        emergency, while the PLC holds its safe defaults, or with a door fault."""
        self._wanted_position = DoorPosition.CLOSED
        plc = self._require()
        if self._obstructed or plc.input("door_obstruction"):
            raise DeviceError("door obstructed")
        if plc.emergency_active():
            raise DeviceError(f"{self.name}: emergency input active: the PLC holds the door open")
        if plc.input("safe_defaults"):
            raise DeviceError(
                f"{self.name}: the PLC holds its safe defaults (no heartbeat): it does not close"
            )
        if self._fault:
            raise DeviceError(f"{self.name}: {_FAULT}")
        await self._command(open_door=False)

    async def lock_entry(self) -> None:
        """No entry from outside (egress stays possible)."""
        self._wanted_lock = True
        await self._require().write_output("entry_lock", True)

    async def unlock_entry(self) -> None:
        self._wanted_lock = False
        await self._require().write_output("entry_lock", False)

    async def selftest(self) -> SelftestResult:
        problem = self._plc_selftest_problem()
        if problem is not None:
            return problem
        plc = self._require()
        try:
            await plc.refresh()
        except DeviceError as exc:
            return SelftestResult(self.name, SelftestOutcome.FAIL, str(exc))
        self._refresh_state(emit=True)
        details = {
            "position": self._position.value,
            "obstructed": self._obstructed,
            "entry_locked": self.entry_locked(),
            "fault": self._fault,
        }
        if self._fault:
            return SelftestResult(self.name, SelftestOutcome.FAIL, _FAULT, details)
        if self._position is DoorPosition.UNKNOWN:
            message = "both end switches report at once (wiring?)"
            return SelftestResult(self.name, SelftestOutcome.FAIL, message, details)
        return SelftestResult(
            self.name, SelftestOutcome.PASS, f"position {self._position.value} (PLC)", details
        )

    # -- internals -----------------------------------------------------------------------------
    async def _command(self, open_door: bool) -> None:
        plc = self._require()
        await plc.write_outputs(
            {"door_open_request": open_door, "door_close_request": not open_door}
        )
        # the PLC has taken the command before it answers the next request: read the motion now
        await plc.read_input("door_moving")

    def _inputs_changed(self, initial: bool) -> None:
        self._refresh_state(emit=not initial)

    def _refresh_state(self, emit: bool) -> None:
        plc = self._plc
        if plc is None or not plc.inputs_known():
            return
        position = position_from_inputs(plc)
        obstructed = plc.input("door_obstruction")
        self._fault = plc.input("door_fault")
        # both values first, then the events: a listener reacting to one sees the other too
        old_position, self._position = self._position, position
        old_obstructed, self._obstructed = self._obstructed, obstructed
        if not emit:
            return
        now = self.clock.now()
        if obstructed != old_obstructed:
            self.emit(DoorObstructionChanged(self.name, now, obstructed))
        if position is not old_position:
            self.emit(DoorPositionChanged(self.name, now, position))

    def _own_fault(self) -> str | None:
        return _FAULT if self._fault else None

    async def _reassert(self) -> None:
        if self._wanted_lock is not None:
            await self._require().write_output("entry_lock", self._wanted_lock)
        if self._wanted_position is DoorPosition.OPEN:
            await self.open()
        elif self._wanted_position is DoorPosition.CLOSED:
            await self.close()
