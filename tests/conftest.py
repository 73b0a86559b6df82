"""Test-wide configuration: async tests and async fixtures run on virtual time.

Every asyncio test gets a :class:`sim.vtime.VirtualTimeLoop`, so ``asyncio.sleep``, timers and
``wait_for`` timeouts complete at once in wall time. Tests that talk to real peers over the
network with real timeouts (a broker, a browser) opt out with ``@pytest.mark.realtime``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from sim.vtime import VirtualTimeLoop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "realtime: run this async test on a normal (real-time) event loop"
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    # ``item`` is the function *definition* here: it is not parametrized yet, so which driver a
    # contract test runs with is unknown. Tests using a rig get both loops;
    # ``pytest_collection_modifyitems`` keeps the one that fits each driver.
    if item.get_closest_marker("realtime") is not None:
        return {"realtime": asyncio.new_event_loop}
    if _uses_rig(item):
        return {"virtual": VirtualTimeLoop, "realtime": asyncio.new_event_loop}
    return {"virtual": VirtualTimeLoop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Contract tests: real drivers on the real-time loop, ``sim`` drivers on virtual time."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        factory = callspec.params.get("_asyncio_loop_factory") if callspec else None
        if factory is None or item.get_closest_marker("realtime") or not _uses_rig(item):
            keep.append(item)
            continue
        wanted = asyncio.new_event_loop if _real_driver(item) else VirtualTimeLoop
        (keep if factory is wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _uses_rig(item: pytest.Item) -> bool:
    return any(name.startswith("make_") for name in getattr(item, "fixturenames", ()))


def _real_driver(item: pytest.Item) -> bool:
    """Contract tests of a real driver talk to a real peer (pins, a pty, a Modbus server) and run
    on real time; only the ``sim`` drivers run on virtual time."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    for name, value in callspec.params.items():
        if not name.startswith("make_"):
            continue
        driver = value[1] if isinstance(value, tuple) else value
        if isinstance(driver, str) and driver != "sim":
            return True
    return False
