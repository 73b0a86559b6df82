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
    if item.get_closest_marker("realtime") is not None or _real_driver(item):
        return {"realtime": asyncio.new_event_loop}
    return {"virtual": VirtualTimeLoop}


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
