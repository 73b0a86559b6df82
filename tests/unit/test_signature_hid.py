"""HID digitizer signature pad (drivers/signature_hid.py) on replayed reports.

Real report descriptors (tests/data/hid, from the Linux kernel's HID selftests) are parsed by
the driver; the reports are built with hid-tools' ``create_report`` and fed through a
packet-mode pipe into the driver's real read path (reader thread, poll, non-blocking reads);
see tests/contract/rigs_hid.py. Real time (threads and pipes), waits bounded by timeouts.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from recorder import Recorder

from drivers._hid_io import open_hidraw
from drivers._hid_pen import BadReport, OtherReport, PenReport, parse_pen_layout
from drivers.signature_hid import HidSignaturePad, HidSignaturePadOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import DeviceError, SignaturePad
from hal.events import (
    HealthChanged,
    PenContactChanged,
    PenSample,
    PenSamples,
    SignatureInterrupted,
)
from hal.health import HealthStatus, SelftestOutcome

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.realtime


def _rigs() -> ModuleType:
    name = "contract_rigs_hid"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests/contract/rigs_hid.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


rigs = _rigs()
hid_pad = rigs.hid_pad


def samples_of(rec: Recorder) -> list[PenSample]:
    return [s for batch in rec.of(PenSamples) for s in batch.samples]


# --- descriptors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "report_id", "size", "x", "y", "pressure"),
    [
        ("goodix", 8, 13, (0, 5120), (0, 3200), (0, 4095)),
        ("ntrig", 1, 10, (0, 9600), (0, 7200), (0, 256)),
        ("atmel", 3, 11, (0, 4095), (0, 4095), (1, 255)),
    ],
)
def test_pen_report_is_found_by_parsing_the_descriptor(
    name: str, report_id: int, size: int, x: Any, y: Any, pressure: Any
) -> None:
    layout = parse_pen_layout(rigs.descriptor_bytes(name))
    pen = layout.primary
    assert (pen.report_id, pen.size) == (report_id, size)
    assert (pen.x.logical_min, pen.x.logical_max) == x
    assert (pen.y.logical_min, pen.y.logical_max) == y
    assert pen.pressure is not None
    assert (pen.pressure.logical_min, pen.pressure.logical_max) == pressure
    assert pen.tip is not None and pen.in_range is not None
    assert layout.pressure_levels == pressure[1] - pressure[0] + 1
    summary = layout.summary()
    assert summary["physical_mm"][0] > 100  # X physical extent from the descriptor (cm, 10^-2)
    # the other reports of the device (touch screen, mouse, vendor) are not taken for the pen
    assert set(layout.pens) == {report_id}


def test_decode_tells_pen_other_and_bad_reports_apart() -> None:
    replay = rigs.ReplayHid("goodix")
    layout = parse_pen_layout(replay.rdesc)
    report = layout.decode(replay.pen(100, 200, 4000, True, True))
    assert report == PenReport(8, 100, 200, 4000, True, True)
    touch = bytes(replay.hid.create_report(rigs.PenState(x=5, y=6, tipswitch=1), reportID=1))
    assert isinstance(layout.decode(touch), OtherReport)
    assert isinstance(layout.decode(bytes([0x63]) + bytes(12)), BadReport)  # unknown id
    assert isinstance(layout.decode(replay.pen(1, 2, 3, True, True)[:-1]), BadReport)  # short
    assert isinstance(layout.decode(replay.pen(1, 2, 3, True, True) + b"\0"), BadReport)  # long


def test_a_descriptor_without_a_pen_is_refused() -> None:
    # a plain 3-button mouse (the boot mouse descriptor of the HID spec, appendix B.2)
    mouse = bytes.fromhex(
        "05 01 09 02 a1 01 09 01 a1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01"
        " 75 05 81 01 05 01 09 30 09 31 15 81 25 7f 75 08 95 02 81 06 c0 c0"
    )
    with pytest.raises(ValueError, match="no pen report"):
        parse_pen_layout(mouse)


def test_importing_the_driver_needs_no_hid_tools() -> None:
    code = "import sys, drivers.signature_hid; assert 'hidtools' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


# --- the driver on replayed reports ----------------------------------------------------------


async def test_is_a_signature_pad_with_units_from_the_descriptor() -> None:
    async with hid_pad("goodix") as (pad, _):
        assert isinstance(pad, SignaturePad)
        assert (pad.width, pad.height, pad.pressure_levels) == (5120, 3200, 4096)
        result = await pad.selftest()
        assert result.outcome is SelftestOutcome.PASS
        assert result.details["pressure_levels"] == 4096
        assert result.details["report_id"] == 8


@pytest.mark.parametrize("name", ["goodix", "ntrig"])
async def test_every_sample_of_a_60s_signature_at_500hz_arrives(name: str) -> None:
    """30,000 reports through the real read path (pipe sized like hidraw's 64-report ring,
    writer blocking while it is full): every one arrives, in order, none dropped."""
    n = 30_000
    async with hid_pad(name) as (pad, replay):
        rec = Recorder(pad)
        done = asyncio.Event()
        pad.subscribe(
            lambda e: (
                done.set()
                if isinstance(e, PenContactChanged) and not e.down and not e.in_range
                else None
            )
        )
        await pad.enable()
        xs, ys = replay.x_range[1], replay.y_range[1]
        reports = [replay.pen(1, 1, 0, False, True)]
        reports += [
            replay.pen(
                i % (xs + 1), (i // (xs + 1)) % (ys + 1), i % (replay.p_range[1] + 1), True, True
            )
            for i in range(n)
        ]
        reports.append(replay.pen(0, 0, 0, False, False))
        t0 = time.perf_counter()
        writer = threading.Thread(target=replay.send_all, args=(reports,))
        writer.start()
        await asyncio.wait_for(done.wait(), 60.0)
        elapsed = time.perf_counter() - t0
        writer.join(5.0)

        samples = samples_of(rec)
        assert len(samples) == n
        assert pad.reports_read == n + 2 and pad.bad_reports == 0
        assert [(s.x, s.y) for s in samples[:3]] == [(0, 0), (1, 0), (2, 0)]
        for i, s in enumerate(samples):
            assert (s.x, s.y) == (i % (xs + 1), (i // (xs + 1)) % (ys + 1)), i
        times = [s.t for s in samples]
        assert times == sorted(times)
        rate = n / elapsed
        print(f"{name}: {n} reports in {elapsed:.2f} s = {rate:.0f} reports/s")
        assert rate > 10 * 500  # the read path keeps up with a 500 Hz pad ten times over


@pytest.mark.parametrize(
    ("name", "raw_to_hal"),
    [
        ("goodix", [(0, 0), (1, 0), (2048, 512), (4094, 1023), (4095, 1023)]),
        ("ntrig", [(0, 0), (1, 4), (128, 512), (256, 1023)]),
        ("atmel", [(1, 0), (128, 512), (255, 1023)]),
    ],
)
async def test_pressure_is_normalised_to_the_hal_scale(name: str, raw_to_hal: Any) -> None:
    async with hid_pad(name) as (pad, replay):
        rec = Recorder(pad)
        await pad.enable()
        reports = [replay.pen(10, 20, raw, True, True) for raw, _ in raw_to_hal]
        reports.append(replay.pen(10, 20, 0, False, False))
        replay.send_all(reports)
        await rec.wait_for(lambda e: isinstance(e, PenContactChanged) and not e.down, 5.0)
        assert [s.pressure for s in samples_of(rec)] == [hal for _, hal in raw_to_hal]
        assert pad.pressure_levels == replay.p_range[1] - replay.p_range[0] + 1


async def test_a_pad_with_few_pressure_levels_is_degraded_and_says_so() -> None:
    async with hid_pad("ntrig") as (pad, _):
        health = pad.health()
        assert health.status is HealthStatus.DEGRADED
        assert "257 pressure levels" in health.reason
        assert (await pad.selftest()).details["pressure_levels"] == 257


async def test_in_range_and_tip_transitions_are_stroke_boundaries() -> None:
    async with hid_pad("goodix") as (pad, replay):
        rec = Recorder(pad)
        await pad.enable()
        p = replay.pen
        replay.send_all(
            [
                p(100, 100, 0, False, True),  # hover
                p(110, 100, 2000, True, True),  # stroke 1
                p(120, 100, 2000, True, True),
                p(130, 100, 0, False, True),  # lifted, still in range
                p(200, 150, 0, False, True),
                p(210, 150, 3000, True, True),  # stroke 2
                p(220, 150, 3000, True, True),
                p(230, 150, 3000, True, True),
                p(240, 150, 0, False, False),  # away
            ]
        )
        await rec.wait_for(lambda e: isinstance(e, PenContactChanged) and not e.in_range, 5.0)
        kinds: list[Any] = []
        for event in rec.events:
            if isinstance(event, PenContactChanged):
                kinds.append(("down" if event.down else "up", event.in_range))
            elif isinstance(event, PenSamples):
                kinds.append([s.x for s in event.samples])
        assert kinds == [
            ("up", True),
            ("down", True),
            [110, 120],
            ("up", True),
            ("down", True),
            [210, 220, 230],
            ("up", False),
        ]


async def test_nothing_is_emitted_while_disabled() -> None:
    async with hid_pad("goodix") as (pad, replay):
        rec = Recorder(pad)
        replay.send_all([replay.pen(1, 1, 100, True, True)] * 5)
        await pad.wait_reports_read(5, 5.0)
        assert rec.of(PenSamples) == [] and rec.of(PenContactChanged) == []
        assert pad.ignored_while_disabled == 5


@pytest.mark.parametrize("err", [errno.ENODEV, errno.EIO, None], ids=["ENODEV", "EIO", "EOF"])
async def test_unplugged_mid_signature_voids_it_and_the_pad_comes_back(err: int | None) -> None:
    async with hid_pad("goodix", reconnect_interval=0.05) as (pad, replay):
        rec = Recorder(pad)
        await pad.enable()
        replay.send_all([replay.pen(10 * i, 10, 2000, True, True) for i in range(20)])
        await pad.wait_reports_read(20, 5.0)
        replay.unplug(err)
        event = await rec.wait_for(lambda e: isinstance(e, SignatureInterrupted), 5.0)
        assert isinstance(event, SignatureInterrupted)
        assert event.samples_discarded == 20
        assert "unplugged" in event.reason
        health = pad.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert "mid-signature" in health.reason and "unplugged" in health.reason
        assert pad.enabled() is False
        assert pad.interrupted() == event.reason
        with pytest.raises(DeviceError):
            await pad.enable()
        assert (await pad.selftest()).outcome is SelftestOutcome.FAIL
        # the interruption is announced before anything else of the pad's loss
        index = rec.events.index(event)
        assert not any(isinstance(e, PenSamples) for e in rec.events[index:])

        replay.replug()
        await rec.wait_for(
            lambda e: isinstance(e, HealthChanged) and e.health.status is HealthStatus.OK, 5.0
        )
        assert pad.interrupted() == event.reason  # latched until a new signature starts
        await pad.clear()
        assert pad.interrupted() is None
        await pad.enable()
        rec.clear()
        replay.send_all([replay.pen(5, 5, 1000, True, True), replay.pen(5, 5, 0, False, False)])
        await rec.wait_for(lambda e: isinstance(e, PenContactChanged) and not e.down, 5.0)
        assert len(samples_of(rec)) == 1


async def test_unplugged_while_idle_is_unavailable_without_an_interruption() -> None:
    async with hid_pad("goodix") as (pad, replay):
        rec = Recorder(pad)
        replay.unplug(errno.ENODEV)
        await rec.wait_for(
            lambda e: isinstance(e, HealthChanged) and e.health.status is HealthStatus.UNAVAILABLE,
            5.0,
        )
        assert rec.of(SignatureInterrupted) == []
        assert pad.interrupted() is None


async def test_garbage_reports_are_counted_and_skipped_never_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "lisa.drivers.signature_hid")
    async with hid_pad("goodix") as (pad, replay):
        rec = Recorder(pad)
        await pad.enable()
        good = replay.pen(50, 60, 2048, True, True)
        touch = bytes(replay.hid.create_report(rigs.PenState(x=5, y=6, tipswitch=1), reportID=1))
        replay.send_all(
            [
                good,
                good[:5],  # truncated
                good + b"\x00\x00",  # too long
                bytes([0x42]) + good[1:],  # unknown report id
                b"\x08",  # a report id alone
                os.urandom(64),  # noise, as long as a vendor report but not one
                touch,  # the device's touch screen report: not the pen, not garbage
                good,
                replay.pen(50, 60, 0, False, False),
            ]
        )
        await rec.wait_for(lambda e: isinstance(e, PenContactChanged) and not e.down, 5.0)
        assert len(samples_of(rec)) == 2
        assert pad.bad_reports in (5, 6)  # random noise can start with the vendor id 14 + fit
        assert pad.other_reports in (1, 2)
        assert pad.health().status is HealthStatus.OK
        assert "skipped a report the descriptor does not describe" in caplog.text
        assert "unknown report id 66" in caplog.text


async def test_a_missing_device_is_unavailable_and_found_when_plugged_in() -> None:
    async with hid_pad("goodix", reconnect_interval=0.05) as (pad, replay):
        pass  # started once: now stopped
    replay = rigs.ReplayHid("goodix")
    replay.present = False
    opts = HidSignaturePadOptions(device="/dev/hidraw-replay", reconnect_interval=0.05)
    pad = HidSignaturePad("signature-hid", opts, DriverContext(clock=LoopClock()), opener=replay)
    rec = Recorder(pad)
    await pad.start()
    try:
        assert pad.health().status is HealthStatus.UNAVAILABLE
        assert "cannot open /dev/hidraw-replay" in pad.health().reason
        assert (await pad.selftest()).outcome is SelftestOutcome.FAIL
        replay.replug()
        await rec.wait_for(
            lambda e: isinstance(e, HealthChanged) and e.health.status is HealthStatus.OK, 5.0
        )
        assert pad.connected
    finally:
        await pad.stop()
        replay.close_writer()


def test_open_hidraw_falls_back_to_sysfs_for_the_descriptor(tmp_path: Path) -> None:
    """The ioctl fails on anything but a hidraw node (ENOTTY): the descriptor then comes from
    ``/sys/class/hidraw/<node>/device/report_descriptor``."""
    rdesc = rigs.descriptor_bytes("atmel")
    sysfs = tmp_path / "sys"
    (sysfs / "hidraw7" / "device").mkdir(parents=True)
    (sysfs / "hidraw7" / "device" / "report_descriptor").write_bytes(rdesc)
    node = tmp_path / "dev" / "hidraw7"
    node.parent.mkdir()
    node.write_bytes(b"")
    link = tmp_path / "dev" / "lisa-signature"
    link.symlink_to(node)
    source = open_hidraw(str(link), sysfs)
    try:
        assert source.descriptor() == rdesc
        assert source.read_report() == b""  # a regular file: at its end at once
    finally:
        source.close()
    with pytest.raises(OSError, match="no report descriptor"):
        open_hidraw(str(node), tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):
        open_hidraw(str(tmp_path / "dev" / "hidraw9"), sysfs)
