"""Browser tests: Debian's Chromium, headless, driven by Playwright for Python (sync API).

Generic fixtures, shared by every browser test (booth screens, the agents' portal):

* ``browser``: ONE Chromium per test module (module scope; starting it costs ~1 s), with the
  live-media flags (``MEDIA_ARGS``: the portal's workspace has WebRTC media in every call);
* ``context``: a fresh, isolated browser context per test (no cookies or storage carried over),
  viewport from the ``viewport`` fixture (override it in a module: 1920 × 1080 by default);
* ``page``: a page in that context;
* ``shot(name, page=None)``: saves a full-viewport screenshot to ``tests/browser/artifacts/``
  (gitignored) and returns its path; look at them.

The server under test runs in a thread of its own (the sync Playwright API cannot run inside an
asyncio loop); wait on events (``expect(...)``, ``page.wait_for_function``), never sleep.
Chromium is Debian's (``apt-get install chromium``); ``playwright install`` is never needed.
Without it the tests are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("LISA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
#: keep Chromium off the network and quiet (recipes: it tries hosts this machine cannot reach)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
#: live media (recipes "WebRTC"): fake camera / microphone / screen without a permission prompt,
#: ICE on loopback (the simulated booths offer 127.0.0.1 only) with plain IP candidates. The
#: portal's workspace starts the call's media by itself (docs/media.md): without these a booth
#: reports its agent unreachable after ``connect_timeout_s`` and the ACD takes the call away.
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
DEFAULT_TIMEOUT_MS = 15_000

Shot = Callable[..., Path]


def launch_chromium(args: list[str]) -> Iterator[object]:
    """Debian's Chromium, headless, with ``args``; skips the test without it."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found (Debian package 'chromium')")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch_chromium([*CHROMIUM_ARGS, *MEDIA_ARGS])


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1920, "height": 1080}


@pytest.fixture
def context(browser: object, viewport: dict[str, int]) -> Iterator[object]:
    ctx = browser.new_context(  # type: ignore[attr-defined]
        viewport=viewport, device_scale_factor=1, locale="de-DE"
    )
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: object) -> object:
    return context.new_page()  # type: ignore[attr-defined]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``shot("monitor-welcome")`` saves the default page; ``shot(name, other_page)`` another."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, target: object | None = None) -> Path:
        pg = target if target is not None else request.getfixturevalue("page")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        path = ARTIFACTS / f"{safe}.png"
        pg.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path

    return take


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: a test that drives Chromium")
