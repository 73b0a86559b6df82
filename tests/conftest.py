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
    if item.get_closest_marker("realtime") is not None:
        return {"realtime": asyncio.new_event_loop}
    return {"virtual": VirtualTimeLoop}
