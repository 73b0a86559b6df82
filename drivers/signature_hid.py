"""Signature pads that speak the standard USB HID digitizer protocol (usage page 0x0D), read
through Linux hidraw.

The report descriptor is parsed (hid-tools, :mod:`drivers._hid_pen`), never assumed: the pen
report, its X/Y logical ranges, Tip Pressure, Tip Switch and In Range come from it. Positions are
logical units from the descriptor's minimum (``width``/``height`` = the logical spans); pressure
is normalised to the HAL scale 0..1023 (``round((raw - min) * 1023 / (max - min))``); the pad's
native resolution stays visible as ``pressure_levels`` (and in the self-test details). A pad with
fewer than ``min_pressure_levels`` levels works, with health DEGRADED saying so.

Reading: a reader thread polls the device and reads every queued report (hidraw's kernel ring
holds only 64 reports, 128 ms at 500 Hz, so the reader does not depend on the event loop being
free); decoded reports go to the loop in chunks. hidraw carries no timestamps: a report is
stamped with the time it was read, and when several were queued, the earlier ones are spread
back at the nominal ``1 / sample_rate_hz`` (never before the previous sample), on the injected
clock.

Events while enabled: ``PenSamples`` (pen touching: one sample per report, batched every
``batch_interval``) and ``PenContactChanged`` at every change of touching / in range (stroke
boundaries; the samples before it are flushed first). Reports that the descriptor does not
describe (unknown report id, wrong length) are counted (``bad_reports``) and skipped with a log
line; well-formed reports of the device that are not the pen (touch, vendor) are counted
(``other_reports``).

Unplugged (read error ``EIO``/``ENODEV``, end of stream): health UNAVAILABLE with the reason,
and if a signature was being captured (the pad enabled) it is void: the pad emits
``SignatureInterrupted`` (reason, samples discarded), disables itself and ``interrupted()``
holds the reason until ``clear()`` or ``enable()`` starts a new signature. The driver reopens
the device every ``reconnect_interval`` seconds; ``enable()`` refuses while the pad is
unavailable. hid-tools is imported in ``start()`` (extra ``hardware``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from drivers._hid_io import Opener, ReportSource, open_hidraw
from drivers._hid_pen import (
    BadReport,
    Decoded,
    DescriptorError,
    OtherReport,
    PenLayout,
    PenReport,
    parse_pen_layout,
)
from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.clock import TimerHandle
from hal.devices import DeviceError
from hal.events import (
    DeviceKind,
    PenContactChanged,
    PenSample,
    PenSamples,
    SignatureInterrupted,
)
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

log = logging.getLogger("lisa.drivers.signature_hid")

INSTALL_HINT = "pip install lisa[hardware]"
PRESSURE_MAX = 1023
#: reports handed from the reader thread to the loop at most per chunk
CHUNK = 256
#: bad reports logged one by one before the log goes to every LOG_EVERY-th
LOG_FIRST = 10
LOG_EVERY = 1000


class HidSignaturePadOptions(DriverOptions):
    device: str = Field(
        "/dev/lisa-signature",
        description="hidraw node of the pad (/dev/hidrawN, or the udev rule's symlink).",
    )
    sysfs_root: str = Field(
        "/sys/class/hidraw",
        description="Where sysfs lists hidraw nodes (report descriptor fallback to the ioctl).",
    )
    descriptor_file: Path | None = Field(
        None, description="Read the report descriptor from this file instead of the device."
    )
    sample_rate_hz: int = Field(
        500,
        ge=500,
        description="The pad's report rate (data sheet; HID does not describe it): spacing of "
        "reports that were queued when read.",
    )
    batch_interval: float = Field(
        0.02, gt=0.0, le=0.5, description="Seconds of samples per emitted PenSamples batch."
    )
    min_pressure_levels: int = Field(
        1024, ge=1, description="Fewer native pressure levels than this: health DEGRADED."
    )
    reconnect_interval: float = Field(
        2.0, gt=0.0, description="Seconds between attempts to open a missing or lost pad."
    )


class _Connection:
    """One open device: the source, its layout, the reader thread and its wake-up pipe."""

    def __init__(self, source: ReportSource, layout: PenLayout, generation: int) -> None:
        self.source = source
        self.layout = layout
        self.generation = generation
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.thread: threading.Thread | None = None

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the reader thread (it closes the source) and release the wake-up pipe."""
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.wake_r = self.wake_w = -1


def _reason(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    if exc.errno in (errno.ENODEV, errno.EIO, errno.ENXIO):
        return f"pad unplugged ({name}: {exc.strerror})"
    return f"read error ({name or type(exc).__name__}: {exc})"


class HidSignaturePad(DeviceBase):
    """HID digitizer signature pad (see the module docstring).

    ``opener`` (tests, replays): opens the device as a :class:`~drivers._hid_io.ReportSource`;
    default: :func:`~drivers._hid_io.open_hidraw` on ``options.device``.
    """

    kind = DeviceKind.SIGNATURE
    Options = HidSignaturePadOptions

    def __init__(
        self,
        name: str,
        options: HidSignaturePadOptions,
        context: DriverContext,
        *,
        opener: Opener | None = None,
    ) -> None:
        super().__init__(name, context)
        self.options = options
        self.sample_rate_hz = options.sample_rate_hz
        self.width = 0
        self.height = 0
        self.pressure_levels = 0
        self._opener: Opener = opener or (
            lambda: open_hidraw(options.device, options.sysfs_root, options.descriptor_file)
        )
        self._layout: PenLayout | None = None
        self._conn: _Connection | None = None
        self._generation = 0
        self._running = False
        self._missing: str | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._enabled = False
        self._interrupted: str | None = None
        self._state = (False, False)  # (touching, in range) last reported to subscribers
        self._pending: list[PenSample] = []
        self._flush_timer: TimerHandle | None = None
        self._last_t = float("-inf")
        self._read = asyncio.Event()  # set whenever reports were processed
        # counters
        self.reports_read = 0
        self.samples_emitted = 0
        self.bad_reports = 0
        self.other_reports = 0
        self.ignored_while_disabled = 0
        self.ink_samples = 0  # samples of the signature being captured (since enable/clear)

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._loop = asyncio.get_running_loop()
        try:
            import hidtools.hid  # noqa: F401  (lazy: only a booth with a real pad needs it)
        except ImportError as exc:
            self._missing = f"hid-tools is not installed ({exc}): {INSTALL_HINT}"
            self.set_health(HealthStatus.UNAVAILABLE, self._missing)
            return
        if not self._connect(first=True):
            self._reconnect = self._loop.create_task(self._reconnect_loop(), name=self.name)

    async def stop(self) -> None:
        self._running = False
        task, self._reconnect = self._reconnect, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._flush()
        self._enabled = False
        conn, self._conn = self._conn, None
        if conn is not None:
            self._generation += 1  # chunks still queued from its thread are dropped
            await asyncio.to_thread(conn.shutdown)

    # -- protocol --------------------------------------------------------------------------------
    async def enable(self) -> None:
        if self._conn is None:
            raise DeviceError(f"{self.name}: {self._health.reason or 'pad not connected'}")
        self._enabled = True
        self._interrupted = None
        self._state = (False, False)
        self.ink_samples = 0

    async def disable(self) -> None:
        """Stop capturing (the samples read so far are delivered first). Never refused."""
        self._flush()
        self._enabled = False

    async def clear(self) -> None:
        """Start a new signature: the ink count and an interruption are cleared. The pad has
        no display of its own to clear; never refused."""
        self._flush()
        self.ink_samples = 0
        self._interrupted = None

    def enabled(self) -> bool:
        return self._enabled

    def interrupted(self) -> str | None:
        """Why the last signature was void (pad lost while capturing), until clear/enable."""
        return self._interrupted

    async def selftest(self) -> SelftestResult:
        details: dict[str, Any] = {
            "device": self.options.device,
            "sample_rate_hz": self.sample_rate_hz,
            "reports_read": self.reports_read,
            "bad_reports": self.bad_reports,
            "other_reports": self.other_reports,
        }
        if self._interrupted is not None:
            details["interrupted"] = self._interrupted
        layout, conn = self._layout, self._conn
        if conn is None or layout is None:
            reason = self._health.reason or "pad not connected"
            outcome = SelftestOutcome.NOT_PRESENT if self._missing else SelftestOutcome.FAIL
            return SelftestResult(self.name, outcome, f"pad unavailable: {reason}", details)
        details.update(layout.summary())
        details["source"] = conn.source.description
        message = (
            f"HID pen pad {self.width}x{self.height} units, {self.pressure_levels} pressure "
            f"levels, report {layout.primary.report_id} ({layout.primary.size} bytes)"
        )
        return SelftestResult(self.name, SelftestOutcome.PASS, message, details)

    # -- connection ------------------------------------------------------------------------------
    def _connect(self, *, first: bool) -> bool:
        try:
            source = self._opener()
        except OSError as exc:
            what = "cannot open" if first else "still cannot open"
            self.set_health(
                HealthStatus.UNAVAILABLE,
                f"{what} {self.options.device}: {exc}; retrying every "
                f"{self.options.reconnect_interval:g} s",
            )
            return False
        try:
            layout = parse_pen_layout(source.descriptor())
        except (DescriptorError, OSError) as exc:
            source.close()
            self.set_health(HealthStatus.UNAVAILABLE, f"{source.description}: {exc}")
            return False
        self._layout = layout
        x, y = layout.primary.x, layout.primary.y
        self.width, self.height = x.span, y.span
        self.pressure_levels = layout.pressure_levels
        self._generation += 1
        conn = _Connection(source, layout, self._generation)
        assert self._loop is not None
        conn.thread = threading.Thread(
            target=_reader,
            args=(conn, self._loop, self._on_chunk, self._on_lost, self),
            daemon=True,
        )
        self._conn = conn
        self._last_t = float("-inf")
        conn.thread.start()
        if not first:
            log.info("pad reconnected", extra={"device": self.name, "source": source.description})
        if layout.primary.pressure is None:
            self.set_health(HealthStatus.DEGRADED, "the pad reports no tip pressure")
        elif self.pressure_levels < self.options.min_pressure_levels:
            self.set_health(
                HealthStatus.DEGRADED,
                f"the pad has {self.pressure_levels} pressure levels, fewer than "
                f"{self.options.min_pressure_levels}",
            )
        else:
            self.set_health(HealthStatus.OK, "")
        return True

    async def _reconnect_loop(self) -> None:
        while self._running and self._conn is None:
            await self.clock.sleep(self.options.reconnect_interval)
            if self._running and self._conn is None and self._connect(first=False):
                break
        self._reconnect = None

    def _on_lost(self, generation: int, reason: str) -> None:
        conn = self._conn
        if conn is None or conn.generation != generation:
            return
        self._conn = None
        self._generation += 1
        conn.shutdown()  # its thread has returned already (it reported the loss last)
        self._flush()
        if self._enabled:
            discarded = self.ink_samples
            self._enabled = False
            self._interrupted = reason
            self.ink_samples = 0
            log.warning(
                "pad lost mid-signature: %s (%d samples void)",
                reason,
                discarded,
                extra={"device": self.name},
            )
            self.emit(SignatureInterrupted(self.name, self.clock.now(), reason, discarded))
            self.set_health(HealthStatus.UNAVAILABLE, f"{reason} mid-signature; signature void")
        else:
            log.warning("pad lost: %s", reason, extra={"device": self.name})
            self.set_health(HealthStatus.UNAVAILABLE, reason)
        self._state = (False, False)
        if self._running and self._loop is not None:
            self._reconnect = self._loop.create_task(self._reconnect_loop(), name=self.name)

    # -- reports ---------------------------------------------------------------------------------
    def _on_chunk(self, generation: int, items: list[tuple[float, Decoded]]) -> None:
        """Decoded reports from the reader thread (on the loop): ``(monotonic time, report)``."""
        if self._conn is None or generation != self._conn.generation or self._layout is None:
            return
        offset = self.clock.now() - time.monotonic()
        for mono, decoded in items:
            self.reports_read += 1
            if isinstance(decoded, BadReport):
                self._bad(decoded.reason)
            elif isinstance(decoded, OtherReport):
                self.other_reports += 1
            elif not self._enabled:
                self.ignored_while_disabled += 1
            else:
                self._pen(decoded, max(mono + offset, self._last_t))
        if self._pending and self._flush_timer is None:
            self._flush_timer = self.clock.call_later(self.options.batch_interval, self._flush)
        self._read.set()

    async def wait_reports_read(self, count: int, within: float) -> None:
        """Wait until ``reports_read`` reaches ``count`` (diagnostics, replays); raises
        ``TimeoutError`` after ``within`` seconds."""
        async with asyncio.timeout(within):
            while self.reports_read < count:
                self._read.clear()
                await self._read.wait()

    def _bad(self, reason: str) -> None:
        self.bad_reports += 1
        n = self.bad_reports
        if n <= LOG_FIRST or n % LOG_EVERY == 0:
            log.warning(
                "skipped a report the descriptor does not describe: %s (%d so far)",
                reason,
                n,
                extra={"device": self.name},
            )

    def _pen(self, report: PenReport, t: float) -> None:
        assert self._layout is not None
        self._last_t = t
        state = (report.tip, report.in_range)
        if state != self._state:
            self._flush()
            self._state = state
            self.emit(PenContactChanged(self.name, t, down=report.tip, in_range=report.in_range))
        if not report.tip:
            return
        pen = self._layout.pens[report.report_id]
        x = _scale(report.x, pen.x.logical_min, pen.x.span, self.width)
        y = _scale(report.y, pen.y.logical_min, pen.y.span, self.height)
        if pen.pressure is None or report.pressure is None:
            pressure = PRESSURE_MAX // 2
        else:
            pressure = _scale(report.pressure, pen.pressure.logical_min, pen.pressure.span)
        self._pending.append(PenSample(x, y, pressure, t))
        self.ink_samples += 1
        if len(self._pending) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        timer, self._flush_timer = self._flush_timer, None
        if timer is not None:
            timer.cancel()
        if not self._pending:
            return
        samples, self._pending = tuple(self._pending), []
        self.samples_emitted += len(samples)
        self.emit(PenSamples(self.name, self.clock.now(), samples))


def _scale(raw: int, lo: int, span: int, top: int = PRESSURE_MAX) -> int:
    """``raw`` in ``lo .. lo + span`` onto ``0 .. top`` (clamped; identity when span == top)."""
    if span == top:
        value = raw - lo
    else:
        value = round((raw - lo) * top / span)
    return min(top, max(0, value))


def _reader(
    conn: _Connection,
    loop: asyncio.AbstractEventLoop,
    on_chunk: Callable[[int, list[tuple[float, Decoded]]], None],
    on_lost: Callable[[int, str], None],
    pad: HidSignaturePad,
) -> None:
    """The reader thread: poll, read every queued report, decode, hand chunks to the loop."""
    source, layout, generation = conn.source, conn.layout, conn.generation
    interval = 1.0 / pad.sample_rate_hz
    last = float("-inf")
    poller = select.poll()
    poller.register(source.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    poller.register(conn.wake_r, select.POLLIN)

    def post(callback: Callable[..., None], *args: Any) -> bool:
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    try:
        while True:
            ready = poller.poll()
            if any(fd == conn.wake_r for fd, _ in ready):
                return
            raws: list[bytes] = []
            lost: str | None = None
            while len(raws) < CHUNK:
                try:
                    raw = source.read_report()
                except BlockingIOError:
                    break
                except OSError as exc:
                    lost = _reason(exc)
                    break
                if not raw:
                    lost = "pad unplugged (end of stream)"
                    break
                raws.append(raw)
            if raws:
                now = time.monotonic()
                k = len(raws)
                items: list[tuple[float, Decoded]] = []
                for i, raw in enumerate(raws):
                    last = max(now - (k - 1 - i) * interval, last)
                    items.append((last, layout.decode(raw)))
                if not post(on_chunk, generation, items):
                    return
            if lost is not None:
                post(on_lost, generation, lost)
                return
    finally:
        source.close()
