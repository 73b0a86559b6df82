"""Plug-ins by name, through Python entry points (as gpiozero registers its pin factories).

Drivers register in one group per device kind, ``lisa.drivers.<kind>`` (e.g.
``lisa.drivers.door``: ``sim``, ``plc``, ``gpio``); central links in ``lisa.centrals``; the
simulated booth in ``lisa.simulators``. The names are in ``pyproject.toml``; nothing here (or in
the controller) names an implementation, and modules are imported only when a name is loaded, so
a simulated booth needs no native library.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hal.events import DeviceKind

CENTRALS = "lisa.centrals"
SIMULATORS = "lisa.simulators"


class PluginNotFound(LookupError):
    pass


DriverNotFound = PluginNotFound


def driver_group(kind: DeviceKind) -> str:
    return f"lisa.drivers.{kind.value}"


@cache
def _group(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def plugin_names(group: str) -> list[str]:
    return sorted(_group(group))


def load_plugin(group: str, name: str, what: str) -> Any:
    """Import and return what entry point ``name`` of ``group`` names.

    Raises :class:`PluginNotFound` with the known names when ``name`` is unknown; an
    ``ImportError`` of the module propagates (real drivers import native libraries lazily).
    """
    ep = _group(group).get(name)
    if ep is None:
        known = ", ".join(plugin_names(group)) or "none"
        raise PluginNotFound(f"unknown {what} {name!r} (known: {known})")
    return ep.load()


def driver_names(kind: DeviceKind) -> list[str]:
    return plugin_names(driver_group(kind))


def load_driver_class(kind: DeviceKind, name: str) -> Any:
    """The driver class for ``kind``/``name``; it takes ``(name, options, context)``."""
    return load_plugin(driver_group(kind), name, f"{kind.value} driver")
