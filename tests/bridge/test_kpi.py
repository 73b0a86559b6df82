"""Key figures from hand-written call logs whose results are worked out by hand in comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud_bridge.acd.driver import VirtualClock
from cloud_bridge.acd.engine import Engine
from cloud_bridge.acd.model import (
    Accept,
    AgentSpec,
    CallAbandoned,
    CallRequested,
    Event,
    Hangup,
    LogEntry,
    LogEvent,
    QueueSpec,
    SetReady,
    TimerFired,
    TimerKey,
    TimerKind,
)
from cloud_bridge.kpi import summarize

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN).timestamp()  # a Monday morning


def line(
    t: float,
    event: LogEvent,
    call: str = "",
    queue: str = "",
    agent: str = "",
    booth: str = "",
    **data: Any,
) -> LogEntry:
    return LogEntry(T0 + t, call, queue, agent, booth, event, data)


def enter(t: float, call: str, queue: str, booth: str, transfer: bool = False) -> LogEntry:
    data = {"booth": booth, "priority": 0, "transfer": transfer}
    return LogEntry(T0 + t, call, queue, "", booth, "ENTERQUEUE", data)


def status(
    t: float,
    agent: str,
    new: str,
    previous: str,
    previous_s: float,
    previous_call: str | None = None,
    call: str = "",
) -> LogEntry:
    return line(
        t,
        "AGENTSTATUS",
        call,
        agent=agent,
        status=new,
        reason=None,
        previous=previous,
        previous_s=previous_s,
        previous_call=previous_call,
    )


def scenario() -> list[LogEntry]:
    """Queues wohngeld (overflows to buergeramt), buergeramt, kfz (closed); booths b1, b2.

    c1 (b1): answered at 5 s by a1, talk 60 s, wrap-up 10 s.
    c2 (b2): offered to a2 at 20 s, answered at 30 s, talk 100 s, blind transfer to
        buergeramt (a2 wraps up 10 s); there a3 declines, a1 answers after 15 s, talk 60 s.
    c3 (b1): abandons after 15 s, never offered.
    c4 (b2): kfz is closed: unavailable on arrival (turned away).
    c5 (b1): offered to a2 at 10 s, no answer; max wait 60 s, overflows to buergeramt,
        abandons there after 10 more s (70 s in all).
    """
    return [
        enter(0, "c1", "wohngeld", "b1"),
        line(0, "OFFER", "c1", "wohngeld", "a1", "b1", ring_timeout_s=20, wait_s=0.0),
        line(5, "CONNECT", "c1", "wohngeld", "a1", "b1", wait_s=5.0, ring_s=5.0),
        status(5, "a1", "busy", "offered", 5, "c1", call="c1"),
        enter(10, "c2", "wohngeld", "b2"),
        enter(20, "c3", "wohngeld", "b1"),
        line(30, "OFFER", "c2", "wohngeld", "a2", "b2", ring_timeout_s=20, wait_s=20.0),
        line(35, "ABANDON", "c3", "wohngeld", booth="b1", position=1, wait_s=15.0),
        line(40, "CONNECT", "c2", "wohngeld", "a2", "b2", wait_s=30.0, ring_s=10.0),
        enter(50, "c4", "kfz", "b2"),
        line(50, "UNAVAILABLE", "c4", "kfz", booth="b2", reason="closed"),
        line(65, "COMPLETECALLER", "c1", "wohngeld", "a1", "b1", wait_s=5.0, talk_s=60.0),
        status(65, "a1", "wrap_up", "busy", 60, "c1", call="c1"),
        status(75, "a1", "ready", "wrap_up", 10, "c1"),
        line(
            140,
            "TRANSFER",
            "c2",
            "wohngeld",
            "a2",
            "b2",
            mode="blind",
            target_queue="buergeramt",
            target_clerk=None,
            talk_s=100.0,
        ),
        status(140, "a2", "wrap_up", "busy", 100, "c2", call="c2"),
        enter(140, "c2", "buergeramt", "b2", transfer=True),
        line(140, "OFFER", "c2", "buergeramt", "a3", "b2", ring_timeout_s=20, wait_s=0.0),
        line(142, "DECLINE", "c2", "buergeramt", "a3", "b2", ring_s=2.0),
        status(150, "a2", "ready", "wrap_up", 10, "c2"),
        line(150, "OFFER", "c2", "buergeramt", "a1", "b2", ring_timeout_s=20, wait_s=10.0),
        line(155, "CONNECT", "c2", "buergeramt", "a1", "b2", wait_s=15.0, ring_s=5.0),
        enter(200, "c5", "wohngeld", "b1"),
        line(210, "OFFER", "c5", "wohngeld", "a2", "b1", ring_timeout_s=20, wait_s=10.0),
        line(215, "COMPLETEAGENT", "c2", "buergeramt", "a1", "b2", wait_s=15.0, talk_s=60.0),
        line(230, "RINGNOANSWER", "c5", "wohngeld", "a2", "b1", ring_s=20.0),
        line(260, "EXITWITHTIMEOUT", "c5", "wohngeld", booth="b1", wait_s=60.0, overflow="b"),
        enter(260, "c5", "buergeramt", "b1", transfer=True),
        line(270, "ABANDON", "c5", "buergeramt", booth="b1", position=1, wait_s=10.0),
    ]


def test_total_call_figures() -> None:
    total = summarize(scenario()).total
    assert total["offered"] == 5
    assert total["answered"] == 2  # c1, c2
    assert total["abandoned"] == 2  # c3, c5
    assert total["abandoned_short"] == 1  # c3 (15 s); c5 waited 70 s
    assert total["unavailable"] == 1  # c4
    assert total["turned_away"] == 1  # c4, on arrival
    assert total["timeouts"] == 1  # c5
    # in 20 s: c1 only; denominator 5 offered - 1 turned away
    assert total["service_level"] == 0.25
    assert total["asa_s"] == 17.5  # (5 + 30) / 2
    assert total["max_wait_s"] == 70.0  # c5: 200 -> 270 over two queues
    # waited: c2 (first offer after 20 s), c3 (never offered), c5; not c1; c4 not counted
    assert total["p_wait"] == 0.75
    assert total["abandon_rate"] == 0.5  # 2 / 4
    # segments: c1/a1 60 s + 10 s wrap, c2/a2 100 s + 10 s wrap, c2/a1 60 s
    assert total["handled"] == 3
    assert total["talk_s_total"] == 220.0
    assert total["wrap_s_total"] == 20.0
    assert total["aht_s"] == 80.0  # 240 / 3
    assert total["transfers"] == 1
    assert total["transfer_rate"] == 0.5  # c2 of the answered c1, c2
    assert total["no_answer"] == 1
    assert total["declined"] == 1


def test_names_the_load_simulator_prints() -> None:
    total = summarize(scenario()).total
    for name in ("offered", "answered", "abandoned", "asa_s", "service_level", "p_wait"):
        assert name in total
    assert "occupancy" in total


def test_by_queue_counts_every_entry_into_the_queue() -> None:
    by_queue = summarize(scenario()).by_queue
    assert set(by_queue) == {"wohngeld", "buergeramt", "kfz"}
    w = by_queue["wohngeld"]
    assert (w["offered"], w["answered"], w["abandoned"], w["timeouts"]) == (4, 2, 1, 1)
    assert w["service_level"] == 0.25  # c1 of c1, c2, c3, c5
    assert w["asa_s"] == 17.5
    assert w["max_wait_s"] == 60.0  # c5's timeout
    assert w["p_wait"] == 0.75  # c2 (20 s), c3 (never offered), c5 (10 s); not c1
    assert w["abandon_rate"] == 0.25
    assert (w["handled"], w["talk_s_total"], w["wrap_s_total"]) == (2, 160.0, 20.0)
    assert w["aht_s"] == 90.0
    assert (w["transfers"], w["transfer_rate"], w["no_answer"]) == (1, 0.5, 1)

    b = by_queue["buergeramt"]  # the transfer of c2 and the overflow of c5 come in here
    assert (b["offered"], b["answered"], b["abandoned"], b["abandoned_short"]) == (2, 1, 1, 1)
    assert b["service_level"] == 0.5  # c2 after 15 s (wait counted from entering this queue)
    assert b["asa_s"] == 15.0
    assert b["p_wait"] == 0.5  # c2 was offered at once (declined), c5 never
    assert (b["aht_s"], b["transfer_rate"], b["declined"]) == (60.0, 0.0, 1)

    k = by_queue["kfz"]
    assert (k["offered"], k["unavailable"], k["turned_away"]) == (1, 1, 1)
    for name in ("service_level", "asa_s", "p_wait", "abandon_rate", "aht_s", "transfer_rate"):
        assert k[name] is None, name


def test_by_booth() -> None:
    by_booth = summarize(scenario()).by_booth
    b1, b2 = by_booth["b1"], by_booth["b2"]
    assert (b1["offered"], b1["answered"], b1["abandoned"], b1["unavailable"]) == (3, 1, 2, 0)
    assert b1["service_level"] == 0.3333  # c1 of c1, c3, c5
    assert b1["asa_s"] == 5.0
    assert b1["aht_s"] == 70.0
    assert (b2["offered"], b2["answered"], b2["abandoned"], b2["unavailable"]) == (2, 1, 0, 1)
    assert b2["service_level"] == 0.0  # c2 after 30 s; c4 turned away is not counted
    assert b2["asa_s"] == 30.0
    assert b2["transfer_rate"] == 1.0


def test_by_agent() -> None:
    by_agent = summarize(scenario()).by_agent
    a1, a2, a3 = by_agent["a1"], by_agent["a2"], by_agent["a3"]
    assert (a1["answered"], a1["handled"], a1["talk_s_total"], a1["wrap_s_total"]) == (
        2,
        2,
        120.0,
        10.0,
    )
    assert a1["aht_s"] == 65.0  # (60 + 10 + 60) / 2
    assert (a1["transfers"], a1["no_answer"], a1["declined"]) == (0, 0, 0)
    assert a2["aht_s"] == 110.0  # talk 100 until the transfer + wrap-up 10
    assert (a2["answered"], a2["transfers"], a2["no_answer"]) == (1, 1, 1)
    assert (a3["answered"], a3["declined"], a3["aht_s"], a3["occupancy"]) == (0, 1, None, None)


def test_occupancy_from_status_lines_of_the_scenario() -> None:
    """Without ``end`` statuses still open are counted up to the last line (270 s).

    a1: offered 0-5, busy 5-65, wrap-up 65-75, ready 75-270: 75 of 270 s.
    a2: busy 40-140, wrap-up 140-150, ready 150-270: 110 of 230 s."""
    report = summarize(scenario())
    assert report.by_agent["a1"]["occupancy"] == round(75 / 270, 4)
    assert report.by_agent["a2"]["occupancy"] == round(110 / 230, 4)
    assert report.total["occupancy"] == round(185 / 500, 4)
    assert report.total["staffed_s"] == 500.0


def test_by_day_equals_total_within_one_day() -> None:
    report = summarize(scenario())
    assert list(report.by_day) == ["2026-03-02"]
    day = report.by_day["2026-03-02"]
    for name, value in report.total.items():
        assert day[name] == value, name


def test_threshold_is_inclusive_and_configurable() -> None:
    total = summarize(scenario(), sl_threshold_s=30).total
    assert total["service_level"] == 0.5  # c2 at exactly 30 s counts now
    assert total["abandoned_short"] == 1
    assert summarize(scenario(), sl_threshold_s=4.9).total["service_level"] == 0.0


def test_unavailable_after_waiting_stays_in_the_denominators() -> None:
    """Max wait without overflow, or the last agent logging out, after waiting: the call was
    not served in time; only a refusal on arrival is left out of the service level."""
    log = [
        enter(0, "m1", "q", "b1"),
        line(120, "EXITWITHTIMEOUT", "m1", "q", booth="b1", wait_s=120.0, overflow=None),
        line(120, "UNAVAILABLE", "m1", "q", booth="b1", reason="max_wait"),
        enter(200, "m2", "q", "b1"),
        line(260, "UNAVAILABLE", "m2", "q", booth="b1", reason="no_agents"),
        enter(300, "m3", "q", "b1"),
        line(300, "UNAVAILABLE", "m3", "q", booth="b1", reason="no_agents"),
        enter(400, "m4", "q", "b1"),
        line(400, "OFFER", "m4", "q", "a1", "b1", ring_timeout_s=20, wait_s=0.0004),
        line(410, "CONNECT", "m4", "q", "a1", "b1", wait_s=10.0, ring_s=10.0),
        line(470, "COMPLETEAGENT", "m4", "q", "a1", "b1", wait_s=10.0, talk_s=60.0),
    ]
    for figures in (summarize(log).total, summarize(log).by_queue["q"]):
        assert figures["offered"] == 4
        assert figures["unavailable"] == 3
        assert figures["turned_away"] == 1  # m3
        assert figures["timeouts"] == 1
        assert figures["service_level"] == round(1 / 3, 4)
        assert figures["p_wait"] == round(2 / 3, 4)  # m1, m2 waited; m4's 0.4 ms is no wait
        assert figures["max_wait_s"] == 120.0
        assert figures["aht_s"] == 60.0  # no wrap-up line: talk only


def test_occupancy_arithmetic_and_clipping() -> None:
    """x: ready 0-100, offered 100-110, busy 110-310, wrap-up 310-340, not ready 340-640,
    ready from 640. y: ready from 0 on. Logged-out and not-ready time count nowhere."""
    log = [
        status(0, "x", "ready", "logged_out", 5000),
        status(0, "y", "ready", "logged_out", 5000),
        status(100, "x", "offered", "ready", 100, None, call="k"),
        status(110, "x", "busy", "offered", 10, "k", call="k"),
        status(310, "x", "wrap_up", "busy", 200, "k", call="k"),
        status(340, "x", "not_ready", "wrap_up", 30, "k"),
        status(640, "x", "ready", "not_ready", 300),
    ]
    full = summarize(log, end=T0 + 1000)  # x: 700 s staffed, 240 s occupied; y: 1000, 0
    assert full.by_agent["x"]["staffed_s"] == 700.0
    assert full.by_agent["x"]["occupied_s"] == 240.0
    assert full.by_agent["x"]["occupancy"] == round(240 / 700, 4)
    assert full.by_agent["y"]["occupancy"] == 0.0
    assert full.total["occupancy"] == round(240 / 1700, 4)
    assert full.total["offered"] == 0 and full.total["service_level"] is None

    clipped = summarize(log, start=T0 + 50, end=T0 + 700)  # x: 50+10+200+30+60; y: 650
    assert clipped.by_agent["x"]["staffed_s"] == 350.0
    assert clipped.by_agent["x"]["occupancy"] == round(240 / 350, 4)
    assert clipped.by_agent["y"]["staffed_s"] == 650.0

    open_end = summarize(log)  # open statuses end at the last line, 640 s
    assert open_end.by_agent["x"]["occupancy"] == round(240 / 340, 4)
    assert open_end.by_agent["y"]["staffed_s"] == 640.0

    later = summarize(log, start=T0 + 2000, end=T0 + 3000)  # both just ready then
    assert later.by_agent["x"]["occupancy"] == 0.0
    assert later.total["staffed_s"] == 2000.0


def _at(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=BERLIN).timestamp() - T0


def test_calls_belong_to_the_local_day_of_their_first_enterqueue() -> None:
    """Berlin is UTC+1 until 29 March 2026, 02:00, then UTC+2."""
    before = _at(2026, 3, 28, 23, 59, 50)
    midnight = _at(2026, 3, 29, 0, 0)
    log = [
        enter(before, "late", "q", "b1"),
        line(before + 20, "OFFER", "late", "q", "a1", "b1", ring_timeout_s=20, wait_s=20.0),
        line(before + 25, "CONNECT", "late", "q", "a1", "b1", wait_s=25.0, ring_s=5.0),
        line(before + 85, "COMPLETEAGENT", "late", "q", "a1", "b1", wait_s=25.0, talk_s=60.0),
        enter(_at(2026, 3, 29, 0, 30), "early", "q", "b2"),  # 23:30 UTC on the 28th
        line(_at(2026, 3, 29, 0, 30), "ABANDON", "early", "q", booth="b2", position=1, wait_s=0),
    ]
    report = summarize(log)
    assert report.by_day["2026-03-28"]["offered"] == 1
    assert report.by_day["2026-03-28"]["answered"] == 1
    assert report.by_day["2026-03-28"]["aht_s"] == 60.0  # ended after midnight: same day
    assert report.by_day["2026-03-29"]["abandoned"] == 1
    assert report.by_day["2026-03-29"]["answered"] == 0

    # a period from midnight leaves out the call begun before, though its lines are inside
    after = summarize(log, start=T0 + midnight)
    assert after.total["offered"] == 1 and after.total["answered"] == 0
    assert after.by_agent == {}
    assert list(after.by_day) == ["2026-03-29"]
    # a period up to midnight has the whole late call, its later lines included
    upto = summarize(log, end=T0 + midnight)
    assert upto.total["offered"] == 1 and upto.total["handled"] == 1
    assert upto.total["talk_s_total"] == 60.0
    # UTC days would put the "early" call on the 28th
    assert list(summarize(log, tz="UTC").by_day) == ["2026-03-28"]


def test_occupancy_is_split_at_local_midnight_and_knows_the_dst_change() -> None:
    """Ready 23:00 on the 28th to 04:00 on the 29th (clocks jump 02:00 -> 03:00): 1 h on the
    28th, 3 h on the 29th; busy 00:30-01:30."""
    log = [
        status(_at(2026, 3, 28, 23, 0), "a", "ready", "logged_out", 0),
        status(_at(2026, 3, 29, 0, 30), "a", "busy", "ready", 5400, "c", call="c"),
        status(_at(2026, 3, 29, 1, 30), "a", "ready", "busy", 3600, "c"),
        status(_at(2026, 3, 29, 4, 0), "a", "logged_out", "ready", 5400),
    ]
    report = summarize(log)
    assert report.by_day["2026-03-28"]["staffed_s"] == 3600.0
    assert report.by_day["2026-03-28"]["occupancy"] == 0.0
    assert report.by_day["2026-03-29"]["staffed_s"] == 3 * 3600.0
    assert report.by_day["2026-03-29"]["occupancy"] == round(1 / 3, 4)
    assert report.total["occupancy"] == 0.25


def test_empty_log() -> None:
    report = summarize([])
    assert report.total["offered"] == 0
    assert report.total["service_level"] is None
    assert report.total["occupancy"] is None
    assert report.by_queue == report.by_booth == report.by_agent == report.by_day == {}


@pytest.mark.parametrize("reason", ["closed", "no_agents"])
def test_turned_away_calls_are_not_waiting_calls(reason: str) -> None:
    log = [enter(0, "x", "q", "b1"), line(0, "UNAVAILABLE", "x", "q", booth="b1", reason=reason)]
    total = summarize(log).total
    assert (total["offered"], total["unavailable"], total["turned_away"]) == (1, 1, 1)
    assert total["p_wait"] is None and total["abandon_rate"] is None
    assert total["max_wait_s"] == 0.0


def test_figures_from_the_real_engine() -> None:
    """The engine's own log: a1 ready from 0 s; c1 rings at 100 s, taken at 104 s, hung up at
    164 s, wrap-up until 174 s; c2 rings at 200 s and the citizen leaves at 205 s."""
    clock = VirtualClock(T0)
    engine = Engine(
        [QueueSpec(id="q", name="Wohngeldstelle", wrapup_s=10.0)],
        [AgentSpec(id="a1", display_name="Wohngeld", queues={"q": 1})],
        clock,
    )
    steps: list[tuple[float, Event]] = [
        (0, SetReady("a1")),
        (100, CallRequested("c1", "b1", "s1", "q")),
        (104, Accept("a1", "c1")),
        (164, Hangup("a1", "c1")),
        (174, TimerFired(TimerKey(TimerKind.WRAP_UP, "a1"))),
        (200, CallRequested("c2", "b2", "s2", "q")),
        (205, CallAbandoned("c2")),
    ]
    log: list[LogEntry] = []
    for t, event in steps:
        clock.now = T0 + t
        log += [d for d in engine.handle(event) if isinstance(d, LogEntry)]

    report = summarize(log, end=T0 + 300)
    total = report.total
    assert (total["offered"], total["answered"], total["abandoned"]) == (2, 1, 1)
    assert total["service_level"] == 0.5
    assert total["asa_s"] == 4.0
    assert total["p_wait"] == 0.0  # both rang at once
    assert total["aht_s"] == 70.0  # 60 s talk + 10 s wrap-up
    # ready 0-100, offered 100-104, busy 104-164, wrap-up 164-174, ready 174-200,
    # offered 200-205, ready 205-300: 79 of 300 s
    assert report.by_agent["a1"]["occupancy"] == round(79 / 300, 4)
    assert report.by_agent["a1"]["staffed_s"] == 300.0


def test_a_requeue_after_a_lost_agent_is_no_transfer() -> None:
    """The agent's client went away during the talk: the engine ends the segment with a
    TRANSFER of mode "requeue" and queues the call again; a2 then takes it."""
    log = [
        enter(0, "r", "q", "b1"),
        line(0, "OFFER", "r", "q", "a1", "b1", ring_timeout_s=20, wait_s=0.0),
        line(3, "CONNECT", "r", "q", "a1", "b1", wait_s=3.0, ring_s=3.0),
        line(
            33,
            "TRANSFER",
            "r",
            "q",
            "a1",
            "b1",
            mode="requeue",
            target_queue="q",
            target_clerk=None,
            talk_s=30.0,
        ),
        enter(33, "r", "q", "b1", transfer=True),
        line(33, "OFFER", "r", "q", "a2", "b1", ring_timeout_s=20, wait_s=0.0),
        line(35, "CONNECT", "r", "q", "a2", "b1", wait_s=2.0, ring_s=2.0),
        line(95, "COMPLETEAGENT", "r", "q", "a2", "b1", wait_s=2.0, talk_s=60.0),
    ]
    report = summarize(log)
    assert (report.total["offered"], report.total["answered"]) == (1, 1)
    assert (report.total["transfers"], report.total["transfer_rate"]) == (0, 0.0)
    assert (report.total["handled"], report.total["aht_s"]) == (2, 45.0)
    q = report.by_queue["q"]
    assert (q["offered"], q["answered"], q["transfers"], q["service_level"]) == (2, 2, 0, 1.0)
