"""The support bundle (``lisa diag bundle``) and the redaction that keeps secrets and personal
data out of it: the booth's config, versions, recent trace, self-test results and status in one
object a technician can send to support.

:func:`redact` replaces secrets (any key containing password, secret, token, salt, credential,
private or api key), each badge hash and raw card UIDs with ``"***"``.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from booth.config import BoothConfig
from booth.controller import BoothController

#: trace records a support bundle carries (the most recent ones)
BUNDLE_TRACE_RECORDS = 500
REDACTED = "***"
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "salt",
    "credential",
    "private",
    "api_key",
    "apikey",
)
_HASH_LIST_KEYS = ("badge_hashes",)
_PERSONAL_KEYS = ("uid",)


def _secret_key(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in _SECRET_WORDS)


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secrets replaced by ``"***"``: any key containing password,
    secret, token, salt, credential or private; the badge hashes (each entry); raw card UIDs."""
    if key and value is not None:
        if _secret_key(key) or key.lower() in _PERSONAL_KEYS:
            return REDACTED
        if key.lower() in _HASH_LIST_KEYS:
            return [REDACTED] * len(value) if isinstance(value, list) else REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def versions() -> dict[str, str]:
    """Versions of LISA, Python, the libraries that matter most and the OS."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "lisa": version("lisa"),
        "python": platform.python_version(),
        "transitions": version("transitions"),
        "pydantic": version("pydantic"),
        "os": platform.platform(),
    }


def support_bundle(
    controller: BoothController,
    config: BoothConfig,
    config_path: Path | None,
    *,
    trace: list[dict[str, Any]],
    status: dict[str, Any],
) -> dict[str, Any]:
    """The answer to ``bundle``, redacted. ``trace``: the last :data:`BUNDLE_TRACE_RECORDS`
    trace records as dicts; ``status``: the answer to ``status``."""
    config_dump = config.model_dump(mode="json")
    selftest = {slot: r.to_dict() for slot, r in controller.selftest_results.items()}
    return {
        "ok": True,
        "booth": config.booth.id,
        "created": controller.clock.wall().isoformat(timespec="seconds"),
        "config_file": str(config_path) if config_path else None,
        "config": redact(config_dump),
        "versions": versions(),
        "trace": redact(trace),
        "selftest": redact(selftest),
        "status": redact(status),
    }
