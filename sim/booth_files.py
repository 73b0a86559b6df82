"""Config files for simulated booths run as separate processes (demo, benchmarks, tests).

The example ``booth/examples/booth-sim.toml`` with one booth's id, directory and control socket
set, optionally with fast presence/door/privacy timings (a visit in about 3 s) and more TOML
appended (an ``[mqtt]`` table, say).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BOOTH_EXAMPLE = Path(__file__).resolve().parent.parent / "booth" / "examples" / "booth-sim.toml"


#: a simulated booth's media: the moving test pattern (frame counter + timestamp) and a tone,
#: ICE host candidates on loopback (the demo's and the tests' browsers run on this machine)
SIM_MEDIA = '\n[media]\nsources = "test"\nhost_addresses = ["127.0.0.1"]\n'


def fast_timing(
    *,
    delay_on: float = 0.3,
    delay_off: float = 1.0,
    privacy_reset: float = 0.3,
    travel_time: float = 0.3,
    link_grace: float | None = None,
) -> str:
    """Replacement ``[presence]``, ``[timing]`` and door travel time for quick visits."""
    grace = f"link_grace = {link_grace}\n" if link_grace is not None else ""
    return (
        f"\n[presence]\ndelay_on = {delay_on}\ndelay_off = {delay_off}\n"
        f"[timing]\nprivacy_reset = {privacy_reset}\n{grace}"
        f"[devices.door.options]\ntravel_time = {travel_time}\n"
    )


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _set(text: str, pattern: str, line: str, what: str) -> str:
    text, count = re.subn(pattern, lambda _: line, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"cannot set {what}: no line matches {pattern!r} in {BOOTH_EXAMPLE}")
    return text


def booth_config_text(
    booth_id: str,
    state_dir: Path,
    socket: Path,
    *,
    name: str | None = None,
    site: str | None = None,
    mqtt_central: bool = False,
    timing: str | None = None,
    screens: bool = False,
    extra: str = "",
    media: str | None = None,
    dms_dir: Path | None = None,
) -> str:
    """The example config for one booth. ``mqtt_central``: ``[central] kind = "mqtt"`` (give
    the ``[mqtt]`` table in ``extra``, or ``--broker`` on the command line); ``timing``: a
    :func:`fast_timing` text that replaces the example's presence/timing/door settings;
    ``screens``: serve the booth screens (off by default: many test booths run side by side,
    the demo gives each its own port with ``--screen-port``); ``media``: the ``[media]`` table
    (default :data:`SIM_MEDIA`: the test pattern and tone, ICE on loopback only). A simulated
    booth signs with demo keys (``[signing] demo_keys``); ``dms_dir``: hand signed documents
    over to this directory (a demo document system)."""
    text = BOOTH_EXAMPLE.read_text("utf-8")
    text = _set(text, r"^state_dir = .*$", f"state_dir = {_toml_str(str(state_dir))}", "dir")
    text = _set(text, r"^socket = .*$", f"socket = {_toml_str(str(socket))}", "socket")
    text = _set(text, r"^id = .*$", f"id = {_toml_str(booth_id)}", "booth.id")
    if name is not None:
        text = _set(text, r"^name = .*$", f"name = {_toml_str(name)}", "booth.name")
    if site is not None:
        text = _set(text, r"^site = .*$", f"site = {_toml_str(site)}", "booth.site")
    if mqtt_central:
        text = text.replace('[central]\nkind = "sim"', '[central]\nkind = "mqtt"')
    if timing is not None:
        text = re.sub(r"(?ms)^\[presence\].*?(?=^\[)", "", text)
        text = re.sub(r"(?ms)^\[timing\].*?(?=^\[)", "", text)
        text = re.sub(r"(?m)^\[devices\.door\.options\]\ntravel_time = .*\n", "", text)
        text += timing
    if not screens:
        if re.search(r"(?m)^\[screen\]$", text):
            text = re.sub(r"(?m)^\[screen\]$", "[screen]\nenabled = false", text, count=1)
        else:
            text += "\n[screen]\nenabled = false\n"
    if "[media]" not in extra and not re.search(r"(?m)^\[media\]$", text):
        text += SIM_MEDIA if media is None else media
    if "[signing]" not in extra and not re.search(r"(?m)^\[signing\]$", text):
        text += "\n[signing]\ndemo_keys = true\n"
    if dms_dir is not None and "[handover" not in extra:
        text += (
            "\n[handover.exporter]\n"
            f'kind = "directory"\npath = {_toml_str(str(dms_dir))}\n'
            "[handover.retry]\ninitial = 0.5\nmaximum = 5.0\n"
        )
    return text + extra
