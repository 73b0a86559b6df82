"""Contract rig of the HID digitizer signature pad (``hid``), and its replay peer.

There is no ``/dev/uhid`` or hidraw here, so the pad is not emulated as a kernel device: the
driver gets a :class:`ReplayHid` as its opener. Each ``open()`` makes a packet-mode pipe
(``os.pipe2(os.O_DIRECT)``: every ``read()`` returns exactly one ``write()``, as hidraw returns
one report) sized to 64 packets, hidraw's ring of queued reports. The driver's reader thread
reads it with the same code path as a hidraw node (poll, non-blocking reads, end of stream /
``EIO`` / ``ENODEV`` as unplugged).

The reports are built from a *real* report descriptor with hid-tools' ``create_report`` (usage
names as attributes: ``x``, ``y``, ``tippressure``, ``tipswitch``, ``inrange``). The descriptors
are dumps of real devices from the Linux kernel's HID selftests (see tests/data/hid/README.md);
the contract rig uses the Goodix GXTP 27c6:0113 pen (4096 pressure levels).

This module is also imported by tests/unit/test_signature_hid.py (by path, as conftest does).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import math
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind

DATA = Path(__file__).parents[1] / "data" / "hid"
F_SETPIPE_SZ = 1031
#: hidraw queues at most 64 reports per reader (HIDRAW_BUFFER_SIZE)
HIDRAW_RING = 64
PAGE = 4096

#: name → (descriptor file, report id of the pen report)
DESCRIPTORS: dict[str, tuple[str, int]] = {
    "goodix": ("goodix_27c6_0113.rdesc.hex", 8),
    "ntrig": ("ntrig_1b96_0c01.rdesc.hex", 1),
    "atmel": ("atmel_03eb_840b.rdesc.hex", 3),
}
CONTRACT_DESCRIPTOR = "goodix"
BATCH_INTERVAL = 0.02


def descriptor_bytes(name: str) -> bytes:
    return bytes.fromhex(DATA.joinpath(DESCRIPTORS[name][0]).read_text("ascii"))


@dataclass
class PenState:
    """Attributes named like hid-tools matches usages (usage name, lower case, no blanks)."""

    x: int = 0
    y: int = 0
    tippressure: int = 0
    tipswitch: int = 0
    inrange: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class _ReplaySource:
    """The driver's end: a :class:`drivers._hid_io.FdReportSource` that can be made to fail
    like an unplugged hidraw node (``EIO`` / ``ENODEV``)."""

    def __init__(self, fd: int, descriptor: bytes, description: str) -> None:
        from drivers._hid_io import FdReportSource

        self._inner = FdReportSource(fd, descriptor, description)
        self.description = description
        self.error: int | None = None

    def fileno(self) -> int:
        return self._inner.fileno()

    def descriptor(self) -> bytes:
        return self._inner.descriptor()

    def read_report(self) -> bytes:
        if self.error is not None:
            raise OSError(self.error, os.strerror(self.error))
        return self._inner.read_report()

    def close(self) -> None:
        self._inner.close()


class ReplayHid:
    """A HID pen digitizer replayed into the driver (the opener and the stimulus side).

    ``send(raw)`` writes one report (blocking while the 64-report pipe is full), ``pen(...)``
    builds one from pen values, ``unplug(err)`` makes the device vanish (``None``: end of
    stream; ``errno.ENODEV``/``EIO``: the read fails as on hidraw), ``present`` False makes
    ``open()`` fail with ``ENOENT`` (not plugged in) until set True again.
    """

    def __init__(self, name: str = CONTRACT_DESCRIPTOR) -> None:
        from hidtools.hid import ReportDescriptor

        self.name = name
        self.rdesc = descriptor_bytes(name)
        self.report_id = DESCRIPTORS[name][1]
        self.hid = ReportDescriptor.from_bytes(list(self.rdesc))
        report = self.hid.input_reports[self.report_id]
        fields = {f.usage_name: f for f in report if not f.is_const}
        self.x_range = (fields["X"].logical_min, fields["X"].logical_max)
        self.y_range = (fields["Y"].logical_min, fields["Y"].logical_max)
        self.p_range = (fields["Tip Pressure"].logical_min, fields["Tip Pressure"].logical_max)
        self.present = True
        self.opens = 0
        self.sent = 0
        self._write_fd = -1
        self._source: _ReplaySource | None = None
        self._lock = threading.Lock()

    # -- the opener ---------------------------------------------------------------------------
    def __call__(self) -> Any:
        if not self.present:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/dev/hidraw-replay")
        self.close_writer()
        r, w = os.pipe2(os.O_DIRECT | os.O_CLOEXEC)
        fcntl.fcntl(w, F_SETPIPE_SZ, HIDRAW_RING * PAGE)
        with self._lock:
            self._write_fd = w
        self.opens += 1
        self._source = _ReplaySource(r, self.rdesc, f"replay:{self.name}#{self.opens}")
        return self._source

    def close_writer(self) -> None:
        with self._lock:
            fd, self._write_fd = self._write_fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- reports ------------------------------------------------------------------------------
    def pen(self, x: int, y: int, pressure: int, tip: bool, in_range: bool) -> bytes:
        """One pen report in the device's own layout (logical values)."""
        state = PenState(x, y, pressure, int(tip), int(in_range))
        return bytes(self.hid.create_report(state, reportID=self.report_id))

    def send(self, raw: bytes) -> None:
        with self._lock:
            fd = self._write_fd
        if fd < 0:
            raise OSError(errno.EPIPE, "the replayed device is not open")
        os.write(fd, raw)
        self.sent += 1

    def send_all(self, reports: Iterable[bytes]) -> None:
        for raw in reports:
            self.send(raw)

    def unplug(self, err: int | None = errno.ENODEV) -> None:
        """The pad vanishes: the next read fails with ``err`` (or the stream ends)."""
        self.present = False
        source = self._source
        if err is not None and source is not None:
            source.error = err
            with contextlib.suppress(OSError):
                self.send(b"\x00")  # wake the poll, as the kernel's POLLHUP/POLLERR does
        self.close_writer()

    def replug(self) -> None:
        self.present = True

    # -- HAL units <-> logical ----------------------------------------------------------------
    def raw_x(self, x: float, width: int) -> int:
        lo, hi = self.x_range
        return lo + round(x * (hi - lo) / width)

    def raw_y(self, y: float, height: int) -> int:
        lo, hi = self.y_range
        return lo + round(y * (hi - lo) / height)

    def raw_pressure(self, pressure: int) -> int:
        lo, hi = self.p_range
        return lo + round(pressure * (hi - lo) / 1023)


class HidPeer:
    """The contract peer: ``draw_stroke`` like the simulated pad, paced on the loop's clock."""

    def __init__(self, device: Any, replay: ReplayHid) -> None:
        self.device = device
        self.replay = replay

    async def draw_stroke(
        self, points: Sequence[tuple[float, float]], duration: float, pressure: int = 512
    ) -> int:
        pad, replay = self.device, self.replay
        from sim.devices.signature import _Polyline  # the sim pad's pen path: the same strokes

        path = _Polyline(points)
        n = max(1, round(duration * pad.sample_rate_hz))
        raw_p = replay.raw_pressure(pressure)

        def report(i: int, tip: bool, in_range: bool = True) -> bytes:
            x, y = path.at(i / n)
            return replay.pen(
                replay.raw_x(x, pad.width), replay.raw_y(y, pad.height), raw_p, tip, in_range
            )

        reports = [report(0, False)]  # hovering
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        start = pad.reports_read
        next_index = 0
        k = 0
        while next_index <= n:
            k += 1
            batch_end = min(t0 + k * BATCH_INTERVAL, t0 + duration)
            await asyncio.sleep(max(0.0, batch_end - loop.time()))
            last = (
                n
                if batch_end >= t0 + duration
                else min(n, math.floor((batch_end - t0) * n / duration + 1e-9))
            )
            reports += [report(i, True) for i in range(next_index, last + 1)]
            next_index = last + 1
            await asyncio.to_thread(replay.send_all, reports)
            reports = []
        tail = [report(n, False), report(n, False, in_range=False)]  # lifted, then away
        await asyncio.to_thread(replay.send_all, tail)
        expected = n + 4
        await pad.wait_reports_read(start + expected, within=5.0)
        return n + 1


@asynccontextmanager
async def hid_pad(
    descriptor: str = CONTRACT_DESCRIPTOR, **options: Any
) -> AsyncIterator[tuple[Any, ReplayHid]]:
    """A started ``HidSignaturePad`` on a :class:`ReplayHid` of ``descriptor``."""
    from drivers.signature_hid import HidSignaturePad, HidSignaturePadOptions

    replay = ReplayHid(descriptor)
    opts = HidSignaturePadOptions(device="/dev/hidraw-replay", **options)
    pad = HidSignaturePad("signature-hid", opts, DriverContext(clock=LoopClock()), opener=replay)
    await pad.start()
    try:
        yield pad, replay
    finally:
        await pad.stop()
        replay.close_writer()


def register_rigs(register: Callable[[DeviceKind, str, Any], None]) -> None:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        async with hid_pad() as (pad, replay):
            yield _Rig(device=pad, peer=HidPeer(pad, replay), params={})

    register(DeviceKind.SIGNATURE, "hid", rig)


@dataclass
class _Rig:
    """What the contract fixtures use of a rig (same fields as ``conftest.Rig``)."""

    device: Any
    peer: Any
    params: dict[str, Any] = field(default_factory=dict)
