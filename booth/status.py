"""The booth's status snapshot (``BoothController.status()``): what the control socket's
``status`` op, the MQTT link's retained ``state``/``health`` and the diagnostics show."""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING, Any

from booth.machine import top_state
from lisa_messages import BoothHealth, BoothState, DeviceHealth

if TYPE_CHECKING:
    from booth.controller import BoothController

try:
    SOFTWARE_VERSION = importlib.metadata.version("lisa")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    SOFTWARE_VERSION = "0+unknown"


def status_snapshot(ctrl: BoothController) -> dict[str, Any]:
    """A JSON-ready snapshot of the controller: state, inputs, screen, session and devices."""
    devices = {}
    for slot, dev in ctrl.devices.items():
        entry: dict[str, Any] = {
            "driver": getattr(ctrl.config.devices, slot).driver,
            "critical": ctrl.config.critical(slot),
            "health": dev.health().to_dict(),
        }
        res = ctrl.selftest_results.get(slot)
        if res is not None:
            entry["selftest"] = res.outcome.value
        devices[slot] = entry
    snap = ctrl.presence.snapshot()
    door = ctrl.devices.get("door")
    light = ctrl.devices.get("light")
    return {
        "booth": ctrl.config.booth.id,
        "state": top_state(ctrl.state),
        "detail": ctrl.state,
        "t": round(ctrl.clock.now(), 3),
        "link": ctrl.link,
        "emergency": ctrl.emergency,
        "present": snap.present,
        "distance_median": snap.median,
        "door": door.position().value if door is not None else None,  # type: ignore[attr-defined]
        "screen": {"page": ctrl.screen.page, "params": ctrl.screen.params},
        "in_session": ctrl.session is not None,
        "session": ctrl.session.id if ctrl.session else None,
        "sign": light.sign().value if light is not None else None,  # type: ignore[attr-defined]
        "software": SOFTWARE_VERSION,
        "queue_position": ctrl.session.position if ctrl.session else None,
        "failures": ctrl.critical_failures(),
        "devices": devices,
    }


def retained_state(booth: str, ts: str, st: dict[str, Any]) -> BoothState:
    """The retained ``state`` message from a :func:`status_snapshot`."""
    return BoothState(
        booth=booth,
        ts=ts,
        state=st["state"],
        detail=st["detail"],
        since=ts,
        session=st.get("session"),
        door=st.get("door"),
        sign=st.get("sign"),
        screen=(st.get("screen") or {}).get("page"),
        emergency=bool(st.get("emergency")),
        software=st.get("software", ""),
    )


def retained_health(booth: str, ts: str, st: dict[str, Any]) -> BoothHealth:
    """The retained ``health`` message from a :func:`status_snapshot`."""
    devices = {
        slot: DeviceHealth(
            status=info["health"]["status"],
            reason=info["health"]["reason"],
            critical=info["critical"],
            selftest=info.get("selftest"),
        )
        for slot, info in st["devices"].items()
    }
    return BoothHealth(booth=booth, ts=ts, in_service=not st["failures"], devices=devices)
