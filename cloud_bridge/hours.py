"""Opening hours of a queue: a weekly schedule in local wall-clock time, plus closed days.

``OpeningHours.parse({"mon": ["08:00-12:00"], ..., "closed": ["2026-12-24"]}, tz=...)`` builds
one; it satisfies :class:`cloud_bridge.acd.model.OpeningHoursLike` (``is_open(ts)`` and a German
``text`` for the booth screen). Ranges are local wall-clock times in the schedule's time zone
(zoneinfo), so the switch to and from daylight saving time needs no care from the caller: an
office open 8:00–12:00 opens at 8:00 local time on both sides of the switch.

A range is ``start <= t < end``; ``24:00`` is allowed as an end. Ranges on the same day must
not overlap; ranges that touch (``08:00-12:00`` and ``12:00-14:00``) are merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Schedule keys, Monday first (``datetime.weekday()`` order)."""

WEEKDAYS_DE: tuple[str, ...] = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")

LOOKAHEAD_DAYS = 14
"""How far :meth:`OpeningHours.next_opening` looks ahead."""

DEFAULT_TZ = "Europe/Berlin"

Range = tuple[int, int]
"""Minutes since local midnight: ``(start, end)``, ``0 <= start < end <= 1440``."""

_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def load_zone(name: str) -> ZoneInfo:
    """The zoneinfo time zone ``name``; ``ValueError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. 'Europe/Berlin')") from None


def _minutes(text: str, hh: str, mm: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not end)):
        raise ValueError(f"{text!r}: invalid time '{hh}:{mm}'")
    return h * 60 + m


def parse_range(text: str) -> Range:
    """``"08:00-12:00"`` → ``(480, 720)``; ``ValueError`` naming the range otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r}: not a string 'HH:MM-HH:MM'")
    m = _RANGE_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r}: not HH:MM-HH:MM")
    start = _minutes(text, m.group(1), m.group(2), end=False)
    end = _minutes(text, m.group(3), m.group(4), end=True)
    if end < start:
        raise ValueError(f"{text!r}: end before start")
    if end == start:
        raise ValueError(f"{text!r}: empty range (start equals end)")
    return start, end


def parse_ranges(values: Sequence[str] | str) -> tuple[Range, ...]:
    """One day's ranges (a list of ``"HH:MM-HH:MM"``, or one such string), sorted and merged.

    ``ValueError`` names the bad range, e.g. ``'8:00-7:00': end before start``."""
    items = [values] if isinstance(values, str) else list(values)
    parsed = sorted((parse_range(v), v) for v in items)
    merged: list[Range] = []
    prev_text = ""
    for (start, end), text in parsed:
        if merged and start < merged[-1][1]:
            raise ValueError(f"{text!r} overlaps {prev_text!r}")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
        prev_text = text
    return tuple(merged)


def parse_date(value: Any) -> date:
    """An ISO date (``"2026-12-24"`` or a TOML date); ``ValueError`` naming it otherwise."""
    if isinstance(value, datetime):
        raise ValueError(f"{value!r}: a date without time expected (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r}: not a date (YYYY-MM-DD)")


def format_time(minutes: int) -> str:
    """``480`` → ``"8:00"`` (German style, no leading zero)."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def _join_de(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " und " + items[-1]


def _days_text(days: Sequence[int]) -> str:
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    items: list[str] = []
    for run in runs:
        if len(run) >= 3:
            items.append(f"{WEEKDAYS_DE[run[0]]}–{WEEKDAYS_DE[run[-1]]}")
        else:
            items.extend(WEEKDAYS_DE[d] for d in run)
    return _join_de(items)


def describe_week(week: Sequence[Sequence[Range]]) -> str:
    """German summary, days with the same ranges grouped.

    ``Mo–Fr 8:00–12:00 Uhr, Di und Do auch 13:00–17:30 Uhr``; ``geschlossen`` when empty."""
    by_range: dict[Range, list[int]] = {}
    for day, day_ranges in enumerate(week):
        for r in day_ranges:
            by_range.setdefault(r, []).append(day)
    if not by_range:
        return "geschlossen"
    groups: dict[tuple[int, ...], list[Range]] = {}
    for r, range_days in by_range.items():
        groups.setdefault(tuple(range_days), []).append(r)
    order = sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[0]), min(kv[1])))
    seen: set[int] = set()
    parts: list[str] = []
    for days, ranges in order:
        also = " auch" if seen.intersection(days) else ""
        times = _join_de([f"{format_time(s)}–{format_time(e)}" for s, e in sorted(ranges)])
        parts.append(f"{_days_text(days)}{also} {times} Uhr")
        seen.update(days)
    sep = "; " if any("," in p for p in parts) else ", "
    return sep.join(parts)


class OpeningHours:
    """A weekly schedule (local wall-clock time in ``tz``) and closed days (holidays).

    ``week``: seven tuples of ranges (minutes since midnight), Monday first. Satisfies
    :class:`cloud_bridge.acd.model.OpeningHoursLike`."""

    __slots__ = ("_zone", "closed", "text", "tz", "week")

    def __init__(
        self,
        week: Sequence[Sequence[Range]],
        closed: Iterable[date] = (),
        tz: str = DEFAULT_TZ,
    ) -> None:
        if len(week) != 7:
            raise ValueError(f"a week has 7 days, got {len(week)}")
        self.week: tuple[tuple[Range, ...], ...] = tuple(
            tuple(sorted((int(s), int(e)) for s, e in day)) for day in week
        )
        for name, day in zip(WEEKDAYS, self.week, strict=True):
            for s, e in day:
                if not 0 <= s < e <= 1440:
                    raise ValueError(f"{name}: invalid range ({s}, {e})")
        self.closed: frozenset[date] = frozenset(closed)
        self.tz: str = tz
        self._zone: ZoneInfo = load_zone(tz)
        self.text: str = describe_week(self.week)

    @classmethod
    def parse(cls, mapping: Mapping[str, Any], tz: str = DEFAULT_TZ) -> OpeningHours:
        """From ``{"mon": ["08:00-12:00"], ..., "closed": ["2026-12-24"]}`` (days optional).

        ``ValueError`` names the weekday and the range: ``tue: '8:00-7:00': end before start``.
        """
        week: list[tuple[Range, ...]] = [() for _ in WEEKDAYS]
        closed: list[date] = []
        for key, value in mapping.items():
            if key == "closed":
                items = [value] if isinstance(value, str | date) else list(value)
                for item in items:
                    try:
                        closed.append(parse_date(item))
                    except ValueError as exc:
                        raise ValueError(f"closed: {exc}") from None
            elif key in WEEKDAYS:
                try:
                    week[WEEKDAYS.index(key)] = parse_ranges(value)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
            else:
                expected = ", ".join((*WEEKDAYS, "closed"))
                raise ValueError(f"unknown key {key!r} (expected {expected})")
        return cls(week, closed, tz)

    def as_dict(self) -> dict[str, Any]:
        """The schedule in the form :meth:`parse` reads (``closed`` as ISO strings)."""
        out: dict[str, Any] = {
            name: [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in day]
            for name, day in zip(WEEKDAYS, self.week, strict=True)
        }
        out["closed"] = sorted(d.isoformat() for d in self.closed)
        return out

    def _local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self._zone)

    def _epoch(self, day: date, minutes: int) -> float:
        """Epoch seconds of local wall-clock ``minutes`` after midnight of ``day``."""
        naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
        return naive.replace(tzinfo=self._zone).timestamp()

    def is_open(self, ts: float) -> bool:
        """Whether the schedule is open at epoch second ``ts`` (UTC)."""
        local = self._local(ts)
        if local.date() in self.closed:
            return False
        m = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return any(s <= m < e for s, e in self.week[local.weekday()])

    def next_opening(self, ts: float) -> float | None:
        """The first moment at or after ``ts`` when open (``ts`` itself when open now).

        ``None`` when that is more than :data:`LOOKAHEAD_DAYS` days away."""
        limit = ts + LOOKAHEAD_DAYS * 86400
        first = self._local(ts).date()
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = first + timedelta(days=offset)
            if day in self.closed:
                continue
            for s, e in self.week[day.weekday()]:
                candidate = max(ts, self._epoch(day, s))
                # a range in the spring-forward gap does not exist that day: end <= start
                if candidate < self._epoch(day, e) and self.is_open(candidate):
                    return candidate if candidate <= limit else None
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OpeningHours):
            return NotImplemented
        return (self.week, self.closed, self.tz) == (other.week, other.closed, other.tz)

    def __hash__(self) -> int:
        return hash((self.week, self.closed, self.tz))

    def __repr__(self) -> str:
        return f"OpeningHours({self.text!r}, tz={self.tz!r}, closed={len(self.closed)} days)"
