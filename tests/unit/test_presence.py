"""Presence pipeline on injected time: median, hysteresis, delayed on/off, door as second signal."""

from __future__ import annotations

from booth.config import PresenceConfig
from booth.presence import HysteresisThreshold, MedianWindow, PresenceFilter

DT = 0.1  # sonar sample interval


def feed(
    f: PresenceFilter, t0: float, seconds: float, distance: float | None
) -> list[tuple[float, bool]]:
    changes = []
    n = round(seconds / DT)
    for i in range(n):
        t = t0 + i * DT
        c = f.update(t, distance)
        if c is not None:
            changes.append((round(t, 3), c))
    return changes


def cfg(**kw: object) -> PresenceConfig:
    return PresenceConfig.model_validate(kw)


def test_median_treats_no_echo_as_far() -> None:
    m = MedianWindow(3)
    assert m.add(0.7) == 0.7
    assert m.add(None) == float("inf")  # [0.7, inf] -> upper middle
    assert m.add(0.8) == 0.8


def test_hysteresis_needs_off_distance_to_switch_off() -> None:
    h = HysteresisThreshold(1.2, 1.6)
    assert h.update(1.0) is True
    assert h.update(1.4) is True  # between thresholds: stays on
    assert h.update(1.6) is False
    assert h.update(1.4) is False  # between thresholds: stays off


def test_person_is_seen_after_delay_on() -> None:
    f = PresenceFilter(cfg(delay_on=1.5))
    assert feed(f, 0.0, 5.0, 2.4) == []
    changes = feed(f, 5.0, 3.0, 0.7)
    assert len(changes) == 1 and changes[0][1] is True
    # median of 5 needs 3 near samples (0.2 s), then 1.5 s delay
    assert 6.6 <= changes[0][0] <= 6.8


def test_single_spurious_echo_never_turns_presence_on() -> None:
    f = PresenceFilter(cfg())
    feed(f, 0.0, 2.0, 2.4)
    assert f.update(2.0, 0.5) is None
    assert feed(f, 2.1, 10.0, 2.4) == []
    assert f.present is False


def test_short_burst_shorter_than_delay_on_is_ignored() -> None:
    f = PresenceFilter(cfg(delay_on=1.5))
    feed(f, 0.0, 2.0, 2.4)
    assert feed(f, 2.0, 1.0, 0.6) == []  # someone looks in for a second
    assert feed(f, 3.0, 10.0, 2.4) == []


def test_still_citizen_with_closed_door_is_not_taken_for_gone() -> None:
    f = PresenceFilter(cfg(delay_off=8.0))
    f.door_changed(0.0, is_closed=False)
    feed(f, 0.0, 3.0, 0.7)
    f.door_changed(3.0, is_closed=True)
    assert f.present
    # the sonar loses the citizen (sitting still, no echo) for ten minutes; door stays closed
    assert feed(f, 3.0, 600.0, None) == []
    assert f.present
    assert f.snapshot().door_hold is True


def test_gone_is_accepted_when_the_door_opened() -> None:
    f = PresenceFilter(cfg(delay_off=8.0))
    feed(f, 0.0, 3.0, 0.7)
    f.door_changed(3.0, is_closed=True)
    f.door_changed(20.0, is_closed=False)  # citizen opens the door to leave
    changes = feed(f, 20.0, 12.0, 2.4)
    assert len(changes) == 1 and changes[0][1] is False
    assert 28.0 <= changes[0][0] <= 28.5


def test_door_closed_hold_releases_when_the_door_opens_later() -> None:
    f = PresenceFilter(cfg(delay_off=5.0))
    feed(f, 0.0, 3.0, 0.7)
    f.door_changed(3.0, is_closed=True)
    assert feed(f, 3.0, 30.0, 2.4) == []  # held: door never opened
    f.door_changed(33.0, is_closed=False)
    # the citizen is only now on the way out: absence counts from the opening, so the booth
    # does not close the door on them the moment they open it
    assert feed(f, 33.0, 4.9, 2.4) == []
    changes = feed(f, 37.9, 1.0, 2.4)
    assert changes and changes[0][1] is False
    assert 38.0 <= changes[0][0] <= 38.2


def test_without_door_confirmation_absence_uses_sonar_only() -> None:
    f = PresenceFilter(cfg(delay_off=5.0, door_confirms_absence=False))
    feed(f, 0.0, 3.0, 0.7)
    changes = feed(f, 3.0, 10.0, 2.4)
    assert changes and changes[0][1] is False


def test_config_rejects_inverted_hysteresis_and_even_window() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="off_distance"):
        cfg(on_distance=1.5, off_distance=1.2)
    with pytest.raises(ValidationError, match="odd"):
        cfg(median_window=4)
