"""MaxBotix class serial sonar: the sensor free-runs and prints one ASCII range per reading,
``R`` + 3 or 4 digits + CR (``R0123\\r``), through pyserial.

The unit depends on the model: HRLV-MaxSonar prints millimetres (``R0800`` = 0.80 m, ``R5000``
= nothing in range), XL-MaxSonar centimetres (``R080``, ``R765`` = nothing in range),
LV-MaxSonar inches. Set ``unit`` and ``max_distance`` (the model's "nothing in range" reading
in metres) to match. Serial 9600 8N1 (TTL or RS-232 depending on the model; a USB serial adapter
with the udev rule gives ``/dev/lisa-sonar``).

The port is read without threads (the event loop watches its file descriptor); every
``sample_interval`` the latest line becomes a ``DistanceSample`` (the sensor's own rate is
6-20 readings a second). Lines that are not a range give health DEGRADED "unparseable reading"
and a ``None`` sample, never an exception; no line for ``stale_after`` seconds is a failed
reading. When the port goes away (adapter unplugged) health is UNAVAILABLE and the driver tries
to open it again every ``reconnect_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
from typing import Any, Literal

from pydantic import Field

from drivers._sonar import SonarBase, SonarOptions, SonarReadError, UnparseableReading
from hal.base import DriverContext
from hal.health import HealthStatus

log = logging.getLogger("lisa.drivers.maxbotix")

INSTALL_HINT = "pip install lisa[hardware]"

Unit = Literal["mm", "cm", "in"]

_RANGE_LINE = re.compile(rb"R(\d{3,4})")

#: A "line" longer than this without CR is noise: it is dropped as one unparseable reading.
MAX_LINE = 32


def parse_range(line: bytes, unit: Unit) -> float:
    """Metres from one sensor line (``b"R0800"``, CR and surrounding blanks allowed).

    Raises ``ValueError`` for anything that is not ``R`` + 3 or 4 ASCII digits.
    """
    match = _RANGE_LINE.fullmatch(line.strip(b" \t\r\n\x00"))
    if match is None:
        raise ValueError(f"unparseable reading {line!r}")
    value = int(match.group(1))
    if unit == "mm":
        return value / 1000
    if unit == "cm":
        return value / 100
    return value * 0.0254


class MaxBotixOptions(SonarOptions):
    port: str = Field(
        "/dev/lisa-sonar", description="Serial port of the sonar (the udev rule's symlink)."
    )
    baudrate: int = Field(9600, gt=0, description="Baud rate (MaxBotix: 9600 8N1).")
    unit: Unit = Field(
        "mm",
        description="Unit of the printed range: 'mm' (HRLV-MaxSonar, R + 4 digits), 'cm' "
        "(XL-MaxSonar, R + 3 digits) or 'in' (LV-MaxSonar).",
    )
    max_distance: float = Field(
        5.0,
        gt=0.0,
        description="The model's 'nothing in range' reading in metres (HRLV: 5.0, XL: 7.65); a "
        "reading at or beyond it gives the sample None.",
    )
    stale_after: float = Field(
        1.0,
        gt=0.0,
        description="No line from the sensor for this long (s) makes a reading fail.",
    )
    reconnect_interval: float = Field(
        1.0, gt=0.0, description="Seconds between attempts to open a lost or missing port."
    )


class _Garbage:
    """Marker: the latest line was not a range."""


GARBAGE = _Garbage()


class MaxBotixSensor(SonarBase):
    """Serial MaxBotix sonar (see the module docstring)."""

    Options = MaxBotixOptions

    def __init__(self, name: str, options: MaxBotixOptions, context: DriverContext) -> None:
        super().__init__(name, options, context)
        self.options = options
        self._serial_mod: Any = None
        self._port: Any = None  # an open serial.Serial, or None
        self._buffer = bytearray()
        self._synced = False
        self._latest: float | _Garbage | None = None
        self._latest_at = 0.0
        self._data = asyncio.Event()
        self._next_connect = 0.0
        self._connected_at = 0.0
        self.lines_read = 0
        self.garbage_lines = 0

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.running or self._missing is not None:
            return
        try:
            self._serial_mod = importlib.import_module("serial")
        except ImportError as exc:
            self._missing = f"pyserial is not installed ({exc}): {INSTALL_HINT}"
            self.set_health(HealthStatus.UNAVAILABLE, self._missing)
            return
        self._reset_counters()
        if await self._connect(first=True):
            try:  # the first sample now (once a line is in); the sample clock starts after it
                await asyncio.wait_for(self._data.wait(), self.options.stale_after)
            except TimeoutError:
                pass
            await self._tick()
        self._start_sampling()

    async def stop(self) -> None:
        await self._stop_sampling()
        self._close_port()

    @property
    def connected(self) -> bool:
        """True while the serial port is open."""
        return self._port is not None

    # -- sampling ------------------------------------------------------------------------------
    async def _tick(self) -> None:
        if self._port is None:
            if self.clock.now() >= self._next_connect:
                await self._connect(first=False)
            return
        if not self._data.is_set() and self.clock.now() - self._connected_at < (
            self.options.stale_after
        ):
            return  # just (re)connected: the sensor's first line is not in yet
        await super()._tick()

    async def _take_reading(self) -> float | None:
        if self._port is None:
            raise SonarReadError(f"serial port {self.options.port} not open")
        if not self._data.is_set() or self.clock.now() - self._latest_at > self.options.stale_after:
            raise SonarReadError(
                f"no reading from the sensor on {self.options.port} for more than "
                f"{self.options.stale_after:g} s"
            )
        latest = self._latest
        if isinstance(latest, _Garbage):
            raise UnparseableReading()
        return latest

    # -- the port ------------------------------------------------------------------------------
    async def _connect(self, *, first: bool) -> bool:
        opts = self.options
        self._next_connect = self.clock.now() + opts.reconnect_interval
        try:
            port = await asyncio.to_thread(
                self._serial_mod.Serial, opts.port, opts.baudrate, timeout=0, exclusive=True
            )
        except (OSError, ValueError) as exc:  # SerialException is an OSError
            what = "cannot open" if first else "still cannot open"
            self.set_health(
                HealthStatus.UNAVAILABLE,
                f"{what} serial port {opts.port}: {exc}; retrying every "
                f"{opts.reconnect_interval:g} s",
            )
            return False
        try:
            port.reset_input_buffer()  # what queued up while nobody listened is old
            asyncio.get_running_loop().add_reader(port.fileno(), self._on_readable)
        except (OSError, ValueError) as exc:
            port.close()
            self.set_health(HealthStatus.UNAVAILABLE, f"serial port {opts.port}: {exc}")
            return False
        self._port = port
        self._connected_at = self.clock.now()
        self._buffer.clear()
        self._synced = False
        self._latest = None
        self._data.clear()
        self._reset_counters()
        if first:
            self.set_health(HealthStatus.OK, "")
        else:
            log.info("serial port reopened", extra={"device": self.name, "port": opts.port})
            self.set_health(
                HealthStatus.UNAVAILABLE, f"serial port {opts.port} reopened, waiting for readings"
            )
        return True

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        try:
            asyncio.get_running_loop().remove_reader(port.fileno())
        except (OSError, ValueError):
            pass  # the descriptor is already gone
        try:
            port.close()
        except OSError:
            pass
        self._latest = None
        self._data.clear()

    def _lost(self, exc: Exception) -> None:
        self._close_port()
        self._last = None
        self._next_connect = self.clock.now() + self.options.reconnect_interval
        log.warning("serial port lost: %s", exc, extra={"device": self.name})
        self.set_health(HealthStatus.UNAVAILABLE, f"serial port {self.options.port} lost: {exc}")

    def _on_readable(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            data: bytes = port.read(max(1, port.in_waiting))
        except OSError as exc:  # SerialException (EIO: the other end is gone) or OSError
            self._lost(exc)
            return
        self._buffer += data
        self._split_lines()

    def _split_lines(self) -> None:
        while True:
            end = self._buffer.find(b"\r")
            if end < 0:
                if len(self._buffer) > MAX_LINE:  # noise without line ends
                    self._buffer.clear()
                    self._line(None)
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if not self._synced:  # the first piece after opening may be the tail of a line
                self._synced = True
                continue
            if line.strip(b" \t\r\n\x00"):
                self._line(line)

    def _line(self, line: bytes | None) -> None:
        """One line from the sensor (``None``: noise without line end)."""
        self.lines_read += 1
        try:
            if line is None:
                raise ValueError("no line end")
            self._latest = parse_range(line, self.options.unit)
        except ValueError:
            self.garbage_lines += 1
            self._latest = GARBAGE
            self._plausible_run = 0
            if self._health.status is HealthStatus.OK:
                log.warning("unparseable reading %r", line, extra={"device": self.name})
            self.set_health(HealthStatus.DEGRADED, "unparseable reading")
        self._latest_at = self.clock.now()
        self._data.set()
