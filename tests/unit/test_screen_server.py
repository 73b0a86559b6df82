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
@dataclass
class SigningController(FakeController):
    """The fake controller, and the triggers the signing coordinator posts."""

    posted: list[Any] = field(default_factory=list)

    def post(self, trigger: Any) -> None:
        self.posted.append(trigger)


class FakeEndpoint:
    """What SigningCoordinator uses of the media endpoint: the answers to the agent."""

    def __init__(self) -> None:
        self.on_document: Any = None
        self.peers: dict[str, Any] = {}
        self.controls: list[dict[str, Any]] = []
        self.results: list[tuple[dict[str, Any], bytes | None]] = []

    def spawn(self, coro: Any) -> None:
        raise AssertionError("the test awaits the coordinator itself")

    def send_control(self, peer: str, item: dict[str, Any]) -> None:
        self.controls.append(item)

    def send_document(self, peer: str, item: dict[str, Any], pdf: bytes | None) -> None:
        self.results.append((item, pdf))


def test_signature_buttons(tmp_path: Path) -> None:
    """The touch display's signature API on a real SigningCoordinator / SigningFlow with the
    simulated pad and demo keys: nothing is signed without a document and ink; the citizen
    leafs, clears, confirms (signed, the PDF to the agent) or declines."""
    import asyncio

    from booth.machine import Trigger
    from booth.signing.config import SigningConfig
    from booth.signing.coordinator import SigningCoordinator
    from booth.signing.flow import SigningFlow
    from booth.signing.pdf import blank_pdf
    from hal.base import DriverContext
    from hal.clock import LoopClock
    from sim.devices.signature import SimSignaturePad, SimSignaturePadOptions

    controller = SigningController(_config())
    pad = SimSignaturePad("signature", SimSignaturePadOptions(), DriverContext(clock=LoopClock()))
    controller.devices["signature"] = pad
    endpoint = FakeEndpoint()
    flow = SigningFlow(SigningConfig(demo_keys=True), tmp_path, pad)
    coordinator = SigningCoordinator(flow, controller, endpoint)
    server = ScreenServer(controller, controller.config, signing=coordinator)
    controller.screen_listeners.append(server._on_screen)
    session = FakeSession()

    async def sign_on_pad() -> None:
        await pad.draw_stroke([(1000, 1000), (4000, 3000), (6000, 1500)], 0.2, pressure=600)
        await asyncio.sleep(0.05)  # the pen lifted
        await pad.draw_stroke([(6500, 1000), (7000, 4000)], 0.1, pressure=400)

    def signing() -> dict[str, Any]:
        view: dict[str, Any] = client.get("/api/state?screen=touch").json()["signing"]
        return view

    with TestClient(server.app, base_url="http://127.0.0.1:8090") as client:
        # not signing: every button refused
        assert client.post("/api/signature/clear").status_code == 409
        assert client.post("/api/signature/confirm").status_code == 409
        assert client.post("/api/signature/decline").json() == {"error": "no document to sign"}
        assert client.post("/api/signature/page", json={"page": 0}).status_code == 409
        assert signing() == {"active": False, "last": None}

        # the signing page without a document (the pad only): nothing to confirm
        controller.show(Screen("signing"), "in_call.signing", session)
        r = client.post("/api/signature/confirm")
        assert r.status_code == 409 and r.json() == {"error": "no document to sign"}
        assert client.post("/api/signature/clear").json() == {"ok": True}

        # the agent sends a 3-page document, to sign on its second page
        controller.show(Screen("call"), "in_call.talking", session)
        pdf = blank_pdf(3, field_name=None, title="Antrag auf Wohngeld")
        meta = {"id": "d1", "title": "Antrag auf Wohngeld", "page": 1}
        client.portal.call(coordinator._request, "agent:1", meta, pdf)
        assert endpoint.controls == [{"type": "doc.shown", "id": "d1"}]
        assert controller.posted == [Trigger.SIGNATURE_REQUESTED]
        controller.show(Screen("signing"), "in_call.signing", session)
        view = signing()
        assert view["active"] and view["title"] == "Antrag auf Wohngeld"
        assert view["pages"] == [f"/signing/page/{i}.jpg" for i in range(3)]
        assert (view["sign_page"], view["shown_page"], view["has_ink"]) == (1, 1, False)
        assert view["pad"] == {"width": 10000, "height": 6000}
        page = client.get("/signing/page/0.jpg")
        assert page.status_code == 200 and page.content[:2] == b"\xff\xd8"
        assert page.headers["cache-control"] == "no-store"
        assert client.get("/signing/page/3.jpg").status_code == 404

        # leafing: the monitor shows the page the touch display asks for
        assert client.post("/api/signature/page", json={"page": 2}).json() == {"page": 2}
        assert signing()["shown_page"] == 2
        for body in ({"page": 3}, {"page": -1}, {"page": True}, {"page": "1"}, [1]):
            r = client.post("/api/signature/page", json=body)
            assert r.status_code == 422 and r.json()["fields"] == ["page"], body
        r = client.post(
            "/api/signature/page", json={"page": 0}, headers={"origin": "http://evil.example"}
        )
        assert r.status_code == 403 and signing()["shown_page"] == 2

        # no ink: confirming is refused in words, nothing goes to the agent
        r = client.post("/api/signature/confirm")
        assert r.status_code == 409 and r.json() == {"error": "no signature on the pad yet"}
        assert client.get("/api/signature/ink").json() == {
            "strokes": [],
            "width": 10000,
            "height": 6000,
        }
        assert endpoint.results == []

        # ink, cleared, ink again, confirmed: signed, the PDF to the agent
        client.portal.call(sign_on_pad)
        assert signing()["has_ink"]
        strokes = client.get("/api/signature/ink").json()["strokes"]
        assert len(strokes) == 2 and all(len(p) == 2 for s in strokes for p in s)
        cleared = len(pad.actions_named("clear"))
        assert client.post("/api/signature/clear").json() == {"ok": True}
        assert len(pad.actions_named("clear")) == cleared + 1
        assert not signing()["has_ink"] and client.get("/api/signature/ink").json()["strokes"] == []
        client.portal.call(sign_on_pad)
        r = client.post("/api/signature/confirm")
        assert r.status_code == 200 and r.json() == {"state": "signed", "reason": ""}
        (item, signed), *_ = endpoint.results
        assert item["type"] == "doc.result" and item["id"] == "d1" and item["state"] == "signed"
        assert signed is not None and signed.startswith(b"%PDF-") and len(signed) > len(pdf)
        assert controller.posted[-1] == Trigger.SIGNATURE_FINISHED
        assert signing() == {"active": False, "last": {"state": "signed", "reason": ""}}
        assert client.post("/api/signature/confirm").json() == {"error": "no document to sign"}
        assert client.get("/signing/page/0.jpg").status_code == 404

        # a second document, declined: nothing signed
        controller.show(Screen("call"), "in_call.talking", session)
        client.portal.call(coordinator._request, "agent:1", {**meta, "id": "d2"}, pdf)
        controller.show(Screen("signing"), "in_call.signing", session)
        assert signing()["shown_page"] == 1  # a new document: its signature's page again
        assert client.post("/api/signature/decline").json() == {"state": "declined"}
        item, signed = endpoint.results[-1]
        assert (item["id"], item["state"], signed) == ("d2", "declined", None)

    del controller.devices["signature"]
    with TestClient(server.app, base_url="http://127.0.0.1:8090") as client:
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
