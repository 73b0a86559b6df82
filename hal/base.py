"""Shared plumbing for drivers: listeners, health bookkeeping, the driver context."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hal.clock import Clock
from hal.devices import Listener
from hal.events import DeviceEvent, DeviceKind, HealthChanged
from hal.health import Health, HealthStatus

log = logging.getLogger("lisa.hal")


class DriverOptions(BaseModel):
    """Base of every driver's options model (``[devices.X.options]`` in the booth config)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class DriverContext:
    """What a driver gets besides its options: the clock, the NFC salt, and its sibling devices
    (a PLC-wired door needs the PLC)."""

    clock: Clock
    uid_salt: bytes = b""
    devices: dict[str, Any] = field(default_factory=dict)


class DeviceBase:
    """Listener list and health state; drivers subclass it and set ``kind``."""

    kind: ClassVar[DeviceKind]
    Options: ClassVar[type[DriverOptions]] = DriverOptions

    def __init__(self, name: str, context: DriverContext) -> None:
        self.name = name
        self.context = context
        self.clock = context.clock
        self._listeners: list[Listener] = []
        self._health = Health(HealthStatus.OK, "", 0.0)

    # -- events ------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: DeviceEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener bug must not break the driver
                log.exception("listener failed", extra={"device": self.name})

    # -- health ------------------------------------------------------------------------------
    def health(self) -> Health:
        return self._health

    def set_health(self, status: HealthStatus, reason: str = "") -> None:
        if status == self._health.status and reason == self._health.reason:
            return
        self._health = Health(status, reason, self.clock.now())
        self.emit(HealthChanged(self.name, self.clock.now(), self._health))


def hash_uid(uid: bytes, salt: bytes) -> str:
    """Salted hash of a card UID (HMAC-SHA256, hex). Raw UIDs never leave the driver."""
    return hmac.new(salt, uid, hashlib.sha256).hexdigest()
