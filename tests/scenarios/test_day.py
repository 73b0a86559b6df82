"""``lisa sim day`` in short: booths and the bridge on virtual time through the in-process bus,
with citizens, agents and every kind of fault; all invariants must hold, the same seed must give
the same day. (The whole day, 50 booths × 24 h, is ``make soak``.)"""

from __future__ import annotations

import asyncio
from typing import Any

from sim.bus import Bus, BusClient, matches
from sim.day import FAULT_KINDS, DayOptions, Report, run_day
from sim.vtime import run_virtual

SHORT = DayOptions(booths=5, hours=3.0, seed=7, peak_rate=8.0, early_leave=0.4, faults=2.0)


def figures(report: Report) -> dict[str, Any]:
    d = report.to_dict()
    d.pop("wall_s")
    return d


def test_a_short_day_keeps_every_invariant_and_is_deterministic() -> None:
    first = run_day(SHORT)
    assert first.broken == []
    d = first.to_dict()
    assert d["calls"]["offered"] >= 30 and d["calls"]["answered"] > 0
    assert all(d["faults"][kind] >= 1 for kind in FAULT_KINDS)
    early = {k for k in d["visits"] if k.startswith("left_early:")}
    assert len(early) >= 3, d["visits"]
    assert d["calls"]["transfers_blind"] + d["calls"]["transfers_consult"] > 0
    kpi = d["kpi"]
    assert kpi["offered"] == kpi["answered"] + kpi["abandoned"] + kpi["unavailable"]
    again = run_day(SHORT)
    assert figures(again) == figures(first)


def test_another_seed_gives_another_day() -> None:
    a = run_day(DayOptions(booths=3, hours=2.0, seed=1, peak_rate=6.0))
    b = run_day(DayOptions(booths=3, hours=2.0, seed=2, peak_rate=6.0))
    assert a.broken == [] and b.broken == []
    assert figures(a) != figures(b)


def test_topic_filters() -> None:
    assert matches("lisa/v1/booth/+/event", "lisa/v1/booth/gartz-01/event")
    assert not matches("lisa/v1/booth/+/event", "lisa/v1/booth/gartz-01/cmd/result")
    assert matches("lisa/#", "lisa/v1/booth/x/cmd/result")
    assert not matches("a/b", "a/b/c")


def test_bus_retained_will_persistent_session_and_restart() -> None:
    async def scenario() -> None:
        bus = Bus(asyncio.get_running_loop())
        got: list[tuple[str, bytes]] = []
        lost: list[str] = []
        sub = BusClient(bus, "sub", on_message=lambda t, p: got.append((t, p)))
        pub = BusClient(bus, "pub", will=("avail/pub", b"offline"), on_lost=lost.append)
        assert pub.connect()
        pub.publish("avail/pub", "online", retain=True)
        assert sub.connect()
        sub.subscribe("avail/+", "data")
        await asyncio.sleep(0)
        assert got == [("avail/pub", b"online")]  # the retained message on subscribe
        sub.disconnect()
        for i in range(3):  # kept for the persistent session, in order
            pub.publish("data", str(i))
        assert sub.connect()
        await asyncio.sleep(0)
        assert [p for t, p in got[1:]] == [b"0", b"1", b"2"]
        bus.drop("pub")  # the link breaks: the will goes out, reconnecting fails
        await asyncio.sleep(0)
        assert got[-1] == ("avail/pub", b"offline") and lost == ["network"]
        assert not pub.connect()
        bus.unblock("pub")
        assert pub.connect()
        bus.restart(5.0)  # no wills from a dying broker; back after 5 s
        await asyncio.sleep(0)
        assert not sub.connected and not sub.connect()
        await asyncio.sleep(5.1)
        assert sub.connect() and bus.retained["avail/pub"] == b"offline"

    run_virtual(scenario())
