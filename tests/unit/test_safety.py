"""The one safety policy, every action against every state (and the inputs that matter)."""

from __future__ import annotations

import itertools

import pytest

from booth.machine import ALL_STATES
from booth.safety import Action, Origin, Situation, decide

A = Action
INSIDE = {"occupied", "queued", "in_call", "farewell"}
HARDWARE = {
    A.SELFTEST,
    A.DOOR_CLOSE,
    A.DOOR_LOCK,
    A.DOOR_UNLOCK,
    A.LIGHT,
    A.AUDIO,
    A.CAMERA,
    A.SIGNATURE_PAD,
    A.PLC,
}


def expected(action: Action, origin: Origin, state: str, emergency: bool, obstructed: bool) -> bool:
    """The rules written out independently of booth/safety.py."""
    top = state.split(".")[0]
    emergency = emergency or top == "emergency"
    if action is A.PING:
        return True
    if action is A.DOOR_OPEN and origin is not Origin.DIAG:
        return True  # the citizen can always leave
    if action is A.MAINTENANCE_ENTER:
        return not emergency and top != "in_call"
    if action is A.MAINTENANCE_EXIT:
        return top == "maintenance"
    if action in HARDWARE or action is A.DOOR_OPEN:
        if top != "maintenance":
            if emergency and (origin is Origin.DIAG or action is A.SELFTEST):
                return False
            if top in INSIDE and (origin is Origin.DIAG or action is A.SELFTEST):
                return False
    if action is A.DOOR_CLOSE:
        return not (obstructed or emergency or top in ("fault", "farewell"))
    if action is A.LIGHT:
        return not emergency
    if action is A.DISPLAY_SHOW:
        return top == "in_call"
    if action is A.SIGNATURE_REQUEST:
        return state == "in_call.talking"
    if action is A.SESSION_END:
        return top in {"occupied", "queued", "in_call"}
    return True


CASES = list(
    itertools.product(
        Action, (Origin.DIAG, Origin.REMOTE), ALL_STATES, (False, True), (False, True)
    )
)


@pytest.mark.parametrize(("action", "origin", "state", "emergency", "obstructed"), CASES)
def test_policy_table(
    action: Action, origin: Origin, state: str, emergency: bool, obstructed: bool
) -> None:
    situation = Situation(state=state, emergency=emergency, obstructed=obstructed)
    verdict = decide(action, origin, situation)
    assert bool(verdict) is expected(action, origin, state, emergency, obstructed)
    if not verdict:
        assert verdict.reason and not verdict.reason.startswith("refused")


def test_a_remote_door_open_is_never_refused() -> None:
    for state, emergency, obstructed in itertools.product(ALL_STATES, (0, 1), (0, 1)):
        s = Situation(state=state, emergency=bool(emergency), obstructed=bool(obstructed))
        assert decide(A.DOOR_OPEN, Origin.REMOTE, s)


def test_maintenance_exit_while_requested_but_not_yet_reached() -> None:
    s = Situation(state="privacy_reset", maintenance_requested=True)
    assert decide(A.MAINTENANCE_EXIT, Origin.REMOTE, s)
