"""``lisa bridge check-config`` and ``lisa bridge config-reference``.

The reference (``docs/bridge-config.md``) is generated from the pydantic models in
:mod:`cloud_bridge.config`, so it cannot drift; a test fails when the file is stale.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from cloud_bridge.config import (
    AcdDefaults,
    BoothEntry,
    BridgeConfig,
    BridgeConfigError,
    QueueEntry,
    load_bridge_config,
)
from lisa_messages import BOOTH_ID_PATTERN


def check_config(
    file: Annotated[Path, typer.Argument(help="Bridge config (TOML)")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result")] = False,
) -> None:
    """Validate a bridge config file; exit 0 when valid, 2 with every problem otherwise."""
    try:
        cfg = load_bridge_config(file)
    except BridgeConfigError as exc:
        if as_json:
            print(json.dumps({"ok": False, "file": str(file), "problems": exc.problems}))
        else:
            typer.echo(f"{file}: invalid configuration", err=True)
            for line in str(exc).splitlines():
                typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None
    counts = {
        "sites": len(cfg.sites),
        "booths": len(cfg.booths),
        "queues": len(cfg.queues),
        "agents": len(cfg.agents),
    }
    members = {q.id: sum(q.id in a.queues for a in cfg.agents) for q in cfg.queues}
    specs = cfg.queue_specs()
    if as_json:
        queues = [
            {
                "id": s.id,
                "name": s.name,
                "hours": s.hours.text if s.hours is not None else None,
                "agents": members[s.id],
            }
            for s in specs
        ]
        print(
            json.dumps(
                {
                    "ok": True,
                    "file": str(file),
                    "bridge": cfg.bridge.name,
                    **counts,
                    "queue_details": queues,
                },
                ensure_ascii=False,
            )
        )
        return
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"{file}: OK (bridge {cfg.bridge.name!r}: {summary})")
    width = max((len(s.id) for s in specs), default=0)
    for s in specs:
        hours = s.hours.text if s.hours is not None else "immer geöffnet"
        n = members[s.id]
        agents = "NO AGENTS" if n == 0 else f"{n} agent" if n == 1 else f"{n} agents"
        print(f"  {s.id:<{width}}  {s.name} ({agents}; {hours})")


def config_reference(
    write: Annotated[
        Path | None, typer.Option("--write", help="Write docs/bridge-config.md to this path")
    ] = None,
) -> None:
    """Print (or write) the bridge configuration reference generated from the config models."""
    doc = config_reference_text()
    if write is None:
        sys.stdout.write(doc)
    else:
        write.write_text(doc, encoding="utf-8")
        print(f"wrote {write}")


# ------------------------------------------------------------------------ the reference
_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    date: "date",
}


def _type_text(ann: Any) -> str:
    origin, args = get_origin(ann), get_args(ann)
    if origin is Annotated:
        return _type_text(args[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_type_text(a) for a in inner)
        return f"{text} (optional)" if len(inner) < len(args) else text
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"table: {_type_text(args[0])} → {_type_text(args[1])}"
    if origin is Literal:
        return " or ".join(f'`"{a}"`' for a in args)
    if isinstance(ann, type) and issubclass(ann, Enum):
        return " or ".join(f'`"{m.value}"`' for m in ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "table"
    return _NAMES.get(ann, getattr(ann, "__name__", str(ann)))


def _limits(metadata: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for m in metadata:
        if isinstance(m, annotated_types.Gt):
            out.append(f"> {m.gt}")
        elif isinstance(m, annotated_types.Ge):
            out.append(f"≥ {m.ge}")
        elif isinstance(m, annotated_types.Lt):
            out.append(f"< {m.lt}")
        elif isinstance(m, annotated_types.Le):
            out.append(f"≤ {m.le}")
        elif isinstance(m, FieldInfo):
            out += _limits(m.metadata)
    return out


def _kind(info: FieldInfo) -> str:
    """E.g. ``number > 0``, ``id``, ``table: string → integer ≥ 1``, ``string, optional``."""
    ann = info.annotation
    args = get_args(ann)
    optional = type(None) in args
    if optional:
        ann = next(a for a in args if a is not type(None))
    patterns = [getattr(m, "pattern", None) for m in info.metadata]
    if BOOTH_ID_PATTERN in patterns:
        text = "id"
    elif any(patterns):
        text = "string matching `" + next(p for p in patterns if p) + "`"
    elif get_origin(ann) is dict and get_origin(get_args(ann)[1]) is Annotated:
        key, value = get_args(ann)
        limits = " ".join(_limits(get_args(value)[1:]))
        text = f"table: {_type_text(key)} → {_type_text(value)} {limits}".rstrip()
    else:
        text = _type_text(ann)
    limits = ", ".join(_limits(info.metadata))
    if limits:
        text = f"{text} {limits}"
    return f"{text}, optional" if optional else text


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str | Path):
        return f'`"{value}"`'
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _default_text(info: FieldInfo) -> str:
    if info.default is not PydanticUndefined:
        return _value_text(info.default)
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "(table)" if isinstance(value, BaseModel) else _value_text(value)
    return "**required**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# defaults taken from elsewhere in the file (the field's own default is None)
_INHERITED: dict[tuple[type[BaseModel], str], str] = {
    (BoothEntry, "queue"): "`bridge.default_queue`",
    (QueueEntry, "phone"): "`bridge.phone`",
    **{(QueueEntry, name): f"`acd.{name}`" for name in AcdDefaults.model_fields},
}


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        key = info.alias or name
        kind = _kind(info)
        default = _INHERITED.get((model, name)) or _default_text(info)
        desc = info.description or ""
        lines.append(f"| `{key}` | {_cell(kind)} | {default} | {_cell(desc)} |")
    return lines


def _doc(model: type[BaseModel]) -> list[str]:
    text = " ".join(line.strip() for line in (model.__doc__ or "").strip().splitlines())
    return [text, ""] if text else []


_HOURS_NOTES = """\
Each weekday is a list of local wall-clock ranges `"HH:MM-HH:MM"` (start inclusive, end
exclusive, `24:00` allowed as an end; ranges that touch are merged, overlapping ranges are an
error), in the time zone `bridge.timezone`; daylight saving time needs no care. Days left out
are closed. `closed` lists dates (ISO `YYYY-MM-DD` strings or TOML dates) closed all day. The
booth shows a German summary, e.g. `Mo–Fr 8:00–12:00 Uhr, Di und Do auch 13:00–17:30 Uhr`."""

_CHECKS = """\
## Checks across tables

Besides the types and ranges above, `load_bridge_config` (and `lisa bridge check-config`)
reports, each with file, line and key path:

- duplicate ids among sites, booths, queues or agents; an agent id equal to a queue id;
- a booth's `site` or `queue` that does not exist;
- a queue's `hours` that names no `[hours.NAME]` table, an `overflow` to an unknown queue, and
  overflow chains that loop (`a → b → a`);
- an agent's queue id that does not exist, or a level below 1;
- a `bridge.default_queue` that does not exist;
- unknown keys anywhere (typos).

`mqtt.password_file` is read when the bridge connects; a missing or empty file is reported with
its path."""


def config_reference_text() -> str:
    """The Markdown reference of the bridge's TOML configuration."""
    lines = [
        "# Bridge configuration reference",
        "",
        "Generated from `cloud_bridge/config.py` by",
        "`lisa bridge config-reference --write docs/bridge-config.md`; a test fails when it is",
        "stale. One TOML file per tenant (county); check it with `lisa bridge check-config FILE`",
        "(exit 2 and every problem with file, line and key path).",
        "Example: `cloud_bridge/examples/uckermark.toml`.",
        "",
        "Times are in seconds (keys ending in `_s`). Relative paths resolve against the",
        "directory of the config file. Ids (sites, booths, queues, agents) use lower-case",
        "letters, digits and `-` (like booth ids in MQTT topics): `^[a-z0-9][a-z0-9-]{0,62}$`.",
    ]
    for name, info in BridgeConfig.model_fields.items():
        key = info.alias or name
        ann = info.annotation
        origin, args = get_origin(ann), get_args(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model, header = ann, f"[{key}]"
        elif origin is dict:
            model, header = args[1], f"[{key}.NAME]"
        elif origin is list:
            model, header = args[0], f"[[{key}]]"
        else:  # pragma: no cover - every top-level key is a table
            continue
        required = " (required)" if info.is_required() else ""
        lines += ["", f"## `{header}`{required}", ""]
        lines += _doc(model)
        if header.startswith("[hours."):
            lines += [_HOURS_NOTES, ""]
        lines += _table(model)
    lines += ["", _CHECKS]
    return "\n".join(lines).rstrip() + "\n"
