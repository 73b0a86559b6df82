"""The layer rules import-linter cannot see: loading by string, and plug-ins by entry point.

import-linter (``make lint``) checks every ``import``; it does not see ``importlib.import_module``
or ``__import__`` with a module name in a string, nor entry points. These tests do.
"""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from hal.events import DeviceKind
from hal.registry import CENTRALS, SIMULATORS, driver_group, driver_names, load_plugin

ROOT = Path(__file__).parents[2]
PRODUCT = ["hal", "booth", "cloud_bridge", "drivers", "lisa_messages", "lisa_common"]
OURS = ("hal", "drivers", "sim", "booth", "cloud_bridge", "lisa_messages", "lisa_common")
#: which of our packages a product package may load by a name in a string (none)
LOADERS = {"import_module", "__import__", "find_spec", "load"}


def _product_files() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_of_ours_is_loaded_by_a_string(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in LOADERS:
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                top = arg.value.split(".", 1)[0].split(":", 1)[0]
                assert top not in OURS, (
                    f"{path.relative_to(ROOT)}:{node.lineno} loads {arg.value!r} by name; "
                    "use an entry point (hal.registry) instead"
                )


def test_no_product_module_names_the_simulator_or_a_driver_in_a_string() -> None:
    for path in _product_files():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                for pkg in ("sim.", "drivers."):
                    assert not (text.startswith(pkg) and text[len(pkg) :][:1].isalpha()), (
                        f"{path.relative_to(ROOT)}:{node.lineno} names {text!r}"
                    )


def test_every_device_kind_has_a_simulated_driver_and_every_entry_point_loads() -> None:
    for kind in DeviceKind:
        assert "sim" in driver_names(kind), kind
        for ep in entry_points(group=driver_group(kind)):
            cls = ep.load()
            assert cls.kind is kind, ep


def test_centrals_and_the_simulated_booth_are_registered() -> None:
    names = {ep.name for ep in entry_points(group=CENTRALS)}
    assert names == {"mqtt", "sim", "none"}
    for name in names:
        assert callable(load_plugin(CENTRALS, name, "central kind"))
    assert load_plugin(SIMULATORS, "booth", "simulator").__name__ == "SimBooth"


def test_drivers_are_registered_only_under_their_own_package() -> None:
    for kind in DeviceKind:
        for ep in entry_points(group=driver_group(kind)):
            module = ep.value.split(":", 1)[0]
            top = module.split(".", 1)[0]
            assert top == ("sim" if ep.name == "sim" else "drivers"), ep
