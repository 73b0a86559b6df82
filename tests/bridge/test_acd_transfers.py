"""ACD engine: blind transfers (queue, named clerk ready / busy / logged out, fallback) and
consultations (offer, connect, complete, cancel, consultant hangs up, citizen leaves), on
virtual time. The front desk ("clearing") agent f1 talks with citizen c1 in every test."""

from __future__ import annotations

import pytest
from acd_harness import (
    FakeHours,
    Harness,
    agent,
    call_logs,
    check_invariants,
    logs,
    none_of,
    of,
    one,
    queue,
)

from cloud_bridge.acd.model import (
    Accept,
    AgentChanged,
    AgentConnectionLost,
    AgentLogin,
    AgentLogout,
    AgentStatus,
    CallAbandoned,
    CallerConnected,
    CallerQueued,
    CallerTransferring,
    CallFinished,
    CallStatus,
    CancelTransfer,
    CompleteTransfer,
    ConsultConnected,
    ConsultEnded,
    Decline,
    EngineError,
    Hangup,
    LogEntry,
    Offer,
    OfferWithdrawn,
    SetNotReady,
    Strategy,
    TimerKey,
    TimerKind,
    Transfer,
)

READY, NOT_READY, OFFERED = AgentStatus.READY, AgentStatus.NOT_READY, AgentStatus.OFFERED
BUSY, WRAP_UP = AgentStatus.BUSY, AgentStatus.WRAP_UP
WAITING, RINGING, CONNECTED = CallStatus.WAITING, CallStatus.RINGING, CallStatus.CONNECTED

QUEUES = [
    queue("front", name="Zentrale", wrapup_s=20),
    queue("wg", name="Wohngeldstelle", clerk_wait_s=60, transfer_priority=10),
    queue("bau", name="Bauamt"),
    queue("team", name="Team", strategy=Strategy.RING_ALL),
    queue("zu", name="Standesamt", hours=FakeHours("Di 8–12 Uhr", open=False)),
    queue("leer", name="Kasse"),
]
AGENTS = [
    agent("f1", {"front": 1, "team": 1}, display_name="Bürgerservice"),
    agent("f2", {"front": 1, "team": 1}, display_name="Bürgerservice 2"),
    agent("w1", "wg", display_name="Wohngeld 1"),
    agent("w2", {"wg": 1, "team": 1}, display_name="Wohngeld 2"),
    agent("k", {"wg": 1}, display_name="Sachbearbeitung Wohngeld A–K"),
    agent("b1", "bau", display_name="Bauamt"),
    agent("z", "zu"),
    agent("l", "leer"),
]


def check(h: Harness) -> None:
    check_invariants(h)


def base() -> Harness:
    """f1 talks with c1 (queue front) since T0; w1, w2, k, b1, z are logged in, not ready."""
    h = Harness.build(QUEUES, AGENTS)
    h.handle(*(AgentLogin(a) for a in ("f2", "w1", "w2", "k", "b1", "z")))
    h.ready("f1")
    h.call("c1", "front", booth="B1")
    h.handle(Accept("f1", "c1"))
    assert h.call_status("c1") == CONNECTED
    return h


def busy(h: Harness, agent_id: str, call: str, queue_id: str) -> None:
    """``agent_id`` (not ready) takes ``call`` in ``queue_id``."""
    h.ready(agent_id)
    h.call(call, queue_id)
    h.handle(Accept(agent_id, call))
    assert h.status(agent_id) == BUSY and h.engine.agents[agent_id].call == call


def leg_of(h: Harness, call: str = "c1") -> str:
    leg = h.engine.calls[call].consult
    assert leg is not None
    return leg


# ============================================================================== blind
def test_blind_transfer_to_a_queue() -> None:
    h = base()
    h.ready("w1")
    h.advance(30)
    out = h.handle(Transfer("f1", "c1", queue="wg"))
    assert [e.event for e in call_logs(out)] == ["TRANSFER", "ENTERQUEUE", "OFFER"]
    t = one(out, LogEntry, event="TRANSFER")
    assert (t.agent, t.queue) == ("f1", "front")
    assert t.data == {
        "mode": "blind",
        "target_queue": "wg",
        "target_clerk": None,
        "talk_s": 30.0,
    }
    enter = one(out, LogEntry, event="ENTERQUEUE")
    assert enter.queue == "wg" and enter.data["transfer"] is True
    assert one(out, CallerTransferring) == CallerTransferring(
        "c1", "B1", "sess-c1", "Wohngeldstelle"
    )
    assert (h.status("f1"), h.engine.agents["f1"].call) == (WRAP_UP, "c1")
    # the wrap-up of the queue f1 worked in
    assert h.timer_at(TimerKey(TimerKind.WRAP_UP, "f1")) == h.now + 20
    one(out, Offer, call="c1", agent="w1", queue="wg")
    assert h.engine.calls["c1"].priority == 10
    out = h.handle(Accept("w1", "c1"))
    assert one(out, CallerConnected).agent_display == "Wohngeld 1"
    assert h.engine.call_view("c1")["queue"] == "wg"  # type: ignore[index]
    check(h)


def test_blind_transfer_goes_ahead_of_callers_who_were_not_transferred() -> None:
    h = base()
    h.call("x1", "wg")
    h.call("x2", "wg")
    h.advance(10)
    out = h.handle(Transfer("f1", "c1", queue="wg"))
    assert h.waiting("wg") == ["c1", "x1", "x2"]
    assert [(q.call, q.position) for q in of(out, CallerQueued)] == [
        ("c1", 1),
        ("x1", 2),
        ("x2", 3),
    ]
    check(h)


def test_blind_transfer_to_a_ready_clerk_is_offered_directly() -> None:
    h = base()
    h.ready("w1")  # waits longer than k: the queue would choose w1
    h.advance(5)
    h.ready("k")
    out = h.handle(Transfer("f1", "c1", clerk="k"))
    assert [(o.call, o.agent) for o in of(out, Offer)] == [("c1", "k")]
    assert one(out, CallerTransferring).target == "Sachbearbeitung Wohngeld A–K"
    t = one(out, LogEntry, event="TRANSFER")
    assert (t.data["target_queue"], t.data["target_clerk"]) == ("wg", "k")
    assert one(out, LogEntry, event="ENTERQUEUE").queue == "wg"  # the clerk's first queue
    out = h.handle(Accept("k", "c1"))
    assert one(out, CallerConnected).agent == "k"
    check(h)


def test_blind_transfer_to_a_ready_clerk_who_does_not_answer_goes_to_the_queue() -> None:
    h = base()
    h.ready("k")
    h.handle(Transfer("f1", "c1", clerk="k"))
    h.ready("w1")
    out = h.advance(20)
    one(out, LogEntry, event="RINGNOANSWER", agent="k")
    assert h.status("k") == NOT_READY
    one(out, Offer, call="c1", agent="w1")
    check(h)


def test_blind_transfer_to_a_busy_clerk_waits_for_them_and_is_served_first() -> None:
    h = base()
    busy(h, "k", "x0", "wg")
    h.call("x1", "wg")  # waits in wg, older than the transfer
    h.advance(10)
    out = h.handle(Transfer("f1", "c1", clerk="k"))
    assert of(out, CallerQueued) == [CallerQueued("c1", "B1", "sess-c1", "wg", 1, 150.0)]
    none_of(out, Offer)
    c1 = h.engine.calls["c1"]
    assert (c1.status, c1.clerk) == (WAITING, "k")
    assert h.waiting("wg") == ["x1"]  # c1 is not in the queue: it waits for k
    assert h.timer_at(TimerKey(TimerKind.CLERK_WAIT, "c1")) == h.now + 60
    assert h.engine.call_view("c1")["clerk"] == "k"  # type: ignore[index]
    check(h)
    out = h.ready("w1")  # another wg agent gets the queue's call, not k's
    one(out, Offer, call="x1", agent="w1")
    h.handle(SetNotReady("w1"))  # declines x1 by going not ready: x1 waits again
    assert h.waiting("wg") == ["x1"]
    h.advance(20)
    out = h.handle(Hangup("k", "x0"))
    one(out, Offer, call="c1", agent="k")  # before x1, which waits longer
    assert TimerKey(TimerKind.CLERK_WAIT, "c1") not in h.timers
    h.handle(Accept("k", "c1"))
    assert h.engine.agent_of_call("c1") == "k"
    check(h)


def test_busy_clerk_falls_back_to_the_queue_after_clerk_wait_s() -> None:
    h = base()
    busy(h, "k", "x0", "wg")
    h.call("x1", "wg")
    h.handle(Transfer("f1", "c1", clerk="k"))
    out = h.advance(59.9)
    assert call_logs(out) == []
    out = h.advance(0.1)
    fb = one(out, LogEntry, event="CLERKFALLBACK")
    assert (fb.queue, fb.data) == ("wg", {"clerk": "k", "wait_s": 60.0})
    assert h.engine.calls["c1"].clerk is None
    assert h.waiting("wg") == ["c1", "x1"]  # transfer priority: ahead of x1
    assert [(q.call, q.position) for q in of(out, CallerQueued)] == [("c1", 1), ("x1", 2)]
    out = h.ready("w1")
    one(out, Offer, call="c1", agent="w1")
    enter = [(e.call, e.queue) for e in logs(h.log, "ENTERQUEUE")]
    assert enter.count(("c1", "wg")) == 1  # the fallback is not a second entry
    check(h)


def test_blind_transfer_to_a_logged_out_clerk_goes_to_the_fallback_queue_at_once() -> None:
    h = base()
    h.handle(AgentLogout("k"))
    h.ready("w1")
    out = h.handle(Transfer("f1", "c1", clerk="k"))
    one(out, Offer, call="c1", agent="w1", queue="wg")
    assert "c1" not in [c.id for lst in h.engine.pinned.values() for c in lst]
    check(h)


def test_blind_transfer_to_a_logged_out_clerk_with_an_explicit_queue() -> None:
    h = base()
    h.handle(AgentLogout("k"))
    h.ready("b1")
    out = h.handle(Transfer("f1", "c1", clerk="k", queue="bau"))
    one(out, Offer, call="c1", agent="b1", queue="bau")
    assert one(out, LogEntry, event="TRANSFER").data["target_queue"] == "bau"


def test_a_clerk_logging_out_sends_the_calls_waiting_for_them_to_the_queue() -> None:
    h = base()
    h.handle(Transfer("f1", "c1", clerk="k"))  # k is logged in, not ready: c1 waits
    assert h.engine.pinned == {"k": [h.engine.calls["c1"]]}
    out = h.handle(AgentLogout("k"))
    one(out, LogEntry, event="CLERKFALLBACK")
    assert h.waiting("wg") == ["c1"] and h.engine.pinned == {}
    assert (
        TimerKey(TimerKind.CLERK_WAIT, "c1") not in h.timers
        or h.engine.calls["c1"].clerk_deadline is None
    )
    check(h)


def test_a_clerk_who_becomes_ready_takes_the_call_waiting_for_them() -> None:
    h = base()
    h.handle(Transfer("f1", "c1", clerk="k"))
    h.advance(10)
    out = h.ready("k")
    one(out, Offer, call="c1", agent="k")
    check(h)


@pytest.mark.parametrize("target", ["zu", "leer"])
@pytest.mark.parametrize("consult", [False, True])
def test_transfer_into_a_closed_or_empty_queue_is_refused_and_changes_nothing(
    target: str, consult: bool
) -> None:
    h = base()
    h.advance(10)
    h.engine.take_changes()
    before, timers = h.snapshot(), dict(h.timers)
    with pytest.raises(EngineError) as err:
        h.handle(Transfer("f1", "c1", queue=target, consult=consult))
    assert err.value.code == "queue_unavailable"
    assert h.snapshot() == before and h.timers == timers
    assert h.engine.take_changes() == ({}, {}, {})
    assert h.status("f1") == BUSY and h.engine.agent_of_call("c1") == "f1"


# ============================================================================== consultation
def consult_connected(to: str = "w1") -> tuple[Harness, str]:
    """f1 (talking with c1 since T0) consults ``to`` via queue wg at T0 + 30; ``to`` answers
    at T0 + 33."""
    h = base()
    h.ready(to)
    h.advance(30)
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    h.advance(3)
    out = h.handle(Accept(to, leg))
    assert of(out, ConsultConnected) == [ConsultConnected("c1", "f1", to)]
    return h, leg


def test_consult_leg_is_offered_to_another_agent_never_to_the_asker() -> None:
    h = base()
    h.ready("f2")
    out = h.handle(Transfer("f1", "c1", queue="front", consult=True))
    leg = leg_of(h)
    assert leg.startswith("c1~")
    assert of(out, Offer) == [Offer(leg, "f2", "front", "B1", 20.0, "f1")]
    assert one(out, CallerTransferring).target == "Zentrale"
    assert h.status("f1") == BUSY and h.engine.agent_of_call("c1") == "f1"
    assert h.engine.calls[leg].excluded["f1"] == float("inf")
    assert [e for e in call_logs(h.log) if e.call == leg] == []  # legs: no call-log lines
    view = h.engine.call_view("c1")
    assert view is not None and view["consult"]["consultant"] == "f2"
    check(h)


def test_consult_into_a_ring_all_queue_rings_one_agent_and_never_the_asker() -> None:
    h = base()
    h.ready("f2", "w2")
    out = h.handle(Transfer("f1", "c1", queue="team", consult=True))
    offers = of(out, Offer)
    assert len(offers) == 1 and offers[0].agent in ("f2", "w2")
    check(h)


def test_consult_connected_the_citizen_waits_and_nothing_is_logged() -> None:
    h, leg = consult_connected()
    assert (h.status("f1"), h.status("w1")) == (BUSY, BUSY)
    assert h.engine.agents["w1"].call == leg
    assert h.engine.calls[leg].status == CONNECTED
    none_of(h.decisions, CallerConnected, agent="w1")
    assert [e.event for e in call_logs(h.log)] == ["ENTERQUEUE", "OFFER", "CONNECT"]
    check(h)


def test_complete_transfer_hands_the_citizen_over() -> None:
    h, leg = consult_connected()
    h.advance(20)
    out = h.handle(CompleteTransfer("f1", "c1"))
    assert [e.event for e in call_logs(out)] == ["TRANSFER", "ENTERQUEUE", "CONNECT"]
    t = one(out, LogEntry, event="TRANSFER")
    assert (t.agent, t.queue, t.data["mode"], t.data["talk_s"]) == ("f1", "front", "consult", 53.0)
    assert one(out, LogEntry, event="ENTERQUEUE").queue == "wg"
    connect = one(out, LogEntry, event="CONNECT")
    assert (connect.agent, connect.queue, connect.data) == (
        "w1",
        "wg",
        {"wait_s": 3.0, "ring_s": 0.0},
    )
    assert of(out, ConsultEnded) == [ConsultEnded("c1", "f1", "w1", "completed")]
    assert of(out, CallerConnected) == [
        CallerConnected("c1", "B1", "sess-c1", "wg", "w1", "Wohngeld 1")
    ]
    assert h.status("f1") == WRAP_UP and h.timer_at(TimerKey(TimerKind.WRAP_UP, "f1")) == h.now + 20
    assert (h.status("w1"), h.engine.agents["w1"].call) == (BUSY, "c1")
    assert leg not in h.engine.calls
    view = h.engine.call_view("c1")
    assert view is not None and (view["agent"], view["queue"], view["consult"]) == (
        "w1",
        "wg",
        None,
    )
    check(h)
    h.advance(60)
    out = h.handle(Hangup("w1", "c1"))
    one(out, LogEntry, event="COMPLETEAGENT", agent="w1")
    one(out, CallFinished, call="c1", by_caller=False)
    assert h.status("w1") == READY  # wg has no wrap-up
    assert sum(e.event in ("COMPLETEAGENT", "COMPLETECALLER") for e in h.log) == 1
    check(h)


def test_cancel_transfer_returns_the_citizen_to_the_asker() -> None:
    h, leg = consult_connected()
    out = h.handle(CancelTransfer("f1", "c1"))
    assert of(out, ConsultEnded) == [ConsultEnded("c1", "f1", "w1", "cancelled")]
    assert one(out, CallerConnected).agent_display == "Bürgerservice"
    assert (h.status("f1"), h.status("w1")) == (BUSY, READY)
    assert h.engine.calls["c1"].consult is None and leg not in h.engine.calls
    check(h)
    h.ready("b1")
    out = h.handle(Transfer("f1", "c1", queue="bau"))  # and f1 can go on
    one(out, Offer, call="c1", agent="b1")
    check(h)


def test_cancel_transfer_while_the_consult_rings() -> None:
    h = base()
    h.ready("w1")
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    out = h.handle(CancelTransfer("f1", "c1"))
    assert of(out, OfferWithdrawn) == [OfferWithdrawn(leg, "w1", "cancelled")]
    assert one(out, ConsultEnded).consultant is None
    assert h.status("w1") == READY
    assert TimerKey(TimerKind.RING, leg) not in h.timers
    check(h)


def test_cancel_transfer_while_the_consult_waits_in_the_queue() -> None:
    h = base()
    h.call("x1", "wg")
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    assert h.waiting("wg") == [leg, "x1"]  # consultations go first
    h.handle(CancelTransfer("f1", "c1"))
    assert h.waiting("wg") == ["x1"]
    check(h)


def test_consultant_hangs_up() -> None:
    h, leg = consult_connected()
    out = h.handle(Hangup("w1", leg))
    assert of(out, ConsultEnded) == [ConsultEnded("c1", "f1", "w1", "consultant_hangup")]
    one(out, CallerConnected, call="c1", agent="f1")
    assert (h.status("f1"), h.status("w1")) == (BUSY, READY)
    none_of(out, CallFinished)
    check(h)


def test_citizen_leaves_during_the_consultation() -> None:
    h, _leg = consult_connected()
    out = h.handle(CallAbandoned("c1"))
    assert of(out, ConsultEnded) == [ConsultEnded("c1", "f1", "w1", "abandoned")]
    none_of(out, CallerConnected)
    one(out, LogEntry, event="COMPLETECALLER", agent="f1")
    assert one(out, CallFinished).by_caller is True
    assert (h.status("f1"), h.status("w1")) == (WRAP_UP, READY)
    assert h.engine.calls == {} and h.engine.by_booth == {}
    check(h)


def test_citizen_leaves_while_the_consult_rings() -> None:
    h = base()
    h.ready("w1")
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    out = h.handle(CallAbandoned("c1"))
    assert of(out, OfferWithdrawn) == [OfferWithdrawn(leg, "w1", "cancelled")]
    assert h.status("w1") == READY and h.engine.calls == {}
    check(h)


def test_consult_nobody_answers_the_leg_goes_back_to_the_queue() -> None:
    h = base()
    h.ready("w1")
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    out = h.advance(20)
    one(out, OfferWithdrawn, call=leg, agent="w1", reason="no_answer")
    assert h.status("w1") == NOT_READY
    assert h.waiting("wg") == [leg]
    out = h.ready("w2")
    one(out, Offer, call=leg, agent="w2", consult_for="f1")
    check(h)


def test_consult_declined_goes_to_the_next_agent() -> None:
    h = base()
    h.ready("w1", "w2")
    h.handle(Transfer("f1", "c1", queue="wg", consult=True))
    leg = leg_of(h)
    out = h.handle(Decline("w1", leg))
    one(out, Offer, call=leg, agent="w2")
    assert [e for e in call_logs(h.log) if e.call == leg] == []


def test_consult_a_ready_clerk_and_complete() -> None:
    h = base()
    h.ready("w1")
    h.ready("k")
    out = h.handle(Transfer("f1", "c1", clerk="k", consult=True))
    leg = leg_of(h)
    assert of(out, Offer) == [Offer(leg, "k", "wg", "B1", 20.0, "f1")]
    h.handle(Accept("k", leg))
    out = h.handle(CompleteTransfer("f1", "c1"))
    assert one(out, LogEntry, event="TRANSFER").data["target_clerk"] == "k"
    one(out, CallerConnected, agent="k", agent_display="Sachbearbeitung Wohngeld A–K")
    check(h)


def test_consult_a_busy_clerk_waits_for_them() -> None:
    h = base()
    busy(h, "k", "x0", "wg")
    h.ready("w1")
    out = h.handle(Transfer("f1", "c1", clerk="k", consult=True))
    none_of(out, Offer)  # not to w1: the clerk was asked for
    leg = leg_of(h)
    assert h.engine.pinned == {"k": [h.engine.calls[leg]]}
    none_of(out, CallerQueued)  # the citizen keeps the transferring screen
    out = h.handle(Hangup("k", "x0"))
    one(out, Offer, call=leg, agent="k", consult_for="f1")
    check(h)


def test_consult_a_busy_clerk_falls_back_to_the_queue() -> None:
    h = base()
    busy(h, "k", "x0", "wg")
    h.handle(Transfer("f1", "c1", clerk="k", consult=True))
    leg = leg_of(h)
    h.ready("w1")  # w1 is ready, but the leg waits for k first
    assert h.engine.calls[leg].clerk == "k"
    out = h.advance(60)
    one(out, Offer, call=leg, agent="w1")
    none_of(out, LogEntry, event="CLERKFALLBACK")  # consult legs write no call-log lines
    check(h)


def test_consult_cancelled_while_waiting_for_a_busy_clerk() -> None:
    h = base()
    busy(h, "k", "x0", "wg")
    h.handle(Transfer("f1", "c1", clerk="k", consult=True))
    leg = leg_of(h)
    h.handle(CancelTransfer("f1", "c1"))
    assert h.engine.pinned == {} and TimerKey(TimerKind.CLERK_WAIT, leg) not in h.timers
    out = h.handle(Hangup("k", "x0"))
    none_of(out, Offer)
    check(h)


def test_asker_connection_lost_during_consultation_requeues_the_citizen() -> None:
    h, leg = consult_connected()
    out = h.handle(AgentConnectionLost("f1"))
    one(out, ConsultEnded, reason="cancelled")
    assert h.status("w1") == READY  # the consultant is free again ...
    assert (h.status("f1"), h.reason("f1")) == (NOT_READY, "disconnected")
    # ... and as a ready wg agent does not get the front-desk call; it waits in front
    assert h.call_status("c1") in (WAITING, RINGING)
    assert h.engine.calls["c1"].queue == "front" and leg not in h.engine.calls
    check(h)


BUG_CONSULTANT_LOST = (
    "engine bug: _connection_lost() of a consultant (busy on a consult leg) calls "
    "_end_consult() first, whose _after_work() makes the agent ready and _find_work() offers "
    "it a waiting call; only then is pending not_ready set and applied: the agent goes "
    "NOT_READY while the call keeps ringing it (no OfferWithdrawn, until the ring timeout)"
)


def test_consultant_connection_lost_while_calls_wait() -> None:
    h, _leg = consult_connected()
    h.call("x1", "wg")  # waits: nobody else in wg is ready
    out = h.handle(AgentConnectionLost("w1"))
    one(out, ConsultEnded, reason="consultant_hangup")
    one(out, CallerConnected, call="c1", agent="f1")
    assert (h.status("w1"), h.reason("w1")) == (NOT_READY, "disconnected")
    none_of(out, Offer, agent="w1")  # actual: Offer(x1, w1) ...
    assert h.call_status("x1") == WAITING  # ... and x1 rings the disconnected w1
    check(h)


def test_consultant_connection_lost_without_waiting_calls() -> None:
    h, _leg = consult_connected()
    out = h.handle(AgentConnectionLost("w1"))
    one(out, ConsultEnded, reason="consultant_hangup")
    assert (h.status("w1"), h.reason("w1")) == (NOT_READY, "disconnected")
    assert h.status("f1") == BUSY and h.engine.calls["c1"].consult is None
    check(h)


def test_agent_hangs_up_during_the_consultation() -> None:
    h, _leg = consult_connected()
    out = h.handle(Hangup("f1", "c1"))
    one(out, ConsultEnded, consultant="w1", reason="cancelled")
    one(out, LogEntry, event="COMPLETEAGENT", agent="f1")
    assert one(out, CallFinished).by_caller is False
    assert (h.status("f1"), h.status("w1")) == (WRAP_UP, READY)
    assert h.engine.calls == {}
    check(h)


BUG_CONNECTED_BEFORE_END = (
    "engine bug (minor): _end_consult(reason='cancelled') always tells the booth "
    "CallerConnected(asker), also when the call is about to end (Hangup) or be requeued "
    "(asker's AgentConnectionLost): the booth shows 'connected' right before 'ended' / "
    "'transferring'"
)


@pytest.mark.parametrize("how", ["hangup", "asker_connection_lost"])
def test_booth_is_not_told_connected_when_the_call_ends_during_a_consultation(how: str) -> None:
    h, _leg = consult_connected()
    if how == "hangup":
        out = h.handle(Hangup("f1", "c1"))
    else:
        out = h.handle(AgentConnectionLost("f1"))
    none_of(out, CallerConnected, call="c1")


def test_consultant_changes_call_after_completion() -> None:
    """After CompleteTransfer the consultant works on the citizen's call: the agents view says
    so (an AgentChanged tells the portal: busy, now with the citizen's call)."""
    h, _leg = consult_connected()
    out = h.handle(CompleteTransfer("f1", "c1"))
    view = {a["id"]: a for a in h.engine.agents_view()}
    assert (view["w1"]["status"], view["w1"]["call"]) == ("busy", "c1")
    assert [(d.agent, d.call) for d in of(out, AgentChanged)] == [("f1", "c1"), ("w1", "c1")]
