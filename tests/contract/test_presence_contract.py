"""Contract of presence (sonar) sensors."""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any

import pytest

from hal.devices import PresenceSensor
from hal.events import DistanceSample


async def test_is_a_presence_sensor(make_presence: Any) -> None:
    assert isinstance(make_presence.device, PresenceSensor)


async def test_emits_samples_at_its_sample_rate(make_presence: Any, record: Any) -> None:
    sensor = make_presence.device
    interval: float = make_presence.params["sample_interval"]
    rec = record(sensor)
    await asyncio.sleep(20 * interval)
    samples = rec.of(DistanceSample)
    assert 18 <= len(samples) <= 22, len(samples)
    assert all(s.device == sensor.name for s in samples)
    times = [s.t for s in samples]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(interval, rel=0.2) for g in gaps), gaps
    for s in samples:
        assert s.distance is None or (math.isfinite(s.distance) and s.distance > 0), s


async def test_reports_a_person_in_front(make_presence: Any, record: Any) -> None:
    sensor, peer = make_presence.device, make_presence.peer
    interval: float = make_presence.params["sample_interval"]
    peer.person_at(0.8)
    rec = record(sensor)
    sample = await rec.wait_for(lambda e: isinstance(e, DistanceSample), 3 * interval)
    assert sample.distance == pytest.approx(0.8, abs=0.05)
    assert sensor.last_distance() == pytest.approx(0.8, abs=0.05)

    peer.empty()
    start = len(rec.events)
    sample = await rec.wait_for(lambda e: isinstance(e, DistanceSample), 3 * interval, start)
    assert sample.distance is not None and sample.distance > 1.5


async def test_no_echo_reads_none(make_presence: Any, record: Any) -> None:
    sensor, peer = make_presence.device, make_presence.peer
    interval: float = make_presence.params["sample_interval"]
    peer.no_echo()
    rec = record(sensor)
    sample = await rec.wait_for(lambda e: isinstance(e, DistanceSample), 3 * interval)
    assert sample.distance is None
    assert sensor.last_distance() is None


async def test_unsubscribed_listener_gets_nothing(make_presence: Any) -> None:
    sensor = make_presence.device
    interval: float = make_presence.params["sample_interval"]
    seen: list[Any] = []
    unsubscribe = sensor.subscribe(seen.append)
    await asyncio.sleep(3 * interval)
    assert seen
    unsubscribe()
    count = len(seen)
    await asyncio.sleep(5 * interval)
    assert len(seen) == count


async def test_stopped_sensor_emits_nothing(make_presence: Any) -> None:
    sensor = make_presence.device
    interval: float = make_presence.params["sample_interval"]
    await sensor.stop()
    seen: list[Any] = []
    sensor.subscribe(seen.append)
    await asyncio.sleep(5 * interval)
    assert seen == []
