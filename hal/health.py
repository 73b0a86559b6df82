"""Common health model and self-test results of every device."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class HealthStatus(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Health:
    """Health of one device: status, a human readable reason and since when (clock seconds)."""

    status: HealthStatus
    reason: str = ""
    since: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is HealthStatus.OK

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason, "since": round(self.since, 3)}


class SelftestOutcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_PRESENT = "not-present"


@dataclass(frozen=True, slots=True)
class SelftestResult:
    device: str
    outcome: SelftestOutcome
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome is SelftestOutcome.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "outcome": self.outcome.value,
            "message": self.message,
            "details": self.details,
        }
