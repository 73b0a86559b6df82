"""Simulated PLC: named digital I/O, holding registers, emergency input and a dead-man heartbeat."""

from __future__ import annotations

from pydantic import Field, model_validator

from hal.base import DriverContext, DriverOptions
from hal.clock import TimerHandle
from hal.devices import DeviceError
from hal.events import DeviceKind, EmergencyChanged, PlcInputChanged
from hal.health import SelftestResult
from sim.devices._base import SimDevice

REGISTER_MAX = 0xFFFF


def _default_inputs() -> dict[str, bool]:
    return {"emergency": False, "door_obstruction": False, "maintenance_key": False}


def _default_outputs() -> dict[str, bool]:
    return {"door_release": False, "sign_out_of_service": False, "emergency_light": False}


def _default_safe_outputs() -> dict[str, bool]:
    return {"door_release": True, "sign_out_of_service": True}


class SimPlcOptions(DriverOptions):
    inputs: dict[str, bool] = Field(
        default_factory=_default_inputs,
        description="Digital inputs by name with their initial value.",
    )
    outputs: dict[str, bool] = Field(
        default_factory=_default_outputs,
        description="Digital outputs by name with their initial value.",
    )
    emergency_input: str = Field(
        "emergency", description="The input wired to the emergency / fire alarm."
    )
    heartbeat_register: int = Field(
        100, ge=0, le=REGISTER_MAX, description="Register the PC's heartbeat increments."
    )
    heartbeat_timeout: float = Field(
        3.0,
        gt=0.0,
        description="Seconds without heartbeat after which the PLC falls back to safe defaults.",
    )
    safe_outputs: dict[str, bool] = Field(
        default_factory=_default_safe_outputs,
        description="Output values the PLC applies on its own when the heartbeat is lost.",
    )

    @model_validator(mode="after")
    def _check_names(self) -> SimPlcOptions:
        if self.emergency_input not in self.inputs:
            raise ValueError(f"emergency_input {self.emergency_input!r} is not among the inputs")
        unknown = sorted(set(self.safe_outputs) - set(self.outputs))
        if unknown:
            raise ValueError(f"safe_outputs name unknown outputs: {', '.join(unknown)}")
        return self


class SimPlc(SimDevice):
    """A PLC with named digital inputs/outputs and 16-bit registers.

    Dead-man: while started, the PLC watches the heartbeat register. Without a ``heartbeat()``
    for ``heartbeat_timeout`` seconds it sets ``safe_defaults_active``, applies ``safe_outputs``
    and emits ``PlcInputChanged("safe_defaults", True)``; the next heartbeat ends that
    (``PlcInputChanged("safe_defaults", False)``).

    Test control:

    - ``trip_fire_alarm()`` / ``clear_fire_alarm()``: the emergency input goes active / clears
      (``PlcInputChanged`` + ``EmergencyChanged``);
    - ``set_input(name, value)``: drive any input (events only on change);
    - ``output(name)``: read back an output the PC wrote;
    - ``fail(reason)`` / ``recover()``: communication lost: every request raises
      ``DeviceError`` (and since no heartbeat arrives, the dead-man trips).
    """

    kind = DeviceKind.PLC
    Options = SimPlcOptions

    def __init__(self, name: str, options: SimPlcOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.inputs: dict[str, bool] = dict(options.inputs)
        self.outputs: dict[str, bool] = dict(options.outputs)
        self.registers: dict[int, int] = {options.heartbeat_register: 0}
        self.safe_defaults_active = False
        self._watchdog: TimerHandle | None = None

    # -- protocol ------------------------------------------------------------------------------
    async def read_input(self, name: str) -> bool:
        self._check()
        self._known(self.inputs, "input", name)
        return self.inputs[name]

    async def write_output(self, name: str, value: bool) -> None:
        self._record("write_output", name=name, value=value)
        self._check()
        self._known(self.outputs, "output", name)
        self.outputs[name] = bool(value)

    async def read_register(self, address: int) -> int:
        self._check()
        self._address(address)
        return self.registers.get(address, 0)

    async def write_register(self, address: int, value: int) -> None:
        self._record("write_register", address=address, value=value)
        self._check()
        self._address(address)
        if not 0 <= value <= REGISTER_MAX:
            raise ValueError(f"register value must be within 0..{REGISTER_MAX}, got {value}")
        self.registers[address] = value

    def emergency_active(self) -> bool:
        return self.inputs[self.options.emergency_input]

    async def heartbeat(self) -> None:
        """Increment the heartbeat register (wrapping at 65536) and re-arm the dead-man."""
        self._record("heartbeat")
        self._check()
        register = self.options.heartbeat_register
        self.registers[register] = (self.registers.get(register, 0) + 1) % (REGISTER_MAX + 1)
        self._arm_watchdog()
        if self.safe_defaults_active:
            self.safe_defaults_active = False
            self.emit(PlcInputChanged(self.name, self.clock.now(), "safe_defaults", False))

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        return self._result(
            True,
            "PLC reachable" + (", safe defaults active" if self.safe_defaults_active else ""),
            {
                "emergency": self.emergency_active(),
                "safe_defaults": self.safe_defaults_active,
                "heartbeat": self.registers.get(self.options.heartbeat_register, 0),
            },
        )

    # -- test control --------------------------------------------------------------------------
    def set_input(self, name: str, value: bool) -> None:
        """Test control: drive input ``name``; emits ``PlcInputChanged`` (and
        ``EmergencyChanged`` for the emergency input) when the value changes."""
        self._known(self.inputs, "input", name)
        value = bool(value)
        if self.inputs[name] == value:
            return
        self.inputs[name] = value
        now = self.clock.now()
        self.emit(PlcInputChanged(self.name, now, name, value))
        if name == self.options.emergency_input:
            self.emit(EmergencyChanged(self.name, now, value))

    def trip_fire_alarm(self) -> None:
        """Test control: the fire alarm / emergency input goes active."""
        self.set_input(self.options.emergency_input, True)

    def clear_fire_alarm(self) -> None:
        """Test control: the fire alarm / emergency input clears."""
        self.set_input(self.options.emergency_input, False)

    def output(self, name: str) -> bool:
        """Test helper: the current value of output ``name``."""
        self._known(self.outputs, "output", name)
        return self.outputs[name]

    # -- internals -----------------------------------------------------------------------------
    async def _on_start(self) -> None:
        self._arm_watchdog()

    async def _on_stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _arm_watchdog(self) -> None:
        if not self.running:
            return
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = self.clock.call_later(self.options.heartbeat_timeout, self._heartbeat_lost)

    def _heartbeat_lost(self) -> None:
        self._watchdog = None
        if self.safe_defaults_active:
            return
        self.safe_defaults_active = True
        self.outputs.update(self.options.safe_outputs)
        self.emit(PlcInputChanged(self.name, self.clock.now(), "safe_defaults", True))

    def _known(self, table: dict[str, bool], what: str, name: str) -> None:
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise DeviceError(f"{self.name}: unknown {what} {name!r} (known: {known})")

    @staticmethod
    def _address(address: int) -> None:
        if not 0 <= address <= REGISTER_MAX:
            raise ValueError(f"register address must be within 0..{REGISTER_MAX}, got {address}")
