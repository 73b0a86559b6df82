"""The booth's WebRTC endpoint (aiortc): one peer connection per remote peer of the call.

The booth always makes the offer. Its offer has five m-lines, in this order (docs/media.md):

====  =======  ==========  ==============================================================
mid   kind     direction   what
====  =======  ==========  ==============================================================
0     audio    sendrecv    booth microphone ⇄ the peer's microphone
1     video    sendrecv    booth main camera ⇄ the peer's camera
2     video    sendonly    booth document camera
3     video    recvonly    the peer's shared screen ("whiteboard")
4     data     —           ``t140`` (real-time text, RFC 8865) and ``lisa`` (control, stills)
====  =======  ==========  ==============================================================

A remote peer (the agent, an interpreter, a second clerk) is announced by the bridge with a
``join`` (:class:`lisa_messages.MediaControl`); the booth answers with a complete offer (no trickle
ICE: aiortc gathers before it returns). Several peers get one connection each (a mesh from the
booth): the sources are produced once and fanned out, each connection encodes for itself.

aiortc has no ICE restart and notices a dead path only after ~30 s, so each peer is watched:
every packet of media and the peer's heartbeat on the ``lisa`` channel count as "alive"; nothing
for ``watchdog_s`` → ``recovering`` and a fresh connection is negotiated (a new attempt every
``retry_s`` until media flows again). A new peer that gets no media within
``connect_timeout_s`` is reported ``unreachable``; the bridge offers the call elsewhere.

Nothing is recorded: frames go to the booth screen (latest frame only, in memory) and the
speaker; stills and typed text live in memory for the call and are dropped at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from booth.media.config import MediaConfig
from booth.media.display import FrameHub
from booth.media.mixer import AudioMixer
from booth.media.sources import MediaSources
from booth.media.stills import still_jpeg
from booth.media.t140 import RttConversation, RttText
from lisa_messages import IceServer, MediaControl, MediaReport, now_rfc3339

if TYPE_CHECKING:  # aiortc and av load only when a call has media (~0.6 s, ~60 MB)
    from aiortc import (
        MediaStreamTrack,
        RTCConfiguration,
        RTCDataChannel,
        RTCPeerConnection,
        RTCRtpTransceiver,
    )

log = logging.getLogger("lisa.booth.media")

Send = Callable[[MediaReport], None]

T140_LABEL = "t140"
CONTROL_LABEL = "lisa"
HEARTBEAT_S = 0.5
STILL_CHUNK = 16 * 1024
#: how long closing a connection may take before it is abandoned (recipes: ``pc.close()``
#: blocks for 30-64 s while a TURN server is unreachable)
CLOSE_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 3


def _ice(servers: list[IceServer], relay_only: bool = False) -> RTCConfiguration:
    """One transport for all five m-lines (max-bundle: with aiortc's default "balanced" a
    second video m-line can end up on a transport the answer does not use); ``relay_only``:
    TURN relay candidates only (``[media] relay_only``)."""
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers
        ],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceTransportPolicy=(
            RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        ),
    )


@dataclass
class Attempt:
    """One RTCPeerConnection towards a peer (a peer may go through several)."""

    id: str
    pc: RTCPeerConnection
    started: float
    offered: bool = False
    answered: bool = False
    last_rx: float = 0.0
    transceivers: dict[str, RTCRtpTransceiver] = field(default_factory=dict)
    control: RTCDataChannel | None = None
    t140: RTCDataChannel | None = None
    dropped: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass
class StreamStats:
    frames: int = 0
    first_at: float | None = None
    last_at: float | None = None


class PeerMedia:
    """The media with one remote peer: its attempts, watchdog and what it shows."""

    def __init__(
        self,
        endpoint: MediaEndpoint,
        peer: str,
        role: str,
        name: str,
        ice_servers: list[IceServer],
    ) -> None:
        self.endpoint = endpoint
        self.peer = peer
        self.role = role
        self.name = name
        self.ice_servers = ice_servers
        self.state = "connecting"
        self.joined_at = time.monotonic()
        self.ever_connected = False
        self.unreachable_sent = False
        self.current: Attempt | None = None
        self.attempts: dict[str, Attempt] = {}
        self.sharing = False
        self.muted: dict[str, bool] = {"audio": False, "video": False}
        self.stats: dict[str, StreamStats] = {}
        self.text_in = RttText()
        self._doc: dict[str, Any] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._last_attempt_at = 0.0
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.new_attempt()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"media-{self.peer}")

    def rejoin(self, ice_servers: list[IceServer]) -> None:
        """The peer asks for a fresh offer (page reload, its own watchdog)."""
        self.ice_servers = ice_servers or self.ice_servers
        now = time.monotonic()
        if any(not a.offered and now - a.started < 0.5 for a in self.attempts.values()):
            return  # an offer is being made: it will reach the peer that asked
        # the peer has given up its connection (reloaded, or its watchdog fired): ours are dead
        # too; stray packets of them must not count as media any more
        for attempt in list(self.attempts.values()):
            if attempt.offered:
                attempt.dropped = True
                self._spawn_detached(self._drop(attempt))
        if self.state == "connected":
            self._set_state("recovering", "the peer asked for a new connection")
        self.new_attempt()

    async def close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        for attempt in list(self.attempts.values()):
            await self._drop(attempt)
        self.attempts.clear()
        self.current = None
        self.state = "closed"
        self.endpoint.report(self.peer, "state", state="closed", reason=reason)

    # ------------------------------------------------------------------ attempts
    def new_attempt(self) -> None:
        if self._closed:
            return
        pending = [a for a in self.attempts.values() if not a.offered]
        if len(pending) >= MAX_ATTEMPTS:
            return
        from aiortc import RTCPeerConnection

        self._last_attempt_at = time.monotonic()
        attempt = Attempt(
            id=uuid.uuid4().hex[:12],
            pc=RTCPeerConnection(_ice(self.ice_servers, self.endpoint.config.relay_only)),
            started=time.monotonic(),
        )
        self.attempts[attempt.id] = attempt
        self._spawn(attempt, self._offer(attempt))

    async def _offer(self, attempt: Attempt) -> None:
        pc = attempt.pc
        src = self.endpoint.sources
        relay = self.endpoint.relay
        audio = pc.addTransceiver("audio", direction="sendrecv")
        main = pc.addTransceiver("video", direction="sendrecv")
        doc = pc.addTransceiver("video", direction="sendonly")
        share = pc.addTransceiver("video", direction="recvonly")
        attempt.transceivers = {"audio": audio, "video": main, "document": doc, "share": share}
        for transceiver, track in (
            (audio, src.audio),
            (main, src.main),
            (doc, src.document),
        ):
            if track is not None:
                transceiver.sender.replaceTrack(relay.subscribe(track, buffered=False))
        attempt.control = pc.createDataChannel(CONTROL_LABEL, ordered=True)
        attempt.t140 = pc.createDataChannel(T140_LABEL, ordered=True, protocol="t140")
        self._wire(attempt)
        try:
            await asyncio.wait_for(
                pc.setLocalDescription(await pc.createOffer()), self.endpoint.config.retry_s * 4
            )
        except (TimeoutError, Exception) as exc:  # gathering stalled (TURN down) or failed
            log.warning("media offer failed", extra={"peer": self.peer, "error": repr(exc)})
            await self._drop(attempt)
            return
        if self._closed or attempt.id not in self.attempts:
            return
        newer = self.current is not None and self.current.started > attempt.started
        if newer:
            await self._drop(attempt)  # a later attempt has already been offered
            return
        old = self.current
        self.current = attempt
        attempt.offered = True
        self.endpoint.report(self.peer, "offer", pc=attempt.id, sdp=pc.localDescription.sdp)
        if old is not None and old is not attempt and self.state != "connected":
            await self._drop(old)

    async def answer(self, pc_id: str, sdp: str) -> None:
        attempt = self.attempts.get(pc_id)
        if attempt is None or attempt is not self.current:
            log.info("stale media answer ignored", extra={"peer": self.peer, "pc": pc_id})
            return
        if attempt.answered:
            return
        attempt.answered = True
        from aiortc import RTCSessionDescription

        try:
            await attempt.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            log.warning("media answer refused", extra={"peer": self.peer, "error": repr(exc)})
            await self._drop(attempt)
            self.new_attempt()

    def _wire(self, attempt: Attempt) -> None:
        pc = attempt.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            stream = "audio"
            for name, t in attempt.transceivers.items():
                if t.receiver.track is track:
                    stream = name
            self._spawn(attempt, self._consume(attempt, stream, track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and attempt is self.current:
                if self.state == "connected":
                    self._set_state("recovering", f"connection {pc.connectionState}")

        control = attempt.control
        t140 = attempt.t140
        assert control is not None and t140 is not None

        @control.on("open")
        def on_open() -> None:
            self._spawn(attempt, self._heartbeat(attempt, control))

        @control.on("message")
        def on_control(message: str | bytes) -> None:
            try:
                self._alive(attempt)
                if isinstance(message, str):
                    self._on_control(attempt, json.loads(message))
                else:
                    self._doc_chunk(message)
            except Exception as exc:  # an exception here would close the connection
                log.warning("bad control message", extra={"peer": self.peer, "error": repr(exc)})

        @t140.on("message")
        def on_text(message: str | bytes) -> None:
            try:
                self._alive(attempt)
                self.text_in.feed(message)
                self.endpoint.changed()
            except Exception as exc:
                log.warning("bad t140 message", extra={"peer": self.peer, "error": repr(exc)})

    async def _consume(self, attempt: Attempt, stream: str, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError

        stats = self.stats.setdefault(stream, StreamStats())
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            self._alive(attempt)
            if attempt is not self.current:
                continue
            stats.frames += 1
            stats.last_at = now
            if stats.first_at is None:
                stats.first_at = now
            if stream == "audio":
                self.endpoint.mixer.push(self.peer, frame)
            else:
                self.endpoint.video_in(self.peer, stream, frame)

    async def _heartbeat(self, attempt: Attempt, channel: RTCDataChannel) -> None:
        while channel.readyState == "open":
            with contextlib.suppress(Exception):
                channel.send('{"type":"hb"}')
            await asyncio.sleep(HEARTBEAT_S)

    def _alive(self, attempt: Attempt) -> None:
        if attempt.dropped:
            return
        attempt.last_rx = time.monotonic()
        if attempt is not self.current:
            current = self.current
            if (
                attempt.offered
                and attempt.answered
                and (current is None or attempt.started > current.started or not current.answered)
            ):
                # this connection works while the current one has not answered: keep it
                self.current = attempt
            else:
                return
        if self.state != "connected":
            first = not self.ever_connected
            self.ever_connected = True
            self._set_state("connected", "")
            if first:
                log.info(
                    "media connected",
                    extra={
                        "peer": self.peer,
                        "setup_ms": round((time.monotonic() - self.joined_at) * 1000),
                    },
                )
            for other in list(self.attempts.values()):
                if other is not attempt and other.started < attempt.started:
                    other.dropped = True
                    self._spawn_detached(self._drop(other))

    def _on_control(self, attempt: Attempt, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "hb":
            return
        if kind == "share":
            self.sharing = bool(msg.get("on"))
            self.endpoint.changed()
        elif kind == "mute":
            for key in ("audio", "video"):
                if isinstance(msg.get(key), bool):
                    self.muted[key] = msg[key]
            self.endpoint.changed()
        elif kind == "doc.begin":
            self._doc_begin(msg)
        elif kind == "doc.end":
            self._doc_end(msg)
        elif kind == "doc.cancel":
            self._doc = None  # a document still arriving is dropped too
            self.endpoint.document_cancelled(self.peer, str(msg.get("id", ""))[:64])
        elif kind == "still":
            request = str(msg.get("id", ""))[:64]
            if attempt.control is not None:
                self._spawn(attempt, self._send_still(attempt.control, request))

    async def _send_still(self, channel: RTCDataChannel, request: str) -> None:
        try:
            jpeg, width, height = await self.endpoint.still()
        except Exception as exc:
            channel.send(json.dumps({"type": "still.error", "id": request, "error": str(exc)}))
            return
        channel.send(
            json.dumps(
                {
                    "type": "still.begin",
                    "id": request,
                    "mime": "image/jpeg",
                    "size": len(jpeg),
                    "width": width,
                    "height": height,
                }
            )
        )
        for i in range(0, len(jpeg), STILL_CHUNK):
            channel.send(jpeg[i : i + STILL_CHUNK])
        channel.send(json.dumps({"type": "still.end", "id": request}))

    # ------------------------------------------------------------------ documents to sign
    def _doc_begin(self, msg: dict[str, Any]) -> None:
        limit = self.endpoint.max_document_bytes
        size = msg.get("size")
        if not isinstance(size, int) or not 0 < size <= limit:
            self._refuse_document(msg.get("id"), f"size must be 1..{limit} bytes", "too_large")
            return
        self._doc = {"meta": msg, "data": bytearray(), "size": size}

    def _doc_chunk(self, chunk: bytes) -> None:
        doc = self._doc
        if doc is None:
            return
        doc["data"].extend(chunk)
        if len(doc["data"]) > doc["size"]:
            self._doc = None
            self._refuse_document(doc["meta"].get("id"), "more data than announced", "transfer")

    def _doc_end(self, msg: dict[str, Any]) -> None:
        doc, self._doc = self._doc, None
        if doc is None or str(msg.get("id")) != str(doc["meta"].get("id")):
            return
        if len(doc["data"]) != doc["size"]:
            self._refuse_document(msg.get("id"), "incomplete document", "transfer")
            return
        self.endpoint.document_in(self.peer, doc["meta"], bytes(doc["data"]))

    def _refuse_document(self, request: Any, reason: str, code: str) -> None:
        item = {"type": "doc.result", "id": str(request or "")[:64], "state": "refused"}
        self.send_document({**item, "reason": reason, "code": code}, None)

    def _send_control(self, item: dict[str, Any]) -> None:
        attempt = self.current
        channel = attempt.control if attempt is not None else None
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(item))

    def send_document(self, item: dict[str, Any], pdf: bytes | None) -> None:
        """``doc.result`` (state signed/declined/voided/failed/refused), then the signed PDF
        in chunks and ``doc.result.end``."""
        attempt = self.current
        channel = attempt.control if attempt is not None else None
        if channel is None or channel.readyState != "open":
            return
        channel.send(json.dumps({**item, "size": len(pdf) if pdf else 0}))
        if pdf:
            for i in range(0, len(pdf), STILL_CHUNK):
                channel.send(pdf[i : i + STILL_CHUNK])
        channel.send(json.dumps({"type": "doc.result.end", "id": item.get("id")}))

    def send_text(self, data: bytes) -> None:
        attempt = self.current
        if attempt is not None and attempt.t140 is not None and attempt.t140.readyState == "open":
            attempt.t140.send(data.decode("utf-8"))

    # ------------------------------------------------------------------ watchdog
    async def _supervise(self) -> None:
        cfg = self.endpoint.config
        while not self._closed:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            current = self.current
            last = max((a.last_rx for a in self.attempts.values()), default=0.0)
            if self.state == "connected":
                if now - last > cfg.watchdog_s:
                    self._set_state("recovering", f"no media for {cfg.watchdog_s:g} s")
                    self.new_attempt()
                continue
            if not self.ever_connected and now - self.joined_at > cfg.connect_timeout_s:
                if not self.unreachable_sent:
                    self.unreachable_sent = True
                    log.warning("media peer unreachable", extra={"peer": self.peer})
                    self.endpoint.report(
                        self.peer,
                        "unreachable",
                        reason=f"no media within {cfg.connect_timeout_s:g} s",
                    )
                continue
            if now - self._last_attempt_at >= cfg.retry_s and (
                current is None or now - current.started >= cfg.retry_s
            ):
                self.new_attempt()
            for attempt in list(self.attempts.values()):
                if attempt is not current and now - attempt.started > cfg.retry_s * 4:
                    self._spawn_detached(self._drop(attempt))

    def _set_state(self, state: str, reason: str) -> None:
        if state == self.state:
            return
        self.state = state
        current = self.current
        self.endpoint.report(
            self.peer,
            "state",
            state=state,
            pc=current.id if current is not None else None,
            reason=reason or None,
        )
        self.endpoint.changed()

    # ------------------------------------------------------------------ helpers
    def _spawn(self, attempt: Attempt, coro: Any) -> None:
        task = asyncio.create_task(coro)
        attempt.tasks.add(task)
        task.add_done_callback(attempt.tasks.discard)

    def _spawn_detached(self, coro: Any) -> None:
        self.endpoint.spawn(coro)

    async def _drop(self, attempt: Attempt) -> None:
        attempt.dropped = True
        self.attempts.pop(attempt.id, None)
        if self.current is attempt:
            self.current = None
        for task in list(attempt.tasks):
            task.cancel()
        for transceiver in attempt.pc.getTransceivers():
            track = transceiver.sender.track
            if track is not None:
                track.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(attempt.pc.close(), CLOSE_TIMEOUT_S)


class MediaEndpoint:
    """All media of the booth's current call. ``send`` publishes a :class:`MediaReport`
    (the MQTT link's ``media/out``); ``on_change`` tells the booth screens."""

    def __init__(
        self,
        config: MediaConfig,
        devices: Mapping[str, Any],
        send: Send,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.devices = devices
        self.send = send
        self.on_change = on_change
        self.session: str | None = None
        self.peers: dict[str, PeerMedia] = {}
        self.sources = MediaSources(config, devices, self._device_health)
        self._relay: Any = None
        self.hub = FrameHub(max_fps=config.display_fps)
        self.mixer = AudioMixer(devices.get("audio"))
        self.rtt = RttConversation()
        self.device_state: dict[str, str] = {}
        #: the booth's signing: gets (peer, meta, pdf) of a document the agent sent to sign
        self.on_document: Callable[[str, dict[str, Any], bytes], None] | None = None
        #: … and (peer, request id) when the agent withdraws it
        self.on_document_cancel: Callable[[str, str], None] | None = None
        self.max_document_bytes = 20 * 1024 * 1024
        #: test hook: every received video frame (peer, stream, frame)
        self.frame_observers: list[Callable[[str, str, Any], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        if config.host_addresses:
            _restrict_host_addresses(config.host_addresses)

    @property
    def relay(self) -> Any:
        """aiortc's MediaRelay: each source captured once, fanned out to every connection."""
        if self._relay is None:
            from aiortc.contrib.media import MediaRelay

            self._relay = MediaRelay()
        return self._relay

    # ------------------------------------------------------------------ from the bridge
    async def handle(self, msg: MediaControl) -> None:
        if not self.config.enabled:
            return
        if msg.type == "stop":
            if self.session in (None, msg.session):
                await self.stop_all(msg.reason or "stopped by the bridge")
            return
        if msg.type == "join":
            if self.session is not None and self.session != msg.session:
                await self.stop_all("a new session")
            self.session = msg.session
        elif msg.session != self.session:
            log.info("media message for another session ignored", extra={"type": msg.type})
            return
        assert msg.peer is not None
        peer = self.peers.get(msg.peer)
        if msg.type == "join":
            if peer is None:
                if not self.sources.started:
                    self.sources.start()
                    self.mixer.start()
                peer = PeerMedia(
                    self, msg.peer, msg.role or "agent", msg.name or "", msg.ice_servers
                )
                self.peers[msg.peer] = peer
                peer.start()
                self.changed()
            else:
                peer.rejoin(msg.ice_servers)
        elif msg.type == "answer" and peer is not None:
            assert msg.pc is not None and msg.sdp is not None
            await peer.answer(msg.pc, msg.sdp)
        elif msg.type == "leave" and peer is not None:
            del self.peers[msg.peer]
            await peer.close(msg.reason or "left")
            self.hub.drop_prefix(msg.peer)
            self.changed()

    def allowed_session(self, session: str | None) -> None:
        """The controller's current session: media of any other session stops at once."""
        if session != self.session and self.session is not None:
            self.spawn(self.stop_all("the session ended"))

    async def stop_all(self, reason: str) -> None:
        """Every peer connection closed, every source stopped, the screen's frames dropped."""
        peers = list(self.peers.values())
        self.peers.clear()
        await asyncio.gather(*(p.close(reason) for p in peers), return_exceptions=True)
        self.sources.stop()
        self.mixer.stop()
        self.hub.clear()
        self.rtt = RttConversation()
        self.device_state.clear()
        if self.session is not None:
            log.info("media stopped", extra={"reason": reason})
        self.session = None
        self.changed()

    async def close(self) -> None:
        await self.stop_all("booth stopping")
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ for the peers
    def report(self, peer: str, type_: str, **fields: Any) -> None:
        if self.session is None:
            return
        fields = {k: v for k, v in fields.items() if v is not None}
        if type_ == "state":
            fields.setdefault("devices", dict(self.device_state))
        try:
            self.send(
                MediaReport(
                    id=uuid.uuid4().hex,
                    session=self.session,
                    type=type_,
                    peer=peer,
                    ts=now_rfc3339(),
                    **fields,
                )
            )
        except Exception:
            log.exception("media report not sent", extra={"type": type_})

    def video_in(self, peer: str, stream: str, frame: Any) -> None:
        self.hub.publish(f"{peer}/{stream}", frame)
        for observer in self.frame_observers:
            observer(peer, stream, frame)

    def document_in(self, peer: str, meta: dict[str, Any], pdf: bytes) -> None:
        if self.on_document is None:
            p = self.peers.get(peer)
            if p is not None:
                p._refuse_document(meta.get("id"), "this booth does not sign documents", "no_pad")
            return
        self.on_document(peer, meta, pdf)

    def document_cancelled(self, peer: str, request: str) -> None:
        if self.on_document_cancel is not None:
            self.on_document_cancel(peer, request)

    def send_control(self, peer: str, item: dict[str, Any]) -> None:
        p = self.peers.get(peer)
        if p is not None:
            p._send_control(item)

    def send_document(self, peer: str, item: dict[str, Any], pdf: bytes | None) -> None:
        p = self.peers.get(peer)
        if p is not None:
            p.send_document(item, pdf)

    def send_text(self, text: str) -> None:
        """The citizen typed (the touch display): to every peer as T.140."""
        self._send_t140(self.rtt.send_text(text))

    def send_erase(self, n: int = 1) -> None:
        self._send_t140(self.rtt.send_erase(n))

    def _send_t140(self, data: bytes) -> None:
        for peer in self.peers.values():
            peer.send_text(data)
        self.changed()

    async def still(self) -> tuple[bytes, int, int]:
        return await still_jpeg(self.sources, self.devices)

    def changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("media change listener failed")

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _device_health(self, slot: str, ok: bool, reason: str) -> None:
        self.device_state[slot] = "ok" if ok else "unavailable"
        for peer in self.peers.values():
            self.report(
                peer.peer,
                "state",
                state=peer.state,
                reason=None if ok else f"{slot}: {reason}",
            )
        self.changed()

    # ------------------------------------------------------------------ for the screens
    def view(self) -> dict[str, Any]:
        """What the booth screens show: peers (the interpreter never smaller than the agent),
        the shared screen, the real-time text."""
        peers = []
        share = None
        for p in self.peers.values():
            peers.append(
                {
                    "id": p.peer,
                    "role": p.role,
                    "name": p.name,
                    "state": p.state,
                    "video": f"/media/stream/{p.peer}/video.mjpg",
                    "muted": dict(p.muted),
                }
            )
            if p.sharing and share is None:
                share = f"/media/stream/{p.peer}/share.mjpg"
        return {
            "active": bool(self.peers),
            "peers": peers,
            "share": share,
            "rtt": {
                "received": [
                    {"peer": p.peer, "name": p.name, "role": p.role, "text": p.text_in.text}
                    for p in self.peers.values()
                    if p.text_in.text
                ],
                "sent": self.rtt.sent.text,
            },
            "devices": dict(self.device_state),
        }

    def stats(self) -> dict[str, Any]:
        """Frame counts and rates of what the booth receives (no content): for the media
        check and the benchmarks."""
        now = time.monotonic()
        peers: dict[str, Any] = {}
        video_fps = 0.0
        for p in self.peers.values():
            streams = {}
            for name, st in p.stats.items():
                span = (st.last_at or now) - (st.first_at or now)
                fps = (st.frames - 1) / span if span > 0 and st.frames > 1 else 0.0
                streams[name] = {"frames": st.frames, "fps": round(fps, 1)}
                if name == "video" and p.role == "agent":
                    video_fps = fps
            peers[p.peer] = {"state": p.state, "streams": streams}
        return {
            "active": bool(self.peers),
            "peers": peers,
            "agent_video_fps": round(video_fps, 1),
            "agent_audio_frames": sum(self.mixer.frames_in.values()),
            "speaker_blocks": self.mixer.blocks_out,
            "display": self.hub.stats(),
            "live_tracks": self.live_tracks(),
        }

    def live_tracks(self) -> int:
        """How many tracks are still live (0 after :meth:`stop_all`; checked by the tests)."""
        n = self.sources.live()
        for p in self.peers.values():
            for a in p.attempts.values():
                for t in a.pc.getTransceivers():
                    for track in (t.sender.track, t.receiver.track):
                        if track is not None and track.readyState == "live":
                            n += 1
        return n


def _restrict_host_addresses(addresses: list[str]) -> None:
    """aioice gathers every address of the machine, and skips 127.0.0.1 (recipes)."""
    import aioice.ice

    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda *a, **k: chosen
