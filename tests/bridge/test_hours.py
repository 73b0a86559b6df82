"""Opening hours: parsing with clear messages, DST, holidays, next opening, German text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud_bridge.acd.model import OpeningHoursLike
from cloud_bridge.hours import LOOKAHEAD_DAYS, OpeningHours, parse_ranges

WEEKDAYS_8_12 = {d: ["08:00-12:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


# ------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"tue": ["8:00-7:00"]}, "tue: '8:00-7:00': end before start"),
        ({"mon": ["08:00-08:00"]}, "mon: '08:00-08:00': empty range (start equals end)"),
        ({"wed": ["8-12"]}, "wed: '8-12': not HH:MM-HH:MM"),
        ({"thu": ["25:00-26:00"]}, "thu: '25:00-26:00': invalid time '25:00'"),
        ({"fri": ["08:60-12:00"]}, "fri: '08:60-12:00': invalid time '08:60'"),
        ({"sat": ["24:00-24:00"]}, "sat: '24:00-24:00': invalid time '24:00'"),
        ({"sun": ["08:00-24:30"]}, "sun: '08:00-24:30': invalid time '24:30'"),
        (
            {"mon": ["08:00-12:00", "11:00-13:00"]},
            "mon: '11:00-13:00' overlaps '08:00-12:00'",
        ),
        ({"mon": [8]}, "mon: 8: not a string 'HH:MM-HH:MM'"),
        ({"tues": ["08:00-12:00"]}, "unknown key 'tues' (expected mon, tue, wed, thu, fri"),
        ({"closed": ["2026-13-01"]}, "closed: '2026-13-01': not a date (YYYY-MM-DD)"),
        ({"closed": ["24.12.2026"]}, "closed: '24.12.2026': not a date (YYYY-MM-DD)"),
    ],
)
def test_parse_errors_name_day_and_range(mapping: dict[str, list[object]], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        OpeningHours.parse(mapping)
    assert str(exc.value).startswith(message)


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Berln'"):
        OpeningHours.parse(WEEKDAYS_8_12, tz="Europe/Berln")


def test_ranges_are_sorted_touching_ones_merged_and_24_00_allowed() -> None:
    assert parse_ranges(["13:00-14:00", "08:00-12:00", "12:00-13:00"]) == ((480, 840),)
    assert parse_ranges("22:00-24:00") == ((1320, 1440),)
    assert parse_ranges(["8:00 – 9:30"]) == ((480, 570),)  # en dash and spaces


def test_closed_accepts_toml_dates_and_strings() -> None:
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "closed": [date(2026, 12, 24), "2026-12-31"]})
    assert hours.closed == {date(2026, 12, 24), date(2026, 12, 31)}


def test_as_dict_round_trips_and_equality() -> None:
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "thu": ["8:00-12:00", "13:00-18:00"]})
    again = OpeningHours.parse(hours.as_dict())
    assert again == hours and hash(again) == hash(hours)
    assert again != OpeningHours.parse(WEEKDAYS_8_12)
    assert hours.as_dict()["thu"] == ["08:00-12:00", "13:00-18:00"]


def test_satisfies_the_engines_protocol() -> None:
    hours: OpeningHoursLike = OpeningHours.parse(WEEKDAYS_8_12)
    assert hours.text == "Mo–Fr 8:00–12:00 Uhr"


# --------------------------------------------------------------------------------- text
@pytest.mark.parametrize(
    ("mapping", "text"),
    [
        (
            {
                **WEEKDAYS_8_12,
                "tue": ["08:00-12:00", "13:00-17:30"],
                "thu": ["08:00-12:00", "13:00-17:30"],
            },
            "Mo–Fr 8:00–12:00 Uhr, Di und Do auch 13:00–17:30 Uhr",
        ),
        (
            {**WEEKDAYS_8_12, "thu": ["08:00-12:00", "13:00-18:00"]},
            "Mo–Fr 8:00–12:00 Uhr, Do auch 13:00–18:00 Uhr",
        ),
        (
            {d: ["08:00-12:00", "13:00-16:00"] for d in ("mon", "tue", "wed", "thu")},
            "Mo–Do 8:00–12:00 und 13:00–16:00 Uhr",
        ),
        (
            {"mon": ["08:00-16:00"], "tue": ["08:00-16:00"], "fri": ["08:00-13:00"]},
            "Mo und Di 8:00–16:00 Uhr, Fr 8:00–13:00 Uhr",
        ),
        (
            {"mon": ["09:00-12:00"], "wed": ["09:00-12:00"], "fri": ["09:00-12:00"]},
            "Mo, Mi und Fr 9:00–12:00 Uhr",
        ),
        (
            {"mon": ["09:00-12:00"], "wed": ["09:00-12:00"], "sat": ["10:00-12:30"]},
            "Mo und Mi 9:00–12:00 Uhr, Sa 10:00–12:30 Uhr",
        ),
        (
            {
                "mon": ["08:00-12:00"],
                "tue": ["08:00-12:00"],
                "thu": ["08:00-12:00"],
                "sat": ["10:00-12:00"],
            },
            "Mo, Di und Do 8:00–12:00 Uhr; Sa 10:00–12:00 Uhr",
        ),
        ({"sat": ["10:00-14:00"], "sun": ["10:00-14:00"]}, "Sa und So 10:00–14:00 Uhr"),
        ({"mon": ["00:00-24:00"]}, "Mo 0:00–24:00 Uhr"),
        ({}, "geschlossen"),
    ],
)
def test_german_text_groups_days(mapping: dict[str, list[str]], text: str) -> None:
    assert OpeningHours.parse(mapping).text == text


# ------------------------------------------------------------------- is_open across DST
def test_is_open_follows_local_time_across_spring_forward() -> None:
    hours = OpeningHours.parse(WEEKDAYS_8_12)
    # Friday 27 March 2026, CET (UTC+1): 8:00 local = 7:00 UTC
    assert not hours.is_open(utc(2026, 3, 27, 6, 59))
    assert hours.is_open(utc(2026, 3, 27, 7, 0))
    assert hours.is_open(utc(2026, 3, 27, 10, 59, 59))
    assert not hours.is_open(utc(2026, 3, 27, 11, 0))  # end is exclusive
    # Monday 30 March 2026, CEST (UTC+2) since Sunday: 8:00 local = 6:00 UTC
    assert hours.is_open(utc(2026, 3, 30, 6, 0))
    assert hours.is_open(utc(2026, 3, 30, 9, 59))
    assert not hours.is_open(utc(2026, 3, 30, 10, 0))


def test_is_open_follows_local_time_across_fall_back() -> None:
    hours = OpeningHours.parse(WEEKDAYS_8_12)
    # Friday 23 October 2026 is CEST, Monday 26 October CET
    assert hours.is_open(utc(2026, 10, 23, 6, 0)) and not hours.is_open(utc(2026, 10, 23, 10, 0))
    assert not hours.is_open(utc(2026, 10, 26, 6, 30)) and hours.is_open(utc(2026, 10, 26, 7, 0))
    assert hours.is_open(utc(2026, 10, 26, 10, 59)) and not hours.is_open(utc(2026, 10, 26, 11, 0))


def test_weekend_and_other_time_zone() -> None:
    hours = OpeningHours.parse(WEEKDAYS_8_12, tz="America/New_York")
    assert not hours.is_open(utc(2026, 3, 28, 14, 0))  # Saturday
    assert hours.is_open(utc(2026, 1, 5, 13, 0))  # Monday 8:00 EST
    assert not hours.is_open(utc(2026, 1, 5, 7, 0))  # Monday 8:00 in Berlin, 2:00 in New York


def test_the_night_of_the_switch() -> None:
    night = OpeningHours.parse({"sun": ["02:00-03:00"]})
    # 29 March 2026: 2:00–3:00 does not exist (clocks jump from 2:00 to 3:00)
    assert not any(night.is_open(utc(2026, 3, 29, 0, m)) for m in range(0, 60, 5))
    assert not any(night.is_open(utc(2026, 3, 29, 1, m)) for m in range(0, 60, 5))
    assert night.next_opening(utc(2026, 3, 28, 12, 0)) == utc(2026, 4, 5, 0, 0)
    # 25 October 2026: 2:00–3:00 happens twice (CEST, then CET): open two real hours
    assert night.next_opening(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 0)
    assert night.is_open(utc(2026, 10, 25, 0, 30)) and night.is_open(utc(2026, 10, 25, 1, 30))
    assert not night.is_open(utc(2026, 10, 25, 2, 0))


# ----------------------------------------------------------------- holidays, next opening
def test_closed_days_are_closed_all_day() -> None:
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "closed": ["2026-12-24"]})
    assert not hours.is_open(utc(2026, 12, 24, 8, 0))  # Thursday, a holiday
    assert hours.is_open(utc(2026, 12, 23, 8, 0))


def test_next_opening_skips_holidays_and_weekends() -> None:
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "closed": ["2026-12-24", "2026-12-25"]})
    # Thursday 24 December, 8:00 local → Monday 28 December 8:00 CET = 7:00 UTC
    assert hours.next_opening(utc(2026, 12, 24, 7, 0)) == utc(2026, 12, 28, 7, 0)


def test_next_opening_is_now_when_open_later_today_or_next_range() -> None:
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "tue": ["08:00-12:00", "13:00-17:00"]})
    now = utc(2026, 6, 2, 8, 15)  # Tuesday 10:15 CEST
    assert hours.next_opening(now) == now
    assert hours.next_opening(utc(2026, 6, 2, 10, 30)) == utc(2026, 6, 2, 11, 0)  # 13:00 CEST
    assert hours.next_opening(utc(2026, 6, 2, 15, 0)) == utc(2026, 6, 3, 6, 0)  # Wed 8:00
    assert hours.next_opening(utc(2026, 6, 5, 10, 0)) == utc(2026, 6, 8, 6, 0)  # Fri → Mon


def test_next_opening_none_beyond_the_lookahead() -> None:
    assert OpeningHours.parse({}).next_opening(utc(2026, 6, 1, 0, 0)) is None
    # closed for more than two weeks (e.g. a long renovation)
    closed = [f"2026-07-{d:02d}" for d in range(1, 32)]
    hours = OpeningHours.parse({**WEEKDAYS_8_12, "closed": closed})
    assert hours.next_opening(utc(2026, 7, 1, 0, 0)) is None
    assert hours.next_opening(utc(2026, 7, 20, 0, 0)) is None  # Mon 3 Aug 8:00 is 14 d 6 h on
    assert hours.next_opening(utc(2026, 7, 21, 0, 0)) == utc(2026, 8, 3, 6, 0)
    assert LOOKAHEAD_DAYS == 14
    # exactly at the edge: a once-a-fortnight opening 14 days ahead is still found
    sunday = OpeningHours.parse({"sun": ["10:00-11:00"], "closed": ["2026-06-14"]})
    assert sunday.next_opening(utc(2026, 6, 7, 8, 0)) == utc(2026, 6, 7, 8, 0)
    assert sunday.next_opening(utc(2026, 6, 7, 9, 0)) == utc(2026, 6, 21, 8, 0)
