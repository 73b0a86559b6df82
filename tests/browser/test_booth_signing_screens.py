"""Signing in a call, in Chromium: a real booth (the real controller on simulated devices), its
real ``MediaEndpoint`` and ``SigningCoordinator`` wired by the daemon's own code
(``BoothDaemon._media`` / ``_signing``, demo keys), the real screen server, and a Python agent
peer (``sim.media_agent.AgentMediaPeer``) that sends a 4-page PDF over the call's data channel.

The monitor shows the title and the page with the signature place, large, the agent's video
small beside it; the touch display leafs through the pages (the monitor follows), mirrors the
pad's ink live, refuses to sign without ink, signs on "Unterschreiben" (the agent gets a PDF
that verifies), declines only after "Wirklich nicht unterschreiben?", and after the pad was
unplugged asks to sign again with the clear button highlighted. Screenshots go to
tests/browser/artifacts/ (``monitor-signing-*``, ``touch-signing-*``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from booth_rig import FAST
from playwright.sync_api import Page, expect
from test_booth_media_screens import (
    AGENT,
    MEDIA,
    SCREEN,
    Bridge,
    MediaRig,
    box,
    moving,
    no_axe_violations,
    open_screen,
)

from booth.daemon import BoothDaemon
from booth.screen_server import ScreenServer
from booth.signing.pdf import blank_pdf
from booth.signing.verify import verify_pdf
from hal.clock import LoopClock
from hal.events import SignatureInterrupted
from sim.harness import SimBooth
from sim.media_agent import AgentMediaPeer, DocResult

TITLE = "Antrag auf Wohngeld"
PAGE_IMG_JS = """() => { const img = document.querySelector('[data-testid=doc-page]');
  return img && img.complete && img.naturalWidth > 0
    ? {page: Number(img.dataset.page), w: img.naturalWidth, src: img.getAttribute('src')}
    : null; }"""


# ------------------------------------------------------------------------------ the rig
class SigningRig(MediaRig):
    """test_booth_media_screens' booth with media, plus the daemon's signing coordinator (the
    booth's ``[signing] demo_keys``), and the screen server showing both."""

    signing: Any = None

    async def _main(self) -> None:
        try:
            self._stop = asyncio.Event()
            self.booth = SimBooth.from_example(LoopClock(), self.overrides)
            await self.booth.start()
            self.bridge = Bridge(self)
            daemon = BoothDaemon(self.booth.config, {}, Path("booth-sim.toml"), sim=True)
            self.endpoint = daemon._media(self.booth.controller, self.bridge)
            self.signing = daemon.signing
            assert self.endpoint is not None and self.signing is not None
            self.server = ScreenServer(
                self.booth.controller,
                self.booth.config,
                port=0,
                media=self.endpoint,
                signing=self.signing,
            )
            await self.server.start()
        except BaseException as exc:
            self._ready.set_exception(exc)
            raise
        self._ready.set_result(None)
        await self._stop.wait()
        await self.bridge.close()
        await self.endpoint.close()
        await self.server.stop()
        await self.booth.stop()

    @property
    def pad(self) -> Any:
        assert self.booth is not None
        return self.booth.controller.devices["signature"]

    def send(self, agent: AgentMediaPeer, request: str, pages: int = 4, page: int = 2) -> None:
        """The agent sends a PDF to sign (the signature on ``page``, 0-based): it is shown."""
        pdf = blank_pdf(pages, field_name=None, title=TITLE)
        self.until(lambda: agent.control is not None and agent.control.readyState == "open", "dc")
        self.call(lambda: agent.send_document(request, TITLE, pdf, page=page))
        self.until(lambda: request in agent.documents_shown, f"{request} shown")
        self.wait_state("in_call.signing")

    def pen_sign(self) -> None:
        """The citizen signs on the simulated pad (sim input ``pen.sign``), to the last stroke."""
        assert self.inject("pen.sign") == "signing on the pad"
        assert self.booth is not None
        booth = self.booth
        self.until(lambda: not booth._pen_tasks, "the pen lifted", within=15)

    def result(self, agent: AgentMediaPeer, request: str) -> DocResult:
        found: DocResult = self.call(lambda: agent.wait_result(request, timeout=20), timeout=30)
        return found


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningRig]:
    overrides = {**FAST, "screen": SCREEN, "media": MEDIA, "signing": {"demo_keys": True}}
    booth = SigningRig(overrides, tmp_path_factory.mktemp("booth")).start()
    try:
        yield booth
    finally:
        booth.stop()


@pytest.fixture
def call(rig: SigningRig) -> Iterator[tuple[SigningRig, AgentMediaPeer]]:
    """A citizen in a call with the front desk, the agent's media connected."""
    rig.back_to_idle()
    rig.begin_visit()
    assert rig.inject("agent.answer") == "answered"
    rig.wait_state("in_call.talking")
    agent = rig.join(AGENT)
    rig.connected(AGENT[0])
    yield rig, agent
    rig.call(rig.bridge.close)
    rig.back_to_idle()
    rig.until(lambda: rig.endpoint.session is None, "the media stopped with the visit")


# ------------------------------------------------------------------------------ helpers
def screens(rig: SigningRig, context: Any, page: Page) -> tuple[Page, Page]:
    monitor = open_screen(page, rig, "/", "call")
    touch = open_screen(context.new_page(), rig, "/touch", "call")
    return monitor, touch


def shown_page(monitor: Page, index: int) -> dict[str, Any]:
    """The monitor shows page ``index`` (0-based) of the document, loaded."""
    found: dict[str, Any] = monitor.wait_for_function(
        f"() => {{ const s = ({PAGE_IMG_JS})(); return s && s.page === {index} && s; }}"
    ).json_value()
    return found


def shown_size(pg: Page, testid: str) -> dict[str, float]:
    """The picture an <img> shows (object-fit: contain), not its box."""
    found: dict[str, float] = pg.evaluate(
        """id => { const img = document.querySelector(`[data-testid="${id}"]`);
                   const r = img.getBoundingClientRect();
                   const k = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
                   const w = img.naturalWidth * k, h = img.naturalHeight * k;
                   const x = r.x + (r.width - w) / 2;
                   return {x, y: r.y + (r.height - h) / 2, w, h, right: x + w}; }""",
        testid,
    )
    return found


def within_reach(rig: SigningRig, touch: Page) -> None:
    """Every control of the touch display at least 44 × 44 px, inside the reach band."""
    layout = touch.evaluate("fetch('/api/state?screen=touch').then(r => r.json())")["layout"]
    top, bottom = layout["reach_top_px"], layout["reach_bottom_px"]
    found = touch.evaluate(
        """() => [...document.querySelectorAll('button')].filter(e => e.getClientRects().length)
             .map(e => { const r = e.getBoundingClientRect();
                         return {id: e.dataset.testid, top: r.top, bottom: r.bottom,
                                 width: r.width, height: r.height,
                                 overflow: e.scrollWidth > e.clientWidth}; })"""
    )
    assert found
    for c in found:
        assert c["width"] >= 44 and c["height"] >= 44, c
        assert c["top"] >= top and c["bottom"] <= bottom, (c, top, bottom)
        assert not c["overflow"], f"the label of {c['id']} does not fit"


def verified(pdf: bytes) -> Any:
    """``verify_pdf`` in a thread of its own (it runs its own event loop; Playwright's is
    running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(verify_pdf, pdf).result(timeout=60)


def ink_drawn(touch: Page) -> None:
    touch.wait_for_function(
        "() => Number(document.querySelector('[data-testid=ink]').dataset.strokes) > 0"
    )


# ------------------------------------------------------------------------------ the tests
def test_read_leaf_and_sign(call: Any, context: Any, page: Page, shot: Any) -> None:
    rig, agent = call
    monitor, touch = screens(rig, context, page)
    moving(monitor, "[data-testid=video-agent]")
    rig.send(agent, "doc-1", pages=4, page=2)

    # the monitor: the title, the page with the signature place, large; the agent beside it
    expect(monitor.get_by_test_id("headline")).to_have_text(f"Bitte lesen Sie: {TITLE}")
    first = shown_page(monitor, 2)
    assert first["w"] >= 1000, first
    expect(monitor.get_by_test_id("page-count")).to_have_text("Seite 3 von 4")
    expect(monitor.get_by_test_id("sign-where")).to_have_text(
        "Auf dieser Seite unterschreiben Sie."
    )
    moving(monitor, "[data-testid=video-agent]")
    sheet, video = shown_size(monitor, "doc-page"), shown_size(monitor, "video-agent")
    assert sheet["h"] >= 0.75 * 1080, sheet
    assert sheet["w"] * sheet["h"] > 2 * video["w"] * video["h"], (sheet, video)
    assert sheet["right"] <= video["x"], "the agent beside the page, not over it"

    # the touch display: what to do, an empty sign area, the buttons, the pages
    expect(touch.get_by_test_id("sign-instruction")).to_have_text(
        "Unterschreiben Sie bitte auf dem Unterschriften-Feld neben dem Bildschirm."
    )
    expect(touch.get_by_test_id("touch-headline")).to_have_text(f"Ihr Dokument: {TITLE}")
    expect(touch.get_by_test_id("page-count")).to_have_text("Seite 3 von 4")
    confirm = touch.get_by_test_id("sign-confirm")
    expect(confirm).to_have_text("Unterschreiben")
    expect(confirm).to_have_attribute("aria-disabled", "true")
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Unterschreiben Sie zuerst mit dem Stift. Dann tippen Sie auf „Unterschreiben“."
    )
    expect(touch.get_by_test_id("ink-empty")).to_be_visible()
    within_reach(rig, touch)
    shot("monitor-signing-page", monitor)
    shot("touch-signing-empty", touch)
    no_axe_violations(monitor, "monitor-signing")
    no_axe_violations(touch, "touch-signing")

    # leafing on the touch display; the monitor follows
    touch.get_by_test_id("page-next").click()
    expect(touch.get_by_test_id("page-count")).to_have_text("Seite 4 von 4")
    expect(touch.get_by_test_id("page-next")).to_be_disabled()
    shown_page(monitor, 3)
    expect(monitor.get_by_test_id("page-count")).to_have_text("Seite 4 von 4")
    expect(monitor.get_by_test_id("sign-where")).to_have_text("Sie unterschreiben auf Seite 3.")
    for _ in range(3):  # quick taps: each builds on the one before
        touch.get_by_test_id("page-prev").click()
    expect(touch.get_by_test_id("page-count")).to_have_text("Seite 1 von 4")
    expect(touch.get_by_test_id("page-prev")).to_be_disabled()
    shown_page(monitor, 0)
    shot("monitor-signing-page-1", monitor)
    touch.get_by_test_id("page-next").click()
    touch.get_by_test_id("page-next").click()
    shown_page(monitor, 2)
    expect(monitor.get_by_test_id("sign-where")).to_have_text(
        "Auf dieser Seite unterschreiben Sie."
    )

    # without ink nothing is signed: the tap is refused in words
    confirm.click(force=True)  # it only looks disabled: a tap reaches the daemon
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Es ist noch keine Unterschrift da. Bitte unterschreiben Sie zuerst mit dem Stift auf "
        "dem Unterschriften-Feld."
    )
    assert "doc-1" not in agent.results
    assert rig.state == "in_call.signing"

    # the citizen signs on the pad: the ink appears on the touch display
    rig.pen_sign()
    strokes = len(rig.call(rig.signing.flow.ink_strokes))
    assert strokes >= 3
    touch.wait_for_function(
        "n => Number(document.querySelector('[data-testid=ink]').dataset.strokes) === n",
        arg=strokes,
    )
    expect(touch.get_by_test_id("ink-empty")).to_be_hidden()
    expect(confirm).to_have_attribute("aria-disabled", "false")
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Ist die Unterschrift gut? Dann tippen Sie auf „Unterschreiben“."
    )
    drawn = touch.evaluate(
        """() => { const r = document.querySelector('[data-testid=ink] .ink-strokes')
                                      .getBoundingClientRect();
                   return {w: r.width, h: r.height}; }"""
    )
    assert drawn["w"] > 200 and drawn["h"] > 80, drawn  # the signature, drawn large enough
    shot("touch-signing-ink", touch)
    shot("monitor-signing-ink", monitor)

    # "Unterschreiben": signed; the agent gets a PDF that verifies; the display says thank you
    confirm.click()
    expect(touch.get_by_test_id("sign-result")).to_have_text(
        "Vielen Dank. Ihre Unterschrift ist gespeichert.", timeout=30_000
    )
    result = rig.result(agent, "doc-1")
    assert result.state == "signed", result.info
    pdf = bytes(result.data)
    assert pdf.startswith(b"%PDF-") and result.info["document_sha256"]
    report = verified(pdf)
    assert report.ok, report.problems
    rig.wait_state("in_call.talking")
    expect(monitor.get_by_test_id("doc-page")).to_have_count(0)
    moving(monitor, "[data-testid=video-agent]")
    expect(touch.get_by_test_id("ink")).to_have_count(0)
    shot("touch-signing-signed", touch)
    shot("monitor-signing-signed", monitor)
    no_axe_violations(touch, "touch-signed")
    within_reach(rig, touch)


def test_decline_asks_first(call: Any, context: Any, page: Page, shot: Any) -> None:
    rig, agent = call
    monitor, touch = screens(rig, context, page)
    rig.send(agent, "doc-2", pages=1, page=0)
    shown_page(monitor, 0)
    expect(monitor.get_by_test_id("page-count")).to_have_text("Seite 1 von 1")
    # the largest text size (chosen before): the texts grow, the page stays large, nothing
    # spills out of the side column
    touch.evaluate(
        """() => fetch('/api/prefs', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                     body: JSON.stringify({text_scale: 2})})"""
    )
    monitor.wait_for_function(
        "parseFloat(getComputedStyle(document.documentElement).fontSize) > 40"
    )
    sheet = box(monitor, "[data-testid=doc-page]")
    assert sheet["h"] >= 0.6 * 1080, sheet
    spill = monitor.evaluate(
        """() => { const side = document.querySelector('[data-testid=doc-side]');
                   const main = document.querySelector('main');
                   return {side: side.scrollHeight - side.clientHeight,
                           main: main.scrollHeight - main.clientHeight,
                           right: side.getBoundingClientRect().right}; }"""
    )
    assert spill["side"] <= 1 and spill["main"] <= 1 and spill["right"] <= 1920, spill
    shot("monitor-signing-200", monitor)
    expect(touch.get_by_test_id("page-next")).to_be_hidden()  # one page: nothing to leaf
    rig.pen_sign()
    ink_drawn(touch)

    # "Nicht unterschreiben" asks first; "Nein" goes back to the document, the ink still there
    touch.get_by_test_id("sign-decline").click()
    expect(touch.get_by_test_id("decline-question")).to_have_text("Wirklich nicht unterschreiben?")
    within_reach(rig, touch)
    shot("touch-signing-decline-question", touch)
    touch.get_by_test_id("decline-no").click()
    expect(touch.get_by_test_id("sign-confirm")).to_have_attribute("aria-disabled", "false")
    ink_drawn(touch)
    assert rig.state == "in_call.signing" and "doc-2" not in agent.results

    touch.get_by_test_id("sign-decline").click()
    touch.get_by_test_id("decline-yes").click()
    expect(touch.get_by_test_id("sign-result")).to_have_text("Sie haben nicht unterschrieben.")
    result = rig.result(agent, "doc-2")
    assert result.state == "declined" and not result.data, result.info
    expect(monitor.get_by_test_id("doc-page")).to_have_count(0)


def test_pad_unplugged_while_signing(call: Any, context: Any, page: Page, shot: Any) -> None:
    rig, agent = call
    monitor, touch = screens(rig, context, page)
    rig.send(agent, "doc-3", pages=2, page=1)
    shown_page(monitor, 1)
    rig.pen_sign()
    ink_drawn(touch)

    # the pad is lost for a moment: the ink is void; the display says so and what to do
    pad = rig.pad
    rig.call(
        lambda: pad.emit(
            SignatureInterrupted(
                pad.name, pad.clock.now(), reason="pad unplugged", samples_discarded=100
            )
        )
    )
    expect(touch.get_by_test_id("sign-interrupted")).to_have_text(
        "Das Unterschriften-Feld war kurz getrennt. Bitte unterschreiben Sie noch einmal."
    )
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Tippen Sie dazu zuerst auf „Löschen und neu unterschreiben“."
    )
    clear = touch.get_by_test_id("sign-clear")
    expect(clear).to_have_class("control sign-clear attention")
    touch.wait_for_function(
        "() => document.querySelector('[data-testid=ink]').dataset.strokes === '0'"
    )
    confirm = touch.get_by_test_id("sign-confirm")
    expect(confirm).to_have_attribute("aria-disabled", "true")
    colours = clear.evaluate(
        "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.color]; }"
    )
    assert colours == ["rgb(255, 210, 31)", "rgb(17, 17, 17)"], colours  # yellow, black
    shot("touch-signing-interrupted", touch)
    no_axe_violations(touch, "touch-signing-interrupted")

    # signing again without clearing first: still void; a tap on "Unterschreiben" is refused
    # and the display keeps saying what to do
    rig.pen_sign()
    ink_drawn(touch)
    expect(confirm).to_have_attribute("aria-disabled", "true")
    confirm.click(force=True)
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Tippen Sie dazu zuerst auf „Löschen und neu unterschreiben“."
    )
    expect(touch.get_by_test_id("sign-interrupted")).to_be_visible()
    assert rig.state == "in_call.signing" and "doc-3" not in agent.results

    # clear, sign again, confirm: signed
    clear.click()
    expect(touch.get_by_test_id("sign-interrupted")).to_be_hidden()
    expect(clear).to_have_class("control sign-clear")
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Die Unterschrift ist gelöscht. Sie können neu unterschreiben."
    )
    rig.pen_sign()
    expect(confirm).to_have_attribute("aria-disabled", "false")
    confirm.click()
    expect(touch.get_by_test_id("sign-result")).to_have_text(
        "Vielen Dank. Ihre Unterschrift ist gespeichert.", timeout=30_000
    )
    assert rig.result(agent, "doc-3").state == "signed"
