"""A simulated booth PLC: a pymodbus Modbus server holding exactly the register map of
:mod:`drivers.plc_map` (``docs/plc-register-map.md``), with a door operator, the fire alarm and
the dead-man heartbeat behind it.

It is the real protocol peer of the ``modbus-tcp`` / ``modbus-rtu`` PLC drivers (and of the door
and light driver ``plc``) in tests, and ``lisa sim plc-server`` runs it stand-alone.

Behaviour (what a PLC program for the booth has to do):

- *door commands*: ``door_open_request`` / ``door_close_request`` are taken in the next scan and
  reset to 0 (open wins); a close is refused while obstructed, during an emergency, in safe
  defaults or with a door fault. The door travels ``travel_time`` seconds; ``door_moving`` with
  ``door_opening`` while it moves, then the limit switch. An obstruction stops a closing door.
- *fire alarm* (``emergency`` input): entry lock released, door opened, closing refused.
- *dead-man*: when the ``heartbeat`` register has not changed for ``heartbeat_timeout`` seconds,
  ``safe_defaults`` goes to 1: entry lock released (and held so), door opened once, sign held at
  out-of-service, closing refused; the next heartbeat change ends it.

Test control (synchronous, on the loop the server runs on): ``set_input(name, value)``,
``trip_fire_alarm()`` / ``clear_fire_alarm()``, ``obstruct()`` / ``clear()``,
``egress_request()``, ``entry_request()``, ``jam()``, ``set_fault(on)``, ``trip_dead_man()``;
read back with ``input(name)``, ``output(name)``, ``register(name)``, ``door_position()``,
``status()`` and ``commands`` (every door command taken, with time and whether it was refused).

The coils, inputs and registers live in pymodbus' own datastore (``SimDevice``; the old
``ModbusDeviceContext`` API is deprecated in 3.16); the PLC "program" runs on every write (the
datastore's ``action`` hook) and on its own timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers import plc_map
from drivers.plc_map import Table
from hal.events import SignState

if TYPE_CHECKING:
    from pymodbus.constants import ExcCodes
    from pymodbus.server import ModbusSerialServer, ModbusTcpServer
    from pymodbus.simulator import SimDevice

_WRITE_FUNCTIONS = {
    5: Table.COIL,
    6: Table.HOLDING_REGISTER,
    15: Table.COIL,
    16: Table.HOLDING_REGISTER,
}

#: A register block of the pymodbus runtime: (first register index, count, registers, flags).
_Block = tuple[int, int, list[int], list[int]]


@dataclass
class _Motion:
    opening: bool
    t_start: float
    fraction_start: float
    stalled: bool = False


@dataclass(frozen=True)
class Command:
    """A door command the PLC took: ``open`` or ``close``; ``refused`` names why not done."""

    t: float
    name: str
    refused: str = ""


class PlcServer:
    """The simulated PLC. ``await start_tcp()`` (or ``start_rtu()``), ``await stop()``."""

    def __init__(
        self,
        *,
        unit_id: int = plc_map.DEFAULT_UNIT_ID,
        travel_time: float = 2.0,
        heartbeat_timeout: float = 3.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if travel_time <= 0 or heartbeat_timeout <= 0:
            raise ValueError("travel_time and heartbeat_timeout must be positive")
        self.unit_id = unit_id
        self.travel_time = travel_time
        self.heartbeat_timeout = heartbeat_timeout
        self.on_event = on_event
        self.commands: list[Command] = []
        self.heartbeats = 0
        self.host = ""
        self.port = 0
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._blocks: dict[str, _Block] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        # the door operator
        self._fraction = 0.0  # 0 closed .. 1 open
        self._motion: _Motion | None = None
        self._door_timer: asyncio.TimerHandle | None = None
        self._jammed = False
        self._obstructed = False
        self._fault = False
        # the PLC program
        self._fire = False
        self._safe = False
        self._last_heartbeat = 0
        self._watchdog: asyncio.TimerHandle | None = None
        self._scan_pending = False

    # ------------------------------------------------------------------------------ lifecycle
    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP on ``host:port`` (0: a free port); returns the port."""
        from pymodbus.server import ModbusTcpServer

        self._prepare()
        server = ModbusTcpServer(self._device(), address=(host, port))
        await self._serve(server)
        listener: Any = server.transport
        self.host, self.port = host, int(listener.sockets[0].getsockname()[1])
        return self.port

    async def start_rtu(
        self,
        serial_port: str,
        *,
        baudrate: int = 19200,
        parity: str = "E",
        bytesize: int = 8,
        stopbits: int = 1,
    ) -> None:
        """Serve Modbus RTU on a serial device (a pseudo-terminal in tests). pymodbus also takes
        ``socket://HOST:PORT`` here: RTU frames over a TCP byte stream (like a transparent
        RS-485/Ethernet converter); port 0 picks a free port (then in ``self.port``)."""
        from pymodbus.server import ModbusSerialServer

        self._prepare()
        server = ModbusSerialServer(
            self._device(),
            port=serial_port,
            baudrate=baudrate,
            parity=parity,
            bytesize=bytesize,
            stopbits=stopbits,
        )
        await self._serve(server)
        self.host = serial_port
        listener: Any = server.transport
        if serial_port.startswith("socket://"):
            self.port = int(listener.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for handle in (self._watchdog, self._door_timer):
            if handle is not None:
                handle.cancel()
        self._watchdog = self._door_timer = None
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def _prepare(self) -> None:
        if self._server is not None:
            raise RuntimeError("the PLC server is already running")
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()

    def _device(self) -> SimDevice:
        from pymodbus.simulator import DataType, SimData, SimDevice

        identity = [
            *plc_map.IDENTITY,
            plc_map.MAP_VERSION,
            round(self.heartbeat_timeout * 10),
        ]
        return SimDevice(
            id=self.unit_id,
            simdata=(
                [SimData(1, count=plc_map.count(Table.COIL), values=False, datatype=DataType.BITS)],
                [
                    SimData(
                        1,
                        count=plc_map.count(Table.DISCRETE_INPUT),
                        values=False,
                        datatype=DataType.BITS,
                    )
                ],
                # the whole holding register space: the map plus general-purpose memory
                [SimData(0, count=plc_map.REGISTER_MAX + 1, values=0, datatype=DataType.REGISTERS)],
                [SimData(1, values=identity, datatype=DataType.REGISTERS, readonly=True)],
            ),
            action=self._action,
        )

    async def _serve(self, server: ModbusTcpServer | ModbusSerialServer) -> None:
        await server.serve_forever(background=True)
        runtime: Any = server.context
        self._blocks = dict(runtime.devices[self.unit_id].block)
        self._server = server
        self._arm_watchdog()
        self._publish()

    # ------------------------------------------------------------------------------ test control
    def set_input(self, name: str, value: bool) -> None:
        """Drive an input wired to the outside world: ``emergency``, ``door_obstruction`` or
        ``door_fault`` (the others follow the door model)."""
        if name == plc_map.EMERGENCY_INPUT:
            self.trip_fire_alarm() if value else self.clear_fire_alarm()
        elif name == "door_obstruction":
            self.obstruct() if value else self.clear()
        elif name == "door_fault":
            self.set_fault(value)
        elif name in plc_map.DISCRETE_INPUTS:
            raise ValueError(f"input {name!r} follows the door model / the dead-man")
        else:
            known = ", ".join(plc_map.DISCRETE_INPUTS)
            raise ValueError(f"unknown input {name!r} (known: {known})")

    def trip_fire_alarm(self) -> None:
        """The fire alarm contact opens: entry released, door opened, closing refused."""
        if self._fire:
            return
        self._fire = True
        self._event("fire alarm ON")
        self._set_coil("entry_lock", False)
        self._move(opening=True)
        self._publish()

    def clear_fire_alarm(self) -> None:
        if not self._fire:
            return
        self._fire = False
        self._event("fire alarm off")
        self._publish()

    def obstruct(self) -> None:
        """Something is in the doorway: a closing door stops."""
        if not self._obstructed:
            self._obstructed = True
            self._event("door obstructed")
        if self._motion is not None and not self._motion.opening:
            self._halt()
        self._publish()

    def clear(self) -> None:
        """The doorway is clear again."""
        if self._obstructed:
            self._obstructed = False
            self._event("door clear")
            self._publish()

    def egress_request(self) -> bool:
        """A person inside pushes to leave: the operator opens, locked or not (False only with
        a door fault)."""
        if self._fault:
            return False
        self._event("egress request (inside push button)")
        self._move(opening=True)
        self._publish()
        return True

    def entry_request(self) -> bool:
        """A person outside wants in: opens unless entry is locked or the door is faulty."""
        if self._fault or self._coil("entry_lock"):
            why = "door fault" if self._fault else "entry locked"
            self._event(f"entry request refused ({why})")
            return False
        self._event("entry request (outside sensor)")
        self._move(opening=True)
        self._publish()
        return True

    def jam(self) -> None:
        """The door jams: the current (or next) motion never completes; after 2 x travel_time
        the operator reports ``door_fault``."""
        self._jammed = True
        self._event("door jammed")
        if self._motion is not None and not self._motion.stalled:
            self._fraction = self._fraction_now()
            self._motion = _Motion(self._motion.opening, self._now(), self._fraction, True)
            self._schedule_door()

    def set_fault(self, on: bool = True) -> None:
        """The operator reports a fault (``door_fault``); ``set_fault(False)`` repairs it (and
        a jam)."""
        if on:
            if not self._fault:
                self._fault = True
                self._event("door FAULT")
                self._halt()
        else:
            self._jammed = False
            if self._fault:
                self._fault = False
                self._event("door repaired")
        self._publish()

    def trip_dead_man(self) -> None:
        """Apply the safe defaults now, as if the heartbeat had stopped."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._deadman()

    # ------------------------------------------------------------------------------ read back
    def input(self, name: str) -> bool:
        return self._bit("d", plc_map.DISCRETE_INPUTS[name].address)

    def output(self, name: str) -> bool:
        return self._coil(name)

    def register(self, name: str | int) -> int:
        address = name if isinstance(name, int) else plc_map.HOLDING_REGISTERS[name].address
        start, _, registers, _ = self._blocks["h"]
        return registers[address - start]

    def door_position(self) -> str:
        if self._motion is not None:
            return "opening" if self._motion.opening else "closing"
        if self._fraction >= 1.0:
            return "open"
        if self._fraction <= 0.0:
            return "closed"
        return "stopped"

    @property
    def safe_defaults_active(self) -> bool:
        return self._safe

    @property
    def fire_alarm(self) -> bool:
        return self._fire

    def status(self) -> dict[str, Any]:
        """Everything at a glance (the CLI's ``status``)."""
        sign = plc_map.sign_from_code(self.register("sign_state"))
        scene = plc_map.scene_from_code(self.register("light_scene"))
        return {
            "t": round(self._now(), 3),
            "door": self.door_position(),
            "fraction": round(self._fraction_now(), 3),
            "inputs": {name: self.input(name) for name in plc_map.DISCRETE_INPUTS},
            "coils": {name: self._coil(name) for name in plc_map.COILS},
            "heartbeat": self.register("heartbeat"),
            "heartbeats": self.heartbeats,
            "light": {
                "scene": scene.value if scene else self.register("light_scene"),
                "brightness": self.register("light_brightness") / plc_map.BRIGHTNESS_SCALE,
            },
            "sign": sign.value if sign else self.register("sign_state"),
            "commands": [
                {"t": round(c.t, 3), "name": c.name, "refused": c.refused}
                for c in self.commands[-20:]
            ],
        }

    # ------------------------------------------------------------------------------ PLC program
    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this on every access, before a write is applied: run a scan soon."""
        if values is not None and function_code in _WRITE_FUNCTIONS and not self._scan_pending:
            self._scan_pending = True
            assert self._loop is not None
            self._loop.call_soon(self._scan)
        return None

    def _scan(self) -> None:
        self._scan_pending = False
        heartbeat = self.register("heartbeat")
        if heartbeat != self._last_heartbeat:
            self._last_heartbeat = heartbeat
            self.heartbeats += 1
            self._arm_watchdog()
            if self._safe:
                self._safe = False
                self._event("heartbeat back: safe defaults off")
        open_request = self._coil("door_open_request")
        close_request = self._coil("door_close_request")
        if open_request or close_request:
            self._set_coil("door_open_request", False)
            self._set_coil("door_close_request", False)
            if open_request:
                self._command("open", "door fault" if self._fault else "")
            else:
                refused = (
                    "door fault"
                    if self._fault
                    else "obstructed"
                    if self._obstructed
                    else "emergency"
                    if self._fire
                    else "safe defaults"
                    if self._safe
                    else ""
                )
                self._command("close", refused)
        if (self._fire or self._safe) and self._coil("entry_lock"):
            self._set_coil("entry_lock", False)
            self._event("entry lock refused (emergency / safe defaults)")
        if self._safe:
            self._set_register("sign_state", plc_map.SIGN_CODES[SignState.OUT_OF_SERVICE])
        self._publish()

    def _command(self, name: str, refused: str) -> None:
        self.commands.append(Command(self._now(), name, refused))
        if refused:
            self._event(f"command {name} refused: {refused}")
            return
        self._event(f"command {name}")
        self._move(opening=name == "open")

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        assert self._loop is not None
        self._watchdog = self._loop.call_later(self.heartbeat_timeout, self._deadman)

    def _deadman(self) -> None:
        self._watchdog = None
        if self._safe:
            return
        self._safe = True
        self._event(f"no heartbeat for {self.heartbeat_timeout:g} s: SAFE DEFAULTS")
        self._set_coil("entry_lock", False)
        self._set_register("sign_state", plc_map.SIGN_CODES[SignState.OUT_OF_SERVICE])
        if not self._fault:
            self._move(opening=True)
        self._publish()

    # ------------------------------------------------------------------------------ the door
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time() - self._t0

    def _fraction_now(self) -> float:
        motion = self._motion
        if motion is None or motion.stalled:
            return self._fraction
        moved = (self._now() - motion.t_start) / self.travel_time
        step = moved if motion.opening else -moved
        return min(1.0, max(0.0, motion.fraction_start + step))

    def _move(self, opening: bool) -> None:
        if self._fault:
            return
        current = self._fraction_now()
        self._fraction = current
        self._cancel_door_timer()
        if current == (1.0 if opening else 0.0):
            self._motion = None
            return
        if self._motion is None or self._motion.opening != opening:
            self._event("door " + ("opening" if opening else "closing"))
        self._motion = _Motion(opening, self._now(), current, stalled=self._jammed)
        self._schedule_door()

    def _schedule_door(self) -> None:
        motion = self._motion
        assert motion is not None and self._loop is not None
        self._cancel_door_timer()
        if motion.stalled:
            delay = 2 * self.travel_time - (self._now() - motion.t_start)
            self._door_timer = self._loop.call_later(max(0.0, delay), self._give_up)
            return
        goal = 1.0 if motion.opening else 0.0
        delay = abs(goal - motion.fraction_start) * self.travel_time
        delay -= self._now() - motion.t_start
        self._door_timer = self._loop.call_later(max(0.0, delay), self._arrive)

    def _arrive(self) -> None:
        motion = self._motion
        self._door_timer = None
        if motion is None:
            return
        self._motion = None
        self._fraction = 1.0 if motion.opening else 0.0
        self._event("door " + ("open" if motion.opening else "closed"))
        self._publish()

    def _give_up(self) -> None:
        self._door_timer = None
        self._event(f"door did not arrive within {2 * self.travel_time:g} s")
        self.set_fault(True)

    def _halt(self) -> None:
        was_moving = self._motion is not None
        self._fraction = self._fraction_now()
        self._cancel_door_timer()
        self._motion = None
        if was_moving:
            self._event(f"door stopped at {self._fraction:.0%}")

    def _cancel_door_timer(self) -> None:
        if self._door_timer is not None:
            self._door_timer.cancel()
            self._door_timer = None

    # ------------------------------------------------------------------------------ datastore
    def _publish(self) -> None:
        """Write the inputs (limit switches, motion, sensors, alarms) into the datastore at
        once, so a poll never sees half an update."""
        if not self._blocks:
            return
        # a jammed door's motor still runs: moving, but it never arrives
        moving = self._motion is not None
        fraction = self._fraction_now()
        values = {
            "door_open_limit": not moving and fraction >= 1.0,
            "door_closed_limit": not moving and fraction <= 0.0,
            "door_moving": moving,
            "door_opening": moving and self._motion is not None and self._motion.opening,
            "door_obstruction": self._obstructed,
            "emergency": self._fire,
            "door_fault": self._fault,
            "safe_defaults": self._safe,
        }
        for name, value in values.items():
            self._set_bit("d", plc_map.DISCRETE_INPUTS[name].address, value)

    def _coil(self, name: str) -> bool:
        return self._bit("c", plc_map.COILS[name].address)

    def _set_coil(self, name: str, value: bool) -> None:
        self._set_bit("c", plc_map.COILS[name].address, value)

    def _set_register(self, name: str, value: int) -> None:
        start, _, registers, _ = self._blocks["h"]
        registers[plc_map.HOLDING_REGISTERS[name].address - start] = value

    def _bit(self, block: str, address: int) -> bool:
        start, _, registers, _ = self._blocks[block]
        return bool(registers[address // 16 - start] >> (address % 16) & 1)

    def _set_bit(self, block: str, address: int, value: bool) -> None:
        start, _, registers, _ = self._blocks[block]
        index, mask = address // 16 - start, 1 << (address % 16)
        registers[index] = registers[index] | mask if value else registers[index] & ~mask

    def _event(self, text: str) -> None:
        if self.on_event is not None and self._loop is not None:
            self.on_event(f"t={self._now():8.3f}  {text}")


class PtyNullModem:
    """Two pseudo-terminal pairs joined like a null-modem cable: what one side writes to its
    tty (``ends[0]``) comes out of the other (``ends[1]``) and back. Runs on the current loop."""

    def __init__(self) -> None:
        self.ends: tuple[str, str] = ("", "")
        self._fds: list[int] = []
        self._masters: tuple[int, int] = (-1, -1)
        self._pending: dict[int, bytearray] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> tuple[str, str]:
        self._loop = asyncio.get_running_loop()
        masters, names = [], []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._fds += [master, slave]  # the slave stays open: no EIO on the master
            masters.append(master)
            names.append(os.ttyname(slave))
        a, b = masters
        self._masters = (a, b)
        self._pending = {a: bytearray(), b: bytearray()}
        self._loop.add_reader(a, self._relay, a, b)
        self._loop.add_reader(b, self._relay, b, a)
        self.ends = (names[0], names[1])
        return self.ends

    def close(self) -> None:
        if self._loop is not None:
            for fd in self._masters:
                if fd >= 0:
                    self._loop.remove_reader(fd)
                    self._loop.remove_writer(fd)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        self._masters = (-1, -1)

    async def __aenter__(self) -> tuple[str, str]:
        return self.open()

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _relay(self, source: int, target: int) -> None:
        try:
            data = os.read(source, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        self._pending[target] += data
        self._flush(target)

    def _flush(self, target: int) -> None:
        assert self._loop is not None
        buffer = self._pending[target]
        try:
            written = os.write(target, buffer) if buffer else 0
        except (BlockingIOError, InterruptedError):
            written = 0
        del buffer[:written]
        if buffer:
            self._loop.add_writer(target, self._flush, target)
        else:
            self._loop.remove_writer(target)


# ---------------------------------------------------------------------------------- the CLI
HELP = """commands:
  fire on | fire off     the fire alarm / emergency input
  obstruct | clear       something in the doorway / clear again
  egress | entry         a person pushes to leave / wants in from outside
  jam                    the door jams (fault after 2 x travel time)
  fault on | fault off   the door operator reports a fault / repaired
  deadman                apply the safe defaults now (as if the heartbeat stopped)
  status                 one line: status {json}
  help | quit"""


def _apply_command(server: PlcServer, line: str) -> str | None:
    """One stdin command; returns the answer line (None: quit)."""
    words = line.split()
    if not words:
        return ""
    cmd, arg = words[0].lower(), (words[1].lower() if len(words) > 1 else "")
    if cmd in ("quit", "exit"):
        return None
    if cmd == "help":
        return HELP
    if cmd == "status":
        return "status " + json.dumps(server.status(), sort_keys=True)
    if cmd == "fire" and arg in ("on", "off"):
        server.trip_fire_alarm() if arg == "on" else server.clear_fire_alarm()
    elif cmd == "obstruct":
        server.obstruct()
    elif cmd == "clear":
        server.clear()
    elif cmd == "egress":
        server.egress_request()
    elif cmd == "entry":
        return "ok" if server.entry_request() else "refused: entry locked or door fault"
    elif cmd == "jam":
        server.jam()
    elif cmd == "fault" and arg in ("on", "off"):
        server.set_fault(arg == "on")
    elif cmd == "deadman":
        server.trip_dead_man()
    else:
        return f"unknown command {line.strip()!r} (try: help)"
    return "ok"


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _serve_cli(
    host: str, port: int, travel_time: float, heartbeat_timeout: float, unit_id: int
) -> int:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    server = PlcServer(
        unit_id=unit_id,
        travel_time=travel_time,
        heartbeat_timeout=heartbeat_timeout,
        on_event=_print,
    )
    try:
        bound = await server.start_tcp(host, port)
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"lisa sim plc-server: cannot listen on {host}:{port}: {exc}\n")
        return 1
    _print(
        f"listening on {host}:{bound} (Modbus TCP, unit {unit_id}, travel {travel_time:g} s, "
        f"dead-man {heartbeat_timeout:g} s); type 'help' for commands"
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)

    def handle(line: str | None) -> None:
        if line is None:  # stdin closed: keep serving until a signal
            return
        try:
            answer = _apply_command(server, line)
        except Exception as exc:  # a typo must not end the server
            answer = f"error: {exc}"
        if answer is None:
            done.set()
        elif answer:
            _print(answer)

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(handle, line)
        loop.call_soon_threadsafe(handle, None)

    threading.Thread(target=read_stdin, name="plc-server-stdin", daemon=True).start()
    await done.wait()
    await server.stop()
    _print("stopped")
    return 0


def run_cli(
    host: str, port: int, travel_time: float, heartbeat_timeout: float, unit_id: int
) -> int:
    """``lisa sim plc-server``."""
    try:
        import pymodbus  # noqa: F401
    except ImportError:
        sys.stderr.write("lisa sim plc-server needs pymodbus: pip install lisa[hardware]\n")
        return 1
    return asyncio.run(_serve_cli(host, port, travel_time, heartbeat_timeout, unit_id))
