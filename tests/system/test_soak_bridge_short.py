"""``lisa sim soak-bridge``, short: two bridge SIGKILLs with waiting, ringing, connected and
wrap-up calls on real processes (Mosquitto, the bridge, three simulated booths); nothing is
lost, duplicated or stuck, and the booths and the bridge agree afterwards. The long series
(50 kills) is ``lisa sim soak-bridge``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.soak_bridge import run_bridge_soak

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

pytestmark = pytest.mark.skipif(
    not Path(MOSQUITTO).exists(),
    reason="mosquitto is not installed (Debian package 'mosquitto'; `make deps`)",
)


def test_two_bridge_kills_lose_nothing() -> None:
    result = run_bridge_soak(kills=2, booths=3, agents=2)
    details = "\n".join(result["details"])
    assert result["violation_total"] == 0, f"{result['violations']}\n{details}"
    assert result["kills"] == 2 and result["aborted"] is None
    assert result["calls_before_kills"] >= 4  # two calls per round at least (3 citizens)
    assert result["calls_lost"] == result["calls_duplicated"] == result["agents_stuck"] == 0
    assert result["booth_bridge_disagreements"] == 0
    # rounds 1 and 2 play (connected, wrap-up) and (ringing, wrap-up): every state once
    assert all(result["rounds_with"][k] >= 1 for k in ("waiting", "ringing", "connected"))
    assert result["rounds_with"]["wrap_up"] == 2
