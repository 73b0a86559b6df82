"""The booth screens: a small web server inside the booth daemon for the kiosk browser.

Serves on 127.0.0.1 only (docs/portal.md, "Booth screens"):

* ``/`` the 43" monitor, ``/touch`` the 22" touch display, ``/outside`` the outside view-board
  (plain ES modules and JSON texts from ``booth/web/``, no build step);
* ``WS /ws?screen=monitor|touch|outside``: the current state on connect and after every change,
  ``{"page", "params", "state", "session_active", "lang", "text_scale", "volume", "layout",
  "sign", "site"}``;
* ``POST /api/prefs`` (language, text size, volume; reset when the visit ends),
  ``POST /api/signature/clear``, ``/confirm``, ``/decline`` and ``/page`` (the page of the
  document the citizen leafs to on the touch display; the monitor shows it); ``GET /api/state``.

The page is never the authority: it shows what the controller's screen model says. Every
response carries ``Cache-Control: no-store``; pages keep nothing of a visit in the browser.
Sizes follow EN 301 549: a capital letter subtends at least 0.7° at the viewing distance
(:func:`screen_layout`), controls on the touch display stay 380–1,220 mm above the floor
(:func:`reach_band`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from booth.config import REACH_HIGH_MM, REACH_LOW_MM, BoothConfig, ScreenConfig
from booth.machine import top_state
from booth.screens import Screen

log = logging.getLogger("lisa.booth.screen")

WEB_DIR = Path(__file__).resolve().parent / "web"
LANGUAGES: tuple[str, ...] = ("de", "pl", "en", "de-simple")
ScreenKind = Literal["monitor", "touch", "outside"]
SCREEN_KINDS: tuple[ScreenKind, ...] = ("monitor", "touch", "outside")

#: EN 301 549 (after ISO 9241-303): a capital letter subtends at least 0.7° of visual angle
CAP_ANGLE_DEG = 0.7
#: cap height / em of the pages' font, DejaVu Sans (1493 of 2048 units)
CAP_HEIGHT_RATIO = 0.729
STOP_TIMEOUT = 3.0

Lang = Literal["de", "pl", "en", "de-simple"]
DEFAULT_LANG: Lang = "de"
DEFAULT_TEXT_SCALE = 1.0
DEFAULT_VOLUME = 0.8

#: what the outside sign says per top-level state (everything else: out of service)
_SIGN_BY_STATE = {
    "idle": "free",
    "occupied": "occupied",
    "queued": "occupied",
    "in_call": "occupied",
    "farewell": "occupied",
    "privacy_reset": "occupied",
}


# ------------------------------------------------------------------------------ geometry
def px_per_mm(diagonal_in: float, resolution: tuple[int, int]) -> float:
    """Pixels per millimetre of a display with square pixels."""
    width, height = resolution
    return math.hypot(width, height) / (diagonal_in * 25.4)


def min_cap_mm(viewing_distance_mm: float) -> float:
    """The smallest cap height (mm) that subtends ``CAP_ANGLE_DEG`` at the distance."""
    return 2.0 * viewing_distance_mm * math.tan(math.radians(CAP_ANGLE_DEG / 2.0))


def screen_layout(
    diagonal_in: float, resolution: tuple[int, int], viewing_distance_mm: float
) -> dict[str, float]:
    """Minimum cap height and base font size in CSS px (one CSS px = one display pixel)."""
    ppm = px_per_mm(diagonal_in, resolution)
    min_cap_px = min_cap_mm(viewing_distance_mm) * ppm
    return {
        "min_cap_px": round(min_cap_px, 2),
        "font_px": float(math.ceil(min_cap_px / CAP_HEIGHT_RATIO)),
        "px_per_mm": round(ppm, 4),
        "width_px": resolution[0],
        "height_px": resolution[1],
    }


def reach_band(config: ScreenConfig) -> tuple[float, float]:
    """The rows of the touch display (CSS px from its top) 380–1,220 mm above the floor."""
    ppm = px_per_mm(config.touch_diagonal_in, config.touch_resolution)
    height_px = config.touch_resolution[1]
    top_mm = config.touch_mounting_height_mm + height_px / ppm  # the display's top edge
    top_px = max(0.0, (top_mm - REACH_HIGH_MM) * ppm)
    bottom_px = min(float(height_px), (top_mm - REACH_LOW_MM) * ppm)
    return math.ceil(top_px), math.floor(bottom_px)


def layouts(config: ScreenConfig) -> dict[ScreenKind, dict[str, float]]:
    distance = config.viewing_distance_mm
    monitor = screen_layout(config.monitor_diagonal_in, config.monitor_resolution, distance)
    touch = screen_layout(config.touch_diagonal_in, config.touch_resolution, distance)
    touch["reach_top_px"], touch["reach_bottom_px"] = reach_band(config)
    # the outside view-board is read from across the branch; its geometry is not configured,
    # its small texts use the monitor's sizes and its status word at least 10 % of its height
    return {"monitor": monitor, "touch": touch, "outside": dict(monitor)}


# ------------------------------------------------------------------------------ preferences
class Prefs(BaseModel):
    """The citizen's choices on the touch display; back to these defaults after each visit."""

    model_config = ConfigDict(extra="forbid")

    lang: Lang = DEFAULT_LANG
    text_scale: float = Field(DEFAULT_TEXT_SCALE, ge=1.0, le=2.0, allow_inf_nan=False)
    volume: float = Field(DEFAULT_VOLUME, ge=0.0, le=1.0, allow_inf_nan=False)


class PrefsUpdate(BaseModel):
    """``POST /api/prefs``: any of the preferences; absent ones stay."""

    model_config = ConfigDict(extra="forbid")

    lang: Lang | None = None
    text_scale: float | None = Field(None, ge=1.0, le=2.0, allow_inf_nan=False)
    volume: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)


# ------------------------------------------------------------------------------ the server
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'none'",
    ),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class _NoStore:
    """Pure ASGI middleware: no response may be kept by the browser (privacy reset)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = [(k, v) for k, v in message.get("headers", []) if k not in names]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _QuietServer(uvicorn.Server):
    """uvicorn inside the daemon's loop: the daemon owns SIGTERM/SIGINT, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(eq=False)
class _Client:
    kind: ScreenKind
    wake: asyncio.Event = field(default_factory=asyncio.Event)


def _sign(state: str) -> str:
    return _SIGN_BY_STATE.get(top_state(state), "out_of_service")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class ScreenServer:
    """Serves the booth screens for ``controller`` (a :class:`booth.controller.BoothController`:
    uses ``screen``, ``state``, ``session``, ``devices``, ``screen_listeners`` and
    ``state_listeners``)."""

    def __init__(
        self,
        controller: Any,
        config: BoothConfig,
        port: int | None = None,
        media: Any = None,
        signing: Any = None,
    ) -> None:
        self.controller = controller
        #: the signing in the call (booth.signing.coordinator.SigningCoordinator) or None
        self.signing = signing
        #: the booth's media endpoint (booth.media.endpoint.MediaEndpoint) or None
        self.media = media
        self.config = config.screen
        self.phone = config.central.phone
        self._port = self.config.port if port is None else port
        self.prefs = Prefs()
        self.layouts = layouts(self.config)
        #: (document id, page) the citizen leafed to on the touch display (the monitor shows it)
        self._shown_page: tuple[str, int] | None = None
        self._clients: set[_Client] = set()
        self._session_active = controller.session is not None
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        video = Path(self.config.explainer_video) if self.config.explainer_video else None
        self.video = video if video is not None and video.is_file() else None
        if video is not None and self.video is None:
            log.warning("explainer video not found", extra={"path": str(video)})
        self.app = self._build_app()

    # -------------------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        """The port served on (the bound one, when started with port 0)."""
        if self._socket is not None:
            return int(self._socket.getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Bind 127.0.0.1:port (raises ``OSError`` when taken) and serve in the running loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            ws_ping_interval=10.0,
        )
        # uvicorn's start/stop lines carry ANSI colour codes; the daemon logs its own line
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._server = _QuietServer(config)
        self.controller.screen_listeners.append(self._on_screen)
        self.controller.state_listeners.append(self._on_state)
        if self.media is not None:
            self.media.on_change = self._changed
        if self.signing is not None:
            self.signing.listeners.append(self._signing_changed)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="screen-server")
        # uvicorn offers a flag, no event, for "listening"; it is set within milliseconds
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        log.info("booth screens served", extra={"url": f"http://127.0.0.1:{self.port}/"})

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.controller.screen_listeners.remove(self._on_screen)
        with contextlib.suppress(ValueError):
            self.controller.state_listeners.remove(self._on_state)
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            for client in list(self._clients):
                client.wake.set()
            _, pending = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT)
            if pending:
                self._server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._task = None

    # -------------------------------------------------------------------------- state
    def snapshot(self, kind: ScreenKind = "monitor") -> dict[str, Any]:
        screen: Screen = self.controller.screen
        session = self.controller.session
        params = dict(screen.params)
        if screen.page == "waiting" and session is not None:
            params["wait_s"] = round(float(session.estimated_wait))
        state = str(self.controller.state)
        return {
            "page": screen.page,
            "params": _jsonable(params),
            "state": state,
            "session_active": session is not None,
            "lang": self.prefs.lang,
            "text_scale": self.prefs.text_scale,
            "volume": self.prefs.volume,
            "layout": self.layouts[kind],
            "sign": _sign(state),
            "media": self.media.view() if self.media is not None else {"active": False},
            "signing": self._signing_view(),
            "site": {
                "partners": list(self.config.partners),
                "explainer_video": "/media/explainer" if self.video is not None else "",
                "phone": self.phone,
            },
        }

    def _signing_view(self) -> dict[str, Any]:
        """The document being signed, with ``shown_page``: the page the monitor shows (the
        signature's page, or the last, until the citizen leafs on the touch display)."""
        if self.signing is None:
            return {"active": False}
        view = dict(self.signing.flow.view())
        if view.get("active"):
            pages = len(view["pages"])
            page = view["sign_page"] if 0 <= view["sign_page"] < pages else pages - 1
            if self._shown_page is not None and self._shown_page[0] == view["id"]:
                page = min(self._shown_page[1], pages - 1)
            view["shown_page"] = page
        return view

    def _changed(self) -> None:
        active = self.controller.session is not None
        if self._session_active and not active:
            # the visit ended: the privacy reset takes the citizen's choices too
            self.prefs = Prefs()
        self._session_active = active
        for client in self._clients:
            client.wake.set()

    def _on_screen(self, screen: Screen) -> None:
        self._changed()

    def _on_state(self, state: str) -> None:
        self._changed()

    # -------------------------------------------------------------------------- app
    def _build_app(self) -> Starlette:
        def page(name: str) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                return FileResponse(WEB_DIR / name, media_type="text/html; charset=utf-8")

            return endpoint

        routes = [
            Route("/", page("monitor.html")),
            Route("/touch", page("touch.html")),
            Route("/outside", page("outside.html")),
            Route("/favicon.ico", self._no_icon, methods=["GET"]),
            Route("/api/state", self._state, methods=["GET"]),
            Route("/api/prefs", self._set_prefs, methods=["POST"]),
            Route("/api/signature/clear", self._signature_clear, methods=["POST"]),
            Route("/api/signature/confirm", self._signature_confirm, methods=["POST"]),
            Route("/api/signature/decline", self._signature_decline, methods=["POST"]),
            Route("/api/signature/ink", self._signature_ink, methods=["GET"]),
            Route("/api/signature/page", self._signature_page, methods=["POST"]),
            Route("/signing/page/{page}.jpg", self._signing_page, methods=["GET"]),
            Route("/media/explainer", self._explainer, methods=["GET"]),
            Route("/media/stream/{peer}/{stream}.mjpg", self._mjpeg, methods=["GET"]),
            Route("/api/rtt", self._rtt, methods=["POST"]),
            Route("/api/media", self._media_stats, methods=["GET"]),
            WebSocketRoute("/ws", self._ws),
            Mount("/static", StaticFiles(directory=WEB_DIR), name="static"),
        ]
        middleware = [
            Middleware(_NoStore),
            Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
        ]
        return Starlette(routes=routes, middleware=middleware)

    def _same_origin(self, headers: Any) -> bool:
        """Refuse requests a page of another origin makes (no Origin: not from a page)."""
        origin = headers.get("origin")
        if origin is None:
            return True
        return bool(origin == f"http://{headers.get('host', '')}")

    @staticmethod
    def _kind(value: str | None) -> ScreenKind | None:
        if value is None:
            return "monitor"
        for kind in SCREEN_KINDS:
            if value == kind:
                return kind
        return None

    async def _no_icon(self, request: Request) -> Response:
        return Response(status_code=204)

    async def _state(self, request: Request) -> Response:
        kind = self._kind(request.query_params.get("screen"))
        if kind is None:
            return JSONResponse({"error": "unknown screen", "fields": ["screen"]}, 422)
        return JSONResponse(self.snapshot(kind))

    async def _set_prefs(self, request: Request) -> Response:
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse(
                {"error": "invalid", "fields": ["body"], "detail": ["body is not JSON"]}, 422
            )
        try:
            update = PrefsUpdate.model_validate(body)
        except ValidationError as exc:
            fields = [".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()]
            detail = [
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            ]
            return JSONResponse({"error": "invalid", "fields": fields, "detail": detail}, 422)
        changes = update.model_dump(exclude_none=True)
        if changes:
            self.prefs = self.prefs.model_copy(update=changes)
            self._changed()
        return JSONResponse(self.prefs.model_dump())

    def _signing(self) -> bool:
        return bool(self.controller.screen.page == "signing")

    async def _signature_clear(self, request: Request) -> Response:
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        if not self._signing():
            return JSONResponse({"error": "not signing"}, 409)
        pad = self.controller.devices.get("signature")
        if pad is None:
            return JSONResponse({"error": "no signature pad"}, 503)
        timeout = self.controller.config.timing.actuator_timeout
        clear = self.signing.clear() if self.signing is not None else pad.clear()
        try:
            await asyncio.wait_for(clear, timeout=timeout)
        except Exception as exc:  # a failing pad must not take the screens down
            log.warning("signature pad clear failed", extra={"error": str(exc)})
            return JSONResponse({"error": "signature pad failed"}, 503)
        return JSONResponse({"ok": True})

    async def _signature_confirm(self, request: Request) -> Response:
        """The citizen confirms: the document is signed (never without this) and goes back to
        the agent and to the DMS."""
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        if not self._signing():
            return JSONResponse({"error": "not signing"}, 409)
        if self.signing is None or self.signing.flow.current is None:
            return JSONResponse({"error": "no document to sign"}, 409)
        from booth.signing.flow import SigningRefused

        try:
            outcome = await self.signing.confirm()
        except SigningRefused as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse({"state": outcome.state, "reason": outcome.reason})

    async def _signature_decline(self, request: Request) -> Response:
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        if self.signing is None or self.signing.flow.current is None:
            return JSONResponse({"error": "no document to sign"}, 409)
        outcome = await self.signing.decline()
        return JSONResponse({"state": outcome.state})

    async def _signature_ink(self, request: Request) -> Response:
        """The ink so far, as strokes of pad coordinates (the touch display draws it)."""
        if self.signing is None:
            return JSONResponse({"strokes": [], "width": 0, "height": 0})
        view = self.signing.flow.view()
        pad = view.get("pad") or {}
        return JSONResponse(
            {
                "strokes": self.signing.flow.ink_strokes(),
                "width": pad.get("width", 0),
                "height": pad.get("height", 0),
            }
        )

    async def _signature_page(self, request: Request) -> Response:
        """``{"page": n}`` (0-based): the citizen leafs through the document on the touch
        display; the monitor shows that page."""
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        view = self._signing_view()
        if not view.get("active"):
            return JSONResponse({"error": "no document to sign"}, 409)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        page = body.get("page") if isinstance(body, dict) else None
        pages = len(view["pages"])
        if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < pages:
            return JSONResponse({"error": "invalid", "fields": ["page"]}, 422)
        self._shown_page = (str(view["id"]), page)
        self._changed()
        return JSONResponse({"page": page})

    async def _signing_page(self, request: Request) -> Response:
        if self.signing is None:
            return JSONResponse({"error": "no document"}, 404)
        try:
            index = int(request.path_params["page"])
        except ValueError:
            return JSONResponse({"error": "no such page"}, 404)
        data = self.signing.flow.page(index)
        if data is None:
            return JSONResponse({"error": "no such page"}, 404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    def _signing_changed(self) -> None:
        self._changed()

    async def _mjpeg(self, request: Request) -> Response:
        """A received video stream (the agent's camera, a shared screen) as MJPEG for an
        ``<img>``; 404 when there is no such stream now."""
        key = f"{request.path_params['peer']}/{request.path_params['stream']}"
        if self.media is None or request.path_params["stream"] not in ("video", "share"):
            return JSONResponse({"error": "no such stream"}, 404)
        if not any(p["id"] == request.path_params["peer"] for p in self.media.view()["peers"]):
            return JSONResponse({"error": "no such stream"}, 404)
        from booth.media.display import BOUNDARY, multipart

        async def parts() -> AsyncIterator[bytes]:
            async for jpeg in self.media.hub.jpegs(key):
                yield multipart(jpeg)

        return StreamingResponse(
            parts(),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    async def _media_stats(self, request: Request) -> Response:
        """Counters of the call's media (frames and rates per peer; no content)."""
        if self.media is None:
            return JSONResponse({"active": False})
        return JSONResponse(self.media.stats())

    async def _rtt(self, request: Request) -> Response:
        """What the citizen types on the touch display, as real-time text to the peers:
        ``{"text": "…"}`` appends, ``{"erase": n}`` erases ``n`` characters."""
        if not self._same_origin(request.headers):
            return JSONResponse({"error": "forbidden origin"}, 403)
        if self.media is None or not self.media.view()["active"]:
            return JSONResponse({"error": "not in a call with media"}, 409)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "invalid", "fields": ["body"]}, 422)
        text = body.get("text") if isinstance(body, dict) else None
        erase = body.get("erase") if isinstance(body, dict) else None
        if isinstance(text, str) and 0 < len(text) <= 1000:
            self.media.send_text(text)
        elif isinstance(erase, int) and 0 < erase <= 1000:
            self.media.send_erase(erase)
        else:
            return JSONResponse({"error": "invalid", "fields": ["text", "erase"]}, 422)
        return JSONResponse({"ok": True})

    async def _explainer(self, request: Request) -> Response:
        if self.video is None:
            return JSONResponse({"error": "no explainer video"}, 404)
        return FileResponse(self.video)

    async def _ws(self, websocket: WebSocket) -> None:
        kind = self._kind(websocket.query_params.get("screen"))
        if kind is None or not self._same_origin(websocket.headers):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        client = _Client(kind)
        self._clients.add(client)
        receiver = asyncio.create_task(self._drain(websocket))
        try:
            last: dict[str, Any] | None = None
            while not receiver.done():
                client.wake.clear()
                message = self.snapshot(kind)
                if message != last:
                    await websocket.send_json(message)
                    last = message
                waiter = asyncio.create_task(client.wake.wait())
                await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if self._server is not None and self._server.should_exit:
                    break
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            self._clients.discard(client)
            receiver.cancel()
            with contextlib.suppress(Exception):
                await websocket.close()

    @staticmethod
    async def _drain(websocket: WebSocket) -> None:
        """The pages send nothing; read until the socket closes."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
