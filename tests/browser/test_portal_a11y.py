"""axe-core on every main screen of the portal, against the real stack (Mosquitto, the bridge
process, a simulated booth process): login (also with its error), the workspace idle, with a
ringing offer, with the call panel, in wrap-up; the overview, the wallboard, the reports (loaded),
the technician's page and the admin's page. No WCAG 2.2 AA violation (wcag2a, wcag2aa, wcag21a,
wcag21aa, wcag22a, wcag22aa). Screenshots: tests/browser/artifacts/portal-a11y-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from portal_stack import PortalStack
from portal_ui import axe_violations, login, new_context


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalStack]:
    s = PortalStack(tmp_path_factory.mktemp("portal-a11y")).start()
    try:
        yield s
    finally:
        s.stop()


def test_every_main_screen_passes_axe(stack: PortalStack, browser: Browser, shot: Any) -> None:
    stack.reset()
    found: dict[str, list[str]] = {}

    def check(page: Page, name: str) -> None:
        shot(f"portal-a11y-{name}", page)
        violations = axe_violations(page)
        if violations:
            found[name] = violations

    ctx = new_context(browser)
    try:
        page = ctx.new_page()
        page.goto(f"{stack.url}/#/login")
        expect(page.get_by_test_id("login-user")).to_be_focused()
        check(page, "login")
        page.get_by_test_id("login-user").fill("clearing1")
        page.get_by_test_id("login-password").fill("falsch-falsch")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()
        check(page, "login-error")

        login(page, stack.url, "clearing1")
        expect(page.get_by_test_id("call-idle")).to_be_visible()
        check(page, "arbeitsplatz-idle")
        page.get_by_test_id("status-ready").click()
        stack.api.wait_agent("clearing1", "ready")
        stack.inject("person.enter")
        expect(page.get_by_test_id("offer-banner")).to_be_visible()
        check(page, "arbeitsplatz-offer")
        page.get_by_test_id("offer-accept").click()
        expect(page.get_by_test_id("call-panel")).to_be_visible()
        expect(page.get_by_test_id("booth-controls")).to_be_visible()
        check(page, "arbeitsplatz-call")
        page.get_by_test_id("door-close").click()
        expect(page.get_by_test_id("cmd-result")).to_contain_text("Tür")
        page.get_by_test_id("call-end").click()
        expect(page.get_by_test_id("wrapup-panel")).to_be_visible()
        check(page, "arbeitsplatz-wrapup")
        page.get_by_test_id("nav-uebersicht").click()
        expect(page.get_by_test_id("page-uebersicht")).to_be_visible()
        check(page, "uebersicht-agent")
    finally:
        ctx.close()
    stack.inject("person.leave")

    ctx = new_context(browser)
    try:
        page = login(ctx.new_page(), stack.url, "admin1")
        expect(page.get_by_test_id("agent-tile-clearing1")).to_be_visible()
        check(page, "uebersicht")
        page.get_by_test_id("nav-wallboard").click()
        expect(page.get_by_test_id("wallboard-updated")).to_contain_text("Stand")
        check(page, "wallboard")
        page.get_by_test_id("nav-berichte").click()
        expect(page.get_by_test_id("report-form")).to_be_visible()
        page.get_by_test_id("report-load").click()
        expect(page.get_by_test_id("report-total")).to_be_visible()
        check(page, "berichte")
        page.get_by_test_id("nav-technik").click()
        expect(page.get_by_test_id("tech-booth-gartz-01")).to_be_visible()
        page.get_by_test_id("tech-faults-gartz-01").click()
        expect(
            page.get_by_test_id("tech-faults-none-gartz-01").or_(
                page.get_by_test_id("tech-faults-table-gartz-01")
            )
        ).to_be_visible()
        check(page, "technik")
        page.get_by_test_id("nav-verwaltung").click()
        expect(page.get_by_test_id("users-table")).to_be_visible()
        page.get_by_test_id("user-pw-clearing1").click()
        expect(page.get_by_test_id("user-pw-input-clearing1")).to_be_visible()
        check(page, "verwaltung")
    finally:
        ctx.close()

    assert found == {}, "axe found WCAG 2.2 AA violations:\n" + "\n".join(
        f"{screen}: {v}" for screen, vs in found.items() for v in vs
    )
