"""The agent API over real HTTP and WebSockets, on the real bridge (``Bridge.in_memory``)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest
import websockets
from api_harness import BOOTH, PASSWORD, LiveApi, live_api, when_agent
from websockets.exceptions import ConnectionClosed

from cloud_bridge.agent_client import AgentClient, ApiError
from cloud_bridge.api import LoginLimiter, RedactTokens

realtime = pytest.mark.realtime


async def _client(api: LiveApi, name: str, *, events: bool = True) -> AgentClient:
    client = AgentClient(api.url, name)
    await client.login(PASSWORD)
    if events:
        await client.connect(timeout=5)
    return client


def _http(api: LiveApi, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10)


async def _token(api: LiveApi, name: str) -> str:
    async with _http(api) as http:
        response = await http.post("/api/v1/login", json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    return str(body["detail"])


# ------------------------------------------------------------------------------------ auth
@realtime
async def test_healthz_and_openapi(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        spec = (await http.get("/openapi.json")).json()
        paths = spec["paths"]
        for path, method in [
            ("/api/v1/login", "post"),
            ("/api/v1/logout", "post"),
            ("/api/v1/me", "get"),
            ("/api/v1/agent/status", "post"),
            ("/api/v1/calls/{call}/accept", "post"),
            ("/api/v1/calls/{call}/decline", "post"),
            ("/api/v1/calls/{call}/hangup", "post"),
            ("/api/v1/calls/{call}/transfer", "post"),
            ("/api/v1/calls/{call}/transfer/complete", "post"),
            ("/api/v1/calls/{call}/transfer/cancel", "post"),
            ("/api/v1/booths/{booth}/commands", "post"),
            ("/api/v1/status", "get"),
            ("/api/v1/queues", "get"),
            ("/api/v1/agents", "get"),
            ("/api/v1/audit", "get"),
            ("/healthz", "get"),
        ]:
            assert method in paths[path], path
        schemas = spec["components"]["schemas"]
        for name in ("LoginRequest", "LoginResponse", "ErrorBody", "TransferRequest", "AgentView"):
            assert name in schemas
        accept = paths["/api/v1/calls/{call}/accept"]["post"]
        assert {"401", "403", "404", "409"} <= set(accept["responses"])
        assert "HTTPBearer" in spec["components"]["securitySchemes"]
        # unknown routes answer in the same error format
        _error(await http.get("/api/v1/nope"), 404, "not_found")


@realtime
async def test_login_me_logout(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        response = await http.post(
            "/api/v1/login", json={"username": "clearing1", "password": PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["user"] == {
            "name": "clearing1",
            "role": "agent",
            "display_name": "Clearing1",
            "is_agent": True,
        }
        assert body["expires_at"] > api.users.now() + 43000
        token = body["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        me = (await http.get("/api/v1/me")).json()
        assert me["user"]["name"] == "clearing1"
        assert me["agent"]["id"] == "clearing1" and me["agent"]["status"] == "logged_out"
        assert (await http.post("/api/v1/logout")).json() == {"ok": True}
        _error(await http.get("/api/v1/me"), 401, "unauthenticated")

        token = await _token(api, "super1")
        me = (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
        assert me["user"]["is_agent"] is False and me["agent"] is None


@realtime
async def test_login_failures(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        for username, password in [
            ("clearing1", "wrong-password"),
            ("nobody", PASSWORD),
            ("gone1", PASSWORD),  # disabled
        ]:
            response = await http.post(
                "/api/v1/login", json={"username": username, "password": password}
            )
            _error(response, 401, "invalid_credentials")
        detail = _error(
            await http.post("/api/v1/login", json={"username": "clearing1"}), 422, "invalid"
        )
        assert "password" in detail
        response = await http.get("/api/v1/me")
        _error(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
        response = await http.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
        assert "invalid or expired" in _error(response, 401, "unauthenticated")


@realtime
async def test_login_rate_limited(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        for _ in range(5):
            response = await http.post(
                "/api/v1/login", json={"username": "clearing1", "password": "wrong-password"}
            )
            _error(response, 401, "invalid_credentials")
        response = await http.post(
            "/api/v1/login", json={"username": "clearing1", "password": PASSWORD}
        )
        assert "try again" in _error(response, 429, "rate_limited")
        assert 0 < int(response.headers["retry-after"]) <= 300
        # other names are not affected
        response = await http.post(
            "/api/v1/login", json={"username": "clearing2", "password": PASSWORD}
        )
        assert response.status_code == 200


def test_login_limiter_window_and_block() -> None:
    now = [0.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for _ in range(4):
        limiter.failure("a")
        now[0] += 100  # spread over 400 s: never 5 within 300 s
    assert limiter.retry_after("a") is None
    limiter.success("a")
    for _ in range(5):
        limiter.failure("a")
    assert limiter.retry_after("a") == 300
    now[0] += 299
    assert limiter.retry_after("a") == pytest.approx(1)
    now[0] += 1
    assert limiter.retry_after("a") is None
    limiter.failure("a")
    assert limiter.retry_after("a") is None  # counting starts again


def test_login_limiter_memory_is_bounded() -> None:
    limiter = LoginLimiter(max_names=10, clock=lambda: 0.0)
    for i in range(100):
        limiter.failure(f"user{i}")
    assert len(limiter._failures) <= 10


def test_tokens_are_redacted_from_uvicorn_logs() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/api/v1/events?token=s3cr3t&x=1"),
        None,
    )
    assert RedactTokens().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "token=***&x=1" in record.getMessage()


# ------------------------------------------------------------------------------- calls
@realtime
async def test_ready_offer_accept_busy_hangup(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        agent = await _client(api, "clearing1")
        try:
            entry = await agent.set_status("ready")
            assert entry["status"] == "ready"
            assert (await agent.wait_for("status", 5))["status"] in ("not_ready", "ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            offer = await agent.wait_for("offer", 5)
            assert offer["call"] == call and offer["booth"] == BOOTH
            assert offer["queue"] == "clearing"
            assert agent.current_offer == call
            result = await agent.accept()
            assert result["call"]["status"] == "connected"
            assert result["call"]["agent"] == "clearing1"
            assert result["agent"]["status"] == "busy"
            connected = await agent.wait_for("connected", 5)
            assert connected["id"] == call
            status = await agent.status()
            me = next(a for a in status["agents"] if a["id"] == "clearing1")
            assert me["status"] == "busy" and me["call"] == call
            assert next(c for c in status["calls"] if c["id"] == call)["status"] == "connected"
            assert (await agent.whoami())["agent"]["status"] == "busy"
            result = await agent.hangup()
            assert result["call"] is None
            ended = await agent.wait_for("ended", 5)
            assert ended == {"type": "call_ended", "call": call, "reason": "agent_hangup"}
            assert agent.current_call is None
            assert await agent.agent_status() == "ready"
        finally:
            await agent.close()


@realtime
async def test_agent_status_transitions(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        agent = await _client(api, "clearing1", events=False)
        try:
            entry = await agent.set_status("not_ready", "lunch")  # logs in first
            assert (entry["status"], entry["reason"]) == ("not_ready", "lunch")
            entry = await agent.set_status("not_ready")
            assert (entry["status"], entry["reason"]) == ("not_ready", "break")
            assert (await agent.set_status("ready"))["status"] == "ready"
            assert (await agent.set_status("ready"))["status"] == "ready"  # idempotent
            assert (await agent.set_status("logged_out"))["status"] == "logged_out"
            assert (await agent.set_status("logged_out"))["status"] == "logged_out"
            queues = await agent.queues()
            assert {q["id"] for q in queues} == {"clearing", "wohngeld"}
            agents = await agent.agents()
            assert {a["id"] for a in agents} == {"clearing1", "clearing2", "wohngeld1"}
        finally:
            await agent.close()


@realtime
async def test_error_bodies(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        c1 = await _client(api, "clearing1")
        sup = await _client(api, "super1", events=False)
        c2 = await _client(api, "clearing2", events=False)
        try:
            # 403: not an agent of the ACD
            with pytest.raises(ApiError) as err:
                await sup.set_status("ready")
            assert (err.value.status, err.value.code) == (403, "not_an_agent")
            with pytest.raises(ApiError) as err:
                await sup.accept("abc")
            assert err.value.status == 403
            # 403: wrong role for the audit log
            with pytest.raises(ApiError) as err:
                await c1.audit()
            assert (err.value.status, err.value.code) == (403, "forbidden")
            # 404: unknown call (EngineError unknown_call)
            with pytest.raises(ApiError) as err:
                await c1.accept("no-such-call")
            assert (err.value.status, err.value.code) == (404, "unknown_call")
            # 409: EngineError with its code
            await c1.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            await c1.wait_for("offer", 5)
            with pytest.raises(ApiError) as err:
                await c2.accept(call)
            assert (err.value.status, err.value.code) == (409, "not_offered")
            with pytest.raises(ApiError) as err:
                await c2.hangup(call)
            assert (err.value.status, err.value.code) == (409, "not_your_call")
            # 422: invalid bodies name the field
            with pytest.raises(ApiError) as err:
                await c1.request("POST", "/agent/status", {"status": "sleeping"})
            assert err.value.status == 422 and "status" in err.value.detail
            with pytest.raises(ApiError) as err:
                await c1.request("POST", f"/calls/{call}/transfer", {"mode": "blind"})
            assert err.value.status == 422 and "queue or clerk" in err.value.detail
            with pytest.raises(ApiError) as err:
                await c1.request("POST", f"/calls/{call}/transfer", {"queue": "x", "mode": "x"})
            assert err.value.status == 422 and "mode" in err.value.detail
            # 404 for an unknown transfer target
            await c1.accept(call)
            with pytest.raises(ApiError) as err:
                await c1.transfer("no-such-queue")
            assert (err.value.status, err.value.code) == (404, "unknown_queue")
        finally:
            for client in (c1, sup, c2):
                await client.close()


@realtime
async def test_blind_transfer_to_a_queue(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        c1 = await _client(api, "clearing1")
        w1 = await _client(api, "wohngeld1")
        try:
            await c1.set_status("ready")
            await w1.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            await c1.wait_for("offer", 5)
            await c1.accept()
            await c1.wait_for("connected", 5)
            result = await c1.transfer("wohngeld")
            assert result["agent"]["status"] in ("ready", "wrap_up")
            assert (await c1.wait_for("transferred", 5))["id"] == call
            assert c1.current_call is None
            offer = await w1.wait_for("offer", 5)
            assert (offer["call"], offer["queue"]) == (call, "wohngeld")
            await w1.accept()
            assert (await w1.wait_for("connected", 5))["id"] == call
            await w1.hangup()
            assert (await w1.wait_for("ended", 5))["call"] == call
        finally:
            await c1.close()
            await w1.close()


@realtime
async def test_consult_then_complete(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        c1 = await _client(api, "clearing1")
        w1 = await _client(api, "wohngeld1")
        try:
            await c1.set_status("ready")
            await w1.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            await c1.wait_for("offer", 5)
            await c1.accept()
            await c1.consult(clerk="wohngeld1")
            offer = await w1.wait_for("offer", 5)
            assert offer["consult_for"] == "clearing1" and offer["call"] != call
            await w1.accept()
            consult = await c1.wait_for("consult", 5)
            assert (consult["call"], consult["state"]) == (call, "connected")
            assert consult["consultant"] == "wohngeld1"
            assert (await w1.wait_for("consult", 5))["state"] == "connected"
            await c1.complete_transfer()
            assert (await c1.wait_for("transferred", 5))["id"] == call
            assert (await w1.wait_for("connected", 5))["id"] == call
            assert w1.current_call == call
            status = await w1.status()
            view = next(c for c in status["calls"] if c["id"] == call)
            assert (view["agent"], view["queue"]) == ("wohngeld1", "wohngeld")
            await w1.hangup()
            assert (await w1.wait_for("ended", 5))["call"] == call
        finally:
            await c1.close()
            await w1.close()


@realtime
async def test_consult_cancel(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        c1 = await _client(api, "clearing1")
        w1 = await _client(api, "wohngeld1")
        try:
            await c1.set_status("ready")
            await w1.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            await c1.wait_for("offer", 5)
            await c1.accept()
            await c1.consult("wohngeld")
            await w1.wait_for("offer", 5)
            await w1.accept()
            await c1.wait_for("consult", 5)
            await c1.cancel_transfer()
            ended = await w1.wait_for("consult", 5, call=call)
            while ended["state"] != "ended":
                ended = await w1.wait_for("consult", 5, call=call)
            assert w1.current_call is None
            assert c1.current_call == call
            with pytest.raises(ApiError) as err:
                await c1.complete_transfer()
            assert (err.value.status, err.value.code) == (409, "no_consult")
            await c1.hangup()
        finally:
            await c1.close()
            await w1.close()


@realtime
async def test_supervisor_hangs_up_any_call(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        c1 = await _client(api, "clearing1")
        sup = await _client(api, "super1", events=False)
        try:
            await c1.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            with pytest.raises(ApiError) as err:  # ringing: no agent to hang up for
                await sup.hangup(call)
            assert (err.value.status, err.value.code) == (409, "bad_state")
            await c1.wait_for("offer", 5)
            await c1.accept()
            c2 = await _client(api, "clearing2", events=False)
            with pytest.raises(ApiError) as err:  # other agents may not
                await c2.hangup(call)
            await c2.close()
            assert err.value.code == "not_your_call"
            result = await sup.hangup(call)
            assert result["call"] is None
            ended = await c1.wait_for("ended", 5)
            assert ended["reason"] == "supervisor_hangup"
            with pytest.raises(ApiError) as err:
                await sup.hangup(call)
            assert (err.value.status, err.value.code) == (404, "unknown_call")
        finally:
            await c1.close()
            await sup.close()


# ------------------------------------------------------------------------ booth commands
@realtime
async def test_booth_commands_and_audit(tmp_path: Path) -> None:
    async with live_api(tmp_path, command_timeout_s=0.3) as api:
        c1 = await _client(api, "clearing1")
        tech = await _client(api, "tech1", events=False)
        sup = await _client(api, "super1", events=False)
        try:
            # an agent not in a call with the booth: denied (and audited)
            with pytest.raises(ApiError) as err:
                await c1.booth_command(BOOTH, "door.open")
            assert (err.value.status, err.value.code) == (403, "command_denied")
            with pytest.raises(ApiError) as err:
                await c1.booth_command("nowhere-1", "door.open")
            assert (err.value.status, err.value.code) == (404, "unknown_booth")
            with pytest.raises(ApiError) as err:
                await tech.booth_command(BOOTH, "self.destruct")
            assert (err.value.status, err.value.code) == (422, "invalid")
            assert "self.destruct" in err.value.detail
            # allowed, but no booth answers (no MQTT here): 504
            with pytest.raises(ApiError) as err:
                await tech.booth_command(BOOTH, "ping")
            assert (err.value.status, err.value.code) == (504, "timeout")
            # an agent in a call with the booth may
            await c1.set_status("ready")
            await api.bridge.call_requested(BOOTH, "session-1")
            await c1.wait_for("offer", 5)
            await c1.accept()
            with pytest.raises(ApiError) as err:
                await c1.booth_command(BOOTH, "door.open")
            assert err.value.status == 504

            audit = await sup.audit(limit=50)
            outcomes = [(a["user"], a["cmd"], a["outcome"].split(" ")[0]) for a in audit]
            assert ("clearing1", "door.open", "denied:") in outcomes
            assert ("tech1", "ping", "timeout") in outcomes
            assert ("clearing1", "door.open", "timeout") in outcomes
            assert all(a["booth"] == BOOTH for a in await tech.audit(booth=BOOTH))
            assert await tech.audit(booth="nowhere-1") != []
            assert len(await tech.audit(limit=1)) == 1
            with pytest.raises(ApiError) as err:
                await tech.audit(limit=0)
            assert err.value.status == 422 and "limit" in err.value.detail
        finally:
            for client in (c1, tech, sup):
                await client.close()


# ---------------------------------------------------------------------------- WebSocket
@realtime
async def test_websocket_auth_snapshot_ping(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        ws_base = api.url.replace("http://", "ws://") + "/api/v1/events"
        for url in (ws_base, f"{ws_base}?token=forged"):
            async with websockets.connect(url) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        token = await _token(api, "tech1")
        async with websockets.connect(f"{ws_base}?token={token}") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first["type"] == "snapshot"
            assert {"agents", "queues", "calls", "booths"} <= set(first)
            await ws.send(json.dumps({"type": "ping", "id": 7}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong", "id": 7}
            await ws.send("nonsense")
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "error"
            # the token is revoked: the next ping closes the socket
            async with _http(api, token) as http:
                await http.post("/api/v1/logout")
            await ws.send(json.dumps({"type": "ping"}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@realtime
async def test_websocket_watchdog_closes_on_revoked_token(tmp_path: Path) -> None:
    async with live_api(tmp_path, ws_recheck_s=0.05) as api:
        client = await _client(api, "tech1")
        try:
            api.users.set_disabled("tech1", True)
            with pytest.raises(ConnectionError, match="unauthenticated"):
                await client.wait_for("never", 5)
        finally:
            await client.close()


@realtime
async def test_last_websocket_closing_tells_the_bridge(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        api.bridge.agent_grace_s = 0.05
        first = await _client(api, "clearing1")
        second = await _client(api, "clearing1")
        try:
            await first.set_status("ready")
            await first.close()  # one client left: the agent stays
            await second.ping()
            assert (await second.whoami())["agent"]["status"] == "ready"
            gone = when_agent(api.bridge, "clearing1", "not_ready", 5)
            await second.close()
            await gone  # the bridge's grace period ran out: the agent is not ready
        finally:
            await first.close()
            await second.close()


@realtime
async def test_reconnect_keeps_the_agent(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        agent = await _client(api, "clearing1")
        try:
            await agent.set_status("ready")
            ws = agent._ws
            assert ws is not None
            await ws.close()  # the network drops
            lost = await agent.wait_for("connection", 5)
            assert lost["state"] == "lost"
            snapshot = await agent.wait_for("snapshot", 10)  # reconnected
            me = next(a for a in snapshot["agents"] if a["id"] == "clearing1")
            assert me["status"] == "ready"
        finally:
            await agent.close()
