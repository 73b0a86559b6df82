"""The portal's static files (``cloud_bridge/web/``) at ``/``: ``index.html`` for ``/``, every
other file by its path, with the portal's security headers. Paths of the API and its docs
(``/api/``, ``/healthz``, ``/docs``, ``/redoc``, ``/openapi.json``) are never files: an unknown
one is the API's JSON 404. A missing directory or file is a 404 too (the bridge also runs
without the portal)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
RESERVED = frozenset({"api", "healthz", "docs", "redoc", "openapi.json"})
CSP = (
    "default-src 'self'; script-src 'self'{inline}; connect-src 'self' ws: wss:; "
    "img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def inline_script_hashes(index: Path) -> list[str]:
    """CSP sources for the inline scripts of ``index.html`` (the import map, which cannot be
    an external file): computed from the file, so an edit of the map never breaks the page."""
    try:
        text = index.read_text("utf-8")
    except OSError:
        return []
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(text)
    ]


def security_headers(directory: Path) -> dict[str, str]:
    inline = "".join(" " + h for h in inline_script_hashes(directory / "index.html"))
    return {
        "Content-Security-Policy": CSP.format(inline=inline),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


SECURITY_HEADERS = security_headers(WEB_ROOT)
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
        self.security_headers = security_headers(directory)

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
        response.headers.update(self.security_headers)
        is_index = (served.name == "index.html") if served is not None else path in (".", "")
        if is_index:
            response.headers["cache-control"] = "no-cache"
        return response
