"""A client of the bridge's agent API (:mod:`cloud_bridge.api`): HTTP calls + the live events.

Used by ``lisa agent`` (interactive and scripted), the demo's simulated agents and the tests::

    async with AgentClient("http://127.0.0.1:8080", "clearing1") as client:
        await client.login(password)
        await client.connect()                 # the WebSocket; the snapshot has arrived
        await client.set_status("ready")
        offer = await client.wait_for("offer", timeout=30)
        await client.accept()                  # default: the current offer
        await client.wait_for("connected", timeout=5)
        await client.hangup()                  # default: the current call

The client follows the (bridge-wide) event stream and derives what concerns its own agent:
``offer`` (offered to me), ``withdrawn`` (my offer was withdrawn), ``connected`` (a call is now
connected to me), ``ended`` (a call I was connected to ended), ``transferred`` (a call of mine
now belongs to someone else), ``status`` (my agent entry changed), ``consult`` (a consultation I
am part of). :meth:`wait_for` takes these kinds or any raw event type (``booth``, ``call``, …).

It stays one module (slightly over 500 lines): it is one class, one account's HTTP calls and the
event stream they share a session with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

log = logging.getLogger("lisa.agent.client")

API = "/api/v1"
DERIVED = ("offer", "withdrawn", "connected", "ended", "transferred", "status", "consult")
HISTORY_MAX = 10_000
WS_UNAUTHORIZED = 4401

AgentStatusName = Literal["ready", "not_ready", "logged_out"]


class ApiError(Exception):
    """An error answer of the API: HTTP ``status``, the body's ``code`` and ``detail``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class NoCurrentCall(Exception):
    """A call action without a call id while the client knows of no offer / call."""


class AgentClient:
    """HTTP + WebSocket client for one account. ``url``: the bridge, e.g.
    ``http://127.0.0.1:8080``. ``reconnect``: re-open the WebSocket after it dropped."""

    def __init__(
        self,
        url: str,
        user: str = "",
        *,
        token: str | None = None,
        timeout: float = 10.0,
        reconnect: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.token = token
        self.reconnect = reconnect
        self.me: dict[str, Any] | None = None  # the ``user`` of the login answer
        self.agent: dict[str, Any] | None = None  # my agent entry (from the events)
        self.current_offer: str | None = None
        self.current_call: str | None = None
        self.offers: dict[str, dict[str, Any]] = {}  # call id -> offer event (mine)
        self.calls: dict[str, dict[str, Any]] = {}  # call id -> latest call view (mine)
        self.closed_reason: str | None = None  # why the event stream stopped for good
        self._http = httpx.AsyncClient(
            base_url=self.url + API, timeout=timeout, transport=transport
        )
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        self._history: list[tuple[frozenset[str], dict[str, Any]]] = []
        self._base = 0  # global index of _history[0]
        self._cursor: dict[str, int] = {}
        self._announced: set[str] = set()  # calls whose "connected" was reported
        self._changed = asyncio.Event()
        self._listeners: list[asyncio.Queue[tuple[frozenset[str], dict[str, Any]] | None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._closing = False
        self._connected = asyncio.Event()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------------- HTTP
    async def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One API call (``path`` below ``/api/v1``); raises :class:`ApiError` on an error."""
        query = {k: v for k, v in params.items() if v is not None}
        response = await self._http.request(method, path, json=body, params=query or None)
        if response.status_code >= 400:
            try:
                data = response.json()
                code, detail = str(data["error"]), str(data["detail"])
            except (ValueError, KeyError, TypeError):
                code, detail = "http_error", response.text[:200]
            raise ApiError(response.status_code, code, detail)
        return response.json()

    async def login(self, password: str) -> dict[str, Any]:
        """Log in; returns ``{token, expires_at, user}`` and uses the token from now on."""
        data: dict[str, Any] = await self.request(
            "POST", "/login", {"username": self.user, "password": password}
        )
        self.token = str(data["token"])
        self.me = dict(data["user"])
        self.user = str(self.me["name"])
        self._http.headers["Authorization"] = f"Bearer {self.token}"
        return data

    async def logout(self) -> None:
        """Revoke the token (the ACD status is unchanged)."""
        if self.token:
            with contextlib.suppress(ApiError):
                await self.request("POST", "/logout")
        self.token = None
        self._http.headers.pop("Authorization", None)

    async def whoami(self) -> dict[str, Any]:
        """``GET /me``: ``{user, agent}``."""
        data: dict[str, Any] = await self.request("GET", "/me")
        self.me = dict(data["user"])
        if data.get("agent") is not None:
            self.agent = dict(data["agent"])
        return data

    async def set_status(
        self, status: AgentStatusName | str, reason: str | None = None
    ) -> dict[str, Any]:
        """``ready`` | ``not_ready`` (``reason``) | ``logged_out``; returns my agent entry."""
        body: dict[str, Any] = {"status": status}
        if reason:
            body["reason"] = reason
        entry: dict[str, Any] = await self.request("POST", "/agent/status", body)
        self.agent = entry
        return entry

    async def agent_status(self) -> str:
        """My ACD status, fresh from the bridge."""
        data = await self.whoami()
        agent = data.get("agent")
        return str(agent["status"]) if agent else "none"

    def _offer(self, call: str | None) -> str:
        call = call or self.current_offer
        if not call:
            raise NoCurrentCall("no call is offered to you")
        return call

    def _call(self, call: str | None) -> str:
        call = call or self.current_call
        if not call:
            raise NoCurrentCall("you are not in a call")
        return call

    async def _call_action(self, call: str, action: str, body: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.request(
            "POST", f"/calls/{quote(call, safe='')}/{action}", body
        )
        if data.get("agent"):
            self.agent = dict(data["agent"])
        return data

    async def accept(self, call: str | None = None) -> dict[str, Any]:
        """Take the offered call (default: the current offer)."""
        call = self._offer(call)
        data = await self._call_action(call, "accept")
        view = data.get("call")
        if view and view.get("agent") == self.user and view.get("status") == "connected":
            self._became_connected(dict(view))
        return data

    async def decline(self, call: str | None = None) -> dict[str, Any]:
        call = self._offer(call)
        data = await self._call_action(call, "decline")
        if self.current_offer == call:
            self.current_offer = None
        return data

    async def hangup(self, call: str | None = None) -> dict[str, Any]:
        """End the call (default: my current call; supervisors may give any call)."""
        return await self._call_action(self._call(call), "hangup")

    async def transfer(
        self,
        queue: str | None = None,
        clerk: str | None = None,
        *,
        call: str | None = None,
        mode: Literal["blind", "consult"] = "blind",
    ) -> dict[str, Any]:
        """Transfer my call to ``queue`` or to agent ``clerk`` (``queue`` = fallback)."""
        body = {"queue": queue, "clerk": clerk, "mode": mode}
        return await self._call_action(self._call(call), "transfer", body)

    async def consult(
        self, queue: str | None = None, clerk: str | None = None, *, call: str | None = None
    ) -> dict[str, Any]:
        return await self.transfer(queue, clerk, call=call, mode="consult")

    async def complete_transfer(self, call: str | None = None) -> dict[str, Any]:
        return await self._call_action(self._call(call), "transfer/complete")

    async def cancel_transfer(self, call: str | None = None) -> dict[str, Any]:
        return await self._call_action(self._call(call), "transfer/cancel")

    async def booth_command(
        self, booth: str, cmd: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a command on a booth: ``{id, ok, error, result}``."""
        data: dict[str, Any] = await self.request(
            "POST", f"/booths/{quote(booth, safe='')}/commands", {"cmd": cmd, "args": args or {}}
        )
        return data

    async def status(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", "/status")
        return data

    async def queues(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self.request("GET", "/queues")
        return data

    async def agents(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self.request("GET", "/agents")
        return data

    async def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self.request("GET", "/audit", limit=limit, booth=booth)
        return data

    # -------------------------------------------------------------------------- WebSocket
    def ws_url(self) -> str:
        base = self.url
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        return f"{base}{API}/events?token={quote(self.token or '', safe='')}"

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Open the event stream; returns the snapshot (the first item)."""
        if not self.token:
            raise ApiError(401, "unauthenticated", "log in first")
        if self._reader is None or self._reader.done():
            self._closing = False
            self.closed_reason = None
            self._reader = asyncio.create_task(self._read_loop(), name="agent-events")
        return await self.wait_for("snapshot", timeout)

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def ping(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Application-level ping (the server answers ``pong`` and re-checks the token)."""
        if self._ws is None:
            raise ConnectionError("event stream not connected")
        await self._ws.send(json.dumps({"type": "ping"}))
        await self.wait_for("pong", timeout)

    async def _read_loop(self) -> None:
        backoff = 0.5
        while not self._closing:
            try:
                async with websockets.connect(self.ws_url(), open_timeout=10, max_size=2**24) as ws:
                    self._ws = ws
                    backoff = 0.5
                    async for message in ws:
                        if isinstance(message, bytes):
                            continue
                        try:
                            item = json.loads(message)
                        except ValueError:
                            continue
                        if isinstance(item, dict):
                            self._record(item)
                    code = ws.close_code
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                code = None
                if isinstance(exc, InvalidURI):
                    self._stop(f"invalid URL: {exc}")
                    return
            finally:
                self._ws = None
            if self._closing:
                break
            if code == WS_UNAUTHORIZED:
                self._stop("unauthenticated: token expired or revoked")
                return
            if not self.reconnect:
                self._stop("event stream closed")
                return
            self._record({"type": "connection", "state": "lost", "retry_s": backoff})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    def _stop(self, reason: str) -> None:
        self.closed_reason = reason
        self._record({"type": "connection", "state": "closed", "reason": reason})

    # ------------------------------------------------------------------------------ events
    def _became_connected(self, view: dict[str, Any]) -> None:
        call = str(view["id"])
        self.calls[call] = view
        if self.current_offer == call:
            self.current_offer = None
        self.current_call = call

    def _left(self, call: str) -> None:
        self._announced.discard(call)
        if self.current_call == call:
            self.current_call = None

    def _classify(self, item: dict[str, Any]) -> set[str]:
        """Update what the client knows; the derived kinds of this item for my agent."""
        kind = str(item.get("type", ""))
        me = self.user
        if kind == "snapshot":
            for entry in item.get("agents", []):
                if entry.get("id") == me:
                    self.agent = dict(entry)
                    if entry.get("status") == "offered" and entry.get("call"):
                        self.current_offer = str(entry["call"])
            for view in item.get("calls", []):
                if view.get("agent") == me and view.get("status") == "connected":
                    self._became_connected(dict(view))
                    self._announced.add(str(view["id"]))
            return set()
        if kind == "agent" and item.get("agent") == me:
            self.agent = {**(self.agent or {"id": me}), **item, "id": me}
            self.agent.pop("type", None)
            self.agent.pop("agent", None)
            return {"status"}
        if kind == "offer" and item.get("agent") == me:
            call = str(item["call"])
            self.offers[call] = item
            self.current_offer = call
            return {"offer"}
        if kind == "offer_withdrawn" and item.get("agent") == me:
            if self.current_offer == item.get("call"):
                self.current_offer = None
            return {"withdrawn"}
        if kind == "call":
            call = str(item.get("id", ""))
            if item.get("agent") == me and item.get("status") == "connected":
                self._became_connected(item)
                if call not in self._announced:
                    self._announced.add(call)
                    return {"connected"}
                return set()
            if call in self._announced or self.current_call == call:
                self._left(call)
                self.calls.pop(call, None)
                return {"transferred"}
            return set()
        if kind == "call_ended":
            call = str(item.get("call", ""))
            if self.current_offer == call:
                self.current_offer = None
            if call in self.calls or self.current_call == call:
                self._left(call)
                self.calls.pop(call, None)
                return {"ended"}
            return set()
        if kind == "consult" and me in (item.get("agent"), item.get("consultant")):
            if item.get("state") == "ended" and self.current_call is not None:
                leg = self.calls.get(self.current_call) or {}
                if leg.get("kind") == "consult" and leg.get("parent") == item.get("call"):
                    self.calls.pop(self.current_call, None)
                    self._left(self.current_call)
            return {"consult"}
        return set()

    def _record(self, item: dict[str, Any]) -> None:
        derived = self._classify(item)
        raw = str(item.get("type", ""))
        if raw not in ("offer", "consult"):  # their plain names mean "mine"
            derived.add(raw)
        entry = (frozenset(derived), item)
        self._history.append(entry)
        if len(self._history) > HISTORY_MAX:
            drop = len(self._history) - HISTORY_MAX
            del self._history[:drop]
            self._base += drop
        for queue in self._listeners:
            queue.put_nowait(entry)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def events(self, *, replay: bool = False) -> AsyncIterator[dict[str, Any]]:
        """Every item received from now on (``replay``: and those received so far; raw, plus
        local ``connection`` items), until :meth:`close` or the stream stops for good."""
        async for _, item in self.live(replay=replay):
            yield item

    async def live(
        self, *, replay: bool = False
    ) -> AsyncIterator[tuple[frozenset[str], dict[str, Any]]]:
        """Like :meth:`events`, each item with its kinds (its raw type and, when it concerns
        my agent, the derived kind: ``offer``, ``connected``, …). ``replay``: first the items
        received so far (the newest 10,000, the snapshot of :meth:`connect` included)."""
        queue: asyncio.Queue[tuple[frozenset[str], dict[str, Any]] | None] = asyncio.Queue()
        if replay:
            for old in self._history:
                queue.put_nowait(old)
        self._listeners.append(queue)
        try:
            while True:
                if self.closed_reason is not None and queue.empty():
                    return
                entry = await queue.get()
                if entry is None:
                    return
                yield entry
                item = entry[1]
                if item.get("type") == "connection" and item.get("state") == "closed":
                    return
        finally:
            self._listeners.remove(queue)

    def seen(self, kind: str) -> list[dict[str, Any]]:
        """The items of ``kind`` received so far (kept: the newest 10,000 items)."""
        return [item for kinds, item in self._history if kind in kinds]

    async def wait_for(
        self,
        kind: str,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        call: str | None = None,
    ) -> dict[str, Any]:
        """The next item of ``kind`` (see the module docstring) not yet returned by an
        earlier ``wait_for(kind)``; items received before the call count. ``call``: only
        items about that call. Raises ``TimeoutError``, or ``ConnectionError`` once the event
        stream has stopped for good."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            start = max(self._cursor.get(kind, 0), self._base)
            for index in range(start - self._base, len(self._history)):
                kinds, item = self._history[index]
                if kind in kinds and (call is None or call in (item.get("call"), item.get("id"))):
                    self._cursor[kind] = self._base + index + 1
                    return item
            if call is None:
                self._cursor[kind] = self._base + len(self._history)
            if self.closed_reason is not None:
                raise ConnectionError(f"event stream stopped: {self.closed_reason}")
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {kind} event within {timeout:g} s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                raise TimeoutError(f"no {kind} event within {timeout:g} s") from None

    # ------------------------------------------------------------------------------- close
    async def close(self) -> None:
        """Stop the event stream and the HTTP client (the token stays valid: see logout)."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self.closed_reason is None:
            self.closed_reason = "closed"
        for queue in self._listeners:
            queue.put_nowait(None)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        await self._http.aclose()
