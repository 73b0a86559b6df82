"""What the bridge does about the engine's decisions (:mod:`cloud_bridge.effects`), without
any I/O: which call message to which booth, which live event to the agents, which timer."""

from __future__ import annotations

from typing import Any

from cloud_bridge.acd import model as m
from cloud_bridge.effects import PublishLive, SendToBooth, effects_of, reannounce

RING = m.TimerKey(m.TimerKind.RING, "c1")


def view(call: str) -> dict[str, Any]:
    return {"id": call, "status": "waiting"}


def test_timers_pass_through_in_order() -> None:
    decisions: list[m.Decision] = [m.SetTimer(RING, 12.5), m.CancelTimer(RING)]
    assert effects_of(decisions, view) == decisions


def test_caller_messages_go_to_the_booth_and_the_call_to_the_agents() -> None:
    got = effects_of(
        [
            m.CallerQueued("c1", "b1", "s1", "clearing", 2, 90.0),
            m.CallerConnected("c1", "b1", "s1", "clearing", "a1", "Bürgerservice"),
            m.CallerTransferring("c1", "b1", "s1", ""),
        ],
        view,
    )
    call = PublishLive({"type": "call", "id": "c1", "status": "waiting"})
    assert got == [
        SendToBooth(
            "b1", "s1", "queued", {"position": 2, "estimated_wait": 90.0, "queue": "clearing"}
        ),
        call,
        SendToBooth("b1", "s1", "connected", {"queue": "clearing", "agent": "Bürgerservice"}),
        call,
        SendToBooth("b1", "s1", "transferring", {}),  # requeued: no target named
        call,
    ]


def test_calls_that_end() -> None:
    got = effects_of(
        [
            m.CallerUnavailable("c1", "b1", "s1", "clearing", "closed", "Mo-Fr 8-16", ""),
            m.CallFinished("c2", "b2", "s2", "completed", by_caller=False),
            m.CallFinished("c3", "b3", "s3", "caller_left", by_caller=True),
        ],
        view,
    )
    assert got == [
        SendToBooth(
            "b1",
            "s1",
            "unavailable",
            {"reason": "closed", "opening_hours": "Mo-Fr 8-16", "queue": "clearing"},
        ),
        PublishLive({"type": "call_ended", "call": "c1", "reason": "closed"}),
        SendToBooth("b2", "s2", "ended", {"reason": "completed"}),
        PublishLive({"type": "call_ended", "call": "c2", "reason": "completed"}),
        # the caller left: nothing to tell the booth
        PublishLive({"type": "call_ended", "call": "c3", "reason": "caller_left"}),
    ]


def test_agent_side_decisions_are_live_events_only() -> None:
    got = effects_of(
        [
            m.Offer("c1", "a1", "clearing", "b1", 20.0),
            m.OfferWithdrawn("c1", "a1", "no_answer"),
            m.ConsultConnected("c1", "a1", "a2"),
            m.ConsultEnded("c1", "a1", "a2", "completed"),
            m.AgentChanged("a1", m.AgentStatus.READY, None, None),
        ],
        view,
    )
    assert got == [
        PublishLive(
            {
                "type": "offer",
                "call": "c1",
                "agent": "a1",
                "queue": "clearing",
                "booth": "b1",
                "ring_timeout_s": 20.0,
                "consult_for": None,
            }
        ),
        PublishLive(
            {"type": "offer_withdrawn", "call": "c1", "agent": "a1", "reason": "no_answer"}
        ),
        PublishLive(
            {
                "type": "consult",
                "call": "c1",
                "agent": "a1",
                "consultant": "a2",
                "state": "connected",
            }
        ),
        PublishLive(
            {
                "type": "consult",
                "call": "c1",
                "agent": "a1",
                "consultant": "a2",
                "state": "ended",
                "reason": "completed",
            }
        ),
        PublishLive(
            {"type": "agent", "agent": "a1", "status": "ready", "reason": None, "call": None}
        ),
    ]


def test_the_call_view_is_read_per_decision() -> None:
    seen: list[str] = []

    def lookup(call: str) -> dict[str, Any]:
        seen.append(call)
        return {"id": call}

    effects_of([m.CallerTransferring("c9", "b1", "s1", "Wohngeldstelle")], lookup)
    assert seen == ["c9"]


def test_reannounce_tells_each_booth_with_a_live_call() -> None:
    calls: list[dict[str, Any]] = [
        {
            "id": "c1",
            "kind": "call",
            "status": "connected",
            "agent": "a1",
            "booth": "b1",
            "session": "s1",
            "queue": "clearing",
            "position": None,
        },
        {
            "id": "c2",
            "kind": "call",
            "status": "waiting",
            "agent": None,
            "booth": "b2",
            "session": "s2",
            "queue": "clearing",
            "position": None,
        },
        {"id": "k1", "kind": "consult", "status": "ringing"},
    ]
    agents = {"a1": m.AgentSpec("a1", "Bürgerservice", {"clearing": 1})}
    assert reannounce(calls, agents, lambda call: 30.0) == [
        SendToBooth("b1", "s1", "connected", {"queue": "clearing", "agent": "Bürgerservice"}),
        SendToBooth(
            "b2", "s2", "queued", {"position": 1, "estimated_wait": 30.0, "queue": "clearing"}
        ),
    ]
