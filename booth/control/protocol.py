"""The control socket's request protocol: decoding and checking one request line, and reading
its arguments.

A request is one JSON object per line, ``{"op": ..., ...}``, with a known op and only the
arguments that op takes (:data:`OPS`). Anything wrong raises :class:`RequestError`, whose message
goes to the client as it is.
"""

from __future__ import annotations

import json
from typing import Any

from booth.control_client import MAX_REQUEST_LINE

#: op -> the arguments it takes (besides ``op``)
OPS: dict[str, frozenset[str]] = {
    "status": frozenset(),
    "selftest": frozenset({"device"}),
    "watch": frozenset({"topic", "samples"}),
    "actuate": frozenset({"device", "action", "args"}),
    "log": frozenset({"lines", "follow"}),
    "bundle": frozenset(),
    "maintenance": frozenset({"enter"}),
    "inject": frozenset({"input", "args"}),
}


class RequestError(ValueError):
    """A request the server cannot carry out; the message goes to the client as it is."""


def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request line: a JSON object with a known ``op`` and only the
    arguments that op takes. Raises :class:`RequestError` naming the problem."""
    if len(line) > MAX_REQUEST_LINE:
        raise RequestError(
            f"request too long ({len(line)} bytes; a request line may have at most "
            f"{MAX_REQUEST_LINE} bytes)"
        )
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request is not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"request is not valid JSON ({exc.msg} at column {exc.colno}); "
            'send one object per line, e.g. {"op": "status"}'
        ) from None
    if not isinstance(obj, dict):
        raise RequestError(
            f'request must be a JSON object like {{"op": "status"}}, got {json_type(obj)}'
        )
    op = obj.get("op")
    if op is None:
        raise RequestError(f'request has no "op" (ops: {", ".join(OPS)})')
    if not isinstance(op, str):
        raise RequestError(f'"op" must be a string, got {json_type(op)}')
    if op not in OPS:
        raise RequestError(f"unknown op {op!r} (ops: {', '.join(OPS)})")
    extra = sorted(set(obj) - {"op"} - OPS[op])
    if extra:
        takes = ", ".join(sorted(OPS[op])) or "nothing"
        raise RequestError(f"op {op!r} has no argument {extra[0]!r} (it takes: {takes})")
    return obj


def json_type(value: Any) -> str:
    """What a decoded JSON value is, in words for an error message ("a string", "null", …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ------------------------------------------------------------------------------------ arguments
def str_arg(req: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = req.get(key)
    if value is None:
        if required:
            raise RequestError(f"op {req['op']!r} needs {key!r}")
        return None
    if not isinstance(value, str) or not value:
        raise RequestError(f"{key!r} must be a non-empty string, got {json_type(value)}")
    return value


def bool_arg(req: dict[str, Any], key: str, *, default: bool | None) -> bool:
    value = req.get(key, default)
    if value is None:
        raise RequestError(f"op {req['op']!r} needs {key!r} (true or false)")
    if not isinstance(value, bool):
        raise RequestError(f"{key!r} must be true or false, got {json_type(value)}")
    return value


def int_arg(req: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = req.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{key!r} must be a whole number, got {json_type(value)}")
    if not lo <= value <= hi:
        raise RequestError(f"{key!r} must be within {lo}..{hi}, got {value}")
    return value
