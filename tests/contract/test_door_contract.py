"""Contract of door operators: motion with position feedback, entry lock, obstruction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hal.devices import DeviceError, Door
from hal.events import DoorObstructionChanged, DoorPosition, DoorPositionChanged


def positions(rec: Any, start: int = 0) -> list[DoorPosition]:
    return [e.position for e in rec.events[start:] if isinstance(e, DoorPositionChanged)]


def is_position(position: DoorPosition) -> Any:
    return lambda e: isinstance(e, DoorPositionChanged) and e.position is position


async def ensure(rig: Any, rec: Any, position: DoorPosition) -> None:
    door = rig.device
    if door.position() is position:
        return
    await (door.open() if position is DoorPosition.OPEN else door.close())
    await rec.wait_for(is_position(position), 2 * rig.params["travel_time"], len(rec.events))


async def test_is_a_door(make_door: Any) -> None:
    door = make_door.device
    assert isinstance(door, Door)
    assert door.position() in (DoorPosition.OPEN, DoorPosition.CLOSED)
    assert door.obstructed() is False


async def test_open_then_close_report_positions_in_order(make_door: Any, record: Any) -> None:
    door = make_door.device
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)

    start = len(rec.events)
    t0 = asyncio.get_running_loop().time()
    await door.open()
    opened = await rec.wait_for(is_position(DoorPosition.OPEN), 2 * travel, start)
    assert positions(rec, start) == [DoorPosition.OPENING, DoorPosition.OPEN]
    assert 0 < opened.t - t0 <= 2 * travel
    assert door.position() is DoorPosition.OPEN

    start = len(rec.events)
    t0 = asyncio.get_running_loop().time()
    await door.close()
    closed = await rec.wait_for(is_position(DoorPosition.CLOSED), 2 * travel, start)
    assert positions(rec, start) == [DoorPosition.CLOSING, DoorPosition.CLOSED]
    assert 0 < closed.t - t0 <= 2 * travel
    assert door.position() is DoorPosition.CLOSED


async def test_open_is_not_instant(make_door: Any, record: Any) -> None:
    door = make_door.device
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)
    await door.open()
    await asyncio.sleep(travel / 4)
    assert door.position() is DoorPosition.OPENING


async def test_reversing_mid_travel(make_door: Any, record: Any) -> None:
    door = make_door.device
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)
    start = len(rec.events)
    await door.open()
    await asyncio.sleep(travel / 2)
    await door.close()
    await rec.wait_for(is_position(DoorPosition.CLOSED), 2 * travel, start)
    assert positions(rec, start) == [
        DoorPosition.OPENING,
        DoorPosition.CLOSING,
        DoorPosition.CLOSED,
    ]


async def test_lock_entry_does_not_block_egress(make_door: Any, record: Any) -> None:
    door, peer = make_door.device, make_door.peer
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)
    await door.lock_entry()
    assert door.entry_locked() is True

    # nobody gets in from outside ...
    assert peer.entry_request() is False
    await asyncio.sleep(travel)
    assert door.position() is DoorPosition.CLOSED

    # ... but a person inside gets out
    start = len(rec.events)
    assert peer.egress_request() is True
    await rec.wait_for(is_position(DoorPosition.OPEN), 2 * travel, start)
    assert door.entry_locked() is True

    # and the PC may still open a locked door
    await ensure(make_door, rec, DoorPosition.CLOSED)
    start = len(rec.events)
    await door.open()
    await rec.wait_for(is_position(DoorPosition.OPEN), 2 * travel, start)


async def test_unlocked_entry_lets_people_in(make_door: Any, record: Any) -> None:
    door, peer = make_door.device, make_door.peer
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)
    await door.lock_entry()
    await door.unlock_entry()
    assert door.entry_locked() is False
    start = len(rec.events)
    assert peer.entry_request() is True
    await rec.wait_for(is_position(DoorPosition.OPEN), 2 * travel, start)


async def test_obstruction_stops_closing(make_door: Any, record: Any) -> None:
    door, peer = make_door.device, make_door.peer
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.OPEN)
    start = len(rec.events)
    await door.close()
    await asyncio.sleep(travel / 4)
    peer.obstruct()
    await rec.wait_for(lambda e: isinstance(e, DoorObstructionChanged) and e.obstructed, 1.0, start)
    await rec.wait_for(is_position(DoorPosition.STOPPED), 1.0, start)
    assert door.obstructed() is True
    await asyncio.sleep(2 * travel)
    assert door.position() is DoorPosition.STOPPED
    assert DoorPosition.CLOSED not in positions(rec, start)

    with pytest.raises(DeviceError, match="obstructed"):
        await door.close()

    # opening (to free the person) is allowed while obstructed
    start = len(rec.events)
    await door.open()
    await rec.wait_for(is_position(DoorPosition.OPEN), 2 * travel, start)

    peer.clear()
    await rec.wait_for(lambda e: isinstance(e, DoorObstructionChanged) and not e.obstructed, 1.0)
    assert door.obstructed() is False
    start = len(rec.events)
    await door.close()
    await rec.wait_for(is_position(DoorPosition.CLOSED), 2 * travel, start)


async def test_unsubscribe_stops_position_events(make_door: Any, record: Any) -> None:
    door = make_door.device
    travel: float = make_door.params["travel_time"]
    rec = record(door)
    await ensure(make_door, rec, DoorPosition.CLOSED)
    rec.unsubscribe()
    rec.clear()
    await door.open()
    await asyncio.sleep(2 * travel)
    assert door.position() is DoorPosition.OPEN
    assert rec.events == []
