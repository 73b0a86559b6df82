"""The booth screens in a call with live media, in Chromium: a real booth (the real controller on
simulated devices, the simulated central side), its real ``MediaEndpoint`` (aiortc, test
pattern sources, loopback) wired as the daemon wires it, the real screen server, and Python
agent peers (``sim.media_agent.AgentMediaPeer``: real aiortc, a moving test pattern as camera)
whose signalling is relayed in-process as the bridge relays it.

The agent's video moves on the monitor, an interpreter is never smaller than the agent, a
shared screen is large, a muted microphone is said, the picture comes back after a media
outage, the agent's real-time text reaches the monitor within 500 ms, the citizen's keys on the
touch display reach the agent, and after the media stops nothing of it stays on screen.
Screenshots go to tests/browser/artifacts/ (``monitor-media-*``, ``touch-keyboard*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from booth_rig import FAST, BoothRig
from playwright.sync_api import Page, expect

from booth.daemon import BoothDaemon
from booth.media.t140 import RttText
from booth.screen_server import ScreenServer
from hal.clock import LoopClock
from lisa_messages import MediaControl, MediaReport, now_rfc3339
from sim.harness import SimBooth
from sim.media_agent import AgentMediaPeer

# the touch display of tests/browser/test_booth_screens.py: its top is out of reach
SCREEN = {"touch_mounting_height_mm": 1000}
MEDIA = {
    "sources": "test",
    "host_addresses": ["127.0.0.1"],
    "main": {"width": 320, "height": 240, "fps": 10},
    "document": {"width": 640, "height": 360, "fps": 5},
}
AGENT = ("agent:maria", "agent", "Frau Müller")
INTERPRETER = ("guest:inv-1", "interpreter", "Herr Nowak")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE = Axe()


# ------------------------------------------------------------------------------ the bridge
class Bridge:
    """Relays what the cloud bridge relays, in-process: the booth's media reports to the peers'
    pages (``AgentMediaPeer``), their ``media.ready`` / ``media.answer`` back to the booth as
    :class:`MediaControl` for the booth's current session, through the daemon's media handler
    (which ignores media outside the call). A :class:`booth.central.MediaLink`."""

    def __init__(self, rig: MediaRig) -> None:
        self.rig = rig
        self.handler: Callable[[MediaControl], None] | None = None
        self.peers: dict[str, AgentMediaPeer] = {}
        self.joined: dict[str, tuple[str, str]] = {}
        #: while set, the peers' answers are kept back (the booth stays "connecting")
        self.hold_answers = False
        self.held: dict[str, dict[str, Any]] = {}

    # MediaLink
    def bind_media(self, handler: Callable[[MediaControl], None]) -> None:
        self.handler = handler

    def send_media(self, report: MediaReport) -> None:
        agent = self.peers.get(report.peer)
        if agent is None:
            return
        item: dict[str, Any] = {"call": agent.call, "booth": "sim-1"}
        if report.type == "offer":
            item.update(type="media.offer", pc=report.pc, sdp=report.sdp, ice_servers=[])
        elif report.type == "state":
            item.update(type="media.state", state=report.state, devices=report.devices)
        else:
            return
        asyncio.get_running_loop().create_task(agent.on_message(item))

    # the bridge's side
    def control(self, type_: str, **fields: Any) -> None:
        session = self.rig.controller.session
        if session is None:
            return  # no visit: nothing to relay (a late watchdog of a peer's page)
        msg = MediaControl(
            id=uuid.uuid4().hex, session=session.id, type=type_, ts=now_rfc3339(), **fields
        )
        assert self.handler is not None
        self.handler(msg)

    async def join(self, peer: str, role: str, name: str) -> AgentMediaPeer:
        """The peer's page opens: it says ``media.ready``, the bridge lets the booth offer."""

        async def ws_send(item: dict[str, Any]) -> None:
            if item["type"] == "media.ready":
                self.control("join", peer=peer, role=role, name=name)
            elif item["type"] == "media.answer":
                answer = {"peer": peer, "pc": item["pc"], "sdp": item["sdp"]}
                if self.hold_answers:
                    self.held[peer] = answer
                else:
                    self.control("answer", **answer)

        agent = AgentMediaPeer(ws_send, video=(640, 480, 15.0))
        self.peers[peer] = agent
        self.joined[peer] = (role, name)
        await agent.ready(f"call-{peer}")
        return agent

    def release_answers(self) -> None:
        self.hold_answers = False
        for answer in self.held.values():
            self.control("answer", **answer)
        self.held.clear()

    async def leave(self, peer: str) -> None:
        agent = self.peers.pop(peer, None)
        if agent is not None:
            await agent.close()
        if self.rig.controller.session is not None:
            self.control("leave", peer=peer)

    async def close(self) -> None:
        for agent in list(self.peers.values()):
            await agent.close()
        self.peers.clear()
        self.hold_answers = False
        self.held.clear()


# ------------------------------------------------------------------------------ the rig
class MediaRig(BoothRig):
    """booth_rig's booth plus its media endpoint, wired by the daemon's own code
    (``BoothDaemon._media``: media only in the call, all of it stopped when the booth leaves
    ``in_call``), and the screen server showing it."""

    endpoint: Any = None
    bridge: Bridge

    async def _main(self) -> None:
        try:
            self._stop = asyncio.Event()
            self.booth = SimBooth.from_example(LoopClock(), self.overrides)
            await self.booth.start()
            self.bridge = Bridge(self)
            daemon = BoothDaemon(self.booth.config, {}, Path("booth-sim.toml"), sim=True)
            self.endpoint = daemon._media(self.booth.controller, self.bridge)
            assert self.endpoint is not None, "media is not enabled in the booth's config"
            self.server = ScreenServer(
                self.booth.controller, self.booth.config, port=0, media=self.endpoint
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
    def controller(self) -> Any:
        assert self.booth is not None
        return self.booth.controller

    def until(self, check: Callable[[], Any], what: str, within: float = 10.0) -> None:
        """Wait on the booth's loop until ``check()`` holds."""

        async def poll() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + within
            while not check():
                if loop.time() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                await asyncio.sleep(0.02)

        self.call(poll, timeout=within + 5)

    def join(self, peer: tuple[str, str, str]) -> AgentMediaPeer:
        agent: AgentMediaPeer = self.call(lambda: self.bridge.join(*peer))
        return agent

    def connected(self, peer: str) -> None:
        endpoint = self.endpoint
        self.until(
            lambda: peer in endpoint.peers and endpoint.peers[peer].state == "connected",
            f"{peer} connected",
        )


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRig]:
    overrides = {**FAST, "screen": SCREEN, "media": MEDIA}
    booth = MediaRig(overrides, tmp_path_factory.mktemp("booth")).start()
    try:
        yield booth
    finally:
        booth.stop()


@pytest.fixture
def call(rig: MediaRig) -> Iterator[MediaRig]:
    """A citizen in a call with the front desk (no media yet)."""
    rig.back_to_idle()
    rig.begin_visit()
    assert rig.inject("agent.answer") == "answered"
    rig.wait_state("in_call.talking")
    yield rig
    rig.call(rig.bridge.close)
    rig.back_to_idle()
    rig.until(lambda: rig.endpoint.session is None, "the media stopped with the visit")


# ------------------------------------------------------------------------------ helpers
def open_screen(pg: Page, rig: BoothRig, path: str, page_name: str) -> Page:
    pg.goto(rig.url(path))
    pg.wait_for_function("name => document.body.dataset.page === name", arg=page_name)
    return pg


SNAPSHOT_JS = """(sel) => {
  const img = document.querySelector(sel);
  if (!img || !img.complete || img.naturalWidth === 0) return null;
  const c = document.createElement('canvas');
  c.width = 160; c.height = 120;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0, c.width, c.height);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i += 1) h = (h * 31 + d[i]) >>> 0;
  return h;
}"""


def moving(pg: Page, selector: str) -> None:
    """The <img> shows frames (naturalWidth > 0), and they change."""
    pg.wait_for_function(
        f"sel => {{ const s = ({SNAPSHOT_JS})(sel); return s !== null && (window.__first = s); }}",
        arg=selector,
    )
    pg.wait_for_function(
        f"sel => {{ const s = ({SNAPSHOT_JS})(sel); return s !== null && s !== window.__first; }}",
        arg=selector,
    )


#: records when each text of the element first appeared: window.__rttSeen[text] = Date.now()
WATCH_RTT_JS = """id => {
  window.__rttSeen = {};
  const note = () => {
    const p = document.querySelector(`[data-testid="${id}"]`);
    if (p && !(p.textContent in window.__rttSeen)) window.__rttSeen[p.textContent] = Date.now();
  };
  new MutationObserver(note).observe(document.body,
      {subtree: true, childList: true, characterData: true});
  note();
}"""


def box(pg: Page, selector: str) -> dict[str, float]:
    result: dict[str, float] = pg.evaluate(
        """sel => { const r = document.querySelector(sel).getBoundingClientRect();
                    return {x: r.x, y: r.y, w: r.width, h: r.height, bottom: r.bottom,
                            right: r.right}; }""",
        selector,
    )
    return result


def media_on_screen(pg: Page) -> dict[str, int]:
    counts: dict[str, int] = pg.evaluate(
        """() => ({
            imgs: document.querySelectorAll('img').length,
            streams: document.querySelectorAll('[data-stream]').length,
            rtt: document.querySelectorAll('[data-testid=rtt], .rtt').length,
            people: document.querySelectorAll('.pane-person').length,
            placeholders: document.querySelectorAll('[data-testid=video-placeholder]').length,
            keyboard: document.querySelectorAll('[data-testid=keyboard]').length,
            write: document.querySelectorAll('[data-testid=write]').length})"""
    )
    return counts


def no_axe_violations(pg: Page, name: str) -> None:
    result = AXE.run(pg, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    violations = result.response["violations"]
    summary = [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations]
    assert violations == [], f"{name}: axe found WCAG 2.2 AA violations: {summary}"


def rtt_text(raw: str) -> str:
    """What a receiver shows of the raw T.140 the agent got."""
    text = RttText()
    text.feed(raw)
    return text.text


def last_line_visible(pg: Page, testid: str) -> bool:
    """The end of the text (the character being written) is inside its window."""
    visible: bool = pg.evaluate(
        """id => {
          const p = document.querySelector(`[data-testid="${id}"]`);
          const win = p.parentElement.getBoundingClientRect();
          const range = document.createRange();
          const node = p.firstChild;
          range.setStart(node, Math.max(0, node.length - 1));
          range.setEnd(node, node.length);
          const rects = [...range.getClientRects()];
          const last = rects[rects.length - 1];
          return last.top >= win.top - 1 && last.bottom <= win.bottom + 1;
        }""",
        testid,
    )
    return visible


# ------------------------------------------------------------------------------ the monitor
def test_agent_video_moves_and_comes_back(call: MediaRig, page: Page, shot: Any) -> None:
    rig = call
    monitor = open_screen(page, rig, "/", "call")
    # no media yet: the calm placeholder of a call without video
    expect(monitor.get_by_test_id("agent-pane")).to_contain_text("Video folgt")

    # the agent's page opens, the media is being set up: no picture yet, a calm word
    rig.bridge.hold_answers = True
    agent = rig.join(AGENT)
    pane = monitor.get_by_test_id("agent-pane")
    expect(pane.get_by_test_id("video-placeholder")).to_contain_text(
        "Verbindung wird hergestellt …"
    )
    expect(pane.get_by_test_id("video-placeholder")).to_contain_text("Sachbearbeiterin")
    expect(monitor.locator("img")).to_have_count(0)
    shot("monitor-media-connecting", monitor)
    rig.call(rig.bridge.release_answers)
    rig.connected(AGENT[0])

    # the agent's face, full size, moving
    video = "[data-testid=video-agent]"
    expect(monitor.locator(video)).to_be_visible()
    moving(monitor, video)
    expect(pane.locator("figcaption")).to_have_text(
        "Sachbearbeiterin: Frau Müller, Bürgerservice – Empfang"
    )
    stage = box(monitor, "[data-testid=stage]")
    shown = box(monitor, video)
    assert shown["w"] == stage["w"], "the agent alone takes the whole width"
    assert shown["h"] >= 0.6 * 1080, shown
    assert monitor.evaluate("document.querySelector('[data-testid=video-agent]').naturalWidth")
    shot("monitor-media-call", monitor)
    first_src = monitor.locator(video).get_attribute("src")

    # the agent mutes the microphone, then the camera: the monitor says so
    def mute(audio: bool, video: bool) -> None:
        assert agent.control is not None
        control = agent.control
        rig.call(lambda: control.send(json.dumps({"type": "mute", "audio": audio, "video": video})))

    mute(True, False)
    expect(monitor.get_by_test_id("mic-off")).to_have_text("Mikrofon der Sachbearbeiterin ist aus")
    expect(monitor.locator(video)).to_be_visible()
    shot("monitor-media-mic-off", monitor)
    mute(True, True)
    expect(pane.get_by_test_id("video-placeholder")).to_contain_text(
        "Die Kamera der Sachbearbeiterin ist aus"
    )
    expect(monitor.locator("img")).to_have_count(0)
    mute(False, False)
    expect(monitor.get_by_test_id("mic-off")).to_have_count(0)
    moving(monitor, video)

    # the path dies: "recovering", the calm word again; media back: a fresh stream, moving
    src_before = monitor.locator(video).get_attribute("src")
    assert src_before != first_src, "the camera came back on a fresh request"

    def path_dies() -> None:
        assert agent.pc is not None
        for t in agent.pc.getTransceivers():
            if t.sender.track is not None:
                t.sender.track.stop()
        if agent.control is not None:
            with contextlib.suppress(Exception):
                agent.control.close()

    rig.call(path_dies)
    # (recovering lasts a fraction of a second on loopback: watched on every frame)
    said = monitor.wait_for_function(
        """() => { const pane = document.querySelector('[data-testid=agent-pane]');
                   const p = pane && pane.querySelector('[data-testid=video-placeholder]');
                   return pane && pane.dataset.state === 'recovering' && p
                          && !pane.querySelector('img') && p.textContent; }""",
        timeout=8_000,
    ).json_value()
    assert "Verbindung wird hergestellt …" in said and "Sachbearbeiterin" in said, said
    expect(monitor.locator(video)).to_be_visible(timeout=10_000)
    assert monitor.locator(video).get_attribute("src") != src_before
    moving(monitor, video)

    # signing: the instruction, the document large, the agent still in sight
    assert rig.inject("agent.signature") == "signature requested"
    expect(monitor.get_by_test_id("headline")).to_have_text("Bitte unterschreiben Sie")
    expect(monitor.get_by_test_id("document-pane")).to_be_visible()
    moving(monitor, video)
    d, a = box(monitor, "[data-testid=document-pane]"), box(monitor, "[data-testid=agent-pane]")
    assert d["w"] > a["w"], (d, a)
    shot("monitor-media-signing", monitor)
    rig.inject("agent.signature_done")
    expect(monitor.get_by_test_id("document-pane")).to_have_count(0)


def test_interpreter_beside_the_agent_and_a_shared_screen(
    call: MediaRig, page: Page, shot: Any
) -> None:
    rig = call
    monitor = open_screen(page, rig, "/", "call")
    agent = rig.join(AGENT)
    rig.join(INTERPRETER)
    rig.connected(AGENT[0])
    rig.connected(INTERPRETER[0])
    agent_video, interpreter_video = "[data-testid=video-agent]", "[data-testid=video-interpreter]"
    moving(monitor, agent_video)
    moving(monitor, interpreter_video)
    expect(monitor.get_by_test_id("interpreter-pane").locator("figcaption")).to_have_text(
        "Dolmetscherin: Herr Nowak"
    )

    def never_smaller() -> None:
        a = box(monitor, "[data-testid=agent-pane]")
        i = box(monitor, "[data-testid=interpreter-pane]")
        assert i["w"] >= a["w"] - 0.5 and i["h"] >= a["h"] - 0.5, (a, i)
        a, i = box(monitor, agent_video), box(monitor, interpreter_video)
        assert i["w"] * i["h"] >= a["w"] * a["h"] - 1, (a, i)

    never_smaller()
    a, i = box(monitor, "[data-testid=agent-pane]"), box(monitor, "[data-testid=interpreter-pane]")
    assert a["y"] == i["y"] and a["right"] <= i["x"], "side by side, the agent first"
    shot("monitor-media-interpreter", monitor)

    # the agent shares a screen: it fills the document pane, large; the people stay equal.
    # (AgentMediaPeer sends no screen track: its frames are put where received ones go)
    def start_share() -> Any:
        from booth.media.tracks import PatternTrack

        agent.share(True)
        screen = PatternTrack(1280, 720, 5.0)

        async def frames() -> None:
            while True:
                rig.endpoint.video_in(AGENT[0], "share", await screen.recv())

        return asyncio.get_running_loop().create_task(frames())

    sharing = rig.call(start_share)
    try:
        share = "[data-testid=share-video]"
        moving(monitor, share)
        expect(monitor.get_by_test_id("share-pane").locator("figcaption")).to_have_text(
            "Das zeigt Ihnen die Sachbearbeiterin"
        )
        s = box(monitor, share)
        assert s["w"] >= 0.5 * 1920 and s["h"] >= 0.5 * 1080, s
        never_smaller()
        shot("monitor-media-share", monitor)
    finally:
        rig.call(sharing.cancel)
    rig.call(lambda: agent.share(False))
    expect(monitor.get_by_test_id("share-pane")).to_have_count(0)

    # the call is passed on: "Bitte einen Moment"; the agent's picture goes at once, the
    # interpreter (who stays in the call) stays in view
    rig.inject("agent.transfer", queue="wohngeld")
    expect(monitor.get_by_test_id("headline")).to_have_text("Bitte einen Moment")
    expect(monitor.locator(agent_video)).to_have_count(0)
    expect(monitor.get_by_test_id("agent-pane")).to_have_count(0)
    moving(monitor, interpreter_video)
    rig.call(lambda: rig.bridge.leave(AGENT[0]))
    shot("monitor-media-transferring", monitor)
    rig.inject("agent.answer")
    expect(monitor.get_by_test_id("headline")).to_have_text("Sie sind verbunden")
    expect(monitor.locator(interpreter_video)).to_be_visible()
    # the new office's agent joins: the caption says where the call went
    rig.join(("agent:jan", "agent", "Herr Schulz"))
    expect(monitor.get_by_test_id("agent-pane").locator("figcaption")).to_have_text(
        "Sachbearbeiterin: Herr Schulz, Wohngeldstelle"
    )
    moving(monitor, agent_video)
    never_smaller()


# ------------------------------------------------------------------------------ real-time text
def test_real_time_text_both_ways(call: MediaRig, context: Any, page: Page, shot: Any) -> None:
    rig = call
    monitor = open_screen(page, rig, "/", "call")
    touch = open_screen(context.new_page(), rig, "/touch", "call")
    agent = rig.join(AGENT)
    rig.connected(AGENT[0])
    rig.until(lambda: agent.t140 is not None and agent.t140.readyState == "open", "t140 open")
    moving(monitor, "[data-testid=video-agent]")
    mjpeg: list[str] = []
    monitor.on("request", lambda r: mjpeg.append(r.url) if ".mjpg" in r.url else None)

    # the agent types: every character on the monitor within 500 ms. When the text reached the
    # page is taken in the page (a MutationObserver: Playwright's own polling of a page lags by
    # up to a second on a busy machine); the page's clock is this machine's clock
    received = monitor.get_by_test_id("rtt-received-agent-text")
    monitor.evaluate(WATCH_RTT_JS, "rtt-received-agent-text")
    typed = ""
    for ch in "Guten Tag!":
        typed += ch
        typed_at = time.time()
        rig.call(lambda c=ch: agent.type_text(c))
        shown_at = monitor.wait_for_function(
            "text => window.__rttSeen[text]", arg=typed, timeout=5_000
        ).json_value()
        assert shown_at / 1000 - typed_at < 0.5, (ch, shown_at / 1000 - typed_at)
    expect(monitor.get_by_test_id("rtt-received-agent")).to_contain_text(
        "Sachbearbeiterin schreibt:"
    )
    assert mjpeg == [], "typing must not reopen the video stream"

    # a long message: the line being written stays in view, older lines leave at the top
    long = (
        " Ich sehe Ihren Antrag auf Wohngeld. Es fehlt noch die Bescheinigung Ihrer Rente."
        "\u2028Haben Sie den Rentenbescheid dabei? Dann legen Sie ihn bitte unter die Kamera."
    )
    rig.call(lambda: agent.type_text(long))
    expect(received).to_have_text((typed + long).replace("\u2028", "\n"))
    assert last_line_visible(monitor, "rtt-received-agent-text")
    window = box(monitor, ".rtt-received .rtt-window")
    assert window["h"] <= 0.3 * 1080, "the text leaves the video most of the screen"
    assert box(monitor, "[data-testid=video-agent]")["h"] >= 0.5 * 1080

    # the citizen writes on the touch display
    write = touch.get_by_test_id("write")
    expect(write).to_have_text("Schreiben")
    shot("touch-call-media", touch)
    write.click()
    keyboard = touch.get_by_test_id("keyboard")
    expect(keyboard).to_be_visible()
    expect(touch.get_by_test_id("typed-hint")).to_have_text("Tippen Sie auf die Buchstaben.")
    for key in "qwertzuiopüasdfghjklöäyxcvbnmß1234567890":
        expect(touch.get_by_test_id(f"key-{key}")).to_be_visible()
    shot("touch-keyboard-empty", touch)
    no_axe_violations(touch, "touch-keyboard")
    keys_within_reach(rig, touch)

    def tap(testid: str) -> None:
        touch.get_by_test_id(testid).click()

    # a capital at the start of a sentence, as on a telephone; "Groß" for a name
    for key in "guten":
        tap(f"key-{key}")
    tap("key-space")
    tap("key-shift")
    for key in "tagx":
        tap(f"key-{key}")
    tap("key-erase")
    tap("key-newline")
    for key in "frau":
        tap(f"key-{key}")
    tap("key-space")
    tap("key-shift")
    for key in "müller":
        tap(f"key-{key}")
    tap("key-.")
    expected = "Guten Tag\u2028Frau Müller."
    rig.until(lambda: rtt_text(agent.received_text) == expected, f"{expected!r} at the agent")
    expect(touch.get_by_test_id("typed-text")).to_have_text(expected.replace("\u2028", "\n"))
    expect(touch.get_by_test_id("typed-hint")).to_be_hidden()
    sent = monitor.get_by_test_id("rtt-sent")
    expect(sent).to_contain_text("Sie schreiben:")
    expect(monitor.get_by_test_id("rtt-sent-text")).to_have_text(expected.replace("\u2028", "\n"))
    assert last_line_visible(monitor, "rtt-sent-text")
    # received and sent look different: not the same colours
    colours = monitor.evaluate(
        """() => [...document.querySelectorAll('.rtt')].map(e => {
             const s = getComputedStyle(e); return [s.backgroundColor, s.color]; })"""
    )
    assert len(colours) == 2 and colours[0] != colours[1], colours
    assert mjpeg == [], "typing must not reopen the video stream"
    shot("touch-keyboard", touch)
    shot("monitor-media-rtt", monitor)
    no_axe_violations(monitor, "monitor-media-rtt")
    # the largest text size: the text grows, the line being written stays in view, the agent
    # stays in sight
    touch.get_by_test_id("key-done").click()
    for _ in range(4):  # quick taps: each builds on the one before
        touch.get_by_test_id("text-larger").click()
    expect(touch.get_by_test_id("text-size")).to_have_text("200 %")
    monitor.wait_for_function(
        "parseFloat(getComputedStyle(document.documentElement).fontSize) > 40"
    )
    monitor.wait_for_function(
        "document.querySelector('[data-testid=rtt-sent]').dataset.lines === '1'"
    )
    # what the clerk writes keeps two lines, what the citizen writes one
    expect(monitor.get_by_test_id("rtt-received-agent")).to_have_attribute("data-lines", "2")
    assert last_line_visible(monitor, "rtt-sent-text")
    assert last_line_visible(monitor, "rtt-received-agent-text")
    stage, text = box(monitor, "[data-testid=stage]"), box(monitor, "[data-testid=rtt]")
    assert stage["bottom"] <= text["y"], "nothing overlaps"
    caption = box(monitor, "[data-testid=agent-pane] figcaption")
    assert caption["bottom"] <= stage["bottom"] + 0.5, (caption, stage)
    assert box(monitor, "[data-testid=video-agent]")["h"] >= 0.2 * 1080
    shot("monitor-media-rtt-200", monitor)
    touch.get_by_test_id("write").click()

    # "Fertig" closes the keyboard; the text stays on the monitor
    tap("key-done")
    expect(keyboard).to_have_count(0)
    expect(write).to_be_visible()
    expect(monitor.get_by_test_id("rtt-sent-text")).to_have_text(expected.replace("\u2028", "\n"))

    # in Polish: the Polish letters, the Polish words
    touch.get_by_test_id("lang-pl").click()
    expect(write).to_have_text("Pisz")
    write.click()
    expect(touch.get_by_test_id("key-ł")).to_be_visible()
    expect(touch.get_by_test_id("key-erase")).to_have_text("Usuń")
    expect(monitor.get_by_test_id("rtt-sent")).to_contain_text("Państwa tekst:")
    keys_within_reach(rig, touch)
    shot("touch-keyboard-pl", touch)
    tap("key-done")


def keys_within_reach(rig: MediaRig, touch: Page) -> None:
    """Every key at least as large as the other touch controls, inside the reach band."""
    layout = touch.evaluate("fetch('/api/state?screen=touch').then(r => r.json())")["layout"]
    top, bottom = layout["reach_top_px"], layout["reach_bottom_px"]
    assert top > 150
    font = layout["font_px"]
    keys = touch.evaluate(
        """() => [...document.querySelectorAll('[data-testid=keyboard] button')].map(e => {
             const r = e.getBoundingClientRect();
             return {id: e.dataset.testid, top: r.top, bottom: r.bottom, left: r.left,
                     right: r.right, width: r.width, height: r.height,
                     overflow: e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight};
           })"""
    )
    assert len(keys) >= 45
    for k in keys:
        # the touch display's buttons: at least 3 em wide and 2.2 em high (style.css .control)
        assert k["width"] >= 3 * font - 1 and k["height"] >= 2.2 * font - 1, k
        assert k["top"] >= top and k["bottom"] <= bottom, (k, top, bottom)
        assert k["left"] >= 0 and k["right"] <= 1920, k
        assert not k["overflow"], f"the label of {k['id']} does not fit"
    erase = next(k for k in keys if k["id"] == "key-erase")
    letter = next(k for k in keys if k["id"] == "key-a")
    assert erase["width"] >= 2 * letter["width"], "a big backspace"


# ------------------------------------------------------------------------------ the end
def test_nothing_of_the_media_stays_on_screen(
    call: MediaRig, context: Any, page: Page, shot: Any
) -> None:
    rig = call
    monitor = open_screen(page, rig, "/", "call")
    touch = open_screen(context.new_page(), rig, "/touch", "call")
    agent = rig.join(AGENT)
    rig.join(INTERPRETER)
    rig.connected(AGENT[0])
    rig.connected(INTERPRETER[0])
    rig.until(lambda: agent.t140 is not None and agent.t140.readyState == "open", "t140 open")
    rig.call(lambda: agent.type_text("Einen Moment bitte."))
    expect(monitor.get_by_test_id("rtt-received-agent-text")).to_have_text("Einen Moment bitte.")
    touch.get_by_test_id("write").click()
    touch.get_by_test_id("key-j").click()
    expect(monitor.get_by_test_id("rtt-sent-text")).to_have_text("J")
    moving(monitor, "[data-testid=video-interpreter]")

    # the bridge stops all media of the call (revoked, a consultation): all of it goes at once
    rig.call(lambda: rig.bridge.control("stop", reason="revoked"))
    rig.until(lambda: not rig.endpoint.peers, "the media stopped")
    expect(monitor.locator("img")).to_have_count(0)
    expect(monitor.locator(".rtt")).to_have_count(0)
    expect(touch.get_by_test_id("keyboard")).to_have_count(0)
    expect(touch.get_by_test_id("write")).to_have_count(0)
    for pg in (monitor, touch):
        found = media_on_screen(pg)
        assert found == {**found, "imgs": 0, "streams": 0, "rtt": 0, "people": 0}, found
        assert found["keyboard"] == 0 and found["write"] == 0, found
        for text in ("Einen Moment bitte.", "Frau Müller", "Herr Nowak"):
            assert text not in pg.locator("body").inner_text(), text
    assert rig.call(rig.endpoint.live_tracks) == 0
    assert rig.call(rig.endpoint.hub.keys) == []
    expect(monitor.get_by_test_id("agent-pane")).to_contain_text("Video folgt")
    shot("monitor-media-stopped", monitor)

    # media again, then the call ends: the booth stops its media by itself
    rig.call(rig.bridge.close)
    rig.join(AGENT)
    rig.connected(AGENT[0])
    moving(monitor, "[data-testid=video-agent]")
    rig.inject("agent.hangup")
    expect(monitor.get_by_test_id("headline")).to_have_text("Vielen Dank für Ihren Besuch")
    rig.until(lambda: rig.endpoint.session is None and not rig.endpoint.peers, "media stopped")
    expect(monitor.locator("img")).to_have_count(0)
    assert rig.call(rig.endpoint.live_tracks) == 0
