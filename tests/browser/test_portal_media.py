"""Live media in the agents' portal: Debian's Chromium (fake camera, microphone and screen) as
the agent in the real portal ⇄ the simulated booth's aiortc endpoint (test pattern and tone),
signalled through the bridge process and Mosquitto (docs/media.md).

* the agent accepts in the UI; the browser's own getStats() sees the citizen's video (mid 1,
  about 25 fps), the document camera (mid 2) and the booth's audio; the booth's screen server
  (``/api/media``) sees the agent's video and audio; real-time text both ways (typed in the
  page's text field → the booth's ``media.rtt.received``; the citizen's text → the page); a
  full-resolution still arrives over the ``lisa`` channel and is shown enlarged (a ``blob:``
  URL); microphone off and screen share reach the booth's screen state; a document camera
  reported unavailable is a visible notice; axe finds nothing on the workspace with media;
  a page reload brings the media back within 3 s;
* a blind transfer to the Wohngeldstelle: the media pairs with the second agent's browser
  (second context), the first one's tracks stop; the second agent invites an interpreter, who
  joins from a third context by the link (no account) and gets video (the page also in
  Polish); after the hang-up no
  track is live in any context and the guest page says the call has ended; an invalid link
  says so plainly.

Screenshots: tests/browser/artifacts/portal-media-*.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from portal_stack import PortalStack, wait_until
from portal_ui import axe_violations, login, new_context

CHROMIUM = "/usr/bin/chromium"
#: recipes "Browser tests" and "WebRTC": quiet Chromium, fake media devices without a
#: permission prompt, ICE on loopback (the booth offers 127.0.0.1), candidates as plain IPs
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
MEDIA_TIMEOUT_MS = 15_000
RELOAD_BACK_MS = 3_000

#: frames of ``mid`` decoded (the session's getStats() sample, refreshed every 0.5 s)
FRAMES = """([mid, n]) => {
  const s = window.lisaMedia && window.lisaMedia.sample();
  return Boolean(s) && s.inboundVideo.some((v) => v.mid === mid && v.framesDecoded >= n);
}"""
#: frames per second of the inbound video ``mid`` over ``ms`` (two getStats() 2 s apart)
FPS = """async ([mid, ms]) => {
  const frames = async () => {
    const s = await window.lisaMedia.stats();
    const v = s.inboundVideo.find((x) => x.mid === mid);
    return v ? v.framesDecoded : 0;
  };
  const a = await frames();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = await frames();
  return ((b - a) * 1000) / (performance.now() - t0);
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (Debian package 'chromium')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalStack]:
    s = PortalStack(tmp_path_factory.mktemp("portal-media")).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def quiet(stack: PortalStack) -> None:
    stack.reset()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        ctx.close()


@pytest.fixture
def open_page(browser: Browser, contexts: list[BrowserContext], stack: PortalStack) -> Any:
    """``open_page("clearing1")``: a new context logged in; ``open_page(None, url)``: any URL."""

    def make(user: str | None, url: str | None = None) -> Page:
        ctx = new_context(browser)
        contexts.append(ctx)
        page = ctx.new_page()
        if user is not None:
            login(page, stack.url, user)
        if url is not None:
            page.goto(url)
        return page

    return make


# ------------------------------------------------------------------------------ helpers
def booth_get(stack: PortalStack, path: str) -> dict[str, Any]:
    r = httpx.get(f"http://127.0.0.1:{stack.booth.screen_port}{path}", timeout=5)
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


def wait_frames(page: Page, mid: str, n: int = 5, timeout: float = MEDIA_TIMEOUT_MS) -> None:
    try:
        page.wait_for_function(FRAMES, arg=[mid, n], timeout=timeout, polling=100)
    except Exception as exc:  # say what the page's media went through
        trace = page.evaluate("() => window.lisaMedia ? window.lisaMedia.trace() : []")
        raise AssertionError(f"no video on mid {mid}; the page's media: {trace}") from exc


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


# -------------------------------------------------------------------------------- tests
def test_agent_media_text_still_and_reload(stack: PortalStack, open_page: Any, shot: Any) -> None:
    desk = open_page("clearing1")
    expect(desk.get_by_test_id("media-off")).to_be_visible()  # no call: no camera yet
    assert live_tracks(desk) == 0
    accept_call(stack, desk)

    # the browser receives the citizen's camera, the document camera and the sound
    wait_frames(desk, "1")
    wait_frames(desk, "2", 2)
    expect(desk.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
    fps = desk.evaluate(FPS, ["1", 2000])
    assert fps >= 20, f"citizen video at {fps:.1f} fps"
    stats = desk.evaluate("() => window.lisaMedia.stats()")
    video = {v["mid"]: v for v in stats["inboundVideo"]}
    assert video["1"]["frameWidth"] == 640 and video["2"]["frameWidth"] == 1280
    assert stats["inboundAudio"]["packetsReceived"] > 0
    assert stats["outbound"]["audioBytes"] > 0 and stats["outbound"]["videoBytes"] > 0
    # … and the booth the agent's camera and microphone
    booth = wait_until(
        lambda: (
            (m := booth_get(stack, "/api/media"))["agent_video_fps"] > 0
            and m["agent_audio_frames"] > 0
            and m
        ),
        "the booth receiving the agent's video and audio",
    )
    assert booth["peers"]["agent:clearing1"]["state"] == "connected"

    # real-time text: each key press at once to the booth …
    box = desk.get_by_test_id("rtt-input")
    box.press_sequentially("Guten Tag!", delay=15)
    box.press("Backspace")

    def received_at_booth() -> str:
        texts = booth_get(stack, "/api/state")["media"]["rtt"]["received"]
        return next((x["text"] for x in texts if x["peer"] == "agent:clearing1"), "")

    wait_until(lambda: received_at_booth() == "Guten Tag", "the typed text at the booth")
    # … and the citizen's text (the touch display's) to the page, apart from the agent's own
    r = httpx.post(
        f"http://127.0.0.1:{stack.booth.screen_port}/api/rtt",
        json={"text": "Ich brauche einen Wohngeldantrag"},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    expect(desk.get_by_test_id("rtt-received")).to_have_text("Ich brauche einen Wohngeldantrag")
    assert desk.evaluate("() => window.lisaMedia.rttReceived()").endswith("Wohngeldantrag")
    # a smaller screen, the text out of sight: new text shows at the top, one click away
    desk.set_viewport_size({"width": 1280, "height": 720})
    desk.evaluate("() => window.scrollTo(0, 0)")
    httpx.post(
        f"http://127.0.0.1:{stack.booth.screen_port}/api/rtt", json={"text": "."}, timeout=5
    ).raise_for_status()
    desk.get_by_test_id("rtt-new").click()
    expect(desk.get_by_test_id("rtt-input")).to_be_focused()
    expect(desk.get_by_test_id("rtt-new")).to_have_count(0)
    desk.set_viewport_size({"width": 1920, "height": 1080})

    # microphone off (the shortcut, as with a headset) and a shared screen: the booth says so
    desk.keyboard.press("Alt+Shift+KeyM")
    expect(desk.get_by_test_id("mute-audio")).to_have_attribute("aria-pressed", "true")
    desk.get_by_test_id("share-screen").click()
    expect(desk.get_by_test_id("sharing-note")).to_be_visible()

    def booth_sees_mute_and_share() -> bool:
        media = booth_get(stack, "/api/state")["media"]
        peer = next(p for p in media["peers"] if p["id"] == "agent:clearing1")
        return bool(peer["muted"]["audio"] and media["share"])

    wait_until(booth_sees_mute_and_share, "the booth showing mute and the shared screen")
    wait_until(
        lambda: (
            booth_get(stack, "/api/media")["peers"]["agent:clearing1"]["streams"]["share"]["frames"]
            > 0
        ),
        "frames of the shared screen at the booth",
    )
    desk.get_by_test_id("share-screen").click()
    desk.get_by_test_id("mute-audio").click()
    wait_until(lambda: not booth_sees_mute_and_share(), "mute and share off at the booth")

    # a document camera reported unavailable is a visible notice
    call = stack.api.agent("clearing1")["call"]
    desk.evaluate(
        """(call) => window.lisaMedia.inject({type: 'media.state', call, state: 'connected',
             devices: {camera_document: 'unavailable', camera_main: 'ok'}})""",
        call,
    )
    expect(desk.get_by_test_id("media-devices")).to_contain_text("Dokumentenkamera")
    desk.evaluate(
        """(call) => window.lisaMedia.inject({type: 'media.state', call, state: 'connected',
             devices: {camera_document: 'ok'}})""",
        call,
    )
    expect(desk.get_by_test_id("media-devices")).to_have_count(0)

    # the still: full resolution over the lisa channel, shown enlarged, a blob: URL
    desk.get_by_test_id("still-request").click()
    image = desk.get_by_test_id("still-image")
    expect(image).to_be_visible()
    expect(desk.get_by_test_id("still-dialog")).to_contain_text("1920 × 1080")
    src, width = image.evaluate("i => [i.src, i.naturalWidth]")
    assert src.startswith("blob:") and width == 1920
    shot("portal-media-still", desk)
    desk.get_by_test_id("still-close").click()
    expect(image).to_have_count(0)
    expect(desk.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
    shot("portal-media-call", desk)
    assert axe_violations(desk) == []

    # a reload: the new page says media.ready and gets a new offer, video within 3 s
    desk.reload()
    wait_frames(desk, "1", 1, timeout=RELOAD_BACK_MS)
    assert live_tracks(desk) >= 4  # camera, microphone, the citizen's video and sound, document
    assert desk.evaluate("() => window.lisaMedia.rttReceived()") == ""  # nothing kept

    # the call ends: camera light off, nothing live
    desk.get_by_test_id("call-end").click()
    expect(desk.get_by_test_id("wrapup-panel")).to_be_visible()
    desk.wait_for_function("() => window.lisaMedia.liveTracks() === 0")
    stack.inject("person.leave")


def test_transfer_interpreter_and_hangup(stack: PortalStack, open_page: Any, shot: Any) -> None:
    desk = open_page("clearing1")
    clerk = open_page("wohngeld1")
    clerk.get_by_test_id("status-ready").click()
    stack.api.wait_agent("wohngeld1", "ready")
    accept_call(stack, desk)
    wait_frames(desk, "1")

    # blind transfer to the Wohngeldstelle (the queue wohngeld1 serves)
    desk.get_by_test_id("transfer-mode").select_option("blind")
    desk.get_by_test_id("transfer-queue").select_option("wohngeld")
    desk.get_by_test_id("transfer-start").click()
    expect(clerk.get_by_test_id("offer-banner")).to_be_visible()
    desk.wait_for_function("() => window.lisaMedia.liveTracks() === 0")  # the first one stops
    clerk.get_by_test_id("offer-accept").click()
    wait_frames(clerk, "1")
    wait_frames(clerk, "2", 2)
    wait_until(
        lambda: (
            booth_get(stack, "/api/media")["peers"].get("agent:wohngeld1", {}).get("state")
            == "connected"
        ),
        "the booth's media with the second agent",
    )
    assert "agent:clearing1" not in booth_get(stack, "/api/media")["peers"]
    assert live_tracks(desk) == 0

    # the clerk invites an interpreter: the link once, the list
    clerk.get_by_test_id("invite-role").select_option("interpreter")
    clerk.get_by_test_id("invite-name").fill("Frau Nowak")
    clerk.get_by_test_id("invite-submit").click()
    link = clerk.get_by_test_id("invite-link").input_value()
    assert "/gast.html#" in link
    expect(clerk.get_by_test_id("invite-list")).to_contain_text("Frau Nowak")

    # the interpreter opens it in a third context, without an account
    guest = open_page(None, link)
    expect(guest.get_by_test_id("guest-role")).to_contain_text("Dolmetscher/in")
    wait_frames(guest, "1")
    expect(guest.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
    wait_until(
        lambda: any(
            p["role"] == "interpreter" and p["state"] == "connected"
            for p in booth_get(stack, "/api/state")["media"]["peers"]
        ),
        "the interpreter at the booth",
    )
    wait_frames(clerk, "1", 30)  # the agent's media goes on beside the guest's
    shot("portal-media-guest", guest)
    assert axe_violations(guest) == []
    guest.get_by_test_id("guest-lang-pl").click()  # the guest page also speaks Polish
    expect(guest.get_by_test_id("media-state")).to_contain_text("Połączono")
    expect(guest.locator("html")).to_have_attribute("lang", "pl")
    shot("portal-media-guest-pl", guest)
    guest.get_by_test_id("guest-lang-de").click()
    clerk.get_by_test_id("invite-link-box").scroll_into_view_if_needed()
    shot("portal-media-invited", clerk)

    # hang-up: nothing live anywhere; the guest page says the call has ended
    clerk.get_by_test_id("call-end").click()
    expect(clerk.get_by_test_id("wrapup-panel")).to_be_visible()
    for page in (desk, clerk, guest):
        page.wait_for_function("() => window.lisaMedia.liveTracks() === 0")
    expect(guest.get_by_test_id("guest-ended")).to_contain_text("Das Gespräch ist beendet.")
    shot("portal-media-guest-ended", guest)
    stack.inject("person.leave")

    # the link no longer works, and an invalid or incomplete link says so
    again = open_page(None, link)
    expect(again.get_by_test_id("guest-invalid")).to_contain_text("gilt nicht")
    again.goto(f"{stack.url}/gast.html")
    expect(again.get_by_test_id("guest-no-token")).to_contain_text("unvollständig")
