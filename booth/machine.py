"""The booth's state machine: states and transitions as data.

The same definition builds the runtime ``HierarchicalAsyncMachine`` (queued) and the mermaid
diagram in ``docs/state-machine.md`` (``lisa booth diagram``), so the diagram cannot drift.
Sub-states are separated by ``.`` (``in_call.signing``); the top-level state is the part before it.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, get_args

from transitions.extensions import HierarchicalGraphMachine
from transitions.extensions.asyncio import HierarchicalAsyncMachine, NestedAsyncState
from transitions.extensions.nesting import NestedState

from booth import safety
from lisa_messages import TopState

#: the top-level states, as the MQTT contract names them (``lisa_messages.TopState``)
TOP_STATES: list[str] = list(get_args(TopState))

IN_CALL_SUBSTATES = ["talking", "transferring", "signing"]

#: every state, sub-states as ``parent.child``
ALL_STATES = [
    *(s for s in TOP_STATES if s != "in_call"),
    *(f"in_call.{c}" for c in IN_CALL_SUBSTATES),
]


class Trigger(enum.StrEnum):
    """Every trigger the controller may post; the machine knows exactly these (checked below)."""

    BOOTED = "booted"
    SETTLE = "settle"
    EMERGENCY_ON = "emergency_on"
    EMERGENCY_OFF = "emergency_off"
    CRITICAL_FAULT = "critical_fault"
    FAULTS_CLEARED = "faults_cleared"
    RECHECK = "recheck"
    PRESENCE_ON = "presence_on"
    PRESENCE_OFF = "presence_off"
    CALL_QUEUED = "call_queued"
    CALL_CONNECTED = "call_connected"
    CALL_TRANSFERRING = "call_transferring"
    SIGNATURE_REQUESTED = "signature_requested"
    SIGNATURE_FINISHED = "signature_finished"
    CALL_ENDED = "call_ended"
    CALL_UNAVAILABLE = "call_unavailable"
    SESSION_END = "session_end"
    LINK_DOWN = "link_down"
    LINK_LOST = "link_lost"
    LINK_UP = "link_up"
    MAINTENANCE_ENTER = "maintenance_enter"
    MAINTENANCE_EXIT = "maintenance_exit"


#: safety triggers jump the controller's queue
URGENT_TRIGGERS = frozenset({Trigger.EMERGENCY_ON, Trigger.CRITICAL_FAULT})

STATES: list[dict[str, Any]] = [
    {"name": s}
    if s != "in_call"
    else {
        "name": "in_call",
        "initial": "talking",
        "children": [{"name": c} for c in IN_CALL_SUBSTATES],
    }
    for s in TOP_STATES
]

SESSION_STATES = sorted(safety.SESSION_STATES)
# everything but emergency can go to emergency
ALL_BUT_EMERGENCY = [s for s in TOP_STATES if s != "emergency"]
# the booth goes out of service from these states when a critical device fails
FAULTABLE = ["selftest", "idle", *SESSION_STATES, "farewell", "privacy_reset", "offline"]
SETTLE_FROM = ["selftest", "privacy_reset"]
# a technician takes the booth over from these (booting and the privacy reset settle into
# maintenance when it was asked for; the safety policy refuses the rest)
MAINTENANCE_FROM = [
    s
    for s in TOP_STATES
    if s not in safety.MAINTENANCE_REFUSED and s not in ("booting", "privacy_reset", "maintenance")
]

T = Trigger
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": T.BOOTED, "source": "booting", "dest": "selftest"},
    # where the booth rests after a self-test or a privacy reset, by priority
    {
        "trigger": T.SETTLE,
        "source": SETTLE_FROM,
        "dest": "emergency",
        "conditions": "emergency_active",
    },
    {"trigger": T.SETTLE, "source": SETTLE_FROM, "dest": "fault", "conditions": "critical_failure"},
    {
        "trigger": T.SETTLE,
        "source": SETTLE_FROM,
        "dest": "maintenance",
        "conditions": "maintenance_requested",
    },
    {"trigger": T.SETTLE, "source": SETTLE_FROM, "dest": "offline", "unless": "link_is_up"},
    {"trigger": T.SETTLE, "source": SETTLE_FROM, "dest": "idle"},
    # safety first
    {"trigger": T.EMERGENCY_ON, "source": ALL_BUT_EMERGENCY, "dest": "emergency"},
    {
        "trigger": T.EMERGENCY_OFF,
        "source": "emergency",
        "dest": "privacy_reset",
        "unless": "present",
    },
    {
        "trigger": T.PRESENCE_OFF,
        "source": "emergency",
        "dest": "privacy_reset",
        "unless": "emergency_active",
    },
    {"trigger": T.CRITICAL_FAULT, "source": FAULTABLE, "dest": "fault"},
    {"trigger": T.FAULTS_CLEARED, "source": "fault", "dest": "selftest"},
    {"trigger": T.RECHECK, "source": "fault", "dest": "selftest", "unless": "device_unavailable"},
    # the citizen's way through the booth
    {"trigger": T.PRESENCE_ON, "source": "idle", "dest": "occupied"},
    {"trigger": T.CALL_QUEUED, "source": "occupied", "dest": "queued"},
    {"trigger": T.CALL_QUEUED, "source": "queued", "dest": None, "after": "update_queue"},
    {
        "trigger": T.CALL_CONNECTED,
        "source": ["occupied", "queued", "in_call.transferring"],
        "dest": "in_call",
    },
    {
        "trigger": T.CALL_TRANSFERRING,
        "source": ["in_call.talking", "in_call.signing"],
        "dest": "in_call.transferring",
    },
    {"trigger": T.SIGNATURE_REQUESTED, "source": "in_call.talking", "dest": "in_call.signing"},
    {"trigger": T.SIGNATURE_FINISHED, "source": "in_call.signing", "dest": "in_call.talking"},
    {"trigger": T.CALL_ENDED, "source": SESSION_STATES, "dest": "farewell"},
    # also after a transfer nobody took (max wait, the service closed): never stuck transferring
    {"trigger": T.CALL_UNAVAILABLE, "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": T.SESSION_END, "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": T.PRESENCE_OFF, "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": T.PRESENCE_OFF, "source": "farewell", "dest": "privacy_reset"},
    # the link to the central side
    {"trigger": T.LINK_DOWN, "source": "idle", "dest": "offline"},
    # during a visit a lost link is given timing.link_grace to come back (bridge restart)
    {"trigger": T.LINK_DOWN, "source": SESSION_STATES, "dest": None, "after": "start_link_grace"},
    {"trigger": T.LINK_LOST, "source": SESSION_STATES, "dest": "farewell", "unless": "link_is_up"},
    {"trigger": T.LINK_UP, "source": "offline", "dest": "idle"},
    {"trigger": T.LINK_UP, "source": SESSION_STATES, "dest": None, "after": "stop_link_grace"},
    # technicians
    {"trigger": T.MAINTENANCE_ENTER, "source": MAINTENANCE_FROM, "dest": "maintenance"},
    {"trigger": T.MAINTENANCE_EXIT, "source": "maintenance", "dest": "selftest"},
]
del T

_used = {t["trigger"] for t in TRANSITIONS}
if _used != set(Trigger):  # checked at import: a trigger without a transition, or the reverse
    raise RuntimeError(f"triggers and transitions disagree: {sorted(_used ^ set(Trigger))}")

#: names of the model's condition methods the transitions use (a test checks the model has them)
CONDITIONS = sorted(
    {
        name
        for t in TRANSITIONS
        for key in ("conditions", "unless", "after")
        if (name := t.get(key)) is not None
    }
)

Callback = Callable[[], Awaitable[None]]


class BoothModel(Protocol):
    """What the machine calls on its model (the controller) when a state is entered or left."""

    async def record_state(self) -> None: ...
    async def enter_selftest(self) -> None: ...
    async def enter_idle(self) -> None: ...
    async def enter_occupied(self) -> None: ...
    async def enter_queued(self) -> None: ...
    async def exit_queued(self) -> None: ...
    async def enter_in_call_talking(self) -> None: ...
    async def enter_in_call_transferring(self) -> None: ...
    async def enter_in_call_signing(self) -> None: ...
    async def exit_in_call_signing(self) -> None: ...
    async def enter_farewell(self) -> None: ...
    async def enter_privacy_reset(self) -> None: ...
    async def exit_privacy_reset(self) -> None: ...
    async def enter_offline(self) -> None: ...
    async def enter_fault(self) -> None: ...
    async def exit_fault(self) -> None: ...
    async def enter_maintenance(self) -> None: ...
    async def enter_emergency(self) -> None: ...


def state_callbacks(m: BoothModel) -> dict[str, tuple[list[Callback], list[Callback]]]:
    """Entry and exit callbacks per state (``record_state`` first on every entry, so the change
    is reported before any actuator is asked)."""
    r = m.record_state
    return {
        "booting": ([r], []),
        "selftest": ([r, m.enter_selftest], []),
        "idle": ([r, m.enter_idle], []),
        "occupied": ([r, m.enter_occupied], []),
        "queued": ([r, m.enter_queued], [m.exit_queued]),
        "in_call": ([r], []),
        "in_call.talking": ([r, m.enter_in_call_talking], []),
        "in_call.transferring": ([r, m.enter_in_call_transferring], []),
        "in_call.signing": ([r, m.enter_in_call_signing], [m.exit_in_call_signing]),
        "farewell": ([r, m.enter_farewell], []),
        "privacy_reset": ([r, m.enter_privacy_reset], [m.exit_privacy_reset]),
        "offline": ([r, m.enter_offline], []),
        "fault": ([r, m.enter_fault], [m.exit_fault]),
        "maintenance": ([r, m.enter_maintenance], []),
        "emergency": ([r, m.enter_emergency], []),
    }


def _with_callbacks(model: BoothModel) -> list[dict[str, Any]]:
    callbacks = state_callbacks(model)
    if set(callbacks) != {*TOP_STATES, *ALL_STATES}:
        raise RuntimeError("state_callbacks must name every state")

    def build(states: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
        out = []
        for st in states:
            name = prefix + st["name"]
            on_enter, on_exit = callbacks[name]
            entry = {**st, "on_enter": on_enter, "on_exit": on_exit}
            if "children" in st:
                entry["children"] = build(st["children"], name + ".")
            out.append(entry)
        return out

    return build(STATES, "")


class BoothState(NestedAsyncState):
    separator = "."


class BoothMachine(HierarchicalAsyncMachine):
    state_cls = BoothState


def build_machine(model: BoothModel) -> BoothMachine:
    return BoothMachine(
        model=model,
        states=_with_callbacks(model),
        transitions=TRANSITIONS,
        initial="booting",
        queued=True,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        send_event=False,
    )


top_state = safety.top_state


class _GraphState(NestedState):
    separator = "."


class _GraphMachine(HierarchicalGraphMachine):
    state_cls = _GraphState


def mermaid() -> str:
    """The state diagram as mermaid source, generated from the definition above."""

    def strip(states: list[Any]) -> list[Any]:
        out: list[Any] = []
        for s in states:
            entry: dict[str, Any] = {"name": s["name"]}
            if "children" in s:
                entry["children"] = strip(s["children"])
                entry["initial"] = s["initial"]
            out.append(entry)
        return out

    machine = _GraphMachine(
        states=strip(STATES),
        transitions=[
            {k: str(v) if k == "trigger" else v for k, v in t.items() if k != "after"}
            for t in TRANSITIONS
        ],
        initial="booting",
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="LISA booth controller",
    )
    text: str = machine.get_graph().draw(None)
    # drop the highlighting of the current state: the diagram shows the definition only
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("Class ")]
    return "\n".join(ln.rstrip() for ln in lines).strip() + "\n"


def state_machine_doc() -> str:
    """Content of docs/state-machine.md."""
    return (
        "# Booth state machine\n\n"
        "Generated from `booth/machine.py` by `lisa booth diagram --write docs/state-machine.md`;"
        " a test fails when this file is stale. Do not edit by hand.\n\n"
        "Top-level states: " + ", ".join(f"`{s}`" for s in TOP_STATES) + ".\n"
        "Sub-states of `in_call`: " + ", ".join(f"`in_call.{s}`" for s in IN_CALL_SUBSTATES) + ".\n"
        "Triggers are posted by the devices (presence, door, PLC, NFC), the central link and the "
        "control socket; conditions are shown in brackets.\n\n"
        "```mermaid\n" + mermaid() + "```\n"
    )
