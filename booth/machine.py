"""The booth's state machine: states and transitions as data.

The same definition builds the runtime ``HierarchicalAsyncMachine`` (queued) and the mermaid
diagram in ``docs/state-machine.md`` (``lisa booth diagram``), so the diagram cannot drift.
Sub-states are separated by ``.`` (``in_call.signing``); the top-level state is the part before it.
"""

from __future__ import annotations

from typing import Any

from transitions.extensions import HierarchicalGraphMachine
from transitions.extensions.asyncio import HierarchicalAsyncMachine, NestedAsyncState
from transitions.extensions.nesting import NestedState

TOP_STATES = [
    "booting",
    "selftest",
    "idle",
    "occupied",
    "queued",
    "in_call",
    "farewell",
    "privacy_reset",
    "offline",
    "fault",
    "maintenance",
    "emergency",
]

IN_CALL_SUBSTATES = ["talking", "transferring", "signing"]

STATES: list[Any] = [
    {"name": s, "on_enter": ["record_state", f"enter_{s}"], "on_exit": f"exit_{s}"}
    if s != "in_call"
    else {
        "name": "in_call",
        "on_enter": ["record_state", "enter_in_call"],
        "on_exit": "exit_in_call",
        "initial": "talking",
        "children": [
            {"name": c, "on_enter": ["record_state", f"enter_in_call_{c}"]}
            if c != "signing"
            else {
                "name": c,
                "on_enter": ["record_state", f"enter_in_call_{c}"],
                "on_exit": f"exit_in_call_{c}",
            }
            for c in IN_CALL_SUBSTATES
        ],
    }
    for s in TOP_STATES
]

# a citizen is in the booth in these states
SESSION_STATES = ["occupied", "queued", "in_call"]
# everything but emergency can go to emergency
ALL_BUT_EMERGENCY = [s for s in TOP_STATES if s != "emergency"]
# the booth goes out of service from these states when a critical device fails
FAULTABLE = ["selftest", "idle", *SESSION_STATES, "farewell", "privacy_reset", "offline"]
SETTLE_FROM = ["selftest", "privacy_reset"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "booted", "source": "booting", "dest": "selftest"},
    # where the booth rests after a self-test or a privacy reset, by priority
    {
        "trigger": "settle",
        "source": SETTLE_FROM,
        "dest": "emergency",
        "conditions": "emergency_active",
    },
    {"trigger": "settle", "source": SETTLE_FROM, "dest": "fault", "conditions": "critical_failure"},
    {
        "trigger": "settle",
        "source": SETTLE_FROM,
        "dest": "maintenance",
        "conditions": "maintenance_requested",
    },
    {"trigger": "settle", "source": SETTLE_FROM, "dest": "offline", "unless": "link_is_up"},
    {"trigger": "settle", "source": SETTLE_FROM, "dest": "idle"},
    # safety first
    {"trigger": "emergency_on", "source": ALL_BUT_EMERGENCY, "dest": "emergency"},
    {
        "trigger": "emergency_off",
        "source": "emergency",
        "dest": "privacy_reset",
        "unless": "present",
    },
    {
        "trigger": "presence_off",
        "source": "emergency",
        "dest": "privacy_reset",
        "unless": "emergency_active",
    },
    {"trigger": "critical_fault", "source": FAULTABLE, "dest": "fault"},
    {"trigger": "faults_cleared", "source": "fault", "dest": "selftest"},
    {"trigger": "recheck", "source": "fault", "dest": "selftest", "unless": "device_unavailable"},
    # the citizen's way through the booth
    {"trigger": "presence_on", "source": "idle", "dest": "occupied"},
    {"trigger": "call_queued", "source": "occupied", "dest": "queued"},
    {"trigger": "call_queued", "source": "queued", "dest": None, "after": "update_queue"},
    {
        "trigger": "call_connected",
        "source": ["occupied", "queued", "in_call.transferring"],
        "dest": "in_call",
    },
    {
        "trigger": "call_transferring",
        "source": ["in_call.talking", "in_call.signing"],
        "dest": "in_call.transferring",
    },
    {"trigger": "signature_requested", "source": "in_call.talking", "dest": "in_call.signing"},
    {"trigger": "signature_finished", "source": "in_call.signing", "dest": "in_call.talking"},
    {"trigger": "call_ended", "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": "call_unavailable", "source": ["occupied", "queued"], "dest": "farewell"},
    {"trigger": "session_end", "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": "presence_off", "source": SESSION_STATES, "dest": "farewell"},
    {"trigger": "presence_off", "source": "farewell", "dest": "privacy_reset"},
    # the link to the central side
    {"trigger": "link_down", "source": "idle", "dest": "offline"},
    # during a visit a lost link is given timing.link_grace to come back (bridge restart)
    {"trigger": "link_down", "source": SESSION_STATES, "dest": None, "after": "start_link_grace"},
    {"trigger": "link_lost", "source": SESSION_STATES, "dest": "farewell", "unless": "link_is_up"},
    {"trigger": "link_up", "source": "offline", "dest": "idle"},
    {"trigger": "link_up", "source": SESSION_STATES, "dest": None, "after": "stop_link_grace"},
    # technicians
    {
        "trigger": "maintenance_enter",
        "source": ["selftest", "idle", "occupied", "queued", "farewell", "offline", "fault"],
        "dest": "maintenance",
    },
    {"trigger": "maintenance_exit", "source": "maintenance", "dest": "selftest"},
]


class BoothState(NestedAsyncState):
    separator = "."


class BoothMachine(HierarchicalAsyncMachine):
    state_cls = BoothState


def build_machine(model: Any) -> BoothMachine:
    return BoothMachine(
        model=model,
        states=STATES,
        transitions=TRANSITIONS,
        initial="booting",
        queued=True,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        send_event=False,
    )


def top_state(state: str) -> str:
    return state.split(".", 1)[0]


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
        transitions=[{k: v for k, v in t.items() if k != "after"} for t in TRANSITIONS],
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
