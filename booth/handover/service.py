"""The hand-over service: takes documents into the outbox and hands them to the DMS.

``submit`` stores the document durably (SQLite) and returns; ``run()`` delivers what is queued
through the exporter, one document at a time, and retries failures with jittered exponential
backoff on the injected clock (``delay = min(maximum, initial * factor ** (attempts - 1))``, of
which the ``jitter`` fraction is random). Nothing is dropped: a document stays queued until the
DMS confirms it, however long the DMS is down. After a restart everything queued is due at once.
Once confirmed, the document is purged from the booth (:meth:`HandoverOutbox.purge`).

Every step is audited (outbox table ``audit`` and the ``lisa.handover.audit`` log): queued,
attempt-failed, delivered / already-present; with who requested it, when, the document's id,
SHA-256 and size, the target and the outcome. Never the content.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from pathlib import Path

from booth.handover.config import RetryConfig
from booth.handover.exporters import Delivery, Exporter, ExportError
from booth.handover.outbox import AuditEntry, Document, HandoverOutbox
from hal.clock import Clock, rfc3339

log = logging.getLogger("lisa.handover")
audit_log = logging.getLogger("lisa.handover.audit")


def backoff(attempts: int, retry: RetryConfig, rng: random.Random) -> float:
    """Delay before the next attempt after ``attempts`` failed ones (>= 1)."""
    base = min(retry.maximum, retry.initial * retry.factor ** max(0, attempts - 1))
    return base * (1.0 - retry.jitter) + base * retry.jitter * rng.random()


class HandoverService:
    def __init__(
        self,
        outbox: HandoverOutbox,
        exporter: Exporter,
        clock: Clock,
        retry: RetryConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.exporter = exporter
        self.clock = clock
        self.retry = retry or RetryConfig()
        self.rng = rng or random.Random()
        self._due: dict[str, float] = {}  # document id -> clock time of its next attempt
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[AuditEntry], None]] = []

    # -- intake ----------------------------------------------------------------------------------
    def submit(
        self, document_id: str, content: bytes, content_type: str, requested_by: str
    ) -> Document:
        """Queue a document (durable when this returns). Idempotent by id."""
        doc, new = self.outbox.submit(
            document_id, content, content_type, requested_by, rfc3339(self.clock.wall())
        )
        if new:
            self._audit(doc, "queued", 0)
        self._wake.set()
        return doc

    def submit_file(
        self, document_id: str, path: Path, content_type: str, requested_by: str
    ) -> Document:
        """Queue the file's content, then delete the file: the outbox holds the only copy."""
        doc = self.submit(document_id, path.read_bytes(), content_type, requested_by)
        path.unlink(missing_ok=True)
        return doc

    def subscribe(self, listener: Callable[[AuditEntry], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- delivery --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            self._wake.clear()
            wait = await self.deliver_due()
            if wait is None:
                await self._wake.wait()
                continue
            handle = self.clock.call_later(wait, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                handle.cancel()

    async def deliver_due(self) -> float | None:
        """One pass over the queue: attempt every due document. Returns the seconds until the
        next one is due (None: the queue is empty)."""
        for doc_id in self.outbox.pending_ids():
            if self._due.get(doc_id, float("-inf")) > self.clock.now():
                continue
            doc = self.outbox.get(doc_id)
            if doc is not None:
                await self._attempt(doc)
        self._changed.set()
        remaining = self.outbox.pending_ids()
        if not remaining:
            return None
        now = self.clock.now()
        return max(0.0, min(self._due.get(i, now) for i in remaining) - now)

    async def _attempt(self, doc: Document) -> None:
        attempt = doc.attempts + 1
        try:
            delivery: Delivery = await self.exporter.deliver(doc)
        except ExportError as exc:
            self._failed(doc, attempt, str(exc))
            return
        except Exception as exc:  # an exporter bug must not lose the document or stop the loop
            log.exception("exporter failed")
            self._failed(doc, attempt, f"internal error: {type(exc).__name__}")
            return
        self._audit(doc, delivery.outcome, attempt, delivery.detail)
        self.outbox.purge(doc.id)
        self._due.pop(doc.id, None)

    def _failed(self, doc: Document, attempt: int, error: str) -> None:
        attempts = self.outbox.failed_attempt(doc.id, error)
        delay = backoff(attempts, self.retry, self.rng)
        self._due[doc.id] = self.clock.now() + delay
        self._audit(doc, "attempt-failed", attempt, f"{error}; next attempt in {delay:.1f} s")

    def _audit(self, doc: Document, event: str, attempt: int, detail: str = "") -> None:
        entry = self.outbox.audit(
            rfc3339(self.clock.wall()), doc, self.exporter.target, event, attempt, detail
        )
        audit_log.info(
            "handover %s",
            event,
            extra={
                "document_id": doc.id,
                "sha256": doc.sha256,
                "size": doc.size,
                "requested_by": doc.requested_by,
                "target": self.exporter.target,
                "attempt": attempt,
                "detail": detail,
            },
        )
        for listener in list(self._listeners):
            listener(entry)

    async def wait_empty(self, within: float) -> None:
        """Wait until the outbox is empty (``TimeoutError`` after ``within`` s)."""
        async with asyncio.timeout(within):
            while self.outbox.count():
                self._changed.clear()
                await self._changed.wait()
