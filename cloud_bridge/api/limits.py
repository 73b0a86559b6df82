"""The request body's size limit: a pure ASGI middleware (:class:`BodyLimit`).

Every route takes at most :data:`DEFAULT_MAX_BODY` bytes (JSON bodies); a route that takes more
(an upload) says so with ``openapi_extra=body_limit(N)`` (also shown in the OpenAPI schema as
``x-max-body-bytes``). A bigger body is answered ``413 {"error": "too_large", ...}`` without
reading it: from ``Content-Length`` at once (before routing: more than any route takes; after
routing, at the route's first read or its answer: more than this route takes), else (chunked)
as soon as the bytes received pass the limit.

The route's own limit is read after routing, from ``scope["route"]`` (FastAPI's matched
``APIRoute``): no routing of its own, whatever FastAPI does with included routers.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 64 * 1024  # JSON bodies of the API
MAX_BODY_KEY = "x-max-body-bytes"
_declared: set[int] = set()  # every limit of a route (the largest one is the check before routing)


def body_limit(max_bytes: int) -> dict[str, Any]:
    """A route's own limit, as its ``openapi_extra``:
    ``@router.post("/x", openapi_extra=body_limit(20 * 1024 * 1024))``."""
    if max_bytes < 0:
        raise ValueError("a body limit is a number of bytes >= 0")
    _declared.add(max_bytes)
    return {MAX_BODY_KEY: max_bytes}


def _detail(limit: int) -> str:
    return f"request body larger than {limit} bytes"


class _TooLarge(HTTPException):
    """The body is over the limit: raised from ``receive``, so the app's own handler answers
    it (``too_large``; FastAPI passes HTTP errors of the body reading through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit), {"Connection": "close"})
        self.limit = limit


class BodyLimit:
    """413 for request bodies over the route's limit (:func:`body_limit`, else ``default``)."""

    def __init__(self, app: ASGIApp, default: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.default = default

    def route_limit(self, scope: Scope) -> int:
        """The matched route's limit (the default before routing and without a route)."""
        extra = getattr(scope.get("route"), "openapi_extra", None) or {}
        return int(extra.get(MAX_BODY_KEY, self.default))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        ceiling = max({self.default, *_declared})
        if length is not None and length > ceiling:
            await _too_large(send, ceiling)
            return
        received = 0
        started = replaced = False

        async def limited_receive() -> Message:
            nonlocal received
            limit = self.route_limit(scope)
            if length is not None and length > limit:
                raise _TooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def checked_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the app's own answer to a body it never read: 413 went instead
            if message["type"] == "http.response.start":
                limit = self.route_limit(scope)
                if length is not None and length > limit:
                    replaced = True
                    await _too_large(send, limit)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, checked_send)
        except _TooLarge as exc:
            if started:  # the answer is under way: nothing better than ending the connection
                raise
            if not replaced:
                await _too_large(send, exc.limit)
        except BaseExceptionGroup as group:  # e.g. from a task group inside the app
            rest = group.subgroup(lambda e: not isinstance(e, _TooLarge))
            if rest is not None or started:
                raise
            if not replaced:
                await _too_large(send, self.route_limit(scope))


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request itself
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": "too_large", "detail": _detail(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
