"""What the bridge does about the engine's decisions: decisions in, typed effects out.

Pure: no I/O, no timers, no clock. :func:`effects_of` says, for each decision of one step,
which call message goes to which booth (:class:`SendToBooth`), which live event goes to the
agents' clients (:class:`PublishLive`) and which timer is set or cancelled (the engine's own
:class:`~cloud_bridge.acd.model.SetTimer` / :class:`~cloud_bridge.acd.model.CancelTimer`).
:func:`reannounce` says what every booth with a live call is told after a (re)connect.
The bridge (:mod:`cloud_bridge.service`) carries the effects out, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud_bridge.acd.model import (
    AgentChanged,
    AgentSpec,
    CallerConnected,
    CallerQueued,
    CallerTransferring,
    CallerUnavailable,
    CallFinished,
    CancelTimer,
    ConsultConnected,
    ConsultEnded,
    Decision,
    Offer,
    OfferWithdrawn,
    SetTimer,
)

__all__ = [
    "CancelTimer",
    "Effect",
    "PublishLive",
    "SendToBooth",
    "SetTimer",
    "effects_of",
    "reannounce",
]


@dataclass(frozen=True, slots=True)
class SendToBooth:
    """A call message (:class:`lisa_messages.CallControl`) to ``booth``'s call topic."""

    booth: str
    session: str
    type: str
    fields: dict[str, Any] = field(default_factory=dict)  # only the fields that are set

    @classmethod
    def of(cls, booth: str, session: str, type_: str, **fields: Any) -> SendToBooth:
        """The message without the fields that are None."""
        return cls(booth, session, type_, {k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True, slots=True)
class PublishLive:
    """A live event to every subscribed agent client."""

    item: dict[str, Any]


Effect = SendToBooth | PublishLive | SetTimer | CancelTimer

CallView = Callable[[str], dict[str, Any]]


def effects_of(decisions: Iterable[Decision], call_view: CallView) -> list[Effect]:
    """The effects of one step's decisions, in their order. ``call_view(call)`` is the call's
    entry as the live ``call`` event carries it (after the step)."""
    out: list[Effect] = []
    for d in decisions:
        out.extend(_effects_of(d, call_view))
    return out


def _call(call: str, call_view: CallView) -> PublishLive:
    return PublishLive({"type": "call", **call_view(call)})


def _ended(call: str, reason: str) -> PublishLive:
    return PublishLive({"type": "call_ended", "call": call, "reason": reason})


def _effects_of(d: Decision, call_view: CallView) -> list[Effect]:
    match d:
        case SetTimer() | CancelTimer():
            return [d]
        case CallerQueued():
            return [
                SendToBooth.of(
                    d.booth,
                    d.session,
                    "queued",
                    position=d.position,
                    estimated_wait=d.estimated_wait_s,
                    queue=d.queue,
                ),
                _call(d.call, call_view),
            ]
        case CallerConnected():
            return [
                SendToBooth.of(
                    d.booth, d.session, "connected", queue=d.queue, agent=d.agent_display
                ),
                _call(d.call, call_view),
            ]
        case CallerTransferring():
            return [
                SendToBooth.of(d.booth, d.session, "transferring", queue=d.target or None),
                _call(d.call, call_view),
            ]
        case CallerUnavailable():
            return [
                SendToBooth.of(
                    d.booth,
                    d.session,
                    "unavailable",
                    reason=d.reason,
                    opening_hours=d.opening_hours or None,
                    phone=d.phone or None,
                    queue=d.queue,
                ),
                _ended(d.call, d.reason),
            ]
        case CallFinished():
            to_booth: list[Effect] = (
                []
                if d.by_caller
                else [SendToBooth.of(d.booth, d.session, "ended", reason=d.reason)]
            )
            return [*to_booth, _ended(d.call, d.reason)]
        case Offer():
            return [
                PublishLive(
                    {
                        "type": "offer",
                        "call": d.call,
                        "agent": d.agent,
                        "queue": d.queue,
                        "booth": d.booth,
                        "ring_timeout_s": d.ring_timeout_s,
                        "consult_for": d.consult_for,
                    }
                )
            ]
        case OfferWithdrawn():
            return [
                PublishLive(
                    {
                        "type": "offer_withdrawn",
                        "call": d.call,
                        "agent": d.agent,
                        "reason": d.reason,
                    }
                )
            ]
        case ConsultConnected() | ConsultEnded():
            item: dict[str, Any] = {
                "type": "consult",
                "call": d.call,
                "agent": d.agent,
                "consultant": d.consultant,
            }
            if isinstance(d, ConsultConnected):
                item["state"] = "connected"
            else:
                item.update(state="ended", reason=d.reason)
            return [PublishLive(item)]
        case AgentChanged():
            return [
                PublishLive(
                    {
                        "type": "agent",
                        "agent": d.agent,
                        "status": d.status.value,
                        "reason": d.reason,
                        "call": d.call,
                    }
                )
            ]
        case _:
            return []


def reannounce(
    calls: Iterable[Mapping[str, Any]],
    agents: Mapping[str, AgentSpec],
    estimated_wait: Callable[[str], float],
) -> list[SendToBooth]:
    """After every (re)connect to the broker: where each live call stands, to its booth.
    ``calls`` are the engine's call views; consults (kind ≠ ``call``) have no booth to tell."""
    out: list[SendToBooth] = []
    for view in calls:
        if view["kind"] != "call":
            continue
        if view["status"] == "connected" and view["agent"]:
            out.append(
                SendToBooth.of(
                    view["booth"],
                    view["session"],
                    "connected",
                    queue=view["queue"],
                    agent=agents[view["agent"]].display_name,
                )
            )
        else:
            out.append(
                SendToBooth.of(
                    view["booth"],
                    view["session"],
                    "queued",
                    position=view["position"] or 1,
                    estimated_wait=estimated_wait(view["id"]),
                    queue=view["queue"],
                )
            )
    return out
