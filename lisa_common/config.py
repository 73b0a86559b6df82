"""Loading a TOML config file with messages naming the file, the line and the key.

Both the booth's and the bridge's config use it: :func:`read_toml` reads and parses the file,
:func:`key_lines` and :func:`locate` find the line of a key path, :func:`format_errors` turns a
pydantic ``ValidationError`` into one problem per error, :func:`deep_merge` lays overrides over
the file's tables. A problem is ``"12: queue[2].overflow: what"`` (``" key.path: what"`` when
the line is unknown); :class:`ConfigError` prefixes each with the file.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration problem. ``problems``: each as ``line: key.path: what`` (line optional);
    the message is every problem prefixed with the file (``source``), one per line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}:{p}" for p in self.problems))


def read_toml(
    path: Path | str, error: type[ConfigError] = ConfigError
) -> tuple[str, dict[str, Any]]:
    """The text of a TOML file and its parsed tables.

    ``error`` (a :class:`ConfigError` class) when the file cannot be read or is not valid TOML
    (then naming line and column)."""
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(source, [f" cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{m.group(1)}:{m.group(2)}" if m else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise error(source, [f"{where}: invalid TOML: {reason}"]) from None
    return text, data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in (tables merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ------------------------------------------------------------------------- locating keys
_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_BARE = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_RE = re.compile(r"^\s*(" + _BARE + r"(?:\s*\.\s*" + _BARE + r")*)\s*=")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[Loc, int]:
    """Line (1-based) of every table header and key in TOML text, by key path.

    Arrays of tables get their index: the 3rd ``[[queue]]``'s ``overflow`` is
    ``("queue", 2, "overflow")``. Best effort (multi-line strings may confuse it)."""
    lines: dict[Loc, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: Loc = ()
    for no, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_RE.match(line)
        if header is not None and not _KEY_RE.match(line):
            keys = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                index = counts.get(keys, -1) + 1
                counts[keys] = index
                table = (*keys, index)
                lines.setdefault(keys, no)
            else:
                table = keys
            lines.setdefault(table, no)
            continue
        key = _KEY_RE.match(line)
        if key is not None:
            lines.setdefault((*table, *_split_key(key.group(1))), no)
    return lines


def locate(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the longest prefix of ``loc`` found in :func:`key_lines`' result."""
    for depth in range(len(loc), 0, -1):
        line = lines.get(tuple(loc[:depth]))
        if line is not None:
            return line
    return None


def format_loc(loc: Loc) -> str:
    """``("queue", 2, "overflow")`` → ``queue[2].overflow``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problem(lines: dict[Loc, int], loc: Loc, msg: str) -> str:
    """``"12: queue[2].overflow: msg"`` (``" queue[2].overflow: msg"`` without a line)."""
    line = locate(lines, loc)
    return f"{line}: {format_loc(loc)}: {msg}" if line else f" {format_loc(loc)}: {msg}"


def format_errors(exc: ValidationError, lines: dict[Loc, int], prefix: Loc = ()) -> list[str]:
    """One :func:`problem` per error of ``exc``; ``prefix``: where the validated data sits."""
    problems: list[str] = []
    for err in exc.errors():
        loc: Loc = (*prefix, *err["loc"])
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(problem(lines, loc, msg))
    return problems
