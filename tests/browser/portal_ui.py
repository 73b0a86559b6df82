"""Page helpers for the portal's browser tests: log in, new contexts, the ring recorder, axe.

The ring is observed where the sound is made: an init script wraps the page's
``AudioContext.createOscillator`` and records every tone started (frequency, time, the audio
context's state), so a test sees the 880 / 660 Hz two-tone ring really being played (and
stopping) without the front end exposing anything for tests.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect
from portal_stack import PASSWORD

DEFAULT_TIMEOUT_MS = 15_000  # as the conftest's contexts
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE = Axe()
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)  # a real stack: processes, broker, back-off

TONE_RECORDER = """
(() => {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  window.__lisaTones = [];
  if (!Ctx) return;
  const create = Ctx.prototype.createOscillator;
  Ctx.prototype.createOscillator = function () {
    const osc = create.call(this);
    const start = osc.start.bind(osc);
    const ctx = this;
    osc.start = (when) => {
      window.__lisaTones.push({ f: osc.frequency.value, t: performance.now(), state: ctx.state });
      return start(when);
    };
    return osc;
  };
})();
"""


def new_context(browser: Browser, **kw: Any) -> BrowserContext:
    """A context like the ``context`` fixture's (1920 × 1080, de-DE), with the ring recorder."""
    ctx = browser.new_context(
        viewport={"width": 1920, "height": 1080}, device_scale_factor=1, locale="de-DE", **kw
    )
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.add_init_script(TONE_RECORDER)
    return ctx


def login(page: Page, base: str, name: str, password: str = PASSWORD) -> Page:
    """Log in through the login form; wait for the signed-in shell with a live event stream."""
    page.goto(f"{base}/#/login")
    page.get_by_test_id("login-user").fill(name)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_be_visible()
    expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "open")
    return page


def open_as(browser: Browser, base: str, name: str) -> Page:
    """A fresh context logged in as ``name`` (closed with the test: see ``contexts``)."""
    page = new_context(browser).new_page()
    return login(page, base, name)


def tones(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("() => window.__lisaTones || []")
    return found


def wait_rings(page: Page, count: int = 4) -> list[dict[str, Any]]:
    """Wait until at least ``count`` tones were played (2 per ring, a ring every 2 s)."""
    page.wait_for_function("n => (window.__lisaTones || []).length >= n", arg=count)
    return tones(page)


def ring_stopped(page: Page, since_ms: float) -> list[dict[str, Any]]:
    """Wait one ring period (2 s) plus a margin after ``since_ms`` (the page's clock); return
    the tones started after ``since_ms``: none when the ring stopped."""
    page.wait_for_function("t => performance.now() > t + 2600", arg=since_ms)
    return [x for x in tones(page) if x["t"] > since_ms + 50]


def page_now(page: Page) -> float:
    now: float = page.evaluate("() => performance.now()")
    return now


def axe_violations(page: Page) -> list[str]:
    result = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']][:4]}"
        for v in result.response["violations"]
    ]
