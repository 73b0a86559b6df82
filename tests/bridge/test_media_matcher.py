"""Media matching in the bridge (cloud_bridge/media.py, docs/media.md), on virtual time.

The real bridge (engine, SQLite store, timers) with a fake MQTT link that keeps what is
published, and fake browsers (:class:`MediaClient` objects whose ``send`` collects the items).
Checked: only the agent connected to a call gets media with its booth, the booth's offer goes to
the window that said ready last, transfers / consultations / call ends stop the media, guest
invitations (who may invite, the token, revocation, expiry, the limit), the booth's
``unreachable`` puts the citizen back in the queue, and bad booth reports are dropped. At the end
the invitation routes and the guest WebSocket through FastAPI's TestClient.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import FAST_HASHER, PASSWORD
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cloud_bridge.acd.model import (
    Accept,
    AgentLogin,
    AgentSpec,
    CancelTransfer,
    CompleteTransfer,
    Event,
    Hangup,
    QueueSpec,
    SetReady,
    Transfer,
)
from cloud_bridge.api import create_app
from cloud_bridge.api import media as guest_api
from cloud_bridge.media import MAX_INVITATIONS_PER_CALL, MediaClient
from cloud_bridge.service import Bridge, LoopEpochClock
from cloud_bridge.store import SQLiteStore
from cloud_bridge.turn import IceServerConfig, ice_servers_for, rest_credentials
from cloud_bridge.users import UserStore
from lisa_messages import MediaControl, MediaReport, Topics, now_rfc3339

B1, B2 = "kabine-01", "kabine-02"
EPOCH = 1_790_000_000.0
TURN_URL = "turn:turn.example.org:3478?transport=udp"
TURN_SECRET = "north-wind"
ICE = [IceServerConfig(urls=[TURN_URL], secret=TURN_SECRET, ttl_s=600)]
QUEUES = [
    QueueSpec("clearing", "Empfang", ring_timeout_s=20.0),
    QueueSpec("wg", "Wohngeldstelle", ring_timeout_s=20.0),
]
AGENTS = [
    AgentSpec("a1", "Bürgerservice", {"clearing": 1}),
    AgentSpec("a2", "Bürgerservice 2", {"clearing": 1}),
    AgentSpec("w1", "Wohngeld", {"wg": 1}),
]
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class FakeMqtt:
    """Stands in for BridgeMqtt: keeps every publish as (topic, payload)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []
        self.connected = True
        self.on_message: Any = None
        self.on_connected: Any = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def stop(self) -> None:
        pass

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        self.published.append((topic, payload))

    def media(self, booth: str = B1) -> list[MediaControl]:
        """The media controls sent to ``booth`` so far."""
        topic = Topics(booth).media
        return [MediaControl.model_validate_json(p) for t, p in self.published if t == topic]


class Browser:
    """A fake portal window (or guest page) on the bridge's media matcher."""

    def __init__(self, bridge: Bridge, peer: str) -> None:
        self.bridge = bridge
        self.items: list[dict[str, Any]] = []
        self.client = MediaClient(peer, self._send)
        bridge.media.attach(self.client)

    async def _send(self, item: dict[str, Any]) -> None:
        self.items.append(item)

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [i for i in self.items if i.get("type") == type_]

    async def say(self, type_: str, call: Any, **fields: Any) -> None:
        await self.bridge.media.from_client(self.client, {"type": type_, "call": call, **fields})
        await self.bridge.media.flush()

    async def ready(self, call: str) -> None:
        await self.say("media.ready", call)

    def close(self) -> None:
        self.bridge.media.detach(self.client)


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.mqtt = FakeMqtt()
        self.clock = LoopEpochClock(EPOCH)
        self.bridge = Bridge(
            QUEUES,
            AGENTS,
            SQLiteStore(tmp_path / "bridge.db"),
            booths={B1: "clearing", B2: "clearing"},
            clock=self.clock,
            mqtt=self.mqtt,  # type: ignore[arg-type]
            ice_for=lambda peer: [dict(s) for s in ice_servers_for(ICE, peer, self.clock.time())],
        )

    async def step(self, *events: Event) -> None:
        for event in events:
            await self.bridge.dispatch(event)
        await self.bridge.media.flush()

    async def connected_call(self, agent: str = "a1", booth: str = B1, session: str = "s1") -> str:
        """``agent`` goes ready, a citizen at ``booth`` calls, the agent accepts."""
        await self.step(SetReady(agent))
        call = await self.bridge.call_requested(booth, session)
        await self.step(Accept(agent, call))
        assert self.call(call)["status"] == "connected"
        return call

    def call(self, call: str) -> dict[str, Any]:
        view = self.bridge.call_view(call)
        assert view is not None, f"call {call} is gone"
        return view

    def agent(self, agent: str) -> dict[str, Any]:
        view = self.bridge.agent_view(agent)
        assert view is not None
        return view

    def browser(self, peer: str) -> Browser:
        return Browser(self.bridge, peer)

    async def report(
        self, type_: str, peer: str, *, session: str = "s1", booth: str = B1, **fields: Any
    ) -> None:
        """A MediaReport from ``booth`` on its ``media/out`` topic, as it comes over MQTT."""
        msg = MediaReport(
            id=uuid.uuid4().hex, session=session, type=type_, peer=peer, ts=now_rfc3339(), **fields
        )
        await self.raw(msg.model_dump_json(exclude_none=True).encode(), booth=booth)

    async def raw(self, payload: bytes, *, booth: str = B1) -> None:
        self.bridge._on_mqtt(Topics(booth).media_out, payload)
        await self.bridge.media.flush()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    await r.bridge.start()
    await r.step(AgentLogin("a2"), AgentLogin("w1"))  # logged in, not ready
    yield r
    await r.bridge.stop()


def refused(browser: Browser, kind: str = "media.ready") -> list[dict[str, Any]]:
    return [e for e in browser.of("media.error") if e["for"] == kind]


# ----------------------------------------------------------------------------- who gets media
async def test_only_the_connected_agent_gets_a_join(rig: Rig) -> None:
    call = await rig.connected_call("a1")
    other = rig.browser("agent:a2")
    await other.ready(call)
    (error,) = refused(other)
    assert error["call"] == call and "not in this call" in error["detail"]
    stranger = rig.browser("guest:nobody")
    await stranger.ready(call)
    assert refused(stranger)
    await other.say("media.ready", None)
    assert "needs `call`" in refused(other)[-1]["detail"]
    assert rig.mqtt.media() == []  # nothing reached the booth

    mine = rig.browser("agent:a1")
    await mine.ready("no-such-call")
    assert refused(mine)
    await mine.ready(call)
    (join,) = rig.mqtt.media()
    assert (join.type, join.session, join.peer, join.role) == ("join", "s1", "agent:a1", "agent")
    assert join.name == "Bürgerservice"
    (server,) = join.ice_servers
    # the booth's own TURN credentials, minted for it (TURN REST API), valid for 600 s
    username, credential = rest_credentials(TURN_SECRET, B1, rig.clock.time(), 600)
    assert (server.urls, server.username, server.credential) == ([TURN_URL], username, credential)
    assert mine.of("media.error") == [e for e in mine.items if e["call"] == "no-such-call"]
    assert rig.mqtt.media(B2) == []


async def test_the_offer_goes_to_the_window_that_said_ready_last(rig: Rig) -> None:
    call = await rig.connected_call("a1")
    first, last = rig.browser("agent:a1"), rig.browser("agent:a1")  # two windows of a1
    other = rig.browser("agent:a2")
    await first.ready(call)
    await last.ready(call)
    assert [c.type for c in rig.mqtt.media()] == ["join", "join"]

    # the first window is told that another one has taken the media over
    (taken,) = first.of("media.stop")
    assert taken["reason"] == "taken over by another window"
    first.items.clear()
    await rig.report("offer", "agent:a1", pc="pc-1", sdp=SDP)
    assert first.items == [] and other.items == []
    (offer,) = last.of("media.offer")
    assert (offer["call"], offer["booth"], offer["pc"], offer["sdp"]) == (call, B1, "pc-1", SDP)
    assert offer["participants"] == [{"peer": "agent:a1", "role": "agent", "name": "Bürgerservice"}]
    (server,) = offer["ice_servers"]
    assert server["urls"] == [TURN_URL] and server["username"].endswith(":agent_a1")
    await rig.report("state", "agent:a1", pc="pc-1", state="connected", devices={"camera": "ok"})
    (state,) = last.of("media.state")
    assert (state["state"], state["devices"], state["pc"]) == (
        "connected",
        {"camera": "ok"},
        "pc-1",
    )
    assert first.items == [] and other.items == []

    # an answer only from the window that got the offer
    await first.say("media.answer", call, pc="pc-1", sdp=SDP)
    assert "another window" in refused(first, "media.answer")[0]["detail"]
    await other.say("media.answer", call, pc="pc-1", sdp=SDP)
    assert "not in this call" in refused(other, "media.answer")[0]["detail"]
    await last.say("media.answer", call, pc="pc-1")
    assert "needs `pc` and `sdp`" in refused(last, "media.answer")[0]["detail"]
    await last.say("media.bogus", call)
    assert refused(last, "media.bogus")
    assert [c.type for c in rig.mqtt.media()] == ["join", "join"]
    await last.say("media.answer", call, pc="pc-1", sdp=SDP)
    answer = rig.mqtt.media()[-1]
    assert (answer.type, answer.session, answer.peer, answer.pc, answer.sdp) == (
        "answer",
        "s1",
        "agent:a1",
        "pc-1",
        SDP,
    )

    # the window closes: the next offer goes to nobody (the other window says ready again)
    last.close()
    await rig.report("offer", "agent:a1", pc="pc-2", sdp=SDP)
    assert first.of("media.offer") == [] and len(last.of("media.offer")) == 1
    await first.ready(call)
    await rig.report("offer", "agent:a1", pc="pc-3", sdp=SDP)
    assert [o["pc"] for o in first.of("media.offer")] == ["pc-3"]


# ----------------------------------------------------------------------------- the ACD decides
async def test_a_blind_transfer_moves_the_media_to_the_next_agent(rig: Rig) -> None:
    call = await rig.connected_call("a1")
    a1, w1 = rig.browser("agent:a1"), rig.browser("agent:w1")
    await a1.ready(call)
    await rig.step(Transfer("a1", call, queue="wg"))
    assert rig.call(call)["status"] == "waiting"
    stop = rig.mqtt.media()[-1]
    assert stop.session == "s1"
    assert stop.type == "stop" or (stop.type, stop.peer) == ("leave", "agent:a1")
    (stopped,) = a1.of("media.stop")
    assert stopped["call"] == call
    await a1.ready(call)
    assert refused(a1)
    sent = len(rig.mqtt.media())
    await rig.report("offer", "agent:a1", pc="late", sdp=SDP)  # from before the transfer
    assert a1.of("media.offer") == [] and w1.items == []

    await w1.ready(call)  # not yet: the call is not w1's
    assert refused(w1)
    await rig.step(SetReady("w1"))
    assert rig.call(call)["ringing"] == ["w1"]
    await w1.ready(call)
    assert len(refused(w1)) == 2
    await rig.step(Accept("w1", call))
    await w1.ready(call)
    join = rig.mqtt.media()[-1]
    assert len(rig.mqtt.media()) == sent + 1
    assert (join.type, join.session, join.peer, join.name) == ("join", "s1", "agent:w1", "Wohngeld")
    await rig.report("offer", "agent:w1", pc="pc-w", sdp=SDP)
    assert [o["pc"] for o in w1.of("media.offer")] == ["pc-w"]
    await a1.ready(call)
    assert len(refused(a1)) == 2


async def test_a_consultation_holds_the_media_until_it_is_cancelled(rig: Rig) -> None:
    call = await rig.connected_call("a1")
    a1, w1 = rig.browser("agent:a1"), rig.browser("agent:w1")
    await a1.ready(call)
    await rig.step(SetReady("w1"), Transfer("a1", call, queue="wg", consult=True))
    leg = rig.call(call)["consult"]["id"]
    assert rig.mqtt.media()[-1].type == "stop"  # the citizen sees "Bitte einen Moment"
    assert [s["call"] for s in a1.of("media.stop")] == [call]
    await a1.ready(call)
    assert len(refused(a1)) == 1

    await rig.step(Accept("w1", leg))  # the consultation runs
    assert rig.call(call)["consult"]["status"] == "connected"
    for c in (call, leg):
        await w1.ready(c)  # the consultant never sees the citizen
    await a1.ready(call)
    assert len(refused(w1)) == 2 and len(refused(a1)) == 2
    assert [c.type for c in rig.mqtt.media()] == ["join", "stop"]

    await rig.step(CancelTransfer("a1", call))
    assert rig.call(call)["consult"] is None and rig.call(call)["agent"] == "a1"
    await a1.ready(call)
    join = rig.mqtt.media()[-1]
    assert (join.type, join.session, join.peer) == ("join", "s1", "agent:a1")
    await w1.ready(call)
    assert len(refused(w1)) == 3


@pytest.mark.parametrize("how", ["hangup", "abandon"])
async def test_the_end_of_the_call_stops_its_media(rig: Rig, how: str) -> None:
    call = await rig.connected_call("a1")
    a1 = rig.browser("agent:a1")
    await a1.ready(call)
    inv, token = rig.bridge.media.invite(call, "a1", "interpreter", "Dolmetscherin")
    guest = rig.browser(inv.peer)
    await guest.ready(call)
    if how == "hangup":
        await rig.step(Hangup("a1", call))
    else:
        await rig.bridge.call_ended_by_booth(B1, "s1")
        await rig.bridge.media.flush()
    assert rig.bridge.call_view(call) is None
    controls = rig.mqtt.media()
    assert controls[-1].type == "stop" and controls[-1].session == "s1"
    assert [s["call"] for s in a1.of("media.stop")] == [call]
    assert guest.of("media.stop")
    assert rig.bridge.media.invitation_for(token) is None  # the invitation ended with the call
    for b in (a1, guest):
        await b.ready(call)
        assert refused(b)
    assert rig.bridge.media.pairs == {}


# ----------------------------------------------------------------------------- invitations
async def test_invitations_by_the_connected_agent_revoked_at_once(rig: Rig) -> None:
    media = rig.bridge.media
    call = await rig.connected_call("a1")
    with pytest.raises(PermissionError):
        media.invite(call, "a2", "interpreter", "Dolmetscherin")
    with pytest.raises(ValueError, match="role"):
        media.invite(call, "a1", "boss", "Chef")
    inv, token = media.invite(call, "a1", "interpreter", "Dolmetscherin")
    assert media.invitation_for(token) is inv and media.invitation_for(token + "x") is None
    assert inv.token_hash != token and token not in repr(inv)  # only a hash is kept

    a1, guest = rig.browser("agent:a1"), rig.browser(inv.peer)
    await a1.ready(call)
    await guest.ready(call)
    join = rig.mqtt.media()[-1]
    assert (join.type, join.peer, join.role, join.name) == (
        "join",
        inv.peer,
        "interpreter",
        "Dolmetscherin",
    )
    assert join.ice_servers and join.ice_servers[0].username is not None
    await rig.report("offer", inv.peer, pc="pc-g", sdp=SDP)
    (offer,) = guest.of("media.offer")
    assert offer["ice_servers"][0]["username"].endswith(f":guest_{inv.id}")
    assert {p["peer"]: p["role"] for p in offer["participants"]} == {
        "agent:a1": "agent",
        inv.peer: "interpreter",
    }
    assert a1.of("media.offer") == []

    others = [
        media.invite(call, "a1", "clerk", f"Kollegin {i}")
        for i in range(MAX_INVITATIONS_PER_CALL - 1)
    ]
    with pytest.raises(OverflowError):
        media.invite(call, "a1", "clerk", "one too many")
    assert len(media.invitations_of(call)) == MAX_INVITATIONS_PER_CALL

    with pytest.raises(PermissionError):
        media.revoke(call, inv.id, "a2")
    assert media.revoke("other-call", inv.id, "a1") is False
    assert media.revoke(call, inv.id, "a1") is True
    await media.flush()
    leave = rig.mqtt.media()[-1]
    assert (leave.type, leave.session, leave.peer) == ("leave", "s1", inv.peer)
    (stopped,) = guest.of("media.stop")
    assert stopped["reason"] == "revoked"
    assert a1.of("media.stop") == []  # the agent keeps its media
    assert media.invitation_for(token) is None
    await guest.ready(call)
    assert refused(guest)
    # a slot is free again
    media.invite(call, "a1", "clerk", "again")
    assert media.revoke(call, others[0][0].id, "a1")


async def test_an_invitation_ends_when_it_expires(rig: Rig) -> None:
    media = rig.bridge.media
    call = await rig.connected_call("a1")
    inv, token = media.invite(call, "a1", "interpreter", "Dolmetscherin", ttl_s=120)
    guest = rig.browser(inv.peer)
    await guest.ready(call)
    assert rig.mqtt.media()[-1].peer == inv.peer
    await asyncio.sleep(119)  # virtual time: the clock moves, no ACD step happens
    assert media.invitation_for(token) is inv and guest.of("media.stop") == []
    await asyncio.sleep(2)
    await media.flush()
    assert media.invitation_for(token) is None
    leave = rig.mqtt.media()[-1]
    assert (leave.type, leave.peer, leave.reason) == ("leave", inv.peer, "expired")
    assert [s["reason"] for s in guest.of("media.stop")] == ["expired"]
    await guest.ready(call)
    assert refused(guest)
    assert rig.call(call)["status"] == "connected"  # the call goes on with the agent


# ----------------------------------------------------------------------------- booth reports
async def test_unreachable_agent_puts_the_citizen_back_first_in_line(rig: Rig) -> None:
    call = await rig.connected_call("a1", B1, "s1")
    later = await rig.bridge.call_requested(B2, "s2")  # waits: nobody is free
    assert rig.call(later)["position"] == 1
    a1 = rig.browser("agent:a1")
    await a1.ready(call)
    await rig.report("unreachable", "agent:a1", reason="no media within 10 s")
    view = rig.call(call)
    assert (view["status"], view["agent"], view["position"]) == ("waiting", None, 1)
    assert rig.call(later)["position"] == 2
    agent = rig.agent("a1")
    assert (agent["status"], agent["reason"]) == ("not_ready", "disconnected")
    assert rig.mqtt.media()[-1].type == "stop"
    assert a1.of("media.stop")
    await rig.step(SetReady("a2"))
    assert rig.call(call)["ringing"] == ["a2"]  # first in line
    # a second report of the same kind finds no pair any more: nothing happens
    await rig.report("unreachable", "agent:a1", reason="again")
    assert rig.call(call)["ringing"] == ["a2"]


async def test_bad_booth_reports_are_dropped_with_a_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lisa.bridge")
    call = await rig.connected_call("a1")
    a1 = rig.browser("agent:a1")
    await a1.ready(call)
    media = rig.bridge.media
    base = {"id": "r1", "session": "s1", "peer": "agent:a1", "ts": now_rfc3339()}

    invalid = [
        b"\xff\xfe not json",
        b"[]",
        json.dumps(base | {"type": "bogus"}).encode(),
        json.dumps(base | {"type": "offer", "pc": "p"}).encode(),  # no sdp
        json.dumps(base | {"type": "state", "state": "great"}).encode(),
        json.dumps(base | {"type": "offer", "pc": "p", "sdp": "x" * 70_000}).encode(),  # oversized
        json.dumps(base | {"type": "offer", "pc": "p", "sdp": SDP, "peer": "root"}).encode(),
    ]
    for payload in invalid:
        caplog.clear()
        await rig.raw(payload)
        messages = [r.getMessage() for r in caplog.records]
        assert "invalid media report" in messages, payload[:60]
    assert media.dropped == len(invalid)

    huge = json.dumps(base | {"type": "offer", "pc": "p", "sdp": "x" * 300_000}).encode()
    seen = media.reports_in
    await rig.raw(huge)  # over the bridge's MQTT payload limit: not even parsed
    assert media.reports_in == seen

    no_pair = [
        ({"session": "s-old"}, B1),  # a session that is not the pair's
        ({"peer": "agent:a2"}, B1),  # a peer that is not in the pair
        ({}, B2),  # a booth without media
    ]
    for change, booth in no_pair:
        caplog.clear()
        await rig.raw(
            json.dumps(base | {"type": "offer", "pc": "p", "sdp": SDP} | change).encode(),
            booth=booth,
        )
        assert "media report without a pair dropped" in [r.getMessage() for r in caplog.records]
    rig.bridge._on_mqtt(Topics("made-up-1").media_out, b"{}")  # not a booth of the tenant
    assert a1.items == []

    # the bridge goes on as before
    await rig.report("offer", "agent:a1", pc="good", sdp=SDP)
    assert [o["pc"] for o in a1.of("media.offer")] == ["good"]
    assert rig.call(call)["status"] == "connected"


# ----------------------------------------------------------------------------- over HTTP
class HttpRig:
    """The bridge behind ``create_app`` in a TestClient; the bridge runs in the client's loop."""

    def __init__(self, tmp_path: Path, client: TestClient, bridge: Bridge, mqtt: FakeMqtt) -> None:
        self.client, self.bridge, self.mqtt = client, bridge, mqtt
        self.tmp_path = tmp_path

    def step(self, event: Event) -> None:
        self.client.portal.call(self.bridge.dispatch, event)  # type: ignore[union-attr]

    def login(self, name: str) -> dict[str, str]:
        r = self.client.post("/api/v1/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpRig]:
    monkeypatch.setattr(guest_api, "GUEST_POLL_S", 0.02)  # the guest socket's validity check
    mqtt = FakeMqtt()
    bridge = Bridge(
        QUEUES,
        AGENTS,
        SQLiteStore(tmp_path / "bridge.db"),
        booths={B1: "clearing"},
        mqtt=mqtt,  # type: ignore[arg-type]
    )
    users = UserStore(tmp_path / "users.db", hasher=FAST_HASHER)
    for name, role in (("a1", "agent"), ("a2", "agent"), ("super1", "supervisor")):
        users.add(name, role, PASSWORD)
    try:
        with TestClient(create_app(bridge, users, web_root=None)) as client:
            assert client.portal is not None
            client.portal.call(bridge.start)
            try:
                yield HttpRig(tmp_path, client, bridge, mqtt)
            finally:
                client.portal.call(bridge.stop)
    finally:
        users.close()


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text


def test_invitation_routes_and_the_guest_websocket(http: HttpRig) -> None:
    client = http.client
    http.step(SetReady("a1"))
    call = http.client.portal.call(http.bridge.call_requested, B1, "s1")  # type: ignore[union-attr]
    http.step(Accept("a1", call))
    a1, a2, sup = http.login("a1"), http.login("a2"), http.login("super1")
    route = f"/api/v1/calls/{call}/invitations"
    body = {"role": "interpreter", "name": "Dolmetscherin"}

    _error(client.post(route, json=body), 401, "unauthenticated")
    _error(client.post(route, json=body, headers=a2), 403, "not_in_call")
    _error(client.post(route, json=body, headers=sup), 403, "not_an_agent")
    unknown = client.post(route, json=body | {"admin": True}, headers=a1)
    _error(unknown, 422, "invalid")
    assert "admin: unknown field" in unknown.json()["detail"]
    _error(client.post(route, json={"role": "boss"}, headers=a1), 422, "invalid")
    _error(client.get(route, headers=a2), 403, "not_in_call")

    r = client.post(route, json=body, headers=a1)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["url"].startswith("http://testserver/gast.html#")
    token = made["url"].split("#", 1)[1]
    listed = client.get(route, headers=a1).json()
    assert [i["id"] for i in listed] == [made["id"]] and "url" not in listed[0]

    _error(client.get("/api/v1/guest", params={"token": "forged"}), 401, "invitation_invalid")
    _error(client.get("/api/v1/guest"), 401, "invitation_invalid")
    me = client.get("/api/v1/guest", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["call"], me["role"], me["in_call"]) == (call, "interpreter", True)

    for query in ("?token=forged", ""):
        with client.websocket_connect(f"/api/v1/guest/media{query}") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401

    # another agent's media.ready on /events is refused there
    window = http.login("a2")  # a second session of a2, for its events socket
    events = f"/api/v1/events?token={window['Authorization'].split()[1]}"
    with client.websocket_connect(events) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        ws.send_json({"type": "media.ready", "call": call})
        item = ws.receive_json()
        while item["type"] != "media.error":
            item = ws.receive_json()
        assert item["call"] == call and item["for"] == "media.ready"
        # the server ends the socket (a2 logs out): TestClient cancels a handler still running
        assert client.post("/api/v1/logout", headers=window).status_code == 200
        ws.send_json({"type": "ping"})
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 4401

    with client.websocket_connect(f"/api/v1/guest/media?token={token}") as ws:
        hello = ws.receive_json()
        assert (hello["type"], hello["call"], hello["in_call"]) == ("guest", call, True)
        ws.send_json({"type": "media.ready", "call": call})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # media.ready has been handled
        join = http.mqtt.media()[-1]
        assert (join.type, join.peer, join.role) == ("join", f"guest:{made['id']}", "interpreter")

        one = f"{route}/{made['id']}"
        _error(client.delete(one, headers=a2), 403, "not_in_call")
        assert client.delete(one, headers=a1).status_code == 204
        stopped = ws.receive_json()
        assert (stopped["type"], stopped["reason"]) == ("media.stop", "revoked")
        _error(client.delete(one, headers=a1), 404, "unknown_invitation")
        assert http.mqtt.media()[-1].type == "leave"
        with pytest.raises(WebSocketDisconnect) as closed:  # the guest's socket ends
            ws.receive_json()
        assert closed.value.code == 4401
    _error(client.get("/api/v1/guest", params={"token": token}), 401, "invitation_invalid")

    for i in range(MAX_INVITATIONS_PER_CALL):
        assert client.post(route, json=body | {"name": f"G{i}"}, headers=a1).status_code == 201
    _error(client.post(route, json=body, headers=a1), 409, "too_many_guests")


async def test_the_two_agents_of_a_consultation_talk_browser_to_browser(rig: Rig) -> None:
    """While the citizen waits, the asker's and the consultant's browsers get
    ``media.peer.start`` (the asker offers); their SDP is relayed only between the two; a third
    agent cannot join in; the end of the consultation stops it on both sides."""
    call = await rig.connected_call("a1")
    a1, w1, a2 = rig.browser("agent:a1"), rig.browser("agent:w1"), rig.browser("agent:a2")
    await rig.step(SetReady("w1"), Transfer("a1", call, queue="wg", consult=True))
    leg = rig.call(call)["consult"]["id"]
    assert not a1.of("media.peer.start")  # still ringing: nobody to talk to
    await rig.step(Accept("w1", leg))
    [start_a] = a1.of("media.peer.start")
    [start_w] = w1.of("media.peer.start")
    assert (start_a["peer"], start_a["offer"]) == ("agent:w1", True)
    assert (start_w["peer"], start_w["offer"]) == ("agent:a1", False)
    assert start_a["ice_servers"] and not a2.of("media.peer.start")
    await a1.say("media.peer", call, sdp="v=0 offer", sdp_type="offer")
    [offer] = w1.of("media.peer")
    assert (offer["from"], offer["sdp_type"], offer["sdp"]) == ("agent:a1", "offer", "v=0 offer")
    await w1.say("media.peer", call, sdp="v=0 answer", sdp_type="answer")
    assert a1.of("media.peer")[0]["sdp"] == "v=0 answer"
    await a2.say("media.peer", call, sdp="v=0 sneak", sdp_type="offer")
    assert a2.of("media.error") and len(w1.of("media.peer")) == 1  # not relayed
    await w1.say("media.peer.ready", call)  # a reloaded page: the asker offers anew
    assert len(a1.of("media.peer.start")) == 2
    await rig.step(CompleteTransfer("a1", call))
    assert a1.of("media.peer.stop") and w1.of("media.peer.stop")
    await w1.ready(call)  # now w1 is the citizen's agent
    assert rig.mqtt.media()[-1].peer == "agent:w1"
