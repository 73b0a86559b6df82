"""The booth screen server without a browser: sizes (EN 301 549), the preferences API and their
privacy reset, the signature buttons, headers, and the daemon's --screen-port override."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from booth.config import BoothConfig, ScreenConfig, parse_config
from booth.daemon import load_daemon_config
from booth.screen_server import (
    CAP_HEIGHT_RATIO,
    ScreenServer,
    min_cap_mm,
    px_per_mm,
    reach_band,
    screen_layout,
)
from booth.screens import Screen
from sim.harness import example_config_data

EXAMPLE = Path(__file__).parents[2] / "booth" / "examples" / "booth-sim.toml"


@dataclass
class FakeSession:
    id: str = "s1"
    estimated_wait: float = 840.0


class FakePad:
    def __init__(self) -> None:
        self.cleared = 0

    async def clear(self) -> None:
        self.cleared += 1


@dataclass
class FakeController:
    config: BoothConfig
    screen: Screen = field(default_factory=lambda: Screen("welcome"))
    state: str = "idle"
    session: FakeSession | None = None
    devices: dict[str, Any] = field(default_factory=dict)
    screen_listeners: list[Any] = field(default_factory=list)
    state_listeners: list[Any] = field(default_factory=list)

    def show(self, screen: Screen, state: str, session: FakeSession | None) -> None:
        self.screen, self.state, self.session = screen, state, session
        for listener in self.screen_listeners:
            listener(screen)


def _config(**screen: Any) -> BoothConfig:
    data = example_config_data()
    data["screen"] = screen
    config, _ = parse_config(data)
    return config


@pytest.fixture
def controller() -> FakeController:
    return FakeController(_config())


@pytest.fixture
def server(controller: FakeController) -> ScreenServer:
    srv = ScreenServer(controller, controller.config)
    controller.screen_listeners.append(srv._on_screen)
    return srv


@pytest.fixture
def client(server: ScreenServer) -> TestClient:
    return TestClient(server.app, base_url="http://127.0.0.1:8090")


# ------------------------------------------------------------------------------ sizes
def test_cap_height_for_the_43_inch_monitor_at_70_cm() -> None:
    assert min_cap_mm(700) == pytest.approx(8.552, abs=0.001)  # 2·700·tan(0.35°)
    assert px_per_mm(43, (1920, 1080)) == pytest.approx(2.0169, abs=1e-4)
    layout = screen_layout(43, (1920, 1080), 700)
    assert layout["min_cap_px"] == pytest.approx(17.25, abs=0.01)
    assert layout["font_px"] == 24.0
    assert layout["font_px"] * CAP_HEIGHT_RATIO >= layout["min_cap_px"]


def test_cap_height_for_the_22_inch_touch_display() -> None:
    layout = screen_layout(22, (1920, 1080), 700)
    assert layout["min_cap_px"] == pytest.approx(33.7, abs=0.1)
    assert layout["font_px"] == math.ceil(layout["min_cap_px"] / CAP_HEIGHT_RATIO)


def test_farther_away_means_larger() -> None:
    near = screen_layout(43, (1920, 1080), 700)["font_px"]
    far = screen_layout(43, (1920, 1080), 1400)["font_px"]
    assert far >= 2 * near - 1


def test_reach_band() -> None:
    # bottom edge at 800 mm: the whole 22" display (274 mm high) is within 380–1,220 mm
    assert reach_band(ScreenConfig()) == (0, 1080)
    # at 1,000 mm its top 54 mm (≈ 213 px) are out of reach
    top, bottom = reach_band(ScreenConfig(touch_mounting_height_mm=1000))
    assert top == pytest.approx(213, abs=1) and bottom == 1080
    # at 300 mm its bottom part is too low
    top, bottom = reach_band(ScreenConfig(touch_mounting_height_mm=300))
    assert top == 0 and bottom < 1080


def test_a_display_out_of_reach_is_refused() -> None:
    with pytest.raises(ValidationError, match="touch_mounting_height_mm"):
        ScreenConfig(touch_mounting_height_mm=1200)
    with pytest.raises(ValidationError, match="monitor_resolution"):
        ScreenConfig(monitor_resolution=(0, 1080))


def test_layout_per_screen(client: TestClient) -> None:
    monitor = client.get("/api/state").json()["layout"]
    touch = client.get("/api/state?screen=touch").json()["layout"]
    assert monitor["min_cap_px"] == pytest.approx(17.25, abs=0.01)
    assert (touch["reach_top_px"], touch["reach_bottom_px"]) == (0, 1080)
    assert client.get("/api/state?screen=nope").status_code == 422


# ------------------------------------------------------------------------------ preferences
def test_prefs_change_and_are_validated(client: TestClient) -> None:
    r = client.post("/api/prefs", json={"lang": "pl", "text_scale": 1.5, "volume": 0.3})
    assert r.status_code == 200
    assert r.json() == {"lang": "pl", "text_scale": 1.5, "volume": 0.3}
    for body, name in [
        ({"lang": "fr"}, "lang"),
        ({"text_scale": 2.5}, "text_scale"),
        ({"text_scale": 0.5}, "text_scale"),
        ({"volume": -0.1}, "volume"),
        ({"volume": "laut"}, "volume"),
        ({"colour": "red"}, "colour"),
    ]:
        r = client.post("/api/prefs", json=body)
        assert r.status_code == 422, body
        assert r.json()["fields"] == [name], r.json()
        assert name in r.json()["detail"][0]
    r = client.post("/api/prefs", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["fields"] == ["body"]
    # nothing of the refused requests was taken
    assert client.get("/api/state").json()["lang"] == "pl"


def test_prefs_reset_when_the_visit_ends(
    client: TestClient, controller: FakeController, server: ScreenServer
) -> None:
    controller.show(Screen("connecting"), "occupied", FakeSession())
    client.post("/api/prefs", json={"lang": "en", "text_scale": 2.0, "volume": 1.0})
    controller.show(Screen("waiting", {"position": 1, "wait_minutes": 14}), "queued", FakeSession())
    state = client.get("/api/state").json()
    assert state["lang"] == "en" and state["session_active"] is True
    assert state["params"]["wait_s"] == 840  # for "etwa eine Viertelstunde"
    controller.show(Screen("blank"), "privacy_reset", None)
    state = client.get("/api/state").json()
    assert (state["lang"], state["text_scale"], state["volume"]) == ("de", 1.0, 0.8)
    assert state["session_active"] is False and state["sign"] == "occupied"


def test_outside_sign_follows_the_state(controller: FakeController, server: ScreenServer) -> None:
    for state, sign in [
        ("idle", "free"),
        ("queued", "occupied"),
        ("in_call.signing", "occupied"),
        ("farewell", "occupied"),
        ("maintenance", "out_of_service"),
        ("emergency", "out_of_service"),
        ("offline", "out_of_service"),
        ("selftest", "out_of_service"),
    ]:
        controller.state = state
        assert server.snapshot("outside")["sign"] == sign, state


# ------------------------------------------------------------------------------ signature
def test_signature_buttons(client: TestClient, controller: FakeController) -> None:
    pad = FakePad()
    controller.devices["signature"] = pad
    assert client.post("/api/signature/clear").status_code == 409  # not signing
    assert client.post("/api/signature/confirm").status_code == 409
    controller.show(Screen("signing"), "in_call.signing", FakeSession())
    assert client.post("/api/signature/clear").json() == {"ok": True}
    assert pad.cleared == 1
    r = client.post("/api/signature/confirm")
    assert r.status_code == 202 and r.json() == {"accepted": True}
    del controller.devices["signature"]
    assert client.post("/api/signature/clear").status_code == 503


# ------------------------------------------------------------------------------ headers
@pytest.mark.parametrize(
    "path",
    ["/", "/touch", "/outside", "/static/monitor.js", "/static/i18n/de.json", "/api/state"],
)
def test_no_store_on_every_response(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "set-cookie" not in r.headers


def test_no_store_on_errors_too(client: TestClient) -> None:
    assert client.get("/nope").headers["cache-control"] == "no-store"
    assert client.post("/api/prefs", json={"lang": 1}).headers["cache-control"] == "no-store"


def test_other_hosts_and_origins_are_refused(server: ScreenServer) -> None:
    rebinding = TestClient(server.app, base_url="http://evil.example:8090")
    assert rebinding.get("/").status_code == 400
    client = TestClient(server.app, base_url="http://127.0.0.1:8090")
    r = client.post("/api/prefs", json={"lang": "en"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post("/api/prefs", json={"lang": "en"}, headers={"origin": "http://127.0.0.1:8090"})
    assert r.status_code == 200


def test_websocket_sends_the_state_on_connect(client: TestClient) -> None:
    with client.websocket_connect("/ws?screen=touch", headers={"host": "127.0.0.1:8090"}) as ws:
        message = ws.receive_json()
    assert set(message) >= {
        "page",
        "params",
        "state",
        "session_active",
        "lang",
        "text_scale",
        "volume",
        "layout",
    }
    assert message["page"] == "welcome" and "reach_top_px" in message["layout"]


# ------------------------------------------------------------------------------ daemon
def test_screen_port_override() -> None:
    config, _ = load_daemon_config(EXAMPLE, sim=True, socket=None, demo_agent=None)
    assert config.screen.enabled and config.screen.port == 8090
    config, _ = load_daemon_config(EXAMPLE, True, None, None, screen_port=8123)
    assert config.screen.enabled and config.screen.port == 8123
    config, _ = load_daemon_config(EXAMPLE, True, None, None, screen_port=0)
    assert not config.screen.enabled
