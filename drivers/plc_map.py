"""The booth PLC's Modbus register map: the one source of truth.

The PC drivers (``drivers.plc_modbus``, ``drivers.door_plc``, ``drivers.light_plc``), the PLC
simulator (``sim.plc_server``) and the document ``docs/plc-register-map.md`` all come from here;
``tests/unit/test_plc_map.py`` fails when the document is stale
(``python -m drivers.plc_map --write docs/plc-register-map.md`` regenerates it).

Addresses are Modbus protocol (PDU) addresses, as a Modbus master sends them; every table of the
map starts at 1 (address 0 is unused). Holding registers outside the map are general-purpose PLC
memory (readable and writable, no meaning to the booth).

This module imports nothing but :mod:`hal.events`, so the booth config can be checked without
pymodbus installed.
"""

from __future__ import annotations

import enum
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from hal.events import LightScene, SignState

#: Version of this map; the PLC program reports the version it implements (``map_version``).
MAP_VERSION = 1

#: The PLC answers to this Modbus unit id unless configured otherwise.
DEFAULT_UNIT_ID = 1

#: Registers are 16 bits.
REGISTER_MAX = 0xFFFF

#: Brightness is sent in per mille (0..1000).
BRIGHTNESS_SCALE = 1000


class Table(enum.StrEnum):
    """The four Modbus tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete input"
    HOLDING_REGISTER = "holding register"
    INPUT_REGISTER = "input register"


@dataclass(frozen=True, slots=True)
class Point:
    """One named coil, input or register of the map."""

    name: str
    table: Table
    address: int
    description: str
    values: str = ""


def _points(table: Table, *entries: tuple[str, str, str]) -> dict[str, Point]:
    """Points of one table, numbered from address 1 in the order given."""
    return {
        name: Point(name, table, address, description, values)
        for address, (name, description, values) in enumerate(entries, start=1)
    }


# --- coils: written by the PC (function codes 1 read, 5 write one, 15 write many) -------------
COILS: dict[str, Point] = _points(
    Table.COIL,
    (
        "door_open_request",
        "Command: open the door. The PC writes 1; the PLC starts opening in its next scan and "
        "resets the bit to 0 (handshake). Also accepted while entry is locked or something "
        "obstructs the door.",
        "1 = request",
    ),
    (
        "door_close_request",
        "Command: close the door (written together with door_open_request, one FC 15 request; "
        "if both are 1, open wins). The PLC resets the bit when it has taken the command; it "
        "refuses to close (nothing moves) while door_obstruction, emergency or safe_defaults "
        "is active.",
        "1 = request",
    ),
    (
        "entry_lock",
        "Level: no entry from outside (the operator's outside sensor / push button is "
        "disabled). Never blocks egress. The PLC forces it to 0 while emergency or "
        "safe_defaults is active.",
        "1 = locked against entry",
    ),
    (
        "induction_loop",
        "Level: power of the induction-loop amplifier (hearing aids).",
        "1 = on",
    ),
)

# --- discrete inputs: read by the PC (function code 2) ------------------------------------------
DISCRETE_INPUTS: dict[str, Point] = _points(
    Table.DISCRETE_INPUT,
    ("door_open_limit", "Door operator: open end position reached.", "1 = open"),
    ("door_closed_limit", "Door operator: closed end position reached.", "1 = closed"),
    ("door_moving", "Door operator: the door is moving.", "1 = moving"),
    (
        "door_opening",
        "Direction of travel, valid while door_moving.",
        "1 = opening, 0 = closing",
    ),
    (
        "door_obstruction",
        "Door operator's safety sensor: something is in the doorway. A closing door stops.",
        "1 = obstructed",
    ),
    (
        "emergency",
        "Fire alarm / emergency contact. The PLC itself releases the entry lock and opens the "
        "door; the PC switches the booth into its emergency state.",
        "1 = alarm",
    ),
    (
        "door_fault",
        "Door operator reports a fault (jam, motor, safety sensor): the door is out of order.",
        "1 = fault",
    ),
    (
        "safe_defaults",
        "The PLC applied its safe defaults because the heartbeat stopped changing (dead-man). "
        "Cleared by the next heartbeat change.",
        "1 = safe defaults active",
    ),
)

# --- holding registers: written by the PC (function codes 3 read, 6 write one, 16 write many) ---
LIGHT_SCENE_CODES: dict[LightScene, int] = {
    LightScene.OFF: 0,
    LightScene.STANDBY: 1,
    LightScene.CONSULTATION: 2,
    LightScene.MAINTENANCE: 3,
    LightScene.EMERGENCY: 4,
}

#: Sign codes; 0 (what a freshly started PLC holds) is "out of service".
SIGN_CODES: dict[SignState, int] = {
    SignState.OUT_OF_SERVICE: 0,
    SignState.FREE: 1,
    SignState.OCCUPIED: 2,
}


def _codes(codes: dict[LightScene, int] | dict[SignState, int]) -> str:
    return ", ".join(f"{code} = {name.value}" for name, code in codes.items())


HOLDING_REGISTERS: dict[str, Point] = _points(
    Table.HOLDING_REGISTER,
    (
        "heartbeat",
        "Dead-man heartbeat: the PC increments it (wrapping 65535 → 0) every main-loop tick. "
        "Without a change for deadman_timeout the PLC applies its safe defaults.",
        "0..65535, counter",
    ),
    ("light_scene", "Inside light scene.", _codes(LIGHT_SCENE_CODES)),
    (
        "light_brightness",
        "Inside light brightness (written together with light_scene, one FC 16 request).",
        f"0..{BRIGHTNESS_SCALE} per mille",
    ),
    ("sign_state", "Outside status sign.", _codes(SIGN_CODES)),
)

# --- input registers: read by the PC (function code 4) ------------------------------------------
IDENTITY = (0x4C49, 0x5341)  # "LI", "SA"

INPUT_REGISTERS: dict[str, Point] = _points(
    Table.INPUT_REGISTER,
    ("identity_0", "Identity of the PLC program, first half.", f"0x{IDENTITY[0]:04X} ('LI')"),
    ("identity_1", "Identity of the PLC program, second half.", f"0x{IDENTITY[1]:04X} ('SA')"),
    ("map_version", "Version of this register map the PLC program implements.", "1"),
    (
        "deadman_timeout",
        "The PLC's dead-man timeout: safe defaults after this long without a heartbeat change.",
        "tenths of a second",
    ),
)

TABLES: dict[Table, dict[str, Point]] = {
    Table.COIL: COILS,
    Table.DISCRETE_INPUT: DISCRETE_INPUTS,
    Table.HOLDING_REGISTER: HOLDING_REGISTERS,
    Table.INPUT_REGISTER: INPUT_REGISTERS,
}

ALL_POINTS: dict[str, Point] = {p.name: p for table in TABLES.values() for p in table.values()}

# the points the drivers use by name
HEARTBEAT = HOLDING_REGISTERS["heartbeat"]
LIGHT_SCENE = HOLDING_REGISTERS["light_scene"]
LIGHT_BRIGHTNESS = HOLDING_REGISTERS["light_brightness"]
SIGN_STATE = HOLDING_REGISTERS["sign_state"]
EMERGENCY_INPUT = "emergency"
SAFE_DEFAULTS_INPUT = "safe_defaults"
DOOR_INPUTS = (
    "door_open_limit",
    "door_closed_limit",
    "door_moving",
    "door_opening",
    "door_obstruction",
    "door_fault",
)

#: What the PLC does on its own when the heartbeat stops (documented, and done by the simulator).
SAFE_DEFAULTS = (
    "entry_lock is forced to 0 (entry released) and close requests are refused",
    "the door is opened once (a citizen inside can always leave; nobody is locked out)",
    "sign_state is held at 0 (out of service)",
    "safe_defaults reads 1 until the heartbeat changes again",
)


def first_address(table: Table) -> int:
    return min(p.address for p in TABLES[table].values())


def count(table: Table) -> int:
    """Number of points of ``table`` (they are contiguous from address 1)."""
    return len(TABLES[table])


def scene_from_code(code: int) -> LightScene | None:
    for scene, value in LIGHT_SCENE_CODES.items():
        if value == code:
            return scene
    return None


def sign_from_code(code: int) -> SignState | None:
    for sign, value in SIGN_CODES.items():
        if value == code:
            return sign
    return None


# --- the document --------------------------------------------------------------------------------
_FUNCTIONS = {
    Table.COIL: "FC 1 read, FC 5 / FC 15 write",
    Table.DISCRETE_INPUT: "FC 2 read",
    Table.HOLDING_REGISTER: "FC 3 read, FC 6 / FC 16 write",
    Table.INPUT_REGISTER: "FC 4 read",
}

_HEADINGS = {
    Table.COIL: "Coils (PC → PLC)",
    Table.DISCRETE_INPUT: "Discrete inputs (PLC → PC)",
    Table.HOLDING_REGISTER: "Holding registers (PC → PLC)",
    Table.INPUT_REGISTER: "Input registers (PLC → PC, read-only)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _para(text: str) -> list[str]:
    return [*textwrap.wrap(text, width=98, break_on_hyphens=False), ""]


_INTRO = (
    f"Map version **{MAP_VERSION}**. The booth PC is the Modbus master (PLC drivers `modbus-tcp` "
    "and `modbus-rtu`, door and light driver `plc`); the PLC is the server / slave, unit id "
    f"{DEFAULT_UNIT_ID} by default. The certified door operator and the PLC own hard safety: the "
    "PC only asks.",
    "Addresses are Modbus protocol (PDU) addresses as the master sends them; every table starts "
    "at address 1 (0 is unused; tools that count from 1 show coil 1 as 00002 and holding "
    "register 1 as 40002). Holding registers outside the map (0..65535) are general-purpose PLC "
    "memory: readable and writable, without meaning to the booth (`read_register` / "
    "`write_register` of the PLC driver reach all of them).",
    "The PC polls the discrete inputs, the coils and the mapped holding registers (one request "
    "each) every `poll_interval` and reports changed inputs as `PlcInputChanged` (the emergency "
    "input also as `EmergencyChanged`). On connecting it reads the input registers and refuses a "
    "PLC that does not identify as `LISA` with this map version.",
)

_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Dead-man heartbeat and safe defaults",
        (
            f"The PC increments holding register {HEARTBEAT.address} (`heartbeat`) every "
            "main-loop tick (`timing.tick`, default 1 s) and once whenever the driver "
            "(re)connects. The PLC watches it: when the value has not changed for "
            "`deadman_timeout` (input register "
            f"{INPUT_REGISTERS['deadman_timeout'].address}, e.g. 3 s), the PLC falls back to "
            "its safe defaults: " + "; ".join(SAFE_DEFAULTS) + ".",
            "The next change of the heartbeat ends the safe defaults; the PC's door and light "
            "drivers then write the state the booth last asked for (door position, entry lock, "
            "light, sign) again.",
        ),
    ),
    (
        "Door commands (handshake)",
        (
            "`door_open_request` and `door_close_request` are command bits: the PC sets one "
            "(with the other 0, in one FC 15 request at coil 1), the PLC takes the command in "
            "its next scan and resets both to 0.",
            "Position feedback comes only from the operator's inputs: `door_moving` with "
            "`door_opening` (opening / closing), `door_open_limit`, `door_closed_limit`; not "
            "moving and at no end position is *stopped*. An obstruction stops a closing door "
            "(the PC then asks it to reopen). A person inside can always open the door (the "
            "operator's inside push button); `entry_lock` only disables the outside sensor. "
            "`door_fault` puts the door, and with it the booth, out of service.",
        ),
    ),
    (
        "Emergency",
        (
            "`emergency` = 1 (fire alarm): the PLC releases `entry_lock`, opens the door and "
            "refuses close requests until the input clears. The PC enters the booth's "
            "`emergency` state (call ended, light `emergency` at full brightness, sign out of "
            "service) and also asks for the door to open.",
        ),
    ),
)


def render_markdown() -> str:
    """``docs/plc-register-map.md``, generated from the constants above."""
    lines = [
        "# Booth PLC: Modbus register map",
        "",
        "<!-- generated from drivers/plc_map.py by "
        "`python -m drivers.plc_map --write docs/plc-register-map.md`; do not edit -->",
        "",
    ]
    for text in _INTRO:
        lines += _para(text)
    for table, points in TABLES.items():
        lines += [
            f"## {_HEADINGS[table]}",
            "",
            f"Function codes: {_FUNCTIONS[table]}.",
            "",
            "| address | name | values | meaning |",
            "| ---: | --- | --- | --- |",
        ]
        for p in points.values():
            lines.append(
                f"| {p.address} | `{p.name}` | {_cell(p.values)} | {_cell(p.description)} |"
            )
        lines.append("")
    for heading, paragraphs in _SECTIONS:
        lines += [f"## {heading}", ""]
        for text in paragraphs:
            lines += _para(text)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m drivers.plc_map [--write FILE]``: print or write the document."""
    text = render_markdown()
    if len(argv) == 2 and argv[0] == "--write":
        Path(argv[1]).write_text(text, encoding="utf-8")
        return 0
    if argv:
        sys.stderr.write("usage: python -m drivers.plc_map [--write FILE]\n")
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
