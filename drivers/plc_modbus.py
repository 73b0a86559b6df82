"""PLC drivers over Modbus TCP (``modbus-tcp``) and Modbus RTU on a serial line (``modbus-rtu``).

The booth PC is the Modbus master; the register map is :mod:`drivers.plc_map`
(``docs/plc-register-map.md``). pymodbus (3.16) is imported lazily in ``start()``: without it
the driver reports health ``unavailable`` and its self-test ``not-present`` naming
``pip install lisa[hardware]``.

The driver keeps a *process image* of the map: a background task polls the discrete inputs, the
coils and the mapped holding registers every ``poll_interval`` (one request each) and emits
``PlcInputChanged`` for every input that changed (and ``EmergencyChanged`` for the emergency
input). The PLC-wired door and light drivers (``drivers.door_plc``, ``drivers.light_plc``) read
that image and write through the helpers below; there is only one Modbus connection.

Health follows the communication: the first failed request makes the PLC ``degraded``,
``max_failures`` failures in a row ``unavailable`` (with the reason); the next successful request
makes it ``ok`` again. After a failure the connection is closed and reopened (at once, then with a
backoff from ``reconnect_initial`` doubling up to ``reconnect_max``). On every (re)connect the
driver checks the PLC's identity and map version, polls once and advances the heartbeat.

It stays one module (about 800 lines): the transport has no clean seam from the register-map
logic, because every request's outcome drives the health and the reconnect backoff, and each
(re)connect runs the identity check, a poll and the heartbeat through the same request path;
the PLC-wired device base (:class:`PlcWiredDevice`) stays next to the one connection it shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from drivers import plc_map
from drivers.plc_map import Table
from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import DeviceEvent, DeviceKind, EmergencyChanged, HealthChanged, PlcInputChanged
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

if TYPE_CHECKING:
    from pymodbus.client.base import ModbusBaseClient
    from pymodbus.pdu import ModbusPDU

log = logging.getLogger("lisa.drivers.plc")

INSTALL_HINT = "pip install lisa[hardware]"
REGISTER_MAX = plc_map.REGISTER_MAX

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusPlcOptions(DriverOptions):
    unit_id: int = Field(
        plc_map.DEFAULT_UNIT_ID, ge=0, le=247, description="Modbus unit (slave) id of the PLC."
    )
    poll_interval: float = Field(
        0.1, gt=0.0, le=10.0, description="Seconds between two polls of the PLC's inputs."
    )
    timeout: float = Field(
        1.0,
        gt=0.0,
        le=30.0,
        description="Seconds to wait for the answer to one request (and for a connect).",
    )
    max_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Failed requests in a row after which the PLC is reported unavailable "
        "(after the first one it is degraded).",
    )
    reconnect_initial: float = Field(
        0.5,
        gt=0.0,
        description="Wait (s) before the second reconnect attempt; doubles up to reconnect_max.",
    )
    reconnect_max: float = Field(10.0, gt=0.0, description="Longest wait between reconnects (s).")
    check_identity: bool = Field(
        True,
        description="Refuse a PLC that does not identify as a LISA booth PLC implementing "
        f"register map version {plc_map.MAP_VERSION} (input registers 1..3).",
    )


class ModbusTcpPlcOptions(ModbusPlcOptions):
    host: str = Field(description="Host name or IP address of the PLC.")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port of the PLC.")


class ModbusRtuPlcOptions(ModbusPlcOptions):
    serial_port: str = Field(
        description="Serial device of the RS-485 adapter, e.g. /dev/lisa-plc-rtu (udev name)."
    )
    baudrate: int = Field(19200, ge=300, le=921600, description="Bits per second.")
    parity: Literal["N", "E", "O"] = Field(
        "E", description="Parity: N(one), E(ven) (the Modbus default), O(dd)."
    )
    bytesize: Literal[7, 8] = Field(8, description="Data bits.")
    stopbits: Literal[1, 2] = Field(1, description="Stop bits.")
    poll_interval: float = Field(
        0.2,
        gt=0.0,
        le=10.0,
        description="Seconds between two polls (three requests each; mind the baud rate).",
    )


class ModbusPlcBase(DeviceBase):
    """A booth PLC reached over Modbus. Subclasses build the pymodbus client."""

    kind: ClassVar[DeviceKind] = DeviceKind.PLC
    options: ModbusPlcOptions
    #: seconds to let the line settle after (re)connecting (serial lines)
    _connect_settle: ClassVar[float] = 0.0

    def __init__(self, name: str, options: ModbusPlcOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._pymodbus_errors: tuple[type[BaseException], ...] = ()
        self._missing: str | None = None
        self._client: ModbusBaseClient | None = None
        self._connect_lock = asyncio.Lock()
        self._next_connect = 0.0
        self._reconnect_wait = 0.0
        self._failures = 0
        self._identity_problem: str | None = None
        self._running = False
        self._poll_task: asyncio.Task[None] | None = None
        # the process image
        self._inputs: dict[str, bool] = dict.fromkeys(plc_map.DISCRETE_INPUTS, False)
        self._coils: dict[str, bool] = dict.fromkeys(plc_map.COILS, False)
        self._holding: dict[str, int] = dict.fromkeys(plc_map.HOLDING_REGISTERS, 0)
        self._identity: dict[str, int] = {}
        self._have_inputs = False
        self._input_watchers: list[Callable[[], None]] = []

    # ------------------------------------------------------------------------------ subclass API
    def endpoint(self) -> str:
        """Where the PLC is, for messages (``host:port`` or the serial device)."""
        raise NotImplementedError

    def _make_client(self) -> ModbusBaseClient:
        raise NotImplementedError

    def _connect_failure(self) -> str:
        return "connection failed"

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect, check the identity, poll once and start polling. Never raises for a missing
        library or an unreachable PLC: the health says so and the poller keeps reconnecting."""
        if self._running:
            return
        try:
            import pymodbus.client  # noqa: F401  (the clients are imported by the subclasses)
            from pymodbus.exceptions import ModbusException
        except ImportError as exc:
            self._missing = f"pymodbus is not installed ({exc}): {INSTALL_HINT}"
            self.set_health(HealthStatus.UNAVAILABLE, self._missing)
            return
        self._missing = None
        self._pymodbus_errors = (ModbusException, OSError, TimeoutError)
        self._running = True
        self._connect_lock = asyncio.Lock()  # on this start's loop
        self._next_connect = 0.0
        self._reconnect_wait = 0.0
        with contextlib.suppress(DeviceError):
            await self._client_ready()
        self._poll_task = asyncio.get_running_loop().create_task(
            self._poll_loop(), name=f"{self.name}-poll"
        )

    async def stop(self) -> None:
        self._running = False
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_client()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def missing_library(self) -> str | None:
        """Why pymodbus cannot be used (with the install hint), or None."""
        return self._missing

    # ------------------------------------------------------------------------------ Plc protocol
    async def read_input(self, name: str) -> bool:
        """Read the discrete input ``name`` from the PLC now (see the register map)."""
        self._known(plc_map.DISCRETE_INPUTS, "input", name)
        await self._poll_inputs()
        return self._inputs[name]

    async def write_output(self, name: str, value: bool) -> None:
        """Write the coil ``name`` (see the register map)."""
        point = self._known(plc_map.COILS, "output", name)
        await self._request(
            f"write {name}",
            5,
            lambda c: c.write_coil(point.address, bool(value), device_id=self.options.unit_id),
        )
        self._coils[name] = bool(value)

    async def read_register(self, address: int) -> int:
        """Read holding register ``address`` (0..65535)."""
        self._check_address(address)
        response = await self._request(
            f"read holding register {address}",
            3,
            lambda c: c.read_holding_registers(address, count=1, device_id=self.options.unit_id),
            count=1,
        )
        value = int(response.registers[0])
        self._note_register(address, value)
        return value

    async def write_register(self, address: int, value: int) -> None:
        """Write holding register ``address`` (0..65535) with ``value`` (0..65535)."""
        self._check_address(address)
        if not 0 <= value <= REGISTER_MAX:
            raise ValueError(f"register value must be within 0..{REGISTER_MAX}, got {value}")
        await self._request(
            f"write holding register {address}",
            6,
            lambda c: c.write_register(address, value, device_id=self.options.unit_id),
        )
        self._note_register(address, value)

    def emergency_active(self) -> bool:
        return self._inputs[plc_map.EMERGENCY_INPUT]

    async def heartbeat(self) -> None:
        """Increment the heartbeat register (wrapping at 65536); the PLC's dead-man watches it."""
        value = (self._holding[plc_map.HEARTBEAT.name] + 1) % (REGISTER_MAX + 1)
        await self.write_register(plc_map.HEARTBEAT.address, value)

    async def selftest(self) -> SelftestResult:
        if self._missing is not None:
            return SelftestResult(self.name, SelftestOutcome.NOT_PRESENT, self._missing)
        if not self._running:
            return SelftestResult(self.name, SelftestOutcome.FAIL, "driver not started")
        try:
            await self.refresh()
        except DeviceError as exc:
            return SelftestResult(self.name, SelftestOutcome.FAIL, str(exc))
        if self._identity_problem is not None:
            return SelftestResult(self.name, SelftestOutcome.FAIL, self._identity_problem)
        notes = []
        if self._inputs[plc_map.SAFE_DEFAULTS_INPUT]:
            notes.append("safe defaults active")
        if self.emergency_active():
            notes.append("emergency input active")
        message = f"PLC at {self.endpoint()} answers, register map v{self.map_version()}"
        if self.deadman_timeout() is not None:
            message += f", dead-man {self.deadman_timeout():g} s"
        if notes:
            message += " (" + ", ".join(notes) + ")"
        return SelftestResult(
            self.name,
            SelftestOutcome.PASS,
            message,
            {
                "endpoint": self.endpoint(),
                "unit_id": self.options.unit_id,
                "emergency": self.emergency_active(),
                "safe_defaults": self._inputs[plc_map.SAFE_DEFAULTS_INPUT],
                "heartbeat": self._holding[plc_map.HEARTBEAT.name],
                "map_version": self.map_version(),
                "deadman_timeout": self.deadman_timeout(),
            },
        )

    # ------------------------------------------------------------------------------ image API
    # used by the PLC-wired door and light drivers
    def input(self, name: str) -> bool:
        """Last polled value of discrete input ``name``."""
        return self._inputs[self._known(plc_map.DISCRETE_INPUTS, "input", name).name]

    def output(self, name: str) -> bool:
        """Last known value of coil ``name`` (polled, or as written)."""
        return self._coils[self._known(plc_map.COILS, "output", name).name]

    def register(self, name: str) -> int:
        """Last known value of the mapped holding register ``name``."""
        return self._holding[self._known(plc_map.HOLDING_REGISTERS, "register", name).name]

    def inputs_known(self) -> bool:
        """True once the inputs have been read from the PLC at least once."""
        return self._have_inputs

    def map_version(self) -> int | None:
        return self._identity.get("map_version")

    def deadman_timeout(self) -> float | None:
        """The PLC's dead-man timeout in seconds, as it reports it."""
        tenths = self._identity.get("deadman_timeout")
        return None if tenths is None else tenths / 10

    def watch_inputs(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after every poll that changed an input (and after the first one);
        returns the function that removes it."""
        self._input_watchers.append(callback)

        def unwatch() -> None:
            if callback in self._input_watchers:
                self._input_watchers.remove(callback)

        return unwatch

    async def write_outputs(self, values: dict[str, bool]) -> None:
        """Write several coils in one request (they must be adjacent in the map)."""
        start, ordered = self._block(plc_map.COILS, "output", values)
        bits = [bool(v) for v in ordered]
        await self._request(
            "write " + ", ".join(values),
            15,
            lambda c: c.write_coils(start, bits, device_id=self.options.unit_id),
        )
        for name, value in values.items():
            self._coils[name] = bool(value)

    async def write_registers(self, values: dict[str, int]) -> None:
        """Write several mapped holding registers in one request (adjacent in the map)."""
        for name, value in values.items():
            if not 0 <= value <= REGISTER_MAX:
                raise ValueError(f"{name}: value must be within 0..{REGISTER_MAX}, got {value}")
        start, ordered = self._block(plc_map.HOLDING_REGISTERS, "register", values)
        registers = [int(v) for v in ordered]
        await self._request(
            "write " + ", ".join(values),
            16,
            lambda c: c.write_registers(start, registers, device_id=self.options.unit_id),
        )
        self._holding.update(values)

    async def refresh(self) -> None:
        """Poll the inputs, coils and mapped holding registers now."""
        await self._poll_inputs()
        coils = plc_map.COILS
        first = plc_map.first_address(Table.COIL)
        response = await self._request(
            "read coils",
            1,
            lambda c: c.read_coils(first, count=len(coils), device_id=self.options.unit_id),
            count=len(coils),
        )
        for name, point in coils.items():
            self._coils[name] = bool(response.bits[point.address - first])
        holding = plc_map.HOLDING_REGISTERS
        first = plc_map.first_address(Table.HOLDING_REGISTER)
        response = await self._request(
            "read holding registers",
            3,
            lambda c: c.read_holding_registers(
                first, count=len(holding), device_id=self.options.unit_id
            ),
            count=len(holding),
        )
        for name, point in holding.items():
            self._holding[name] = int(response.registers[point.address - first])

    # ------------------------------------------------------------------------------ internals
    async def _poll_loop(self) -> None:
        while self._running:
            try:
                await self.refresh()
            except DeviceError:
                pass  # health tells; the next round reconnects
            except Exception:  # a bug must not end the polling
                log.exception("PLC poll failed", extra={"device": self.name})
            await self.clock.sleep(self.options.poll_interval)

    async def _poll_inputs(self) -> None:
        inputs = plc_map.DISCRETE_INPUTS
        first = plc_map.first_address(Table.DISCRETE_INPUT)
        response = await self._request(
            "read inputs",
            2,
            lambda c: c.read_discrete_inputs(
                first, count=len(inputs), device_id=self.options.unit_id
            ),
            count=len(inputs),
        )
        self._apply_inputs({n: bool(response.bits[p.address - first]) for n, p in inputs.items()})

    def _apply_inputs(self, values: dict[str, bool]) -> None:
        changed = [(name, value) for name, value in values.items() if self._inputs[name] != value]
        first = not self._have_inputs
        self._inputs.update(values)
        self._have_inputs = True
        now = self.clock.now()
        for name, value in changed:
            self.emit(PlcInputChanged(self.name, now, name, value))
            if name == plc_map.EMERGENCY_INPUT:
                self.emit(EmergencyChanged(self.name, now, value))
        if changed or first:
            for watcher in list(self._input_watchers):
                try:
                    watcher()
                except Exception:
                    log.exception("PLC input watcher failed", extra={"device": self.name})

    async def _request(
        self,
        what: str,
        function_code: int,
        call: Callable[[ModbusBaseClient], Awaitable[ModbusPDU]],
        count: int = 0,
    ) -> ModbusPDU:
        """One Modbus request with health bookkeeping; raises ``DeviceError`` on failure.

        The answer must fit the request (function code; ``count`` values for a read): on a
        serial line a late answer to an earlier request could otherwise pass for this one (RTU
        has no transaction ids)."""
        client = await self._client_ready()
        try:
            async with asyncio.timeout(2 * self.options.timeout + 1.0):
                response = await call(client)
        except self._pymodbus_errors as exc:
            reason = f"no answer from the PLC at {self.endpoint()} to {what}: {_describe(exc)}"
            self._failed(reason)
            self._close_client()
            raise DeviceError(f"{self.name}: {reason}") from exc
        if response.isError() and response.function_code == function_code | 0x80:
            self._succeeded()
            code = int(getattr(response, "exception_code", 0))
            name = _EXCEPTION_NAMES.get(code, "unknown exception")
            raise DeviceError(f"{self.name}: the PLC refused to {what}: {name} (code {code})")
        values = len(response.bits) if function_code in (1, 2) else len(response.registers)
        if response.function_code != function_code or values < count:
            reason = (
                f"garbled answer from the PLC at {self.endpoint()} to {what} "
                f"(function code {response.function_code}, {values} values)"
            )
            self._failed(reason)
            self._close_client()
            raise DeviceError(f"{self.name}: {reason}")
        self._succeeded()
        return response

    async def _client_ready(self) -> ModbusBaseClient:
        if self._missing is not None:
            raise DeviceError(f"{self.name}: {self._missing}")
        if not self._running:
            raise DeviceError(f"{self.name}: driver not started")
        client = self._client
        if client is not None and client.connected:
            return client
        async with self._connect_lock:
            client = self._client
            if client is not None and client.connected:
                return client
            if self.clock.now() < self._next_connect:
                reason = self._health.reason or "reconnecting"
                raise DeviceError(f"{self.name}: not connected to the PLC ({reason})")
            return await self._connect()

    async def _connect(self) -> ModbusBaseClient:
        self._close_client()
        client = self._make_client()
        self._client = client
        try:
            connected = bool(await client.connect())
            problem = self._connect_failure()
        except self._pymodbus_errors as exc:
            connected, problem = False, _describe(exc)
        if not connected:
            self._client = None
            client.close()
            self._schedule_reconnect()
            reason = f"cannot connect to the PLC at {self.endpoint()}: {problem}"
            self._failed(reason)
            raise DeviceError(f"{self.name}: {reason}")
        self._reconnect_wait = 0.0
        self._next_connect = 0.0
        if self._connect_settle:
            # a late answer to a request of the previous connection may still be on the line:
            # arriving while no request is pending, pymodbus drops it
            await self.clock.sleep(self._connect_settle)
        try:
            await self._check_identity()
            await self.refresh()
            await self.heartbeat()
        except DeviceError:
            self._schedule_reconnect()
            raise
        log.info("PLC connected", extra={"device": self.name, "endpoint": self.endpoint()})
        return client

    async def _check_identity(self) -> None:
        points = plc_map.INPUT_REGISTERS
        first = plc_map.first_address(Table.INPUT_REGISTER)
        response = await self._request(
            "read identity",
            4,
            lambda c: c.read_input_registers(
                first, count=len(points), device_id=self.options.unit_id
            ),
            count=len(points),
        )
        self._identity = {n: int(response.registers[p.address - first]) for n, p in points.items()}
        problem = None
        if not self.options.check_identity:
            pass
        elif (self._identity["identity_0"], self._identity["identity_1"]) != plc_map.IDENTITY:
            problem = (
                f"the device at {self.endpoint()} does not identify as a LISA booth PLC "
                f"(input registers 1..2 = {self._identity['identity_0']:#06x} "
                f"{self._identity['identity_1']:#06x})"
            )
        elif self._identity["map_version"] != plc_map.MAP_VERSION:
            problem = (
                f"the PLC at {self.endpoint()} implements register map version "
                f"{self._identity['map_version']}, this driver needs {plc_map.MAP_VERSION}"
            )
        self._identity_problem = problem
        if problem is not None:
            self.set_health(HealthStatus.UNAVAILABLE, problem)
            self._close_client()
            raise DeviceError(f"{self.name}: {problem}")

    def _schedule_reconnect(self) -> None:
        self._next_connect = self.clock.now() + self._reconnect_wait
        if self._reconnect_wait == 0.0:
            self._reconnect_wait = self.options.reconnect_initial
        else:
            self._reconnect_wait = min(2 * self._reconnect_wait, self.options.reconnect_max)

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _succeeded(self) -> None:
        self._failures = 0
        if self._identity_problem is None:
            self.set_health(HealthStatus.OK, "")

    def _failed(self, reason: str) -> None:
        self._failures += 1
        limit = self.options.max_failures
        if self._failures >= limit:
            status = HealthStatus.UNAVAILABLE
            text = f"{reason} ({self._failures} failed attempts in a row)"
        else:
            status = HealthStatus.DEGRADED
            text = f"{reason} (failed attempt {self._failures}; unavailable after {limit})"
        # keep the first reason of a degraded / unavailable period: a changing message would
        # report the same fault again and again
        if self._health.status is not status:
            self.set_health(status, text)

    def _note_register(self, address: int, value: int) -> None:
        for name, point in plc_map.HOLDING_REGISTERS.items():
            if point.address == address:
                self._holding[name] = value

    def _known(self, table: dict[str, plc_map.Point], what: str, name: str) -> plc_map.Point:
        point = table.get(name)
        if point is None:
            known = ", ".join(table)
            raise DeviceError(f"{self.name}: unknown {what} {name!r} (known: {known})")
        return point

    def _block(
        self, table: dict[str, plc_map.Point], what: str, values: dict[str, Any]
    ) -> tuple[int, Sequence[Any]]:
        points = sorted((self._known(table, what, n) for n in values), key=lambda p: p.address)
        start = points[0].address
        if [p.address for p in points] != list(range(start, start + len(points))):
            raise ValueError(f"{', '.join(values)} are not adjacent in the register map")
        return start, [values[p.name] for p in points]

    @staticmethod
    def _check_address(address: int) -> None:
        if not 0 <= address <= REGISTER_MAX:
            raise ValueError(f"register address must be within 0..{REGISTER_MAX}, got {address}")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return text or type(exc).__name__


class ModbusTcpPlc(ModbusPlcBase):
    """The booth PLC over Modbus TCP (driver ``modbus-tcp``)."""

    Options = ModbusTcpPlcOptions
    options: ModbusTcpPlcOptions

    def __init__(self, name: str, options: ModbusTcpPlcOptions, context: DriverContext) -> None:
        super().__init__(name, options, context)

    def endpoint(self) -> str:
        return f"{self.options.host}:{self.options.port} (unit {self.options.unit_id})"

    def _connect_failure(self) -> str:
        return f"no TCP connection within {self.options.timeout:g} s (refused or unreachable)"

    def _make_client(self) -> ModbusBaseClient:
        from pymodbus.client import AsyncModbusTcpClient

        return AsyncModbusTcpClient(
            self.options.host,
            port=self.options.port,
            name=self.name,
            timeout=self.options.timeout,
            retries=0,
            reconnect_delay=0,
        )


class ModbusRtuPlc(ModbusPlcBase):
    """The booth PLC over Modbus RTU on a serial line / RS-485 (driver ``modbus-rtu``)."""

    Options = ModbusRtuPlcOptions
    options: ModbusRtuPlcOptions
    _connect_settle = 0.1

    def __init__(self, name: str, options: ModbusRtuPlcOptions, context: DriverContext) -> None:
        super().__init__(name, options, context)

    def endpoint(self) -> str:
        o = self.options
        return (
            f"{o.serial_port} ({o.baudrate} {o.bytesize}{o.parity}{o.stopbits}, unit {o.unit_id})"
        )

    def _connect_failure(self) -> str:
        return "cannot open the serial port (missing, or no permission: group dialout?)"

    def _make_client(self) -> ModbusBaseClient:
        from pymodbus.client import AsyncModbusSerialClient

        o = self.options
        return AsyncModbusSerialClient(
            o.serial_port,
            baudrate=o.baudrate,
            parity=o.parity,
            bytesize=o.bytesize,
            stopbits=o.stopbits,
            name=self.name,
            timeout=o.timeout,
            retries=0,
            reconnect_delay=0,
        )


def find_modbus_plc(context: DriverContext, who: str) -> ModbusPlcBase:
    """The booth's Modbus PLC for a PLC-wired device (``door``/``light`` driver ``plc``);
    raises ``DeviceError`` with a clear message when the booth has none."""
    plc = context.devices.get("plc")
    if plc is None:
        raise DeviceError(
            f"{who}: driver 'plc' needs a PLC, but the booth config has no [devices.plc]"
        )
    if not isinstance(plc, ModbusPlcBase):
        driver = type(plc).__name__
        raise DeviceError(
            f"{who}: driver 'plc' needs the PLC driver 'modbus-tcp' or 'modbus-rtu', "
            f"but devices.plc is a {driver}"
        )
    return plc


class PlcWiredDevice(DeviceBase):
    """Base of the devices wired through the booth's Modbus PLC (door and light driver ``plc``).

    The PLC is looked up in ``start()`` (the door slot is built and started before the PLC's):
    ``context.devices["plc"]`` must be a ``modbus-tcp`` / ``modbus-rtu`` PLC, else the device is
    ``unavailable`` with the reason. Health follows the PLC's. When the PLC's safe defaults end
    (heartbeat back), the device writes again what the booth last asked for (``_reassert``).
    """

    def __init__(self, name: str, context: DriverContext) -> None:
        super().__init__(name, context)
        self._plc: ModbusPlcBase | None = None
        self._problem: str | None = None
        self._running = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._safe_defaults = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._running:
            return
        try:
            plc = find_modbus_plc(self.context, self.name)
        except DeviceError as exc:
            self._problem = str(exc)
            log.error("no Modbus PLC", extra={"device": self.name, "error": self._problem})
            self.set_health(HealthStatus.UNAVAILABLE, self._problem)
            return
        self._problem = None
        self._plc = plc
        self._running = True
        self._unsubscribe = [plc.subscribe(self._on_plc_event), plc.watch_inputs(self._on_inputs)]
        if plc.inputs_known():
            self._safe_defaults = plc.input(plc_map.SAFE_DEFAULTS_INPUT)
            self._inputs_changed(initial=True)
        self._update_health()

    async def stop(self) -> None:
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- hooks -------------------------------------------------------------------------------
    def _inputs_changed(self, initial: bool) -> None:
        """The PLC's inputs changed (``initial``: first look at them, emit nothing)."""

    def _own_fault(self) -> str | None:
        """A fault of the device itself (reported through a PLC input), or None."""
        return None

    async def _reassert(self) -> None:
        """Write again what the booth last asked for (after the PLC's safe defaults)."""

    # -- plumbing ----------------------------------------------------------------------------
    def _require(self) -> ModbusPlcBase:
        if self._problem is not None:
            raise DeviceError(self._problem)
        if self._plc is None or not self._running:
            raise DeviceError(f"{self.name}: driver not started")
        return self._plc

    def _plc_selftest_problem(self) -> SelftestResult | None:
        """A non-passing self-test result if the PLC side is not usable, else None."""
        if self._problem is not None:
            return SelftestResult(self.name, SelftestOutcome.FAIL, self._problem)
        plc = self._plc
        if plc is None or not self._running:
            return SelftestResult(self.name, SelftestOutcome.FAIL, "driver not started")
        if plc.missing_library is not None:
            return SelftestResult(self.name, SelftestOutcome.NOT_PRESENT, plc.missing_library)
        return None

    def _on_plc_event(self, event: DeviceEvent) -> None:
        if isinstance(event, HealthChanged):
            self._update_health()

    def _on_inputs(self) -> None:
        plc = self._plc
        if plc is None or not self._running:
            return
        safe = plc.input(plc_map.SAFE_DEFAULTS_INPUT)
        ended = self._safe_defaults and not safe
        self._safe_defaults = safe
        self._inputs_changed(initial=False)
        self._update_health()
        if ended:
            self._spawn(self._reassert_logged())

    async def _reassert_logged(self) -> None:
        try:
            await self._reassert()
        except (DeviceError, ValueError) as exc:
            log.warning("re-assert failed", extra={"device": self.name, "error": str(exc)})

    def _update_health(self) -> None:
        if self._problem is not None:
            self.set_health(HealthStatus.UNAVAILABLE, self._problem)
            return
        plc = self._plc
        if plc is None:
            return
        plc_health = plc.health()
        fault = self._own_fault()
        if plc_health.status is HealthStatus.UNAVAILABLE:
            self.set_health(HealthStatus.UNAVAILABLE, f"PLC unavailable: {plc_health.reason}")
        elif fault is not None:
            self.set_health(HealthStatus.UNAVAILABLE, fault)
        elif plc_health.status is HealthStatus.DEGRADED:
            self.set_health(HealthStatus.DEGRADED, f"PLC degraded: {plc_health.reason}")
        else:
            self.set_health(HealthStatus.OK, "")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}-reassert")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
