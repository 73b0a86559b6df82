"""A signature requested in the call, from the agents' portal: Debian's Chromium as the agent
in the real portal ⇄ the simulated booth process (aiortc endpoint, demo signing keys, simulated
pen pad), through the bridge process and Mosquitto (docs/signature.md, "The flow in the call").

* a template of the bridge (``[signing] templates_dir``): picked in "Unterschrift anfordern",
  sent over the call's ``lisa`` data channel → the booth goes ``in_call.signing`` and the page
  says the citizen sees it → the simulated pad signs (``pen.sign``) and the touch display
  confirms (the booth's screen server) → the page shows "Unterschrieben (PAdES B-B)", the
  document's hash and the hand-over; the PDF downloaded from the page (a ``blob:`` URL)
  validates in pyHanko (``verify_pdf``) and poppler's ``pdfsig`` and is the one the booth
  dropped into its DMS folder; axe finds nothing; after the call the blob: URL is revoked;
* an uploaded PDF (``set_input_files``, never stored) to be signed on page 2: the citizen
  declines first (the page says so, nothing signed, nothing in the DMS), "Erneut anfordern"
  sends it again → signed, in a new field on page 2; a file that is no PDF is refused in the
  page.

Screenshots: tests/browser/artifacts/portal-sign-*.png.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from portal_stack import PortalStack, wait_until
from portal_ui import axe_violations, login, new_context

from booth.signing.pdf import blank_pdf
from booth.signing.verify import VerifyReport, verify_pdf

#: every blob: URL the page revokes (the portal's CSP lets no fetch() read a blob: URL)
REVOKED = """(() => {
  window.__revoked = [];
  const revoke = URL.revokeObjectURL.bind(URL);
  URL.revokeObjectURL = (url) => { window.__revoked.push(url); return revoke(url); };
})();"""
#: the bridge's template (file name without .pdf: its name; "_" → " ": its title)
FORM = blank_pdf(3, title="Antrag auf Wohngeld")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalStack]:
    s = PortalStack(tmp_path_factory.mktemp("portal-signing")).start()
    assert s.bridge is not None
    (s.bridge.templates / "Antrag_auf_Wohngeld.pdf").write_bytes(FORM)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def quiet(stack: PortalStack) -> None:
    stack.reset()


@pytest.fixture
def desk(browser: Browser, stack: PortalStack) -> Iterator[Page]:
    """clearing1 logged in, in a call with gartz-01 whose media is connected."""
    ctx: BrowserContext = new_context(browser)
    ctx.add_init_script(REVOKED)
    try:
        page = login(ctx.new_page(), stack.url, "clearing1")
        page.get_by_test_id("status-ready").click()
        stack.api.wait_agent("clearing1", "ready")
        stack.inject("person.enter")
        page.get_by_test_id("offer-accept").click()
        expect(page.get_by_test_id("call-panel")).to_be_visible()
        stack.booth.wait_detail("in_call.talking")
        expect(page.get_by_test_id("media-state")).to_have_attribute("data-state", "connected")
        expect(page.get_by_test_id("sign-send")).to_be_enabled()  # the lisa channel is open
        yield page
    finally:
        ctx.close()


# ------------------------------------------------------------------------------ helpers
def screen(stack: PortalStack, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{stack.booth.screen_url.rstrip('/')}{path}", timeout=30)


def signing_view(stack: PortalStack) -> dict[str, Any]:
    data: dict[str, Any] = screen(stack, "GET", "/api/state").json()["signing"]
    return data


def citizen_signs(stack: PortalStack) -> None:
    """The pad draws a signature, the citizen confirms on the touch display."""
    stack.inject("pen.sign")
    wait_until(
        lambda: (v := signing_view(stack)).get("has_ink") and v["ink_samples"] >= 750,
        "the ink on the pad",
    )
    r = screen(stack, "POST", "/api/signature/confirm")
    assert r.status_code == 200 and r.json()["state"] == "signed", r.text


def verified(pdf: bytes) -> VerifyReport:
    # verify_pdf runs its own event loop (pyHanko): in a thread of its own
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(verify_pdf, pdf).result(60)
    assert report.ok, report.problems
    return report


def pdfsig_valid(pdf: bytes, tmp: Path) -> None:
    if not shutil.which("pdfsig"):
        return
    path = tmp / "signed-check.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60)
    assert "Signature is Valid" in out.stdout, out.stdout + out.stderr


def download(page: Page, name: str | None = None) -> bytes:
    """The signed PDF, downloaded through the page's link (its blob: URL)."""
    with page.expect_download() as info:
        page.get_by_test_id("sign-download").click()
    if name is not None:
        assert info.value.suggested_filename == name
    return Path(info.value.path()).read_bytes()


def field_page(pdf: bytes, field: str) -> int:
    """The page (0-based) whose annotations hold the signature field ``field``."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    pages = reader.root["/Pages"]
    for i in range(int(pages["/Count"])):
        page, _ = reader.find_page_for_modification(i)
        for annot in page.get_object().get("/Annots", []):
            if str(annot.get_object().get("/T")) == field:
                return i
    raise AssertionError(f"no field {field} on any page")


# -------------------------------------------------------------------------------- tests
def test_template_signed_downloaded_and_handed_over(
    stack: PortalStack, desk: Page, shot: Any, tmp_path: Path
) -> None:
    form = FORM
    dms = stack.booth.dms
    before = set(dms.iterdir())

    # the form: a template, the default place (the document's signature field), its title
    panel = desk.get_by_test_id("sign-panel")
    expect(panel).to_contain_text("Unterschrift anfordern")
    expect(desk.get_by_test_id("sign-where-field")).to_be_checked()
    desk.get_by_test_id("sign-template").select_option("Antrag_auf_Wohngeld")
    expect(desk.get_by_test_id("sign-source-template")).to_be_checked()
    expect(desk.get_by_test_id("sign-title")).to_have_value("Antrag auf Wohngeld")
    panel.scroll_into_view_if_needed()
    shot("portal-sign-form", desk)

    desk.get_by_test_id("sign-send").click()
    state = desk.get_by_test_id("sign-state")
    expect(state).to_have_attribute("data-phase", "shown")
    expect(state).to_contain_text("Die Bürgerin / der Bürger sieht das Dokument")
    expect(desk.get_by_test_id("sign-send")).to_have_count(0)  # one request at a time
    stack.booth.wait_detail("in_call.signing")
    view = signing_view(stack)
    assert view["active"] and view["title"] == "Antrag auf Wohngeld"
    assert len(view["pages"]) == 3
    panel.scroll_into_view_if_needed()
    shot("portal-sign-shown", desk)

    citizen_signs(stack)
    result = desk.get_by_test_id("sign-result")
    expect(result).to_have_attribute("data-state", "signed")
    expect(desk.get_by_test_id("sign-result-title")).to_have_text("Unterschrieben (PAdES B-B)")
    expect(desk.get_by_test_id("sign-hash")).to_have_text(hashlib.sha256(form).hexdigest())
    handover = desk.get_by_test_id("sign-handover")
    expect(handover).to_contain_text("an die Akte übergeben")
    # the booth says when the document system has confirmed it
    expect(handover).to_have_attribute("data-state", "delivered", timeout=15000)
    expect(handover).to_contain_text("Dokumentensystem hat es bestätigt")
    expect(desk.get_by_test_id("sign-announce")).to_contain_text("Unterschrieben")
    stack.booth.wait_detail("in_call.talking")
    panel.scroll_into_view_if_needed()
    shot("portal-sign-signed", desk)
    assert axe_violations(desk) == []

    # the signed PDF, downloaded from the page (a blob: URL in the page's memory)
    url = desk.get_by_test_id("sign-download").get_attribute("href")
    assert url and url.startswith("blob:")
    signed = download(desk, "Antrag auf Wohngeld (unterschrieben).pdf")
    assert signed.startswith(b"%PDF-") and signed[: len(form)] == form  # an incremental update
    report = verified(signed)
    assert [s.field for s in report.signatures] == ["Signature1"]
    assert report.signatures[0].level == "B-B"
    pdfsig_valid(signed, tmp_path)

    # … and the booth handed the same PDF over to the document system (and kept no copy)
    dropped = wait_until(
        lambda: [p for p in set(dms.iterdir()) - before if p.suffix == ".pdf"], "the DMS drop"
    )
    assert dropped[0].read_bytes() == signed

    # "Fertig": the form again; the signed document stays listed for this call
    desk.get_by_test_id("sign-done").click()
    expect(desk.get_by_test_id("sign-send")).to_be_enabled()
    expect(desk.get_by_test_id("sign-list")).to_contain_text("Antrag auf Wohngeld")

    # the call ends: the blob: URL is revoked, nothing of the document is left in the page
    desk.get_by_test_id("call-end").click()
    expect(desk.get_by_test_id("wrapup-panel")).to_be_visible()
    expect(desk.get_by_test_id("sign-panel")).to_have_count(0)
    assert url in desk.evaluate("() => window.__revoked")
    stack.inject("person.leave")


def test_upload_on_a_page_declined_then_signed(
    stack: PortalStack, desk: Page, shot: Any, tmp_path: Path
) -> None:
    dms = stack.booth.dms
    before = set(dms.iterdir())
    panel = desk.get_by_test_id("sign-panel")

    # not a PDF: refused in the page, nothing sent
    fake = tmp_path / "notiz.pdf"
    fake.write_bytes(b"Das ist kein PDF.\n")
    desk.get_by_test_id("sign-file").set_input_files(str(fake))
    expect(desk.get_by_test_id("sign-error")).to_contain_text("keine PDF-Datei")

    # an uploaded PDF, to be signed bottom right on page 2
    doc = blank_pdf(3, title="Vollmacht")
    path = tmp_path / "Vollmacht.pdf"
    path.write_bytes(doc)
    desk.get_by_test_id("sign-file").set_input_files(str(path))
    expect(desk.get_by_test_id("sign-source-upload")).to_be_checked()
    expect(desk.get_by_test_id("sign-file-chosen")).to_contain_text("Vollmacht.pdf")
    expect(desk.get_by_test_id("sign-error")).to_have_count(0)
    expect(desk.get_by_test_id("sign-title")).to_have_value("Vollmacht")
    desk.get_by_test_id("sign-page").fill("2")
    expect(desk.get_by_test_id("sign-where-page")).to_be_checked()
    desk.get_by_test_id("sign-send").click()
    expect(desk.get_by_test_id("sign-state")).to_have_attribute("data-phase", "shown")
    stack.booth.wait_detail("in_call.signing")
    assert signing_view(stack)["title"] == "Vollmacht"

    # the citizen declines on the touch display: not signed, said plainly
    r = screen(stack, "POST", "/api/signature/decline")
    assert r.status_code == 200 and r.json()["state"] == "declined", r.text
    result = desk.get_by_test_id("sign-result")
    expect(result).to_have_attribute("data-state", "declined")
    expect(result).to_contain_text("Abgelehnt")
    expect(result).to_contain_text("„Vollmacht“ ist nicht unterschrieben.")
    expect(desk.get_by_test_id("sign-download")).to_have_count(0)
    stack.booth.wait_detail("in_call.talking")
    panel.scroll_into_view_if_needed()
    shot("portal-sign-declined", desk)

    # asked again, then withdrawn by the agent while the citizen looks at it: nothing signed
    desk.get_by_test_id("sign-again").click()
    desk.get_by_test_id("sign-send").click()
    expect(desk.get_by_test_id("sign-state")).to_have_attribute("data-phase", "shown")
    stack.booth.wait_detail("in_call.signing")
    desk.get_by_test_id("sign-withdraw").click()
    result = desk.get_by_test_id("sign-result")
    expect(result).to_have_attribute("data-state", "withdrawn")
    expect(result).to_contain_text("Zurückgezogen")
    stack.booth.wait_detail("in_call.talking")
    assert signing_view(stack)["active"] is False

    # "Erneut anfordern": the same file and place again, one click
    desk.get_by_test_id("sign-again").click()
    expect(desk.get_by_test_id("sign-file-chosen")).to_contain_text("Vollmacht.pdf")
    expect(desk.get_by_test_id("sign-page")).to_have_value("2")
    desk.get_by_test_id("sign-send").click()
    expect(desk.get_by_test_id("sign-state")).to_have_attribute("data-phase", "shown")
    stack.booth.wait_detail("in_call.signing")
    citizen_signs(stack)
    expect(desk.get_by_test_id("sign-result")).to_have_attribute("data-state", "signed")
    signed = download(desk)
    report = verified(signed)
    assert len(report.signatures) == 1
    field = report.signatures[0].field
    assert field == "Unterschrift", field  # a new field the booth made on that page
    assert field_page(signed, field) == 1  # page 2, not the document's own field on page 3
    pdfsig_valid(signed, tmp_path)
    # only the signed one reached the document system
    dropped = wait_until(
        lambda: [p for p in set(dms.iterdir()) - before if p.suffix == ".pdf"], "the DMS drop"
    )
    assert [p.read_bytes() for p in dropped] == [signed]
    desk.get_by_test_id("call-end").click()
    expect(desk.get_by_test_id("wrapup-panel")).to_be_visible()
    stack.inject("person.leave")
