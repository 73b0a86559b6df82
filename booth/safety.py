"""The booth's one safety policy: may action X happen now?

Every path that moves hardware or changes the visit asks here: the control socket (technicians on
the booth PC, ``lisa diag``), remote commands (agents and technicians through the bridge), the
badge reader (maintenance) and the controller. The answer depends on the booth's state (with
sub-state), the emergency input, the door's obstruction sensor and who asks; it is pure (no I/O),
so a table test runs every action against every state.

The rules, in words:

- the citizen can always leave: a remote ``door.open`` is never refused;
- while a citizen is in the booth (``occupied``, ``queued``, ``in_call``, ``farewell``) nothing
  moves hardware or plays a test sound on a technician's say-so: switch to maintenance first;
- during an emergency (state or input) the booth keeps its emergency posture: no self-test, no
  light or door changes, no maintenance;
- the door is never closed onto an obstruction, nor while the booth is out of service (``fault``:
  a failing door or PLC releases the door) or the citizen is leaving (``farewell``);
- maintenance cannot take the booth over from a citizen's call;
- call features (showing a page, asking for a signature, ending the session) need a visit in the
  right state.

Whether a device is configured at all is not a safety question; callers check that themselves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: top-level states with a citizen's visit (session) in progress
SESSION_STATES = frozenset({"occupied", "queued", "in_call"})
#: top-level states in which a citizen is (or may still be) in the booth
CITIZEN_INSIDE = SESSION_STATES | {"farewell"}
#: top-level states from which a technician cannot start maintenance
MAINTENANCE_REFUSED = frozenset({"in_call", "emergency"})


class Action(enum.StrEnum):
    """Everything the policy decides on."""

    PING = "ping"
    SELFTEST = "selftest"
    DOOR_OPEN = "door.open"
    DOOR_CLOSE = "door.close"
    DOOR_LOCK = "door.lock"
    DOOR_UNLOCK = "door.unlock"
    LIGHT = "light"
    AUDIO = "audio"
    CAMERA = "camera"
    SIGNATURE_PAD = "signature_pad"
    PLC = "plc"
    DOCCAM_SET = "doccam.set"
    DISPLAY_SHOW = "display.show"
    SIGNATURE_REQUEST = "signature.request"
    SESSION_END = "session.end"
    MAINTENANCE_ENTER = "maintenance.enter"
    MAINTENANCE_EXIT = "maintenance.exit"


class Origin(enum.StrEnum):
    """Who asks."""

    DIAG = "diag"  # a technician on the booth PC (control socket)
    REMOTE = "remote"  # an agent or technician through the bridge (MQTT command)
    BADGE = "badge"  # a technician's NFC badge
    CONTROLLER = "controller"  # the controller itself


#: actions that move or test hardware on a technician's say-so (refused while a citizen is in
#: the booth and during an emergency, unless the booth is in maintenance)
HARDWARE_ACTIONS = frozenset(
    {
        Action.SELFTEST,
        Action.DOOR_CLOSE,
        Action.DOOR_LOCK,
        Action.DOOR_UNLOCK,
        Action.LIGHT,
        Action.AUDIO,
        Action.CAMERA,
        Action.SIGNATURE_PAD,
        Action.PLC,
    }
)
#: actions the control socket's ``actuate`` op maps to, per device slot
ACTUATE_ACTIONS: dict[str, Action] = {
    "light": Action.LIGHT,
    "audio": Action.AUDIO,
    "camera_main": Action.CAMERA,
    "camera_document": Action.CAMERA,
    "signature": Action.SIGNATURE_PAD,
    "plc": Action.PLC,
}
DOOR_ACTIONS: dict[str, Action] = {
    "open": Action.DOOR_OPEN,
    "close": Action.DOOR_CLOSE,
    "lock": Action.DOOR_LOCK,
    "unlock": Action.DOOR_UNLOCK,
}


def actuate_action(device: str, action: str) -> Action:
    """The policy action of a control-socket ``actuate`` request."""
    if device == "door":
        return DOOR_ACTIONS[action]
    return ACTUATE_ACTIONS[device]


def top_state(state: str) -> str:
    return state.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Situation:
    """The booth as it is now, as far as the policy cares."""

    state: str  # full state incl. sub-state, e.g. ``in_call.signing``
    emergency: bool = False  # the emergency input (may be ahead of the state)
    obstructed: bool = False  # the door's obstruction sensor
    maintenance_requested: bool = False

    @property
    def top(self) -> str:
        return top_state(self.state)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer: allowed, or refused with a reason for the person who asked."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)


def _no(reason: str) -> Verdict:
    return Verdict(False, reason)


def decide(action: Action, origin: Origin, s: Situation) -> Verdict:
    """May ``origin`` do ``action`` in situation ``s``?"""
    top = s.top
    emergency = s.emergency or top == "emergency"
    if action is Action.PING:
        return ALLOWED
    if action is Action.DOOR_OPEN and origin is not Origin.DIAG:
        return ALLOWED  # egress is never blocked
    if action is Action.MAINTENANCE_ENTER:
        if emergency:
            return _no("maintenance cannot start during an emergency (state emergency)")
        if top in MAINTENANCE_REFUSED:
            return _no(f"maintenance cannot start while a citizen is in a call (state {top})")
        return ALLOWED
    if action is Action.MAINTENANCE_EXIT:
        if top != "maintenance" and not s.maintenance_requested:
            return _no(f"the booth is not in maintenance (state {top})")
        return ALLOWED
    if action in HARDWARE_ACTIONS or action is Action.DOOR_OPEN:
        verdict = _hardware(action, origin, s, top, emergency)
        if not verdict:
            return verdict
    if action is Action.DOOR_CLOSE:
        if s.obstructed:
            return _no("the door is obstructed")
        if emergency or top == "fault":
            return _no(
                f"the door stays open while the booth is in {'emergency' if emergency else top}"
            )
        if top == "farewell":
            return _no("the citizen is leaving (farewell); the door stays open")
        return ALLOWED
    if action is Action.LIGHT and emergency:
        return _no("the light stays at full brightness during an emergency")
    if action is Action.DISPLAY_SHOW and top != "in_call":
        return _no(f"pages are shown only during a call (state {top})")
    if action is Action.SIGNATURE_REQUEST and s.state != "in_call.talking":
        return _no(f"a signature can be requested only in a call (state {s.state})")
    if action is Action.SESSION_END and top not in SESSION_STATES:
        return _no(f"no citizen session to end (state {top})")
    return ALLOWED


def _hardware(action: Action, origin: Origin, s: Situation, top: str, emergency: bool) -> Verdict:
    """Moving or testing hardware on a technician's say-so."""
    if top == "maintenance":
        return ALLOWED
    if emergency:
        if origin is Origin.DIAG:
            return _no(
                "the emergency input is active (state emergency); the booth keeps its "
                "emergency settings until the input clears"
            )
        if action is Action.SELFTEST:
            return _no("the booth is in an emergency; self-tests move hardware")
        return ALLOWED
    if top in CITIZEN_INSIDE:
        if origin is Origin.DIAG:
            what = (
                "a self-test plays a test tone and grabs camera frames"
                if action is Action.SELFTEST
                else "moving hardware"
            )
            return _no(
                f"a citizen is in the booth (state {top}); switch to maintenance first "
                f"({what} would disturb the visit)"
            )
        if action is Action.SELFTEST:
            return _no(
                f"a citizen is in the booth (state {top}); self-tests move hardware and play sounds"
            )
    return ALLOWED
