"""Media matching: which browser may exchange media with which booth, and the relay of the
WebRTC signalling between them (MQTT ``media`` / ``media/out`` ⇄ the portal's WebSocket).

The bridge never touches media; it decides who may see the citizen and carries SDP. The
authority is the ACD engine's state: after every step :meth:`MediaMatcher.reconcile` derives,
for every booth, the peers allowed to have media with it — the agent a call is ``connected`` to
(not while a consultation of that call is going on: the citizen sees "Bitte einen Moment"),
plus the guests (interpreters, a second clerk) invited to that call. A peer that is no longer
allowed is told to stop at once, and the booth is told that it left; a call that ends stops
all of the booth's media.

The browser says ``media.ready`` for a call (after the call connected, after a reload, after
its own media watchdog fired); if that client's peer is allowed, the booth is sent a ``join``
and answers with an offer, which goes to that client only (the last one of the peer that said
ready). Answers from a client go to the booth only for the peer the client is and the offer it
got. The booth's ``unreachable`` (no media with the agent in 10 s) is an agent connection loss
for the ACD: the citizen goes back to the queue, first in line, and the agent goes not ready.

Guests come with an invitation (:class:`Invitation`): a random token, shown to the agent once
as a link, valid for the call it was made for and at most ``ttl_s``; it works without an
account and only on the guest WebSocket. Invitations are kept in memory only (a bridge restart
ends them; the agent invites again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lisa_messages import (
    IceServer,
    MediaControl,
    MediaReport,
    Topics,
    now_rfc3339,
    validation_message,
)

log = logging.getLogger("lisa.bridge.media")

Publish = Callable[[str, str], None]
IceFor = Callable[[str], list[dict[str, Any]]]
SendJson = Callable[[dict[str, Any]], Awaitable[None]]

INVITATION_TTL_S = 2 * 3600.0
MAX_INVITATIONS_PER_CALL = 4
GUEST_ROLES = ("interpreter", "clerk")


@dataclass
class MediaClient:
    """One WebSocket that may carry media signalling: an agent's portal or a guest's page."""

    peer: str  # agent:<id> or guest:<invitation id>
    send: SendJson
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    call: str | None = None  # the call it said ready for


@dataclass
class Invitation:
    id: str
    call: str
    booth: str
    role: str
    name: str
    by: str
    expires_at: float
    token_hash: str

    @property
    def peer(self) -> str:
        return f"guest:{self.id}"


@dataclass
class _Pair:
    """What a booth's media looks like now: its session and the allowed peers."""

    call: str
    session: str
    peers: dict[str, tuple[str, str]]  # peer -> (role, display name)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MediaMatcher:
    def __init__(
        self,
        publish: Publish,
        ice_for: IceFor,
        *,
        agent_names: Callable[[str], str],
        agent_lost: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.ice_for = ice_for
        self.agent_names = agent_names
        self.agent_lost = agent_lost
        self.clock = clock
        self.pairs: dict[str, _Pair] = {}  # booth -> pair
        self.consults: dict[str, tuple[str, str]] = {}  # call -> (asker, consultant)
        self.invitations: dict[str, Invitation] = {}
        self.clients: dict[str, MediaClient] = {}
        self.owner: dict[tuple[str, str], str] = {}  # (booth, peer) -> client id
        self.reports_in = 0
        self.dropped = 0
        self._sends: set[asyncio.Task[None]] = set()  # items on their way to clients
        self._expiry: dict[str, asyncio.TimerHandle] = {}  # invitation -> its end

    # ------------------------------------------------------------------ authority
    def reconcile(self, calls: Iterable[Mapping[str, Any]]) -> None:
        """After every engine step: the allowed peers per booth from the calls."""
        now = self.clock()
        for inv in [i for i in self.invitations.values() if i.expires_at <= now]:
            self._revoke(inv, "expired")
        wanted: dict[str, _Pair] = {}
        for view in calls:
            if view.get("kind") != "call" or view.get("status") != "connected":
                continue
            agent = view.get("agent")
            if not agent or view.get("consult") is not None:
                continue
            booth, call = view["booth"], view["id"]
            peers = {f"agent:{agent}": ("agent", self.agent_names(agent))}
            for inv in self.invitations.values():
                if inv.call == call:
                    peers[inv.peer] = (inv.role, inv.name)
            wanted[booth] = _Pair(call, view["session"], peers)
        live_calls = {v["id"] for v in calls}
        for inv in [i for i in self.invitations.values() if i.call not in live_calls]:
            self._revoke(inv, "call ended")
        for booth, old in list(self.pairs.items()):
            new = wanted.get(booth)
            if new is None or new.session != old.session:
                self._to_booth(booth, old.session, "stop", reason="call ended or on hold")
                for peer in old.peers:
                    self._stop_clients(booth, peer, old.call, "ended")
                del self.pairs[booth]
                continue
            for peer in set(old.peers) - set(new.peers):
                self._to_booth(booth, old.session, "leave", peer=peer, reason="left the call")
                self._stop_clients(booth, peer, old.call, "left")
            if new.call != old.call:  # same session, another call leg (transfer)
                for peer in old.peers:
                    self._stop_clients(booth, peer, old.call, "transferred")
        for booth, new in wanted.items():
            self.pairs[booth] = new
        self._reconcile_consults(calls)

    def _reconcile_consults(self, calls: Iterable[Mapping[str, Any]]) -> None:
        """The two agents of a connected consultation may talk browser to browser (audio;
        the citizen waits with "Bitte einen Moment"): the asker offers, the consultant answers,
        relayed as ``media.peer`` on their WebSockets."""
        wanted: dict[str, tuple[str, str]] = {}
        for view in calls:
            consult = view.get("consult")
            if view.get("kind") != "call" or not isinstance(consult, Mapping):
                continue
            if consult.get("status") == "connected" and consult.get("agent"):
                if consult.get("consultant"):
                    wanted[view["id"]] = (str(consult["agent"]), str(consult["consultant"]))
        for call, (asker, consultant) in list(self.consults.items()):
            if wanted.get(call) != (asker, consultant):
                for agent in (asker, consultant):
                    for client in self._clients_of(f"agent:{agent}"):
                        self._fire(client, {"type": "media.peer.stop", "call": call})
                del self.consults[call]
        for call, pair in wanted.items():
            if call not in self.consults:
                self._start_consult(call, pair)

    def _start_consult(self, call: str, pair: tuple[str, str]) -> None:
        self.consults[call] = pair
        asker, consultant = pair
        for me, other, offer in ((asker, consultant, True), (consultant, asker, False)):
            for client in self._clients_of(f"agent:{me}"):
                self._fire(
                    client,
                    {
                        "type": "media.peer.start",
                        "call": call,
                        "peer": f"agent:{other}",
                        "name": self.agent_names(other),
                        "offer": offer,
                        "ice_servers": self._ice(f"agent:{me}"),
                    },
                )

    def _clients_of(self, peer: str) -> list[MediaClient]:
        return [c for c in self.clients.values() if c.peer == peer]

    async def _peer_signal(self, client: MediaClient, frame: Mapping[str, Any]) -> None:
        """``media.peer`` {call, sdp, sdp_type offer|answer}: from one agent of a consultation
        to the other (all their windows; the one that answers keeps it)."""
        call = str(frame.get("call") or "")
        pair = self.consults.get(call)
        me = client.peer.split(":", 1)[1] if client.peer.startswith("agent:") else ""
        if pair is None or me not in pair:
            await self._error(client, "media.peer", "no consultation of yours on this call", call)
            return
        if frame.get("type") == "media.peer.ready":  # a reloaded page: the asker offers anew
            self._start_consult(call, pair)
            return
        sdp, sdp_type = frame.get("sdp"), frame.get("sdp_type")
        if not isinstance(sdp, str) or sdp_type not in ("offer", "answer") or len(sdp) > 60_000:
            await self._error(client, "media.peer", "media.peer needs `sdp` and `sdp_type`", call)
            return
        other = pair[1] if me == pair[0] else pair[0]
        item = {
            "type": "media.peer",
            "call": call,
            "from": client.peer,
            "sdp": sdp,
            "sdp_type": sdp_type,
        }
        for target in self._clients_of(f"agent:{other}"):
            self._fire(target, item)

    def allowed(self, peer: str, call: str) -> str | None:
        """The booth of ``call`` if ``peer`` may have media with it now, else None."""
        for booth, pair in self.pairs.items():
            if pair.call == call and peer in pair.peers:
                return booth
        return None

    # ------------------------------------------------------------------ invitations
    def invite(
        self, call: str, by_agent: str, role: str, name: str, ttl_s: float = INVITATION_TTL_S
    ) -> tuple[Invitation, str]:
        """A one-time link for a guest in ``call`` (the inviting agent must be connected to
        it). Returns the invitation and its token (shown once; only its hash is kept)."""
        booth = self.allowed(f"agent:{by_agent}", call)
        if booth is None:
            raise PermissionError("only the agent connected to the call can invite")
        if role not in GUEST_ROLES:
            raise ValueError(f"role must be one of {', '.join(GUEST_ROLES)}")
        if sum(1 for i in self.invitations.values() if i.call == call) >= MAX_INVITATIONS_PER_CALL:
            raise OverflowError(f"at most {MAX_INVITATIONS_PER_CALL} guests per call")
        token = secrets.token_urlsafe(24)
        inv = Invitation(
            id=uuid.uuid4().hex[:12],
            call=call,
            booth=booth,
            role=role,
            name=name.strip()[:80] or role,
            by=by_agent,
            expires_at=self.clock() + ttl_s,
            token_hash=_hash(token),
        )
        self.invitations[inv.id] = inv
        self.pairs[booth].peers[inv.peer] = (inv.role, inv.name)
        with contextlib.suppress(RuntimeError):  # no loop: reconcile() still checks expires_at
            self._expiry[inv.id] = asyncio.get_running_loop().call_later(
                max(0.0, inv.expires_at - self.clock()), self._expire, inv.id
            )
        log.info("guest invited", extra={"call": call, "role": role, "invitation": inv.id})
        return inv, token

    def invitation_for(self, token: str) -> Invitation | None:
        digest = _hash(token)
        for inv in self.invitations.values():
            if secrets.compare_digest(inv.token_hash, digest) and inv.expires_at > self.clock():
                return inv
        return None

    def revoke(self, call: str, invitation: str, by_agent: str) -> bool:
        inv = self.invitations.get(invitation)
        if inv is None or inv.call != call:
            return False
        if self.allowed(f"agent:{by_agent}", call) is None:
            raise PermissionError("only the agent connected to the call can revoke")
        self._revoke(inv, "revoked")
        return True

    def invitations_of(self, call: str) -> list[Invitation]:
        return [i for i in self.invitations.values() if i.call == call]

    def _expire(self, invitation: str) -> None:
        """An invitation's time is up: it ends now, not at the next ACD step."""
        self._expiry.pop(invitation, None)
        inv = self.invitations.get(invitation)
        if inv is not None:
            self._revoke(inv, "expired")

    def _revoke(self, inv: Invitation, reason: str) -> None:
        self.invitations.pop(inv.id, None)
        handle = self._expiry.pop(inv.id, None)
        if handle is not None:
            handle.cancel()
        pair = self.pairs.get(inv.booth)
        if pair is not None and pair.peers.pop(inv.peer, None) is not None:
            self._to_booth(inv.booth, pair.session, "leave", peer=inv.peer, reason=reason)
        self.owner.pop((inv.booth, inv.peer), None)
        for client in [c for c in self.clients.values() if c.peer == inv.peer]:  # once each
            self._fire(client, {"type": "media.stop", "call": inv.call, "reason": reason})

    # ------------------------------------------------------------------ browsers
    def attach(self, client: MediaClient) -> None:
        self.clients[client.id] = client

    def detach(self, client: MediaClient) -> None:
        self.clients.pop(client.id, None)
        for key in [k for k, v in self.owner.items() if v == client.id]:
            del self.owner[key]

    async def from_client(self, client: MediaClient, frame: Mapping[str, Any]) -> None:
        """A ``media.*`` message of a client; errors go back to it as ``media.error``."""
        kind = frame.get("type")
        call = frame.get("call")
        if not isinstance(call, str) or not call:
            await self._error(client, kind, "a media message needs `call`")
            return
        if kind in ("media.peer", "media.peer.ready"):
            await self._peer_signal(client, frame)
            return
        booth = self.allowed(client.peer, call)
        if booth is None:
            await self._error(client, kind, "not allowed: you are not in this call now", call)
            return
        pair = self.pairs[booth]
        if kind == "media.ready":
            client.call = call
            previous = self.owner.get((booth, client.peer))
            if previous is not None and previous != client.id and previous in self.clients:
                # another window of the same person takes the media over: that one stops
                self._fire(
                    self.clients[previous],
                    {"type": "media.stop", "call": call, "reason": "taken over by another window"},
                )
            self.owner[(booth, client.peer)] = client.id
            role, name = pair.peers[client.peer]
            self._to_booth(
                booth,
                pair.session,
                "join",
                peer=client.peer,
                role=role,
                name=name,
                ice_servers=self._ice(booth),
            )
        elif kind == "media.answer":
            pc, sdp = frame.get("pc"), frame.get("sdp")
            if not isinstance(pc, str) or not isinstance(sdp, str):
                await self._error(client, kind, "media.answer needs `pc` and `sdp`", call)
                return
            if self.owner.get((booth, client.peer)) != client.id:
                await self._error(client, kind, "another window of yours has the media", call)
                return
            self._to_booth(booth, pair.session, "answer", peer=client.peer, pc=pc, sdp=sdp)
        else:
            await self._error(client, kind, "unknown media message", call)

    # ------------------------------------------------------------------ booths
    def from_booth(self, booth: str, payload: bytes) -> None:
        """A :class:`MediaReport` on ``media/out``: to the one client it is for."""
        self.reports_in += 1
        try:
            report = MediaReport.model_validate_json(payload)
        except ValidationError as exc:
            self.dropped += 1
            log.warning(
                "invalid media report",
                extra={"booth": booth, "error": validation_message(exc)},
            )
            return
        pair = self.pairs.get(booth)
        if pair is None or pair.session != report.session or report.peer not in pair.peers:
            self.dropped += 1
            log.info("media report without a pair dropped", extra={"booth": booth})
            return
        if report.type == "unreachable":
            log.warning("booth cannot reach its peer", extra={"booth": booth, "peer": report.peer})
            if report.peer.startswith("agent:"):
                self.agent_lost(report.peer.split(":", 1)[1])
            return
        client = self.clients.get(self.owner.get((booth, report.peer), ""))
        if client is None:
            return
        item: dict[str, Any] = {"call": pair.call, "booth": booth}
        if report.type == "offer":
            item.update(
                type="media.offer",
                pc=report.pc,
                sdp=report.sdp,
                ice_servers=self._ice(report.peer),
                participants=[
                    {"peer": p, "role": r, "name": n} for p, (r, n) in pair.peers.items()
                ],
            )
        else:
            item.update(
                type="media.state",
                pc=report.pc,
                state=report.state,
                reason=report.reason,
                devices=report.devices,
            )
        self._fire(client, item)

    def reannounce(self) -> None:
        """After the bridge (re)connects: clients say ready again; nothing to send here."""

    # ------------------------------------------------------------------ helpers
    def _ice(self, peer: str) -> list[dict[str, Any]]:
        try:
            return self.ice_for(peer)
        except Exception:
            log.exception("ICE servers unavailable")
            return []

    def _to_booth(self, booth: str, session: str, type_: str, **fields: Any) -> None:
        servers = fields.pop("ice_servers", None)
        msg = MediaControl(
            id=uuid.uuid4().hex,
            session=session,
            type=type_,
            ts=now_rfc3339(),
            ice_servers=[IceServer.model_validate(s) for s in servers or []],
            **{k: v for k, v in fields.items() if v is not None},
        )
        self.publish(Topics(booth).media, msg.model_dump_json(exclude_none=True))

    def _stop_clients(self, booth: str, peer: str, call: str, reason: str) -> None:
        cid = self.owner.pop((booth, peer), None)
        client = self.clients.get(cid or "")
        if client is not None:
            self._fire(client, {"type": "media.stop", "call": call, "reason": reason})

    def _fire(self, client: MediaClient, item: dict[str, Any]) -> None:
        async def send() -> None:
            try:
                await client.send(item)
            except Exception:  # the socket is gone; its close detaches it
                pass

        try:
            task = asyncio.get_running_loop().create_task(send())
        except RuntimeError:
            return
        self._sends.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._sends.discard)

    async def flush(self) -> None:
        """Wait until every item handed to a client so far has been sent (tests)."""
        while self._sends:
            await asyncio.wait(set(self._sends))

    async def _error(
        self, client: MediaClient, kind: Any, detail: str, call: str | None = None
    ) -> None:
        await client.send(
            {
                "type": "media.error",
                "call": call,
                "for": kind if isinstance(kind, str) else None,
                "detail": detail,
            }
        )
