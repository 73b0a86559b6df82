"""The consultation's audio in the agents' portal, and the media taken over by another window:
Debian's Chromium (fake microphone and camera) as two agents in two browser contexts against
the real stack (the bridge process, Mosquitto, the simulated booth's aiortc endpoint).

* consultation: clearing1 in a call with media starts a consultative transfer to wohngeld1
  in the UI, wohngeld1 takes the consultation leg → the booth's media is on hold and both
  pages talk browser to browser (``media.peer*`` relayed by the bridge): each page's
  consultation RTCPeerConnection receives the other's audio (getStats ``inbound-rtp``
  packets, ``window.lisaMedia.consult()``), the pages say "Rückfrage mit … – Sie sprechen
  miteinander"; a reload of the consultant's page brings the audio back (``media.peer.ready``);
  "Übergeben" stops the consultation's audio on both pages and the citizen's media goes to
  wohngeld1;
* takeover: the same agent opens the portal in a second browser (another context: no
  BroadcastChannel between them) → the bridge stops the first window's media ("taken over by
  another window"), which says "Bild und Ton laufen in einem anderen Fenster" and offers "Hier
  übernehmen"; that brings the media back to it and the second window steps aside.

Screenshots: tests/browser/artifacts/portal-consult-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from portal_stack import PortalStack, wait_until
from portal_ui import axe_violations, login, new_context

MEDIA_TIMEOUT_MS = 15_000
#: frames of ``mid`` decoded (the session's getStats() sample, refreshed every 0.3 s)
FRAMES = """([mid, n]) => {
  const s = window.lisaMedia && window.lisaMedia.sample();
  return Boolean(s) && s.inboundVideo.some((v) => v.mid === mid && v.framesDecoded >= n);
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalStack]:
    s = PortalStack(tmp_path_factory.mktemp("portal-consult")).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def quiet(stack: PortalStack) -> None:
    stack.reset()


@pytest.fixture
def open_page(browser: Browser, stack: PortalStack) -> Iterator[Any]:
    """``open_page("clearing1")``: a new context (a browser of its own) logged in."""
    made: list[BrowserContext] = []

    def make(user: str) -> Page:
        ctx = new_context(browser)
        made.append(ctx)
        return login(ctx.new_page(), stack.url, user)

    yield make
    for ctx in made:
        ctx.close()


# ------------------------------------------------------------------------------ helpers
def booth_media(stack: PortalStack) -> dict[str, Any]:
    r = httpx.get(f"{stack.booth.screen_url}api/media", timeout=5)
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


def wait_frames(page: Page, mid: str = "1", n: int = 3) -> None:
    try:
        page.wait_for_function(FRAMES, arg=[mid, n], timeout=MEDIA_TIMEOUT_MS, polling=100)
    except Exception as exc:
        trace = page.evaluate("() => window.lisaMedia ? window.lisaMedia.trace() : []")
        raise AssertionError(f"no video on mid {mid}; the page's media: {trace}") from exc


def consult_packets(page: Page) -> int:
    stats = page.evaluate("() => window.lisaMedia.consult()")
    n: int = stats["inboundAudio"]["packetsReceived"]
    return n


def wait_consult_audio(page: Page, more_than: int = 0) -> int:
    """Wait until the consultation's connection received audio packets (> ``more_than``)."""
    try:
        return wait_until(
            lambda: (n := consult_packets(page)) > more_than and n, "consultation audio", 15
        )
    except AssertionError as exc:
        trace = page.evaluate("() => window.lisaMedia.consultTrace()")
        raise AssertionError(f"{exc}; the page's consultation: {trace}") from exc


def live_tracks(page: Page) -> int:
    n: int = page.evaluate("() => window.lisaMedia.liveTracks()")
    return n


def accept_call(stack: PortalStack, desk: Page) -> None:
    desk.get_by_test_id("status-ready").click()
    stack.api.wait_agent("clearing1", "ready")
    stack.inject("person.enter")
    desk.get_by_test_id("offer-accept").click()
    expect(desk.get_by_test_id("call-panel")).to_be_visible()
    stack.booth.wait_detail("in_call.talking")
    wait_frames(desk)


# -------------------------------------------------------------------------------- tests
def test_consultation_audio_then_transfer(stack: PortalStack, open_page: Any, shot: Any) -> None:
    desk = open_page("clearing1")
    clerk = open_page("wohngeld1")
    clerk.get_by_test_id("status-ready").click()
    stack.api.wait_agent("wohngeld1", "ready")
    accept_call(stack, desk)

    # a consultation with the named clerk, from the UI
    desk.get_by_test_id("transfer-mode").select_option("consult")
    desk.get_by_test_id("transfer-clerk").select_option("wohngeld1")
    desk.get_by_test_id("transfer-queue").select_option("wohngeld")
    desk.get_by_test_id("transfer-start").click()
    expect(clerk.get_by_test_id("offer-consult-for")).to_contain_text("clearing1")
    clerk.get_by_test_id("offer-accept").click()
    expect(desk.get_by_test_id("consult-state")).to_contain_text("verbunden")

    # both pages talk to each other, audio only; the booth's media is on hold
    for page, other in ((desk, "Wohngeld"), (clerk, "Empfang")):
        panel = page.get_by_test_id("consult-panel")
        expect(panel).to_be_visible()
        expect(page.get_by_test_id("consult-audio-state")).to_have_attribute(
            "data-state", "connected"
        )
        expect(page.get_by_test_id("consult-lead")).to_contain_text(
            "Sie sprechen miteinander; die Bürgerin / der Bürger wartet"
        )
        expect(panel).to_contain_text(other)
    first = {p: wait_consult_audio(p) for p in (desk, clerk)}
    desk_stats = desk.evaluate("() => window.lisaMedia.consult()")
    assert desk_stats["offerer"] is True and desk_stats["outboundAudio"]["bytesSent"] > 0
    assert clerk.evaluate("() => window.lisaMedia.consult()")["offerer"] is False
    assert desk.evaluate("() => window.lisaMedia.status()") == "idle"  # no booth media now
    wait_until(
        lambda: "agent:clearing1" not in booth_media(stack)["peers"],
        "the booth's media with clearing1 on hold",
    )
    desk.evaluate("() => window.scrollTo(0, 0)")
    shot("portal-consult-audio-asker", desk)
    shot("portal-consult-audio-consultant", clerk)
    assert axe_violations(desk) == []

    # the microphone of the consultation: the button and the headset shortcut
    desk.keyboard.press("Alt+Shift+KeyM")
    expect(desk.get_by_test_id("consult-mute")).to_have_attribute("aria-pressed", "true")
    expect(desk.get_by_test_id("consult-muted-note")).to_be_visible()
    desk.get_by_test_id("consult-mute").click()
    expect(desk.get_by_test_id("consult-mute")).to_have_attribute("aria-pressed", "false")

    # the consultant reloads: the new page asks for the audio again (media.peer.ready)
    clerk.reload()
    expect(clerk.get_by_test_id("consult-audio-state")).to_have_attribute("data-state", "connected")
    wait_consult_audio(clerk)
    wait_consult_audio(desk, more_than=first[desk] + 10)  # the asker's new connection

    # "Übergeben": the consultation's audio stops on both pages, the citizen goes to wohngeld1
    desk.get_by_test_id("transfer-complete").click()
    expect(desk.get_by_test_id("wrapup-panel")).to_be_visible()
    expect(desk.get_by_test_id("consult-panel")).to_have_count(0)
    desk.wait_for_function("() => window.lisaMedia.liveTracks() === 0")
    expect(clerk.get_by_test_id("consult-panel")).to_have_count(0)
    expect(clerk.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
    wait_frames(clerk)
    stats = clerk.evaluate("() => window.lisaMedia.consult()")
    assert stats["status"] == "idle" and stats["call"] is None
    assert clerk.evaluate("() => window.lisaMedia.consultPc()") is None
    wait_until(
        lambda: booth_media(stack)["peers"].get("agent:wohngeld1", {}).get("state") == "connected",
        "the booth's media with wohngeld1",
    )
    assert "agent:clearing1" not in booth_media(stack)["peers"]
    clerk.get_by_test_id("call-end").click()
    expect(clerk.get_by_test_id("wrapup-panel")).to_be_visible()
    stack.inject("person.leave")


def test_media_taken_over_by_another_window(stack: PortalStack, open_page: Any, shot: Any) -> None:
    first = open_page("clearing1")
    accept_call(stack, first)

    # the same agent in a second browser: it gets the media, the first one steps aside
    second = open_page("clearing1")
    expect(second.get_by_test_id("call-panel")).to_be_visible()
    wait_frames(second)
    expect(first.get_by_test_id("media-state")).to_have_attribute("data-state", "elsewhere")
    expect(first.get_by_test_id("media-state")).to_have_text(
        "Bild und Ton laufen in einem anderen Fenster"
    )
    expect(first.get_by_test_id("media-elsewhere")).to_contain_text("Hier übernehmen")
    first.wait_for_function("() => window.lisaMedia.liveTracks() === 0")
    trace = first.evaluate("() => window.lisaMedia.trace()")
    assert any("taken over by another window" in line for line in trace), trace
    shot("portal-consult-media-elsewhere", first)

    # "Hier übernehmen": back to the first window; the second one says so now
    first.get_by_test_id("media-take-over").click()
    wait_frames(first)
    expect(first.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
    expect(second.get_by_test_id("media-state")).to_have_attribute("data-state", "elsewhere")
    second.wait_for_function("() => window.lisaMedia.liveTracks() === 0")
    wait_until(
        lambda: booth_media(stack)["peers"].get("agent:clearing1", {}).get("state") == "connected",
        "the booth's media with clearing1",
    )
    first.get_by_test_id("call-end").click()
    expect(first.get_by_test_id("wrapup-panel")).to_be_visible()
    stack.inject("person.leave")
