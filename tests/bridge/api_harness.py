"""The real bridge (``Bridge.in_memory``) behind the real API on a real uvicorn socket.

:class:`LiveApi` runs in the test's own (real-time) loop; :class:`ThreadedApi` runs bridge and
server in a background thread with its own loop, for tests that drive ``lisa agent`` as a
subprocess. Both read the bound port from uvicorn (port 0) and wait for start-up on an event.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from argon2 import PasswordHasher

from cloud_bridge.acd.model import AgentSpec, QueueSpec
from cloud_bridge.api import create_app
from cloud_bridge.service import Bridge
from cloud_bridge.users import UserStore

T = TypeVar("T")

# cheap Argon2 parameters: the tests log in often
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct-horse"
BOOTH = "gartz-1"

QUEUES = [
    QueueSpec("clearing", "Clearing", ring_timeout_s=20.0),
    QueueSpec("wohngeld", "Wohngeldstelle", ring_timeout_s=20.0),
]
AGENTS = [
    AgentSpec("clearing1", "Bürgerservice", {"clearing": 1}),
    AgentSpec("clearing2", "Bürgerservice", {"clearing": 1}),
    AgentSpec("wohngeld1", "Wohngeldstelle", {"wohngeld": 1}),
]
# name, role (the three agents above are agents of the ACD; the others are not)
ACCOUNTS = [
    ("clearing1", "agent"),
    ("clearing2", "agent"),
    ("wohngeld1", "agent"),
    ("super1", "supervisor"),
    ("tech1", "technician"),
    ("admin1", "admin"),
    ("gone1", "agent"),  # disabled
]


class _Server(uvicorn.Server):
    """uvicorn that tells when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class LiveApi:
    def __init__(self, tmp_path: Path, **app_options: Any) -> None:
        self.db = tmp_path / "bridge.db"
        self.bridge = Bridge.in_memory(QUEUES, AGENTS, path=self.db)
        self.users = UserStore(self.db, hasher=FAST_HASHER)
        for name, role in ACCOUNTS:
            self.users.add(name, role, PASSWORD, display_name=name.title())
        self.users.set_disabled("gone1", True)
        options = {"command_timeout_s": 0.5, **app_options}
        self.app = create_app(self.bridge, self.users, **options)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            proxy_headers=False,  # as `lisa bridge run`: the app decides whom to believe
        )
        self.server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> None:
        await self.bridge.start()
        self.bridge.register_booth(BOOTH)
        self._task = asyncio.create_task(self.server.serve())
        ready = asyncio.create_task(self.server.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            raise RuntimeError("uvicorn did not start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)
        await self.bridge.stop()
        self.users.close()


@asynccontextmanager
async def live_api(tmp_path: Path, **app_options: Any) -> AsyncIterator[LiveApi]:
    api = LiveApi(tmp_path, **app_options)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


class ThreadedApi:
    """Bridge + API in a background thread (own event loop); ``run(coro)`` runs a coroutine
    there and returns its result."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.loop = asyncio.new_event_loop()
        self.api: LiveApi | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="api-server", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.api = LiveApi(self.tmp_path)
            await self.api.start()

        try:
            self.loop.run_until_complete(start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.close()

    def start(self) -> ThreadedApi:
        self._thread.start()
        if not self._started.wait(15):
            raise RuntimeError("API thread did not start")
        if self._error is not None:
            raise self._error
        return self

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.url

    @property
    def bridge(self) -> Bridge:
        assert self.api is not None
        return self.api.bridge

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Any:
        """Start ``coro`` in the server loop; a concurrent.futures.Future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.api is not None:
            self.run(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def when_agent(
    bridge: Bridge, agent: str, status: str, timeout: float = 30.0
) -> Coroutine[Any, Any, None]:
    """Subscribes to the bridge's live events now; the returned coroutine finishes once
    ``agent`` has ``status`` (TimeoutError after ``timeout``)."""
    sub = bridge.subscribe()

    async def wait() -> None:
        try:
            async with asyncio.timeout(timeout):
                async for item in sub:
                    if item["type"] == "snapshot":
                        if any(a["id"] == agent and a["status"] == status for a in item["agents"]):
                            return
                    elif item["type"] == "agent" and item["agent"] == agent:
                        if item["status"] == status:
                            return
        finally:
            sub.close()

    return wait()
