"""The login rate limits: failed logins per user name and per client address, in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """After ``max_failures`` failed logins for a key within ``window_s``, refuse logins for
    that key for ``block_s`` (in memory: a bridge restart forgets). The API keeps two: per
    user name (:func:`name_limiter`) and per client address (:func:`address_limiter`)."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        block_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_names: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.clock = clock
        self.max_names = max_names
        self._failures: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def retry_after(self, name: str) -> float | None:
        """Seconds until ``name`` may try again, None when not blocked."""
        until = self._blocked.get(name)
        if until is None:
            return None
        left = until - self.clock()
        if left <= 0:
            del self._blocked[name]
            return None
        return left

    def failure(self, name: str) -> None:
        now = self.clock()
        times = self._failures.get(name)
        if times is None:
            if len(self._failures) >= self.max_names:
                self._prune(now)
            times = self._failures[name] = deque()
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.max_failures:
            self._blocked[name] = now + self.block_s
            del self._failures[name]

    def success(self, name: str) -> None:
        self._failures.pop(name, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
            del self._failures[key]
        while len(self._failures) >= self.max_names:  # still full: forget the oldest entries
            del self._failures[next(iter(self._failures))]
        for key in [k for k, until in self._blocked.items() if until <= now]:
            del self._blocked[key]


def name_limiter() -> LoginLimiter:
    """5 failures of one user name within 5 minutes: that name is refused for 5 minutes."""
    return LoginLimiter(max_failures=5, window_s=300.0, block_s=300.0)


def address_limiter() -> LoginLimiter:
    """20 failures from one client address (any names) within 5 minutes: logins from that
    address are refused for 5 minutes (trying many names is slowed down too)."""
    return LoginLimiter(max_failures=20, window_s=300.0, block_s=300.0)
