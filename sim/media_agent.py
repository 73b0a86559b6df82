"""An agent's media peer in Python (aiortc), speaking the portal's WebSocket protocol.

What the portal's browser does (``cloud_bridge/web/media.js``), for ``lisa sim media-check``,
``lisa bench media`` and tests: on the bridge's ``/api/v1/events`` WebSocket it says
``media.ready`` for its connected call, answers the booth's ``media.offer`` (its camera: a
test pattern; its microphone: a tone), measures what arrives (:class:`VideoProbe` /
:class:`AudioProbe` per received stream), sends real-time text on the ``t140`` channel,
requests stills on the ``lisa`` channel, and watches its own media: nothing from the booth for
``watchdog_s`` → ``media.ready`` again (the booth makes a fresh offer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from booth.media.tracks import AudioProbe, PatternTrack, ToneTrack, VideoProbe

STREAMS = ("audio", "video", "document", "share")


@dataclass
class Still:
    id: str
    size: int
    width: int
    height: int
    data: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class DocResult:
    """The booth's answer to a document sent for signing (and the signed PDF, if any)."""

    id: str
    info: dict[str, Any]
    data: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> str:
        return str(self.info.get("state"))


class AgentMediaPeer:
    """One agent's media for one call. ``ws_send`` sends a JSON dict on the events socket;
    feed every received ``media.*`` item to :meth:`on_message`."""

    def __init__(
        self,
        ws_send: Any,
        *,
        video: tuple[int, int, float] = (640, 480, 25.0),
        watchdog_s: float = 2.0,
        relay_only: bool = False,
    ) -> None:
        self.ws_send = ws_send
        self.video_spec = video
        self.watchdog_s = watchdog_s
        self.relay_only = relay_only
        self.call: str | None = None
        self.pc: RTCPeerConnection | None = None
        self.pc_id: str | None = None
        self.offers = 0
        self.probes: dict[str, VideoProbe | AudioProbe] = {}
        self.camera: PatternTrack | None = None
        self.mic: ToneTrack | None = None
        self.control: RTCDataChannel | None = None
        self.t140: RTCDataChannel | None = None
        self.received_text = ""
        self.states: list[str] = []
        self.devices: dict[str, str] = {}
        self.stopped = asyncio.Event()
        self.first_frame = asyncio.Event()
        self.first_frame_at: float | None = None
        self.ready_at: float | None = None
        self.stills: dict[str, Still] = {}
        self._still: Still | None = None
        self.documents_shown: list[str] = []
        self.results: dict[str, DocResult] = {}
        #: hand-over states the booth reported per document request (delivered, retrying)
        self.handovers: dict[str, list[str]] = {}
        self._result: DocResult | None = None
        self.last_rx = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self.ice_servers: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ control
    async def ready(self, call: str) -> None:
        self.call = call
        self.ready_at = time.monotonic()
        self.stopped.clear()
        await self.ws_send({"type": "media.ready", "call": call})
        if self._watch is None:
            self._watch = asyncio.create_task(self._watchdog())

    async def on_message(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if item.get("call") != self.call:
            return
        if kind == "media.offer":
            await self._answer(item)
        elif kind == "media.state":
            self.states.append(str(item.get("state")))
            self.devices = dict(item.get("devices") or {})
        elif kind == "media.stop":
            await self.close()
            self.stopped.set()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        await self._drop_pc()
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ offer → answer
    async def _answer(self, item: dict[str, Any]) -> None:
        await self._drop_pc()
        self.offers += 1
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in item.get("ice_servers") or []
        ]
        config = RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        if self.relay_only:
            from aiortc.rtcconfiguration import RTCIceTransportPolicy

            config.iceTransportPolicy = RTCIceTransportPolicy.RELAY
        pc = RTCPeerConnection(config)
        self.pc, self.pc_id = pc, str(item["pc"])
        w, h, fps = self.video_spec
        self.camera = PatternTrack(w, h, fps)
        self.mic = ToneTrack(freqs=(600.0, 7200.0))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            index = next(
                (i for i, t in enumerate(pc.getTransceivers()) if t.receiver.track is track), 0
            )
            name = STREAMS[index] if index < len(STREAMS) else f"m{index}"
            probe: VideoProbe | AudioProbe = (
                AudioProbe(freqs=(440.0, 7000.0, 2000.0)) if track.kind == "audio" else VideoProbe()
            )
            self.probes[name] = probe
            self._spawn(self._run_probe(probe, track))

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            if channel.label == "t140":
                self.t140 = channel

                @channel.on("message")
                def on_text(message: str | bytes) -> None:
                    self.last_rx = time.monotonic()
                    if isinstance(message, bytes):
                        message = message.decode("utf-8", "replace")
                    self.received_text += message

            elif channel.label == "lisa":
                self.control = channel
                self._spawn(self._heartbeat(channel))

                @channel.on("message")
                def on_control(message: str | bytes) -> None:
                    try:
                        self._on_control(message)
                    except Exception:  # an exception here would close the connection
                        pass

        await pc.setRemoteDescription(RTCSessionDescription(sdp=item["sdp"], type="offer"))
        for index, transceiver in enumerate(pc.getTransceivers()):
            track = self.mic if index == 0 else self.camera if index == 1 else None
            if track is not None:
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        await self.ws_send(
            {
                "type": "media.answer",
                "call": self.call,
                "pc": self.pc_id,
                "sdp": pc.localDescription.sdp,
            }
        )

    async def _run_probe(self, probe: VideoProbe | AudioProbe, track: MediaStreamTrack) -> None:
        async def note() -> None:
            while True:
                await asyncio.sleep(0.05)
                if probe.frames:
                    self.last_rx = time.monotonic()
                    if isinstance(probe, VideoProbe) and not self.first_frame.is_set():
                        self.first_frame_at = time.monotonic()
                        self.first_frame.set()

        watcher = asyncio.create_task(note())
        try:
            await probe.run(track)
        finally:
            watcher.cancel()

    def _on_control(self, message: str | bytes) -> None:
        self.last_rx = time.monotonic()
        if isinstance(message, bytes):
            if self._result is not None:
                self._result.data.extend(message)
            elif self._still is not None:
                self._still.data.extend(message)
            return
        msg = json.loads(message)
        kind = msg.get("type")
        if kind == "doc.shown":
            self.documents_shown.append(str(msg.get("id")))
            return
        if kind == "doc.result":
            self._result = DocResult(str(msg.get("id")), msg)
            if not msg.get("size"):
                pass  # no PDF follows; doc.result.end comes next
            return
        if kind == "doc.handover":
            self.handovers.setdefault(str(msg.get("id")), []).append(str(msg.get("state")))
            return
        if kind == "doc.result.end" and self._result is not None:
            self.results[self._result.id] = self._result
            self._result.done.set()
            self._result = None
            return
        if kind == "still.begin":
            self._still = Still(
                str(msg["id"]), int(msg["size"]), int(msg["width"]), int(msg["height"])
            )
            self.stills[self._still.id] = self._still
        elif kind == "still.end" and self._still is not None:
            self._still.done.set()
            self._still = None

    async def _heartbeat(self, channel: RTCDataChannel) -> None:
        while channel.readyState in ("connecting", "open"):
            if channel.readyState == "open":
                with contextlib.suppress(Exception):
                    channel.send('{"type":"hb"}')
            await asyncio.sleep(0.5)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            if self.call is None or self.stopped.is_set() or self.last_rx == 0.0:
                continue
            if time.monotonic() - self.last_rx > self.watchdog_s:
                self.last_rx = time.monotonic()  # one request per watchdog period
                await self.ws_send({"type": "media.ready", "call": self.call})

    # ------------------------------------------------------------------ actions
    def type_text(self, text: str) -> None:
        if self.t140 is not None and self.t140.readyState == "open":
            self.t140.send(text)

    async def request_still(self, request: str, timeout: float = 10.0) -> Still:  # noqa: ASYNC109
        assert self.control is not None
        self.control.send(json.dumps({"type": "still", "id": request}))
        deadline = time.monotonic() + timeout
        while request not in self.stills:
            if time.monotonic() > deadline:
                raise TimeoutError("no still")
            await asyncio.sleep(0.02)
        await asyncio.wait_for(self.stills[request].done.wait(), timeout)
        return self.stills[request]

    def send_document(
        self,
        request: str,
        title: str,
        pdf: bytes,
        field: str | None = None,
        page: int | None = None,
        box: tuple[int, int, int, int] | None = None,
    ) -> None:
        """A PDF for the citizen to sign (docs/media.md: doc.begin, chunks, doc.end)."""
        assert self.control is not None
        meta: dict[str, Any] = {
            "type": "doc.begin",
            "id": request,
            "title": title,
            "size": len(pdf),
        }
        if page is not None:
            meta["page"] = page
        if field:
            meta["field"] = field
        if box:
            meta["box"] = list(box)
        self.control.send(json.dumps(meta))
        for i in range(0, len(pdf), 16 * 1024):
            self.control.send(pdf[i : i + 16 * 1024])
        self.control.send(json.dumps({"type": "doc.end", "id": request}))

    def cancel_document(self, request: str) -> None:
        """Withdraw a signature request (until the citizen confirmed)."""
        assert self.control is not None
        self.control.send(json.dumps({"type": "doc.cancel", "id": request}))

    async def wait_result(self, request: str, timeout: float = 30.0) -> DocResult:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while request not in self.results:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no result for document {request}")
            await asyncio.sleep(0.02)
        return self.results[request]

    def share(self, on: bool) -> None:
        if self.control is not None and self.control.readyState == "open":
            self.control.send(json.dumps({"type": "share", "on": on}))

    def live_tracks(self) -> int:
        if self.pc is None:
            return 0
        n = 0
        for t in self.pc.getTransceivers():
            for track in (t.sender.track, t.receiver.track):
                if track is not None and track.readyState == "live":
                    n += 1
        return n

    # ------------------------------------------------------------------ helpers
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_pc(self) -> None:
        pc, self.pc = self.pc, None
        self.probes = {}
        if pc is None:
            return
        for transceiver in pc.getTransceivers():
            if transceiver.sender.track is not None:
                transceiver.sender.track.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pc.close(), 5)
