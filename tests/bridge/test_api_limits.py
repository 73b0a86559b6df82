"""The API's limits on what a client sends: the request body's size (413), unknown fields in a
request body (422), failed logins per client address (429), the client address behind a
trusted proxy."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from api_harness import PASSWORD, LiveApi, live_api
from fastapi import APIRouter, Request

from cloud_bridge.api import DEFAULT_MAX_BODY, LoginLimiter, body_limit
from cloud_bridge.api.deps import forwarded_client

realtime = pytest.mark.realtime


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    return str(body["detail"])


def _http(api: LiveApi, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10)


async def _raw(api: LiveApi, head: str, *parts: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers) and ``parts`` over a plain socket, then read
    the answer without sending the rest of the body: the server must answer from what it got
    (a server that waits for the whole body times out here)."""
    url = urlsplit(api.url)
    assert url.hostname and url.port
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        for part in parts:
            writer.write(part)
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode().partition(":")
                headers[key.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
    return int(status_line.split()[1]), headers, body


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# ------------------------------------------------------------------------- body size (413)
@realtime
async def test_a_body_announced_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        status, headers, body = await _raw(
            api,
            "POST /api/v1/login HTTP/1.1\nHost: bridge\nContent-Type: application/json\n"
            "Content-Length: 50000000\n",
            b'{"username": "',  # and nothing more: the 50 MB never come
        )
        assert status == 413
        assert headers["content-type"] == "application/json"
        answer = json.loads(body)
        assert answer["error"] == "too_large"
        assert str(DEFAULT_MAX_BODY) in answer["detail"]
        # a route that answers without reading its body (here 401): 413 all the same
        status, _, body = await _raw(
            api, "POST /api/v1/logout HTTP/1.1\nHost: bridge\nContent-Length: 100000\n"
        )
        assert status == 413 and json.loads(body)["error"] == "too_large"


@realtime
async def test_a_chunked_body_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        piece = b"x" * 16384
        status, _, body = await _raw(
            api,
            "POST /api/v1/login HTTP/1.1\nHost: bridge\nContent-Type: application/json\n"
            "Transfer-Encoding: chunked\n",
            *[_chunk(piece) for _ in range(5)],  # 80 kB, and the body does not end
        )
        assert status == 413
        assert json.loads(body)["error"] == "too_large"


@realtime
async def test_bodies_within_the_limit_are_handled_as_before(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        big = {"username": "clearing1", "password": "x" * (DEFAULT_MAX_BODY - 100)}
        response = await http.post("/api/v1/login", json=big)
        assert "password" in _error(response, 422, "invalid")  # longer than a password may be
        response = await http.post(
            "/api/v1/login",
            content=json.dumps({"username": "clearing1", "password": "x" * DEFAULT_MAX_BODY}),
            headers={"Content-Type": "application/json"},
        )
        assert "larger than" in _error(response, 413, "too_large")
        ok = await http.post("/api/v1/login", json={"username": "clearing1", "password": PASSWORD})
        assert ok.status_code == 200
        spec = (await http.get("/openapi.json")).json()
        assert "413" in spec["paths"]["/api/v1/login"]["post"]["responses"]


@realtime
async def test_a_route_can_declare_a_bigger_limit(tmp_path: Path) -> None:
    async def upload(request: Request) -> dict[str, Any]:
        return {"size": len(await request.body())}

    router = APIRouter(prefix="/api/v1")  # as the routers of cloud_bridge.api declare theirs
    router.add_api_route(
        "/test-upload", upload, methods=["POST"], openapi_extra=body_limit(1024 * 1024)
    )
    api = LiveApi(tmp_path)
    api.app.include_router(router)  # after the portal's files: they leave /api/ alone
    await api.start()
    try:
        async with _http(api) as http:
            response = await http.post("/api/v1/test-upload", content=b"x" * 300_000)
            assert response.status_code == 200, response.text
            assert response.json() == {"size": 300_000}
            response = await http.post("/api/v1/test-upload", content=b"x" * 1_100_000)
            assert "1048576" in _error(response, 413, "too_large")
            spec = (await http.get("/openapi.json")).json()
            assert spec["paths"]["/api/v1/test-upload"]["post"]["x-max-body-bytes"] == 1048576
            # the other routes keep theirs
            response = await http.post("/api/v1/login", content=b"x" * 300_000)
            assert "65536" in _error(response, 413, "too_large")
        status, _, _ = await _raw(
            api,
            "POST /api/v1/test-upload HTTP/1.1\nHost: bridge\nTransfer-Encoding: chunked\n",
            *[_chunk(b"y" * 65536) for _ in range(17)],
        )
        assert status == 413
    finally:
        await api.stop()


# -------------------------------------------------------------------- unknown fields (422)
@realtime
async def test_unknown_fields_in_a_request_body_are_refused(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        response = await http.post(
            "/api/v1/login",
            json={"username": "clearing1", "password": PASSWORD, "remember": True},
        )
        assert _error(response, 422, "invalid") == "remember: unknown field"
        token = (
            await http.post("/api/v1/login", json={"username": "clearing1", "password": PASSWORD})
        ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        response = await http.post("/api/v1/agent/status", json={"statuss": "ready"})
        detail = _error(response, 422, "invalid")
        assert "statuss: unknown field" in detail
        response = await http.post("/api/v1/agent/status", json={"status": "ready"})
        assert response.status_code == 200, response.text
        # booth command arguments stay free-form (each command checks its own)
        response = await http.post(
            "/api/v1/booths/gartz-1/commands", json={"cmd": "door.open", "args": {}, "why": 1}
        )
        assert "why: unknown field" in _error(response, 422, "invalid")


@realtime
async def test_every_request_body_schema_forbids_unknown_fields(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        spec = (await http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    seen = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            schema = body["content"]["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[-1]
            assert schemas[name].get("additionalProperties") is False, (method, path, name)
            seen.append(name)
    assert {"LoginRequest", "AgentStatusRequest", "TransferRequest", "UserCreate"} <= set(seen)


# ------------------------------------------------------------- failed logins per address
@realtime
async def test_failed_logins_are_limited_per_client_address(tmp_path: Path) -> None:
    limiter = LoginLimiter(max_failures=3, window_s=300, block_s=300)
    async with live_api(tmp_path, address_limiter=limiter) as api, _http(api) as http:
        for name in ("nobody1", "nobody2", "nobody3"):  # a new name each time
            response = await http.post(
                "/api/v1/login", json={"username": name, "password": "guess-guess"}
            )
            _error(response, 401, "invalid_credentials")
        # the right password of an account never tried: refused from this address too
        response = await http.post(
            "/api/v1/login", json={"username": "clearing2", "password": PASSWORD}
        )
        assert "try again" in _error(response, 429, "rate_limited")
        assert 0 < int(response.headers["retry-after"]) <= 300
        response = await http.post(
            "/api/v1/session", json={"username": "clearing2", "password": PASSWORD}
        )
        _error(response, 429, "rate_limited")
        assert "retry-after" in response.headers


@realtime
async def test_the_address_limit_counts_session_logins_too(tmp_path: Path) -> None:
    limiter = LoginLimiter(max_failures=2, window_s=300, block_s=300)
    async with live_api(tmp_path, address_limiter=limiter) as api, _http(api) as http:
        for name in ("nobody1", "nobody2"):
            response = await http.post(
                "/api/v1/session", json={"username": name, "password": "guess-guess"}
            )
            _error(response, 401, "invalid_credentials")
        response = await http.post(
            "/api/v1/login", json={"username": "clearing1", "password": PASSWORD}
        )
        _error(response, 429, "rate_limited")


@realtime
async def test_the_default_address_limit_is_20_failures(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api, _http(api) as http:
        for i in range(20):
            response = await http.post(
                "/api/v1/login", json={"username": f"nobody{i}", "password": "guess-guess"}
            )
            _error(response, 401, "invalid_credentials")
        response = await http.post(
            "/api/v1/login", json={"username": "clearing1", "password": PASSWORD}
        )
        _error(response, 429, "rate_limited")


@realtime
async def test_forwarded_for_is_ignored_without_a_trusted_proxy(tmp_path: Path) -> None:
    limiter = LoginLimiter(max_failures=2, window_s=300, block_s=300)
    async with live_api(tmp_path, address_limiter=limiter) as api, _http(api) as http:
        for i in range(2):  # a new forged address each time: still the socket's address
            response = await http.post(
                "/api/v1/login",
                json={"username": f"nobody{i}", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            _error(response, 401, "invalid_credentials")
        response = await http.post(
            "/api/v1/login",
            json={"username": "clearing1", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.77"},
        )
        _error(response, 429, "rate_limited")


@realtime
async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    limiter = LoginLimiter(max_failures=2, window_s=300, block_s=300)
    async with (
        live_api(tmp_path, address_limiter=limiter, trusted_proxies=["127.0.0.1"]) as api,
        _http(api) as http,
    ):
        for i in range(2):
            response = await http.post(
                "/api/v1/login",
                json={"username": f"nobody{i}", "password": "guess-guess"},
                headers={"X-Forwarded-For": "203.0.113.5"},
            )
            _error(response, 401, "invalid_credentials")
        blocked = await http.post(
            "/api/v1/login",
            json={"username": "clearing1", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.5"},
        )
        _error(blocked, 429, "rate_limited")
        other = await http.post(
            "/api/v1/login",
            json={"username": "clearing1", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.6"},
        )
        assert other.status_code == 200, other.text


def _nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "client"),
    [
        ("192.0.2.1", None, (), "192.0.2.1"),
        ("192.0.2.1", "203.0.113.5", (), "192.0.2.1"),  # no proxy is trusted
        ("192.0.2.1", "203.0.113.5", ("127.0.0.1",), "192.0.2.1"),  # not from the proxy
        ("127.0.0.1", "203.0.113.5", ("127.0.0.1",), "203.0.113.5"),
        ("127.0.0.1", None, ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
        # the client forged an entry: the proxy appended the real one (rightmost untrusted)
        ("127.0.0.1", "198.51.100.9, 203.0.113.5", ("127.0.0.1",), "203.0.113.5"),
        # a chain of trusted proxies
        ("10.0.0.2", "203.0.113.5, 10.0.0.1", ("10.0.0.0/8",), "203.0.113.5"),
        ("::1", "2001:db8::5", ("::1",), "2001:db8::5"),
        ("127.0.0.1", "10.0.0.1", ("127.0.0.1", "10.0.0.0/8"), "10.0.0.1"),  # all trusted
        ("127.0.0.1", "garbage", ("127.0.0.1",), "garbage"),
        (None, None, (), "unknown"),
    ],
)
def test_forwarded_client(
    peer: str | None, header: str | None, trusted: tuple[str, ...], client: str
) -> None:
    assert forwarded_client(peer, header, _nets(*trusted)) == client
