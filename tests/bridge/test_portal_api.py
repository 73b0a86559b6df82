"""The bridge's routes for the portal (docs/portal.md) over real HTTP and WebSockets, on the real
bridge: the cookie session with its CSRF check, accounts admin, settings, wallboard, reports,
booth faults and the portal's static files."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets
from api_harness import BOOTH, FAST_HASHER, PASSWORD, LiveApi, live_api
from websockets.exceptions import ConnectionClosed

from cloud_bridge.agent_client import AgentClient
from cloud_bridge.booths import FAULTS_KEPT
from cloud_bridge.store import SQLiteStore
from cloud_bridge.users import UserSettings, UserStore
from lisa_messages import now_rfc3339, parse_booth_event

realtime = pytest.mark.realtime
API = "/api/v1"


def _http(api: LiveApi, token: str | None = None, **options: Any) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10, **options)


async def _token(api: LiveApi, name: str, password: str = PASSWORD) -> str:
    async with _http(api) as http:
        response = await http.post(f"{API}/login", json={"username": name, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code, body
    return str(body["detail"])


def _set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """name -> {"value": …, attribute (lowercase) -> value ("" for flags)}."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        entry = {"value": value}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            entry[key.lower()] = val
        cookies[name] = entry
    return cookies


async def _session(api: LiveApi, name: str) -> tuple[str, str]:
    """(session token, csrf token) of a portal login."""
    async with _http(api) as http:
        response = await http.post(f"{API}/session", json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        cookies = _set_cookies(response)
        return cookies["lisa_session"]["value"], cookies["lisa_csrf"]["value"]


def _cookie_client(api: LiveApi, session: str, csrf: str) -> httpx.AsyncClient:
    return _http(api, cookies={"lisa_session": session, "lisa_csrf": csrf})


# --------------------------------------------------------------------------- the session
@realtime
async def test_session_login_sets_the_cookies(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        response = await http.post(
            f"{API}/session", json={"username": "clearing1", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"]["name"] == "clearing1" and body["user"]["is_agent"] is True
        assert body["expires_at"] > api.users.now() + 43000
        cookies = _set_cookies(response)
        session, csrf = cookies["lisa_session"], cookies["lisa_csrf"]
        assert api.users.user_for_token(session["value"]).name == "clearing1"  # type: ignore[union-attr]
        assert session["path"] == "/" and "httponly" in session
        assert session["samesite"].lower() == "strict"
        assert "secure" not in session  # plain http
        assert csrf["value"] == body["csrf"] and len(csrf["value"]) >= 32
        assert csrf["samesite"].lower() == "strict" and csrf["path"] == "/"
        assert "httponly" not in csrf  # the page reads it
        # behind the TLS proxy: Secure
        response = await http.post(
            f"{API}/session",
            json={"username": "clearing1", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        cookies = _set_cookies(response)
        assert "secure" in cookies["lisa_session"] and "secure" in cookies["lisa_csrf"]


@realtime
async def test_session_login_failures_share_the_login_rate_limit(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        for username in ("clearing1", "nobody", "gone1"):
            response = await http.post(
                f"{API}/session", json={"username": username, "password": "wrong-password"}
            )
            _error(response, 401, "invalid_credentials")
            assert "set-cookie" not in response.headers
        for _ in range(4):
            await http.post(
                f"{API}/session", json={"username": "clearing1", "password": "wrong-password"}
            )
        response = await http.post(
            f"{API}/session", json={"username": "clearing1", "password": PASSWORD}
        )
        _error(response, 429, "rate_limited")
        assert int(response.headers["Retry-After"]) > 0
        response = await http.post(
            f"{API}/login", json={"username": "clearing1", "password": PASSWORD}
        )
        _error(response, 429, "rate_limited")


@realtime
async def test_cookie_requests_need_the_csrf_header_bearer_requests_do_not(
    tmp_path: Path,
) -> None:
    async with live_api(tmp_path) as api:
        session, csrf = await _session(api, "clearing1")
        async with _cookie_client(api, session, csrf) as http:
            me = await http.get(f"{API}/me")
            assert me.status_code == 200 and me.json()["user"]["name"] == "clearing1"
            assert (await http.get(f"{API}/status")).status_code == 200
            ready = {"status": "not_ready"}
            detail = _error(await http.post(f"{API}/agent/status", json=ready), 403, "csrf")
            assert "X-CSRF-Token" in detail
            flipped = ("y" if csrf[0] == "x" else "x") + csrf[1:]
            wrong = {"X-CSRF-Token": flipped}
            _error(await http.post(f"{API}/agent/status", json=ready, headers=wrong), 403, "csrf")
            ok = await http.post(f"{API}/agent/status", json=ready, headers={"X-CSRF-Token": csrf})
            assert ok.status_code == 200 and ok.json()["status"] == "not_ready"
        # the header without the cookie counts for nothing
        async with _http(api, cookies={"lisa_session": session}) as http:
            response = await http.post(
                f"{API}/agent/status", json={"status": "ready"}, headers={"X-CSRF-Token": csrf}
            )
            _error(response, 403, "csrf")
        # a forged cookie is no session
        async with _cookie_client(api, "forged", csrf) as http:
            _error(await http.get(f"{API}/me"), 401, "unauthenticated")
        # bearer: no CSRF token needed (the token itself is the proof)
        token = await _token(api, "clearing1")
        async with _http(api, token) as http:
            response = await http.post(f"{API}/agent/status", json={"status": "logged_out"})
            assert response.status_code == 200 and response.json()["status"] == "logged_out"


@realtime
async def test_session_logout_revokes_and_clears(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        session, csrf = await _session(api, "tech1")
        async with _cookie_client(api, session, csrf) as http:
            _error(await http.delete(f"{API}/session"), 403, "csrf")
            response = await http.delete(f"{API}/session", headers={"X-CSRF-Token": csrf})
            assert response.status_code == 200 and response.json() == {"ok": True}
            cleared = _set_cookies(response)
            for name in ("lisa_session", "lisa_csrf"):
                assert cleared[name]["max-age"] == "0" and cleared[name]["path"] == "/"
            assert api.users.user_for_token(session) is None
        async with _cookie_client(api, session, csrf) as http:
            _error(await http.get(f"{API}/me"), 401, "unauthenticated")


async def _ws_closed_code(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


@realtime
async def test_websocket_takes_the_cookie_only_from_its_own_origin(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        session, _ = await _session(api, "tech1")
        url = api.url.replace("http://", "ws://") + f"{API}/events"
        cookie = {"Cookie": f"lisa_session={session}"}
        async with websockets.connect(url, additional_headers=cookie, origin=api.url) as ws:  # type: ignore[arg-type]
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        port = api.url.rsplit(":", 1)[1]
        for origin in ("http://evil.example", f"https://127.0.0.1:{port}", "http://127.0.0.1:1"):
            async with websockets.connect(url, additional_headers=cookie, origin=origin) as ws:  # type: ignore[arg-type]
                assert await _ws_closed_code(ws) == 4401
        async with websockets.connect(url, additional_headers=cookie) as ws:  # no Origin
            assert await _ws_closed_code(ws) == 4401
        # ?token= keeps working (also without an Origin)
        async with websockets.connect(f"{url}?token={session}") as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        api.users.revoke_token(session)
        async with websockets.connect(url, additional_headers=cookie, origin=api.url) as ws:  # type: ignore[arg-type]
            assert await _ws_closed_code(ws) == 4401


# ------------------------------------------------------------------------------- accounts
@realtime
async def test_users_admin(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        for name in ("super1", "clearing1", "tech1"):
            async with _http(api, await _token(api, name)) as http:
                _error(await http.get(f"{API}/users"), 403, "forbidden")
                new = {"name": "neu1", "role": "agent", "password": PASSWORD}
                _error(await http.post(f"{API}/users", json=new), 403, "forbidden")
                _error(await http.patch(f"{API}/users/tech1", json={}), 403, "forbidden")
        async with _http(api, await _token(api, "admin1")) as http:
            listed = {u["name"]: u for u in (await http.get(f"{API}/users")).json()}
            assert listed["gone1"] == {
                "name": "gone1",
                "role": "agent",
                "display_name": "Gone1",
                "disabled": True,
                "is_agent": False,
            }
            assert listed["clearing1"]["is_agent"] is True
            body = {"name": "neu1", "role": "agent", "password": PASSWORD, "display_name": "Neu"}
            created = await http.post(f"{API}/users", json=body)
            assert created.status_code == 201, created.text
            assert created.json() == {
                "name": "neu1",
                "role": "agent",
                "display_name": "Neu",
                "disabled": False,
                "is_agent": False,
            }
            _error(await http.post(f"{API}/users", json=body), 409, "exists")
            weak = {**body, "name": "neu2", "password": "short"}
            assert "password" in _error(await http.post(f"{API}/users", json=weak), 422, "invalid")
            bad = {**body, "name": "Neu 2"}
            assert "name" in _error(await http.post(f"{API}/users", json=bad), 422, "invalid")
            _error(await http.patch(f"{API}/users/nobody", json={}), 404, "unknown_user")

            # disabling revokes the user's sessions
            token = await _token(api, "neu1")
            changed = await http.patch(f"{API}/users/neu1", json={"disabled": True})
            assert changed.status_code == 200 and changed.json()["disabled"] is True
            assert api.users.user_for_token(token) is None
            # enabled again, role and name changed; a new password revokes as well
            changed = await http.patch(
                f"{API}/users/neu1",
                json={"disabled": False, "role": "supervisor", "display_name": "Neue"},
            )
            assert changed.json()["role"] == "supervisor" and changed.json()["disabled"] is False
            token = await _token(api, "neu1")
            new_password = "another-horse"
            changed = await http.patch(f"{API}/users/neu1", json={"password": new_password})
            assert changed.status_code == 200
            assert api.users.user_for_token(token) is None
            await _token(api, "neu1", new_password)

            # the last enabled admin can neither be demoted nor disabled
            for change in ({"role": "agent"}, {"disabled": True}):
                response = await http.patch(f"{API}/users/admin1", json=change)
                _error(response, 409, "last_admin")
            assert api.users.get("admin1").role == "admin"  # type: ignore[union-attr]
            promoted = await http.patch(f"{API}/users/neu1", json={"role": "admin"})
            assert promoted.json()["role"] == "admin"
            demoted = await http.patch(f"{API}/users/admin1", json={"role": "supervisor"})
            assert demoted.status_code == 200 and demoted.json()["role"] == "supervisor"
        async with _http(api, await _token(api, "neu1", new_password)) as http:
            _error(
                await http.patch(f"{API}/users/neu1", json={"disabled": True}), 409, "last_admin"
            )
            # a patch that keeps the admin an admin is fine
            response = await http.patch(f"{API}/users/neu1", json={"role": "admin"})
            assert response.status_code == 200


@realtime
async def test_settings_round_trip(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        session, csrf = await _session(api, "clearing1")
        async with _cookie_client(api, session, csrf) as http:
            assert (await http.get(f"{API}/me/settings")).json() == {"auto_accept": False}
            _error(await http.put(f"{API}/me/settings", json={"auto_accept": True}), 403, "csrf")
            response = await http.put(
                f"{API}/me/settings", json={"auto_accept": True}, headers={"X-CSRF-Token": csrf}
            )
            assert response.json() == {"auto_accept": True}
            assert (await http.get(f"{API}/me/settings")).json() == {"auto_accept": True}
            response = await http.put(f"{API}/me/settings", json={}, headers={"X-CSRF-Token": csrf})
            assert "auto_accept" in _error(response, 422, "invalid")
        async with _http(api, await _token(api, "clearing2")) as http:  # per account
            assert (await http.get(f"{API}/me/settings")).json() == {"auto_accept": False}
        assert api.users.settings("clearing1") == UserSettings(auto_accept=True)


def test_settings_migration_of_an_existing_database(tmp_path: Path) -> None:
    """A database of the version before the settings: the column is added, nothing is lost,
    and the bridge's store still takes the file."""
    db = tmp_path / "bridge.db"
    old = sqlite3.connect(db)
    old.executescript(
        """
        CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL);
        CREATE TABLE tokens (token_sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            created REAL NOT NULL, expires REAL NOT NULL);
        """
    )
    old.execute(
        "INSERT INTO users VALUES ('alt1', 'agent', 'Alt', ?, 0, 1.0, 1.0)",
        (FAST_HASHER.hash(PASSWORD),),
    )
    old.commit()
    old.close()

    users = UserStore(db, hasher=FAST_HASHER)
    try:
        assert users.authenticate("alt1", PASSWORD) is not None
        assert users.settings("alt1") == UserSettings(auto_accept=False)
        users.set_settings("alt1", UserSettings(auto_accept=True))
    finally:
        users.close()
    users = UserStore(db, hasher=FAST_HASHER)  # opening again: no second migration
    try:
        assert users.settings("alt1").auto_accept is True
        assert users.get("alt1").display_name == "Alt"  # type: ignore[union-attr]
    finally:
        users.close()
    SQLiteStore(db).close()  # still a LISA database for the bridge's store
    # a value of a later version is kept by this one
    raw = sqlite3.connect(db)
    raw.execute("""UPDATE users SET settings = '{"auto_accept": true, "theme": "dark"}'""")
    raw.commit()
    raw.close()
    users = UserStore(db, hasher=FAST_HASHER)
    try:
        users.set_settings("alt1", UserSettings(auto_accept=False))
    finally:
        users.close()
    raw = sqlite3.connect(db)
    (stored,) = raw.execute("SELECT settings FROM users").fetchone()
    raw.close()
    assert json.loads(stored) == {"auto_accept": False, "theme": "dark"}


# ------------------------------------------------------------------ wallboard and reports
async def _agent(api: LiveApi, name: str) -> AgentClient:
    client = AgentClient(api.url, name)
    await client.login(PASSWORD)
    await client.connect(timeout=5)
    return client


def _today() -> str:
    return datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()


@realtime
async def test_wallboard_and_reports_after_an_answered_and_an_abandoned_call(
    tmp_path: Path,
) -> None:
    async with live_api(tmp_path) as api:
        async with _http(api, await _token(api, "super1")) as http:
            board = (await http.get(f"{API}/wallboard")).json()
            assert board["offered_today"] == 0 and board["service_level"] is None
            assert board["day"] == _today() and board["tz"] == "Europe/Berlin"
        agent = await _agent(api, "clearing1")
        try:
            await agent.set_status("ready")
            call = await api.bridge.call_requested(BOOTH, "session-1")
            await agent.wait_for("offer", 5)
            await agent.accept()
            await agent.wait_for("connected", 5)
            await agent.hangup()
            await agent.wait_for("ended", 5)
            await agent.set_status("not_ready", "break")
            second = await api.bridge.call_requested(BOOTH, "session-2")
            assert second != call
            async with _http(api, await _token(api, "admin1")) as http:
                board = (await http.get(f"{API}/wallboard")).json()
            assert board["waiting_now"] == 1 and board["longest_wait_s"] >= 0
            assert board["agents"] == {
                "ready": 0,
                "busy": 0,
                "wrap_up": 0,
                "not_ready": 1,
                "offered": 0,
            }
            await api.bridge.call_ended_by_booth(BOOTH, "session-2", "caller_left")
        finally:
            await agent.close()

        async with _http(api, await _token(api, "super1")) as http:
            board = (await http.get(f"{API}/wallboard")).json()
            assert board["offered_today"] == 2
            assert board["answered_today"] == 1
            assert board["abandoned_today"] == 1
            assert board["waiting_now"] == 0 and board["longest_wait_s"] == 0
            assert board["service_level"] is not None and 0 < board["service_level"] <= 1
            assert board["asa_s"] is not None and board["asa_s"] >= 0

            today = _today()
            report = await http.get(f"{API}/reports", params={"from": today, "to": today})
            assert report.status_code == 200, report.text
            assert report.headers["content-type"].startswith("application/json")
            body = report.json()
            assert body["meta"]["from"] == today and body["meta"]["to"] == today
            assert "database" not in body["meta"]  # no server paths to the browser
            assert body["total"]["offered"] == 2 and body["total"]["answered"] == 1
            assert body["by_agent"]["clearing1"]["answered"] == 1
            assert body["by_booth"][BOOTH]["abandoned"] == 1
            assert (await http.get(f"{API}/reports")).json()["total"] == body["total"]

            response = await http.get(f"{API}/reports", params={"from": today, "format": "csv"})
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            disposition = response.headers["content-disposition"]
            assert disposition == f'attachment; filename="lisa-report-{today}-{today}.csv"'
            rows = list(csv.DictReader(io.StringIO(response.text)))
            total = next(r for r in rows if r["dimension"] == "total")
            assert total["offered"] == "2" and total["abandoned"] == "1"

            for params, name in [
                ({"from": "2026-02-30"}, "from"),
                ({"from": "yesterday"}, "from"),
                ({"to": "2026-13-01"}, "to"),
                ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
                ({"from": "2024-01-01", "to": "2026-01-01"}, "to"),
                ({"from": "1999-12-31"}, "from"),
            ]:
                response = await http.get(f"{API}/reports", params=params)
                assert name in _error(response, 422, "invalid"), params
            response = await http.get(f"{API}/reports", params={"format": "html"})
            assert "format" in _error(response, 422, "invalid")
        for name in ("clearing1", "tech1"):
            async with _http(api, await _token(api, name)) as http:
                _error(await http.get(f"{API}/wallboard"), 403, "forbidden")
                _error(await http.get(f"{API}/reports"), 403, "forbidden")


# ---------------------------------------------------------------------------- booth faults
def _booth_event(seq: int, type_: str, **data: Any) -> Any:
    return parse_booth_event(
        {
            "id": f"ev-{uuid.uuid4().hex[:12]}",
            "booth": BOOTH,
            "seq": seq,
            "ts": now_rfc3339(),
            "type": type_,
            "data": data,
        }
    )


@realtime
async def test_booth_faults_ring_is_bounded_and_newest_first(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        bridge = api.bridge
        seq = 0

        def feed(type_: str, **data: Any) -> None:
            nonlocal seq
            seq += 1
            bridge.handle_booth_event(_booth_event(seq, type_, **data))

        feed("selftest", device="door", outcome="pass")  # passed: no fault
        feed("presence", present=True)  # no fault either
        feed("selftest", device="camera_document", outcome="fail", message="no frame")
        feed("error", where="door", error="timeout closing")
        feed("protocol_error", topic="lisa/v1/booth/gartz-1/cmd", error="not JSON")
        for i in range(FAULTS_KEPT + 5):
            feed("health", device="door", status="degraded" if i % 2 else "ok", reason=f"r{i}")
        last = FAULTS_KEPT + 4
        async with _http(api, await _token(api, "tech1")) as http:
            faults = (await http.get(f"{API}/booths/{BOOTH}/faults")).json()
            assert len(faults) == 50
            assert faults[0]["type"] == "health" and faults[0]["detail"] == f"r{last}"
            assert faults[0]["device"] == "door" and faults[0]["status"] == "ok"
            assert [f["seq"] for f in faults] == sorted((f["seq"] for f in faults), reverse=True)
            everything = (
                await http.get(f"{API}/booths/{BOOTH}/faults", params={"limit": 200})
            ).json()
            assert len(everything) == FAULTS_KEPT  # bounded: the oldest are gone
            assert all(f["type"] == "health" for f in everything)
            assert everything[-1]["detail"] == f"r{last - FAULTS_KEPT + 1}"
            few = (await http.get(f"{API}/booths/{BOOTH}/faults", params={"limit": 2})).json()
            assert [f["detail"] for f in few] == [f"r{last}", f"r{last - 1}"]
            too_many = await http.get(f"{API}/booths/{BOOTH}/faults", params={"limit": 201})
            _error(too_many, 422, "invalid")
            _error(await http.get(f"{API}/booths/nowhere-9/faults"), 404, "unknown_booth")
        async with _http(api, await _token(api, "clearing1")) as http:
            _error(await http.get(f"{API}/booths/{BOOTH}/faults"), 403, "forbidden")


def test_fault_entries_of_each_kind() -> None:
    from cloud_bridge.booths import FaultLog

    faults = FaultLog(keep=3)
    events = [
        _booth_event(1, "selftest", device="door", outcome="pass"),
        _booth_event(2, "selftest", device="camera_document", outcome="fail", message="dark"),
        _booth_event(3, "error", where="door", error="timeout"),
        _booth_event(4, "protocol_error", topic="lisa/v1/booth/gartz-1/cmd", error="not JSON"),
        _booth_event(5, "state", state="idle", detail="idle"),
    ]
    assert [faults.record(e) for e in events] == [False, True, True, True, False]
    entries = faults.recent(BOOTH)
    for entry in entries:
        assert entry.pop("ts")
    assert entries == [
        {
            "seq": 4,
            "type": "protocol_error",
            "where": "lisa/v1/booth/gartz-1/cmd",
            "detail": "not JSON",
        },
        {"seq": 3, "type": "error", "where": "door", "detail": "timeout"},
        {
            "seq": 2,
            "type": "selftest",
            "device": "camera_document",
            "status": "fail",
            "detail": "dark",
        },
    ]
    faults.record(_booth_event(6, "error", where="x" * 1000, error="y"))
    newest = faults.recent(BOOTH, 1)[0]
    assert len(newest["where"]) == 300
    assert len(faults.recent(BOOTH, 10)) == 3  # bounded
    assert faults.recent("other-booth") == []


# ---------------------------------------------------------------------------- static files
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'"
)


def test_the_inline_import_map_is_allowed_by_its_hash_and_nothing_else(tmp_path: Path) -> None:
    import base64
    import hashlib

    from cloud_bridge.api.web import security_headers

    body = '\n{"imports": {"preact": "/vendor/preact/dist/preact.mjs"}}\n'
    (tmp_path / "index.html").write_text(
        f'<script type="importmap">{body}</script><script type="module" src="/app.js"></script>',
        encoding="utf-8",
    )
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    csp = security_headers(tmp_path)["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


@realtime
async def test_static_portal_files_with_security_headers(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "vendor" / "preact").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>LISA</title>", encoding="utf-8")
    (web / "app.js").write_text("export const a = 1;\n", encoding="utf-8")
    (web / "vendor" / "preact" / "preact.mjs").write_text("export {};\n", encoding="utf-8")
    (web / "style.css").write_text("body{}\n", encoding="utf-8")
    async with live_api(tmp_path, web_root=web) as api, _http(api) as http:
        for path in ("/", "/index.html"):
            index = await http.get(path)
            assert index.status_code == 200 and "<title>LISA</title>" in index.text
            assert index.headers["content-type"].startswith("text/html")
            assert index.headers["cache-control"] == "no-cache"
            assert index.headers["content-security-policy"] == CSP
            assert index.headers["x-content-type-options"] == "nosniff"
            assert index.headers["referrer-policy"] == "no-referrer"
        for path in ("/app.js", "/vendor/preact/preact.mjs"):
            script = await http.get(path)
            assert script.status_code == 200
            assert script.headers["content-type"].split(";")[0] == "text/javascript"
            assert script.headers["content-security-policy"] == CSP
            assert "no-cache" not in script.headers.get("cache-control", "")
        css = await http.get("/style.css")
        assert css.headers["content-type"].startswith("text/css")
        _error(await http.get("/missing.js"), 404, "not_found")
        _error(await http.get("/../bridge.db"), 404, "not_found")
        # the API and its docs are never files
        assert (await http.get("/healthz")).json() == {"ok": True}
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/docs")).status_code == 200
        _error(await http.get("/api/v1/nope"), 404, "not_found")
        _error(await http.post("/api/v1/nope"), 404, "not_found")
        (web / "api").mkdir()
        (web / "api" / "x.js").write_text("1", encoding="utf-8")
        _error(await http.get("/api/x.js"), 404, "not_found")
        # the portal's files are not in the API's schema; its routes are
        spec = (await http.get("/openapi.json")).json()
        assert all(p.startswith(("/api/", "/healthz")) for p in spec["paths"])
        for path, method in [
            ("/api/v1/session", "post"),
            ("/api/v1/session", "delete"),
            ("/api/v1/users", "get"),
            ("/api/v1/users", "post"),
            ("/api/v1/users/{name}", "patch"),
            ("/api/v1/me/settings", "get"),
            ("/api/v1/me/settings", "put"),
            ("/api/v1/wallboard", "get"),
            ("/api/v1/reports", "get"),
            ("/api/v1/booths/{booth}/faults", "get"),
        ]:
            assert method in spec["paths"][path], (path, method)
        reports = spec["paths"]["/api/v1/reports"]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= set(reports)


@realtime
async def test_static_serving_without_the_portal_files(tmp_path: Path) -> None:
    async with live_api(tmp_path, web_root=tmp_path / "not-there") as api, _http(api) as http:
        _error(await http.get("/"), 404, "not_found")
        _error(await http.get("/index.html"), 404, "not_found")
        assert (await http.get("/healthz")).status_code == 200
