"""Generates docs/config.md from the pydantic models, so the reference cannot drift."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from booth.config import DEVICE_SLOTS, BoothConfig
from hal.events import DeviceKind
from hal.registry import CENTRALS, driver_names, load_driver_class, load_plugin, plugin_names


def _type_name(info: FieldInfo) -> str:
    ann = info.annotation
    if get_origin(ann) is Literal:
        return " or ".join(f'`"{a}"`' for a in get_args(ann))
    text = getattr(ann, "__name__", None) or str(ann)
    text = text.replace("typing.", "").replace("pathlib.", "").replace("NoneType", "None")
    return text.replace("|", "or")


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        if info.default_factory is not None:
            try:
                value: Any = info.default_factory()  # type: ignore[call-arg]
            except TypeError:
                return "(table)"
            if isinstance(value, BaseModel):
                return "(table)"
            return f"`{value!r}`"
        return "**required**"
    value = info.default
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    if hasattr(value, "value"):
        value = value.value
    return f"`{value!s}`" if not isinstance(value, str) else f'`"{value}"`'


def _model_rows(model: type[BaseModel], prefix: str, table: str = "") -> list[str]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is not None and name not in ("devices",):
            nested.append((f"{table}.{name}" if table else name, sub))
            continue
        if name == "devices":
            continue
        desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{prefix}{name}` | {_type_name(info)} | {_default(info)} | {desc} |")
    out = rows
    for table, sub in nested:
        out.append("")
        out.append(f"### `[{table}]`")
        out.append("")
        if sub.__doc__:
            out.append(sub.__doc__.strip().splitlines()[0])
            out.append("")
        out.append("| key | type | default | meaning |")
        out.append("| --- | --- | --- | --- |")
        out.extend(_model_rows(sub, "", table))
    return out


def config_reference() -> str:
    lines = [
        "# Booth configuration reference",
        "",
        "Generated from `booth/config.py` and the drivers' option models by",
        "`lisa booth config-reference --write docs/config.md`; a test fails when it is stale.",
        "One TOML file per booth (default `/etc/lisa/booth.toml`); check it with",
        "`lisa booth check-config FILE` (exit 2 and every problem with file, line and key).",
        "Examples: `booth/examples/`.",
        "",
        "## Top level",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    lines.extend(_model_rows(BoothConfig, ""))
    lines += [
        "",
        "## `[devices.<slot>]`",
        "",
        "Each device slot is a table with `driver` (name), optional `critical` (bool) and an",
        "`options` table validated by the driver. `presence`, `door` and `plc` are required.",
        "",
        "| slot | device class | critical by default |",
        "| --- | --- | --- |",
    ]
    for slot, (kind, critical) in DEVICE_SLOTS.items():
        lines.append(f"| `{slot}` | {kind.value} | {'yes' if critical else 'no'} |")
    lines += [
        "",
        "## `[central.<kind>]`",
        "",
        "`central.kind` names a central link registered in the `lisa.centrals` entry-point group;",
        "a table `[central.<kind>]` holds that central's own settings, checked by it.",
        "",
    ]
    for name in plugin_names(CENTRALS):
        factory = load_plugin(CENTRALS, name, "central kind")
        model = getattr(factory, "Options", None)
        lines.append(f"### central `{name}`")
        lines.append("")
        if model is None:
            lines.append("No settings" + (" here (see `[mqtt]`)." if name == "mqtt" else "."))
            lines.append("")
            continue
        lines.append("| key | type | default | meaning |")
        lines.append("| --- | --- | --- | --- |")
        lines.extend(_model_rows(model, ""))
        lines.append("")
    lines += ["", "## Driver options", ""]
    for kind in DeviceKind:
        for name in driver_names(kind):
            cls = load_driver_class(kind, name)
            lines.append(f"### {kind.value} driver `{name}`")
            lines.append("")
            fields = cls.Options.model_fields
            if not fields:
                lines.append("No options.")
                lines.append("")
                continue
            lines.append("| option | type | default | meaning |")
            lines.append("| --- | --- | --- | --- |")
            for fname, info in fields.items():
                desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
                lines.append(f"| `{fname}` | {_type_name(info)} | {_default(info)} | {desc} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
