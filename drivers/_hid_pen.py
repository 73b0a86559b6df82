"""The pen reports of a HID digitizer, found by parsing its report descriptor (hid-tools).

Nothing about the report layout is assumed: :func:`parse_pen_layout` walks the input reports of
the parsed descriptor and picks those of a pen (application ``Digitizer`` 0x0D0001 or ``Pen``
0x0D0002) that carry X and Y (Generic Desktop) plus a Tip Switch, In Range or Tip Pressure
(Digitizers page). Touch screens, mice and vendor reports in the same descriptor are recognised
as *not a pen* and skipped. Where a usage occurs more than once in a report (some firmwares
declare ``Report Count (2)`` for X), the first field counts.

:meth:`PenLayout.decode` turns one raw report into a :class:`PenReport` (logical values) or a
:class:`BadReport` (unknown report id, wrong length); it never raises for device data.

hid-tools is imported only by :func:`parse_pen_layout` (lazily, the driver calls it in
``start()``), so importing this module needs no optional library.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

#: full usages (page << 16 | id)
USAGE_X = 0x010030
USAGE_Y = 0x010031
USAGE_TIP_PRESSURE = 0x0D0030
USAGE_IN_RANGE = 0x0D0032
USAGE_TIP_SWITCH = 0x0D0042
APPLICATION_DIGITIZER = 0x0D0001
APPLICATION_PEN = 0x0D0002
PEN_APPLICATIONS = (APPLICATION_DIGITIZER, APPLICATION_PEN)

#: HID unit codes of length: SI linear (cm) and English linear (inch)
_UNIT_CM = 0x11
_UNIT_INCH = 0x13


class DescriptorError(ValueError):
    """The report descriptor cannot be parsed or describes no pen."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One decoded quantity: its hid-tools field and logical range."""

    field: Any  # hidtools.hid.HidField
    logical_min: int
    logical_max: int

    @property
    def span(self) -> int:
        return self.logical_max - self.logical_min

    def value(self, report: list[int]) -> int:
        raw = self.field.get_values(report)[0]
        return int(raw) if isinstance(raw, int) else self.logical_min

    def physical_mm(self) -> float | None:
        """The physical extent in millimetres, when the descriptor states one."""
        f = self.field
        span = (f.physical_max or 0) - (f.physical_min or 0)
        if span <= 0:
            return None
        unit = (f.unit or 0) & 0xFF
        factor = {_UNIT_CM: 10.0, _UNIT_INCH: 25.4}.get(unit)
        if factor is None:
            return None
        return float(span * (10.0 ** (f.unit_exp or 0)) * factor)


@dataclass(frozen=True, slots=True)
class PenReportLayout:
    """Where the pen quantities are in one input report."""

    report_id: int  # -1: the descriptor has no report ids
    size: int  # bytes, the report id included
    x: Axis
    y: Axis
    pressure: Axis | None
    tip: Axis | None
    in_range: Axis | None


@dataclass(frozen=True, slots=True)
class PenReport:
    """One decoded pen report, logical values (``pressure`` None: the pad has no pressure)."""

    report_id: int
    x: int
    y: int
    pressure: int | None
    tip: bool
    in_range: bool


@dataclass(frozen=True, slots=True)
class BadReport:
    """A report that is not one the descriptor describes (why: for the log)."""

    reason: str


@dataclass(frozen=True, slots=True)
class OtherReport:
    """A well-formed report of the device that is not a pen report (touch, mouse, vendor)."""

    report_id: int


Decoded = PenReport | BadReport | OtherReport


class PenLayout:
    """The pen reports of one descriptor; see the module docstring."""

    def __init__(self, descriptor: Any, pens: list[PenReportLayout]) -> None:
        self.descriptor = descriptor  # hidtools.hid.ReportDescriptor
        self.pens = {p.report_id: p for p in pens}
        self.primary = pens[0]
        self.numbered = self.primary.report_id >= 0
        # every input report the descriptor declares, with its size in bytes
        self.sizes: dict[int, int] = {
            int(rid): int(r.size) for rid, r in descriptor.input_reports.items()
        }

    @property
    def pressure_levels(self) -> int:
        """The pad's native number of pressure levels (1: no pressure, only the tip switch)."""
        p = self.primary.pressure
        return 1 if p is None else p.span + 1

    def decode(self, raw: bytes) -> Decoded:
        if not raw:
            return BadReport("empty report")
        rid = raw[0] if self.numbered else -1
        expected = self.sizes.get(rid)
        if expected is None:
            return BadReport(f"unknown report id {rid}")
        if len(raw) != expected:
            return BadReport(f"report {rid}: {len(raw)} bytes, the descriptor says {expected}")
        pen = self.pens.get(rid)
        if pen is None:
            return OtherReport(rid)
        data = list(raw)
        pressure = None if pen.pressure is None else pen.pressure.value(data)
        if pen.tip is not None:
            tip = pen.tip.value(data) != 0
        else:  # no tip switch: touching is pressure above the minimum
            tip = (
                pen.pressure is not None
                and pressure is not None
                and (pressure > pen.pressure.logical_min)
            )
        in_range = tip or (pen.in_range is not None and pen.in_range.value(data) != 0)
        return PenReport(rid, pen.x.value(data), pen.y.value(data), pressure, tip, in_range)

    def summary(self) -> dict[str, Any]:
        p = self.primary
        out: dict[str, Any] = {
            "report_id": p.report_id,
            "report_size": p.size,
            "x_logical": [p.x.logical_min, p.x.logical_max],
            "y_logical": [p.y.logical_min, p.y.logical_max],
            "pressure_levels": self.pressure_levels,
            "has_tip_switch": p.tip is not None,
            "has_in_range": p.in_range is not None,
        }
        if p.pressure is not None:
            out["pressure_logical"] = [p.pressure.logical_min, p.pressure.logical_max]
        w, h = p.x.physical_mm(), p.y.physical_mm()
        if w is not None and h is not None:
            out["physical_mm"] = [round(w, 1), round(h, 1)]
        return out


def _axis(field: Any) -> Axis:
    return Axis(field, int(field.logical_min), int(field.logical_max))


def parse_pen_layout(rdesc: bytes) -> PenLayout:
    """Parse a report descriptor (hid-tools) and find its pen reports.

    Raises :class:`DescriptorError` when it cannot be parsed or has no pen report, and
    ``ImportError`` when hid-tools is not installed.
    """
    hid = importlib.import_module("hidtools.hid")
    try:
        descriptor = hid.ReportDescriptor.from_bytes(list(rdesc))
    except Exception as exc:  # hid-tools raises assorted errors for a broken descriptor
        raise DescriptorError(f"unparseable report descriptor ({len(rdesc)} bytes): {exc}") from exc
    pens: list[PenReportLayout] = []
    for rid, report in descriptor.input_reports.items():
        if report.application not in PEN_APPLICATIONS:
            continue
        first: dict[int, Axis] = {}
        for field in report:
            if field.is_const or field.is_array:
                continue
            first.setdefault(int(field.usage), _axis(field))
        x, y = first.get(USAGE_X), first.get(USAGE_Y)
        tip, rng = first.get(USAGE_TIP_SWITCH), first.get(USAGE_IN_RANGE)
        pressure = first.get(USAGE_TIP_PRESSURE)
        if x is None or y is None or (tip is None and rng is None and pressure is None):
            continue
        if x.span <= 0 or y.span <= 0 or (pressure is not None and pressure.span <= 0):
            continue
        pens.append(
            PenReportLayout(
                report_id=int(rid),
                size=int(report.size),
                x=x,
                y=y,
                pressure=pressure,
                tip=tip,
                in_range=rng,
            )
        )
    if not pens:
        apps = sorted({r.application_name for r in descriptor.input_reports.values()})
        raise DescriptorError(
            "the report descriptor has no pen report (X, Y and tip switch, in range or tip "
            f"pressure in a Digitizer/Pen application); its input reports: {', '.join(apps)}"
        )
    pens.sort(key=lambda p: p.report_id)
    return PenLayout(descriptor, pens)
