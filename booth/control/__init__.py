"""The booth's local control socket, for ``lisa diag`` and ``lisa sim console`` on the booth PC.

An asyncio Unix stream socket (``control.socket``, mode 0660, group ``control.group``) speaking
newline-delimited JSON: one request object per line, ``{"op": ..., ...}``, answered by one line
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. ``watch`` and ``log`` with
``follow`` stream one object per line until the client closes the connection. A malformed
request gets an error naming the problem; the connection stays usable and nothing a client
sends can take the daemon down.

Ops: ``status``, ``selftest``, ``watch``, ``actuate``, ``log``, ``bundle``, ``maintenance``,
``inject`` (simulated booths only). Anything that moves hardware (``actuate``) or disturbs a
citizen (``selftest`` plays a test tone) is refused while a citizen is in the booth; every
accepted ``actuate`` is recorded in the trace (kind ``info``, event ``diag actuate``).

The parts:

- :mod:`booth.control.server`: the socket, its connections and the two streams
- :mod:`booth.control.protocol`: decoding and checking a request line, its arguments
- :mod:`booth.control.ops`: the ops on the booth controller, through the safety policy
- :mod:`booth.control.actuation`: what ``actuate`` accepts and how it reaches the hardware
- :mod:`booth.control.support`: the support bundle and the redaction of secrets
"""

from booth.control.actuation import ACTIONS, ActuateCommand, parse_actuate
from booth.control.ops import ACTUATE_TIMEOUT, MAINTENANCE_WAIT, ControlOps, Injector
from booth.control.protocol import OPS, RequestError, parse_request
from booth.control.server import (
    MAX_CLIENTS,
    PRESENCE_PERIOD,
    STREAM_BACKLOG,
    ControlServer,
    ControlSocketError,
    topic_matches,
)
from booth.control.support import BUNDLE_TRACE_RECORDS, REDACTED, redact, versions

__all__ = [
    "ACTIONS",
    "ACTUATE_TIMEOUT",
    "BUNDLE_TRACE_RECORDS",
    "MAINTENANCE_WAIT",
    "MAX_CLIENTS",
    "OPS",
    "PRESENCE_PERIOD",
    "REDACTED",
    "STREAM_BACKLOG",
    "ActuateCommand",
    "ControlOps",
    "ControlServer",
    "ControlSocketError",
    "Injector",
    "RequestError",
    "parse_actuate",
    "parse_request",
    "redact",
    "topic_matches",
    "versions",
]
