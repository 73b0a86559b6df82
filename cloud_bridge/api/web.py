"""The portal's static files (``cloud_bridge/web/``) at ``/``: ``index.html`` for ``/``, every
other file by its path, with the portal's security headers. Paths of the API and its docs
(``/api/``, ``/healthz``, ``/docs``, ``/redoc``, ``/openapi.json``) are never files: an unknown
one is the API's JSON 404. A missing directory or file is a 404 too (the bridge also runs
without the portal)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
RESERVED = frozenset({"api", "healthz", "docs", "redoc", "openapi.json"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
        "media-src 'self' blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# not left to the platform's mimetypes table (Python 3.11 says application/javascript for .js
# and may not know .mjs)
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}


def reserved(path: str) -> bool:
    """``path`` (relative or absolute) belongs to the API or its docs, never to the portal."""
    parts = PurePosixPath(path.lstrip("/")).parts
    return bool(parts) and parts[0] in RESERVED


class PortalMount(Mount):
    """The files at ``/`` for HTTP requests outside the API's paths only: an API path with a
    method it does not have stays the router's 405, an unknown one its 404, a WebSocket to an
    unknown path its close."""

    def __init__(self, directory: Path = WEB_ROOT) -> None:
        super().__init__("/", app=PortalFiles(directory), name="portal")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or reserved(str(scope.get("path", ""))):
            return Match.NONE, {}
        return super().matches(scope)


class PortalFiles(StaticFiles):
    """:class:`StaticFiles` (``html=True``) with the portal's headers, for a directory that
    may not exist (yet)."""

    def __init__(self, directory: Path = WEB_ROOT) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)

    async def check_config(self) -> None:
        try:
            await super().check_config()
        except RuntimeError:  # no directory (yet): every path is a 404 until it exists
            return

    async def get_response(self, path: str, scope: Scope) -> Response:
        if reserved(path):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        served = Path(response.path) if isinstance(response, FileResponse) else None
        if served is not None and served.suffix in CONTENT_TYPES:
            response.headers["content-type"] = CONTENT_TYPES[served.suffix]
        response.headers.update(SECURITY_HEADERS)
        is_index = (served.name == "index.html") if served is not None else path in (".", "")
        if is_index:
            response.headers["cache-control"] = "no-cache"
        return response
