"""Real DMS peers for the hand-over tests (the fixtures are in conftest.py): a WebDAV server
(wsgidav on cheroot, in a thread) that can be stopped and started again on the same port and can
hold a request at a gate, and a small Starlette upload endpoint on uvicorn (on the test's loop).
Everything waits on events with timeouts; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from booth.handover.outbox import AuditEntry

USER, PASSWORD = "alice", "s3cret"
TOKEN = "t0ken-for-tests"


class Gate:
    """WSGI middleware: holds the first request of ``method`` before (``when='before'``: the
    body is not read yet) or after (``'after'``: the server has done it, the answer is held)
    the app, until ``release`` is set; ``reached`` is set when it holds."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hold: tuple[str, str] | None = None
        self.reached = threading.Event()
        self.release = threading.Event()
        self.methods: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ["REQUEST_METHOD"]
        self.methods.append(f"{method} {environ.get('PATH_INFO', '')}")
        hold = None
        if self.hold is not None and self.hold[0] == method:
            hold, self.hold = self.hold, None
        if hold is not None and hold[1] == "before":
            self.reached.set()
            self.release.wait(30)
        result = self.app(environ, start_response)
        if hold is not None and hold[1] == "after":
            body = b"".join(result)
            self.reached.set()
            self.release.wait(30)
            return [body]
        return result


class DavServer:
    """wsgidav serving ``root`` with basic auth; ``stop()`` / ``start()`` keep the port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.gate: Gate | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp

        config = {
            "host": "127.0.0.1",
            "port": self.port,
            "provider_mapping": {"/": str(self.root)},
            "simple_dc": {"user_mapping": {"*": {USER: {"password": PASSWORD}}}},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "logging": {"enable": False},
            "verbose": 0,
        }
        if self.port == 0:  # SO_REUSEPORT needs a fixed port: take a free one
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            config["port"] = self.port
        self.gate = Gate(WsgiDAVApp(config))
        # SO_REUSEPORT: after stop() the old connections (FIN-WAIT) would block a new bind
        server = wsgi.Server(("127.0.0.1", self.port), self.gate, reuse_port=True)
        server.prepare()
        self.port = server.bind_addr[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="wsgidav", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            if self.gate is not None:
                self.gate.release.set()
            server.stop()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def files(self, collection: str = "") -> list[str]:
        base = self.root / collection.strip("/")
        return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


# --- HTTP upload endpoint ----------------------------------------------------------------------


class UploadApp:
    """A DMS upload API: ``POST /upload`` (multipart) and ``PUT /documents/{name}``, bearer
    token, de-duplicated by ``Idempotency-Key``. ``fail_next`` answers that many requests 503."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.requests: list[tuple[str, int]] = []
        self.fail_next = 0
        self.app = Starlette(
            routes=[
                Route("/upload", self.upload, methods=["POST"]),
                Route("/documents/{name}", self.put, methods=["PUT"]),
            ]
        )

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, 401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "maintenance"}, 503)
        return None

    async def upload(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            self.requests.append(("POST", refused.status_code))
            return refused
        form = _multipart(request.headers["content-type"], await request.body())
        key = request.headers["idempotency-key"]
        assert form["document_id"] == key.encode()
        content = form["file"]
        status = 200 if key in self.stored else 201
        self.stored.setdefault(key, content)
        self.requests.append(("POST", status))
        return JSONResponse({"id": key}, status)

    async def put(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            self.requests.append(("PUT", refused.status_code))
            return refused
        name = request.path_params["name"]
        status = 204 if name in self.stored else 201
        self.stored[name] = await request.body()
        self.requests.append(("PUT", status))
        return Response(status_code=status)


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (python-multipart is not a dependency here)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


class UvicornServer(uvicorn.Server):
    """uvicorn that tells when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class AuditWatch:
    """Collects a service's audit entries; ``wait_for`` waits for a count of an event."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self._changed = asyncio.Event()

    def __call__(self, entry: AuditEntry) -> None:
        self.entries.append(entry)
        self._changed.set()

    def of(self, event: str) -> list[AuditEntry]:
        return [e for e in self.entries if e.event == event]

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
