"""The booth screens in Chromium, against a simulated booth (real controller, real loop clock).

The monitor follows a visit, languages switch from the touch display and fall back to German
after the visit, sizes meet EN 301 549 (capitals ≥ 0.7° at the viewing distance, controls
≥ 44 × 44 px inside the reach band), axe finds no WCAG 2.2 AA violation on any main screen,
nothing of a visit stays in the browser, the outside board says frei / besetzt / außer Betrieb.
Screenshots of every main screen go to tests/browser/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from booth_rig import FAST, BoothRig
from playwright.sync_api import Page, expect

from booth.screen_server import reach_band
from booth.signing.pdf import blank_pdf

# a touch display mounted high enough that the top of it is out of reach (1,220 mm): the page
# must keep its controls below that line
SCREEN = {
    "touch_mounting_height_mm": 1000,
    "partners": ["Landkreis Uckermark", "AOK Nordost", "Pflegestützpunkt"],
}
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE = Axe()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoothRig]:
    # signing=True: the booth signs documents (demo keys), handed over in-process
    booth = BoothRig(
        {**FAST, "screen": SCREEN}, tmp_path_factory.mktemp("booth"), signing=True
    ).start()
    try:
        yield booth
    finally:
        booth.stop()


@pytest.fixture(autouse=True)
def idle(rig: BoothRig) -> Iterator[None]:
    rig.back_to_idle()
    yield
    rig.back_to_idle()


# ------------------------------------------------------------------------------ helpers
def on_page(pg: Page, name: str) -> None:
    pg.wait_for_function("name => document.body.dataset.page === name", arg=name)


def open_screen(pg: Page, rig: BoothRig, path: str, page_name: str | None = "welcome") -> Page:
    pg.goto(rig.url(path))
    if page_name is not None:
        on_page(pg, page_name)
    return pg


def headline(pg: Page) -> Any:
    return expect(pg.get_by_test_id("headline"))


def no_axe_violations(pg: Page, name: str) -> None:
    result = AXE.run(pg, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    violations = result.response["violations"]
    summary = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    ]
    assert violations == [], f"{name}: axe found WCAG 2.2 AA violations: {summary}"


def check_screen(pg: Page, name: str, shot: Any) -> None:
    """Every main screen: a screenshot to look at, and axe."""
    shot(name, pg)
    no_axe_violations(pg, name)


def smallest_capital(pg: Page) -> dict[str, float]:
    """The rendered height of a capital H in the smallest font of any visible text."""
    return pg.evaluate(
        """() => {
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          let smallest = null;
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            const element = node.parentElement;
            const box = element.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) continue;
            if (element.closest('.visually-hidden')) continue;
            const style = getComputedStyle(element);
            const size = parseFloat(style.fontSize);
            if (smallest === null || size < smallest.size) smallest = {size, element, style};
          }
          const ctx = document.createElement('canvas').getContext('2d');
          const s = smallest.style;
          ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
          const m = ctx.measureText('H');
          return {font_px: smallest.size, cap_px: m.actualBoundingBoxAscent,
                  family: s.fontFamily, text: smallest.element.textContent.slice(0, 40)};
        }"""
    )


def controls(pg: Page) -> list[dict[str, Any]]:
    return pg.evaluate(
        """() => [...document.querySelectorAll('button, [role=button], a, input')]
            .filter(e => e.getClientRects().length)
            .map(e => { const r = e.getBoundingClientRect();
                        return {id: e.dataset.testid, top: r.top, bottom: r.bottom,
                                left: r.left, right: r.right,
                                width: r.width, height: r.height}; })"""
    )


def layout(pg: Page) -> dict[str, float]:
    return pg.evaluate("s => fetch('/api/state?screen=' + s).then(r => r.json())", "touch")[
        "layout"
    ]


# ------------------------------------------------------------------------------ the monitor
def test_monitor_follows_a_visit(rig: BoothRig, page: Page, shot: Any) -> None:
    open_screen(page, rig, "/")
    headline(page).to_have_text("Willkommen im digitalen Bürgerbüro")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    check_screen(page, "monitor-welcome", shot)

    assert rig.inject("person.enter") == "citizen entered"
    headline(page).to_have_text("Sie werden verbunden")
    expect(page.get_by_test_id("body")).to_have_text(
        "Bitte nehmen Sie Platz. Gleich ist jemand für Sie da."
    )
    check_screen(page, "monitor-connecting", shot)

    headline(page).to_have_text("Bitte haben Sie etwas Geduld")
    expect(page.get_by_test_id("position")).to_have_text("Sie sind an Position 2.")
    expect(page.get_by_test_id("wait")).to_have_text("Wartezeit: etwa 5 Minuten.")
    # no video configured: a calm panel, nothing moving
    expect(page.get_by_test_id("waiting-panel")).to_be_visible()
    expect(page.locator("video")).to_have_count(0)
    check_screen(page, "monitor-waiting", shot)

    rig.inject("agent.answer")
    headline(page).to_have_text("Sie sind verbunden")
    expect(page.get_by_test_id("agent-pane")).to_contain_text("Video folgt")
    expect(page.get_by_test_id("agent-pane")).to_contain_text(
        "Ihr Gesprächspartner: Bürgerservice – Empfang"
    )
    expect(page.get_by_test_id("document-pane")).to_contain_text("Video folgt")
    expect(page.locator("video")).to_have_count(0)  # no fake video
    check_screen(page, "monitor-call", shot)

    rig.inject("agent.transfer", queue="wohngeld")
    headline(page).to_have_text("Bitte einen Moment")
    check_screen(page, "monitor-transferring", shot)
    rig.inject("agent.answer")
    headline(page).to_have_text("Sie sind verbunden")
    expect(page.get_by_test_id("agent-pane")).to_contain_text("Wohngeldstelle")

    rig.inject("agent.signature")
    headline(page).to_have_text("Bitte unterschreiben Sie")
    expect(page.get_by_test_id("document-pane")).to_be_visible()
    check_screen(page, "monitor-signing", shot)
    rig.inject("agent.signature_done")
    headline(page).to_have_text("Sie sind verbunden")

    rig.inject("agent.hangup")
    headline(page).to_have_text("Vielen Dank für Ihren Besuch")
    expect(page.get_by_test_id("body")).to_have_text("Auf Wiedersehen! Die Tür öffnet sich.")
    check_screen(page, "monitor-farewell", shot)

    rig.inject("person.leave")
    headline(page).to_have_text("Willkommen im digitalen Bürgerbüro")


def test_monitor_pages_when_things_go_wrong(rig: BoothRig, page: Page, shot: Any) -> None:
    open_screen(page, rig, "/")

    # nobody can take the call
    rig.begin_visit()
    rig.inject("agent.unavailable")
    headline(page).to_have_text("Im Moment ist leider niemand erreichbar")
    expect(page.locator("main")).to_contain_text("Öffnungszeiten: Mo–Fr 8–16 Uhr, Do bis 18 Uhr")
    expect(page.locator("main")).to_contain_text("Telefon: 03984 70-0")
    check_screen(page, "monitor-unavailable", shot)
    rig.end_visit()

    # the network fails during the call
    on_page(page, "welcome")
    rig.begin_visit()
    rig.inject("agent.answer")
    rig.wait_state("in_call")
    rig.inject("link.down")
    headline(page).to_have_text("Die Verbindung wurde unterbrochen")
    check_screen(page, "monitor-link_lost", shot)
    rig.inject("person.leave")
    headline(page).to_have_text("Dieses Bürgerbüro ist vorübergehend außer Betrieb")
    expect(page.locator("main")).to_contain_text("Telefon: 03984 70-0")
    check_screen(page, "monitor-out_of_service", shot)
    rig.inject("link.up")
    headline(page).to_have_text("Willkommen im digitalen Bürgerbüro")

    rig.inject("maintenance.enter")
    headline(page).to_have_text("Wartung")
    check_screen(page, "monitor-maintenance", shot)
    rig.inject("maintenance.exit")
    headline(page).to_have_text("Willkommen im digitalen Bürgerbüro")

    rig.inject("emergency.on")
    headline(page).to_have_text("Bitte verlassen Sie die Kabine")
    expect(page.locator("body")).to_have_class("monitor emergency")
    # full screen, high contrast: the whole viewport is the alarm colour
    colours = page.evaluate(
        """() => { const b = getComputedStyle(document.querySelector('main'));
                   const r = document.querySelector('main').getBoundingClientRect();
                   return {bg: b.backgroundColor, fg: b.color, w: r.width, h: r.height}; }"""
    )
    assert colours["bg"] == "rgb(139, 0, 0)" and colours["fg"] == "rgb(255, 255, 255)"
    assert colours["w"] == 1920 and colours["h"] == 1080
    check_screen(page, "monitor-emergency", shot)
    rig.inject("emergency.off")
    headline(page).to_have_text("Willkommen im digitalen Bürgerbüro", timeout=30_000)


# ------------------------------------------------------------------------------ languages
def test_language_from_the_touch_display_and_back_to_german(
    rig: BoothRig, context: Any, page: Page, shot: Any
) -> None:
    monitor = open_screen(page, rig, "/")
    touch = open_screen(context.new_page(), rig, "/touch")
    rig.begin_visit()
    headline(monitor).to_have_text("Bitte haben Sie etwas Geduld")
    check_screen(touch, "touch-waiting", shot)

    touch.get_by_test_id("lang-pl").click()
    headline(monitor).to_have_text("Prosimy o chwilę cierpliwości")
    expect(monitor.get_by_test_id("wait")).to_have_text("Czas oczekiwania: około 5 minut.")
    expect(monitor.locator("html")).to_have_attribute("lang", "pl")
    expect(touch.get_by_test_id("lang-pl")).to_have_attribute("aria-pressed", "true")
    check_screen(monitor, "monitor-waiting-pl", shot)

    touch.get_by_test_id("lang-en").click()
    headline(monitor).to_have_text("Thank you for your patience")
    expect(monitor.get_by_test_id("position")).to_have_text("You are number 2 in the queue.")

    touch.get_by_test_id("lang-de-simple").click()
    headline(monitor).to_have_text("Bitte warten Sie")
    expect(monitor.get_by_test_id("wait")).to_have_text("Sie warten etwa 5 Minuten.")
    expect(monitor.locator("html")).to_have_attribute("lang", "de")
    check_screen(monitor, "monitor-waiting-de-simple", shot)

    # text size and volume: larger text on the monitor, and both shown on the touch display
    before = monitor.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    touch.get_by_test_id("text-larger").click()
    expect(touch.get_by_test_id("text-size")).to_have_text("125 %")
    monitor.wait_for_function(
        "b => parseFloat(getComputedStyle(document.documentElement).fontSize) > b", arg=before
    )
    touch.get_by_test_id("volume-up").click()
    expect(touch.get_by_test_id("volume")).to_have_text("9 von 10")

    rig.inject("agent.answer")
    headline(monitor).to_have_text("Jetzt können Sie sprechen")
    rig.end_visit()
    # the privacy reset takes the citizen's choices: German, normal size, normal volume
    headline(monitor).to_have_text("Willkommen im digitalen Bürgerbüro")
    expect(monitor.locator("html")).to_have_attribute("lang", "de")
    expect(touch.get_by_test_id("lang-de")).to_have_attribute("aria-pressed", "true")
    expect(touch.get_by_test_id("text-size")).to_have_text("100 %")
    expect(touch.get_by_test_id("volume")).to_have_text("8 von 10")
    assert monitor.evaluate(
        "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    ) == pytest.approx(before)
    check_screen(touch, "touch-welcome", shot)


# ------------------------------------------------------------------------------ sizes
def test_capitals_subtend_0_7_degrees(rig: BoothRig, context: Any, page: Page) -> None:
    monitor = open_screen(page, rig, "/")
    touch = open_screen(context.new_page(), rig, "/touch")
    sizes = rig.server.layouts if rig.server else {}
    # 43" 1920 × 1080 at 700 mm: 8.55 mm ≈ 17.25 px
    assert sizes["monitor"]["min_cap_px"] == pytest.approx(17.25, abs=0.05)
    pages = [("welcome", None)]
    for name, step in [*pages, ("waiting", "person.enter"), ("call", "agent.answer")]:
        if step:
            rig.inject(step)
        on_page(monitor, name)
        on_page(touch, name)
        for pg, kind in ((monitor, "monitor"), (touch, "touch")):
            measured = smallest_capital(pg)
            assert "DejaVu Sans" in measured["family"]
            assert measured["cap_px"] >= sizes[kind]["min_cap_px"], (kind, name, measured)


def test_touch_targets_are_large_and_within_reach(
    rig: BoothRig, page: Page, shot: Any, tmp_path: Path
) -> None:
    touch = open_screen(page, rig, "/touch")
    band = layout(touch)
    assert rig.server is not None
    top, bottom = reach_band(rig.server.config)
    assert (band["reach_top_px"], band["reach_bottom_px"]) == (top, bottom)
    assert top > 150, "the test booth mounts the display so that its top is out of reach"

    def all_within_reach(expected: set[str]) -> None:
        found = controls(touch)
        assert expected <= {c["id"] for c in found}, found
        for c in found:
            assert c["width"] >= 44 and c["height"] >= 44, c
            assert c["top"] >= top and c["bottom"] <= bottom, (c, top, bottom)
            assert c["left"] >= 0 and c["right"] <= 1920, c

    rig.begin_visit()
    rig.inject("agent.answer")
    rig.wait_state("in_call.talking")
    on_page(touch, "call")
    all_within_reach(
        {"lang-de", "lang-pl", "lang-en", "lang-de-simple"}
        | {"text-larger", "text-smaller", "volume-up", "volume-down"}
    )

    # a document to sign: only the signing on the display, its three buttons and the pages
    pdf = blank_pdf(4, field_name=None, title="Antrag auf Wohngeld")
    rig.send_document("touch-1", "Antrag auf Wohngeld", pdf, page=2)
    on_page(touch, "signing")
    expect(touch.get_by_test_id("sign-confirm")).to_have_text("Unterschreiben")
    expect(touch.get_by_test_id("sign-clear")).to_have_text("Löschen und neu unterschreiben")
    expect(touch.get_by_test_id("sign-decline")).to_have_text("Nicht unterschreiben")
    expect(touch.get_by_test_id("page-count")).to_have_text("Seite 3 von 4")
    check_screen(touch, "touch-signing", shot)
    all_within_reach({"sign-confirm", "sign-clear", "sign-decline", "page-prev", "page-next"})

    # the buttons reach the daemon: confirm without ink is refused in words, clear empties the
    # pad, decline asks first
    expect(touch.get_by_test_id("sign-confirm")).to_have_attribute("aria-disabled", "true")
    # (it only looks disabled: a tap reaches it; Playwright would wait for aria-disabled to go)
    touch.get_by_test_id("sign-confirm").click(force=True)
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Es ist noch keine Unterschrift da. Bitte unterschreiben Sie zuerst mit dem Stift auf "
        "dem Unterschriften-Feld."
    )
    touch.get_by_test_id("sign-clear").click()
    expect(touch.get_by_test_id("sign-status")).to_have_text(
        "Die Unterschrift ist gelöscht. Sie können neu unterschreiben."
    )
    touch.get_by_test_id("sign-decline").click()
    expect(touch.get_by_test_id("decline-question")).to_have_text("Wirklich nicht unterschreiben?")
    all_within_reach({"decline-yes", "decline-no"})
    check_screen(touch, "touch-signing-decline", shot)
    touch.get_by_test_id("decline-yes").click()
    on_page(touch, "call")
    expect(touch.get_by_test_id("sign-result")).to_have_text("Sie haben nicht unterschrieben.")
    assert rig.documents is not None
    item, signed = rig.documents.results["touch-1"]
    assert item["state"] == "declined" and signed is None
    all_within_reach({"lang-de", "text-larger", "volume-up"})


# ------------------------------------------------------------------------------ privacy
def test_nothing_of_a_visit_stays_in_the_browser(rig: BoothRig, context: Any, page: Page) -> None:
    monitor = open_screen(page, rig, "/")
    touch = open_screen(context.new_page(), rig, "/touch")
    length_before = monitor.evaluate("history.length")
    monitor.evaluate("window.__visit_marker = 'seen'")
    rig.begin_visit()
    touch.get_by_test_id("lang-en").click()
    headline(monitor).to_have_text("Thank you for your patience")
    rig.inject("agent.answer")
    headline(monitor).to_have_text("You are connected")
    rig.end_visit()
    # the page replaced itself: the document of the visit is gone, no entry to go back to
    monitor.wait_for_function("window.__visit_marker === undefined")
    headline(monitor).to_have_text("Willkommen im digitalen Bürgerbüro")
    for pg in (monitor, touch):
        stored = pg.evaluate(
            """async () => ({
                local: localStorage.length, session: sessionStorage.length,
                cookie: document.cookie,
                idb: indexedDB.databases ? (await indexedDB.databases()).length : 0,
                history: history.length})"""
        )
        assert stored["local"] == 0 and stored["session"] == 0, stored
        assert stored["cookie"] == "" and stored["idb"] == 0, stored
    assert monitor.evaluate("history.length") == length_before
    assert context.cookies() == []
    # back leads to where the browser was before the screen opened (Playwright's about:blank;
    # the kiosk has nothing there), never into the visit
    monitor.go_back()
    assert monitor.url == "about:blank"
    # and the browser was told to keep nothing
    response = monitor.request.get(rig.url("/"))
    assert response.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------------------ outside
def test_outside_board(rig: BoothRig, page: Page, shot: Any) -> None:
    board = open_screen(page, rig, "/outside", page_name=None)
    sign = board.get_by_test_id("sign")
    expect(sign).to_have_text("frei")
    for name in SCREEN["partners"]:
        expect(board.get_by_test_id("partners")).to_contain_text(name)
    measured = board.evaluate(
        """() => { const s = getComputedStyle(document.querySelector('[data-testid=sign]'));
                   const ctx = document.createElement('canvas').getContext('2d');
                   ctx.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
                   return {cap: ctx.measureText('H').actualBoundingBoxAscent,
                           vh: innerHeight}; }"""
    )
    assert measured["cap"] >= 0.10 * measured["vh"], measured
    check_screen(board, "outside-frei", shot)

    rig.begin_visit()
    expect(sign).to_have_text("besetzt")
    check_screen(board, "outside-besetzt", shot)
    rig.end_visit()
    expect(sign).to_have_text("frei")

    rig.inject("maintenance.enter")
    expect(sign).to_have_text("außer Betrieb")
    check_screen(board, "outside-ausser-betrieb", shot)
    rig.inject("maintenance.exit")
    expect(sign).to_have_text("frei")
