"""A simulated booth with its screen server, running in a thread of its own.

The real controller on simulated devices (``sim.harness.SimBooth``) on the real loop clock, and
``booth.screen_server.ScreenServer`` on a free port of 127.0.0.1, in an asyncio loop in a
background thread, so that the synchronous Playwright API can drive Chromium from the test.
Inputs (``person.enter``, ``agent.answer``, …) are applied on the booth's loop.

``BoothRig(..., signing=True)``: the booth signs documents as the daemon wires it
(``BoothDaemon._signing``, demo keys), with an agent that hands PDFs over in-process
(:class:`LocalDocuments`, in place of the call's data channel): ``send_document(...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from booth.daemon import BoothDaemon
from booth.screen_server import ScreenServer
from hal.clock import LoopClock
from sim.harness import SimBooth

#: a quick booth: short presence delays, a fast door, a short privacy reset; the simulated
#: central reports the queue after 1.5 s (so "connecting" is seen) with position 2, ~5 min
FAST: dict[str, Any] = {
    "presence": {"delay_on": 0.3, "delay_off": 0.4},
    "devices": {
        "presence": {"options": {"sample_interval": 0.05}},
        "door": {"options": {"travel_time": 0.3}},
    },
    "timing": {"privacy_reset": 0.5, "reclose_delay": 0.5, "tick": 0.5, "link_grace": 0.5},
    "central": {
        "sim": {
            "queue_after": 1.5,
            "queue_position": 2,
            "estimated_wait": 300.0,
            "retry_initial": 0.3,
            "retry_max": 0.6,
        }
    },
}


class LocalDocuments:
    """What :class:`booth.signing.coordinator.SigningCoordinator` uses of the media endpoint,
    in-process: documents from an agent, and the booth's answers in ``results``
    (``{request: (doc.result item, signed PDF or None)}``)."""

    def __init__(self) -> None:
        self.on_document: Any = None
        self.peers: dict[str, Any] = {}
        self.results: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        self.controls: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send_control(self, peer: str, item: dict[str, Any]) -> None:
        self.controls.append(item)

    def send_document(self, peer: str, item: dict[str, Any], pdf: bytes | None) -> None:
        self.results[str(item["id"])] = (item, pdf)


class BoothRig:
    def __init__(
        self, overrides: dict[str, Any], state_dir: Path, *, signing: bool = False
    ) -> None:
        self.overrides = {**overrides, "state_dir": str(state_dir)}
        if signing:
            self.overrides["signing"] = {"demo_keys": True, **overrides.get("signing", {})}
        self.with_signing = signing
        self.documents: LocalDocuments | None = None
        self.signing: Any = None
        self.loop = asyncio.new_event_loop()
        self.booth: SimBooth | None = None
        self.server: ScreenServer | None = None
        self._thread = threading.Thread(target=self._run, name="booth-rig", daemon=True)
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> BoothRig:
        self._thread.start()
        self._ready.result(timeout=30)
        self.wait_state("idle")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        try:
            self._stop = asyncio.Event()
            self.booth = SimBooth.from_example(LoopClock(), self.overrides)
            await self.booth.start()
            if self.with_signing:
                daemon = BoothDaemon(self.booth.config, {}, Path("booth-sim.toml"), sim=True)
                self.documents = LocalDocuments()
                self.signing = daemon._signing(self.booth.controller, self.documents)
                assert self.signing is not None, "no signature pad in the booth's config"
            self.server = ScreenServer(
                self.booth.controller, self.booth.config, port=0, signing=self.signing
            )
            await self.server.start()
        except BaseException as exc:
            self._ready.set_exception(exc)
            raise
        self._ready.set_result(None)
        await self._stop.wait()
        await self.server.stop()
        await self.booth.stop()

    # ------------------------------------------------------------------ driving
    def call(self, fn: Any, timeout: float = 30.0) -> Any:
        """Run ``fn()`` (a plain function or one returning a coroutine) on the booth's loop."""

        async def run() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def inject(self, name: str, **args: Any) -> str:
        assert self.booth is not None
        booth = self.booth
        return str(self.call(lambda: booth.inject(name, args)))

    def wait_state(self, state: str, within: float = 20.0) -> None:
        assert self.booth is not None
        booth = self.booth
        self.call(lambda: booth.wait_state(state, within), timeout=within + 5)

    def booth_link(self) -> bool:
        assert self.booth is not None
        return bool(self.booth.controller.link)

    def wait_until(self, condition: Any, within: float = 20.0) -> None:
        """Wait (on the booth's loop, event by event) until ``condition()`` holds."""
        assert self.booth is not None
        controller = self.booth.controller

        async def until() -> None:
            changed = asyncio.Event()

            def wake(_: Any) -> None:
                changed.set()

            controller.state_listeners.append(wake)
            controller.screen_listeners.append(wake)
            try:
                async with asyncio.timeout(within):
                    while not condition():
                        changed.clear()
                        # the link flag changes without a state change: look again now and then
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(changed.wait(), 0.1)
            finally:
                controller.state_listeners.remove(wake)
                controller.screen_listeners.remove(wake)

        self.call(until, timeout=within + 5)

    def send_document(self, request: str, title: str, pdf: bytes, page: int = -1) -> None:
        """An agent sends ``pdf`` to sign (``signing=True``); the answer lands in
        ``documents.results[request]``."""
        documents = self.documents
        assert documents is not None, "BoothRig(..., signing=True)"
        meta = {"id": request, "title": title, "page": page}
        self.call(lambda: documents.on_document("agent:test", meta, pdf))

    @property
    def state(self) -> str:
        assert self.booth is not None
        return str(self.booth.controller.state)

    @property
    def config(self) -> Any:
        assert self.booth is not None
        return self.booth.config

    def url(self, path: str = "/") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}{path}"

    # ------------------------------------------------------------------ visits
    def begin_visit(self) -> None:
        """A citizen walks in; the booth calls the front desk and the citizen waits in line."""
        self.wait_state("idle")
        assert self.inject("person.enter") == "citizen entered"
        self.wait_state("queued")

    def end_visit(self) -> None:
        """The call ends, the citizen leaves, the privacy reset runs: the booth is idle again."""
        top = self.state.split(".", 1)[0]
        if top in ("queued", "in_call", "occupied"):
            self.inject("agent.hangup")
            self.wait_state("farewell")
        self.inject("person.leave")
        self.wait_state("idle")

    def back_to_idle(self) -> None:
        """Whatever a test left behind: emergency, maintenance, a lost link, a visit."""
        top = self.state.split(".", 1)[0]
        if top == "idle":
            return
        self.inject("link.up")  # the next reconnect succeeds (harmless when the link is up)
        if top in ("queued", "in_call", "occupied", "offline") and not self.booth_link():
            self.wait_until(self.booth_link)
        top = self.state.split(".", 1)[0]
        if top == "emergency":
            self.inject("emergency.off")
        if top == "maintenance":
            self.inject("maintenance.exit")
        if top == "offline":
            self.inject("link.up")
        top = self.state.split(".", 1)[0]
        if top in ("queued", "in_call", "occupied", "farewell"):
            self.end_visit()
        self.wait_state("idle")
