"""Keep tokens out of the logs: the WebSocket's ``?token=`` is in uvicorn's request lines."""

from __future__ import annotations

import logging
import re

_TOKEN_RE = re.compile(r"((?:^|[?&])token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_RE.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Hide ``token=…`` query values (the WebSocket's) in uvicorn's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) and "token=" in a else a for a in record.args
            )
        return True


def install_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
