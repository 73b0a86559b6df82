"""Plumbing shared by the simulated drivers: failure injection, the action log, background tasks.

Every simulated driver keeps ``actions``: one ``(time, action, args)`` entry per actuator request
it received (recorded on receipt, also when it then refuses the request), so tests can assert
what the controller asked for and when.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from hal.base import DeviceBase, DriverContext
from hal.devices import DeviceError
from hal.health import HealthStatus, SelftestOutcome, SelftestResult


class SimDevice(DeviceBase):
    """Base of the simulated drivers.

    Test control common to all of them:

    - ``fail(reason)``: the device breaks; health ``UNAVAILABLE`` with ``reason``, actions raise
      :class:`~hal.devices.DeviceError`, ``selftest()`` returns ``FAIL``.
    - ``recover()``: undo ``fail``; health back to ``OK``.
    - ``actions``: the actuator requests received, ``(clock time, action name, args)``.
    """

    def __init__(self, name: str, context: DriverContext) -> None:
        super().__init__(name, context)
        self.actions: list[tuple[float, str, dict[str, Any]]] = []
        self._failure: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._running

    async def start(self) -> None:
        """Start the background task(s); idempotent."""
        if self._running:
            return
        self._running = True
        await self._on_start()

    async def stop(self) -> None:
        """Cancel the background task(s) and wait for them; idempotent."""
        self._running = False
        await self._on_stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _on_start(self) -> None:
        """Hook: start background work."""

    async def _on_stop(self) -> None:
        """Hook: called by ``stop()`` before the background tasks are cancelled."""

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a background task owned by this device (cancelled by ``stop()``)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- action log --------------------------------------------------------------------------
    def _record(self, action: str, **args: Any) -> None:
        self.actions.append((self.clock.now(), action, args))

    def actions_named(self, action: str) -> list[tuple[float, str, dict[str, Any]]]:
        """The recorded actuator requests called ``action``."""
        return [entry for entry in self.actions if entry[1] == action]

    # -- failure injection -------------------------------------------------------------------
    @property
    def failed(self) -> bool:
        """True while a failure is injected (``fail()``, or a driver-detected fault)."""
        return self._failure is not None

    def fail(self, reason: str = "simulated failure") -> None:
        """Test control: the device breaks. Health ``UNAVAILABLE`` with ``reason``; actions then
        raise ``DeviceError`` and ``selftest()`` fails until ``recover()``."""
        self._failure = reason
        self._on_fail()
        self.set_health(HealthStatus.UNAVAILABLE, reason)

    def recover(self) -> None:
        """Test control: undo ``fail()`` (or a detected fault); health back to ``OK``."""
        self._failure = None
        self._on_recover()
        self.set_health(HealthStatus.OK, "")

    def _on_fail(self) -> None:
        """Hook: device-specific reaction to ``fail()`` (e.g. stop motion)."""

    def _on_recover(self) -> None:
        """Hook: device-specific reaction to ``recover()``."""

    def _check(self) -> None:
        """Raise ``DeviceError`` if the device is failed."""
        if self._failure is not None:
            raise DeviceError(f"{self.name}: {self._failure}")

    # -- selftest helpers ----------------------------------------------------------------------
    def _result(
        self, passed: bool, message: str, details: dict[str, Any] | None = None
    ) -> SelftestResult:
        return SelftestResult(
            device=self.name,
            outcome=SelftestOutcome.PASS if passed else SelftestOutcome.FAIL,
            message=message,
            details=details or {},
        )

    def _failed_result(self) -> SelftestResult | None:
        """A ``FAIL`` result if the device is failed, else ``None``."""
        if self._failure is None:
            return None
        return self._result(False, f"device unavailable: {self._failure}")
