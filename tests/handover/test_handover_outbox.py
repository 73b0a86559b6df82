"""The hand-over outbox, backoff, config models and the directory drop (no network)."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest
from handover_peers import AuditWatch
from pydantic import TypeAdapter, ValidationError

from booth.handover.config import (
    DirectoryDropConfig,
    ExporterConfig,
    HandoverConfig,
    RetryConfig,
    WebDavConfig,
)
from booth.handover.exporters import DirectoryDrop, ExportError
from booth.handover.outbox import DocumentConflict, HandoverOutbox
from booth.handover.service import HandoverService, backoff
from hal.clock import LoopClock

#: a marker no SQLite page or log line would hold by chance: "personal" content
SECRET = b"Erika Mustermann, Heidestrasse 17, 51147 Koeln -- " * 40
PDF = b"%PDF-1.7\n" + SECRET + b"\n%%EOF\n"


def database_bytes(directory: Path) -> bytes:
    """The outbox database and its WAL / SHM files, raw."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("h.sqlite*")))


def test_submit_is_durable_and_idempotent_by_id(tmp_path: Path) -> None:
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    doc, new = outbox.submit("doc-1", PDF, "application/pdf", "agent-7", "2026-01-01T00:00:00Z")
    assert new and doc.name == "doc-1.pdf" and doc.size == len(PDF)
    outbox.close()
    reopened = HandoverOutbox(tmp_path / "h.sqlite")  # a new process after a crash
    again, new = reopened.submit("doc-1", PDF, "application/pdf", "agent-7", "later")
    assert not new and again.sha256 == doc.sha256 and reopened.count() == 1
    with pytest.raises(DocumentConflict):
        reopened.submit("doc-1", PDF + b"x", "application/pdf", "agent-7", "later")
    for bad in ("../etc/passwd", "a/b", "", "x" * 200, "Müller"):
        with pytest.raises(ValueError):
            reopened.submit(bad, PDF, "application/pdf", "agent-7", "t")
    with pytest.raises(ValueError):
        reopened.submit("doc-2", PDF, "text/html", "agent-7", "t")


def test_purge_leaves_no_copy_in_the_database_or_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    outbox = HandoverOutbox(path)
    for i in range(3):
        outbox.submit(f"doc-{i}", PDF, "application/pdf", "agent-7", "t")
    assert SECRET[:40] in database_bytes(tmp_path)  # it is there while queued
    for i in range(3):
        outbox.purge(f"doc-{i}")
    assert outbox.count() == 0
    assert SECRET[:20] not in database_bytes(tmp_path)
    outbox.close()


def test_backoff_grows_exponentially_with_jitter_up_to_the_maximum() -> None:
    retry = RetryConfig(initial=1.0, maximum=30.0, factor=2.0, jitter=0.5)
    rng = random.Random(7)
    for attempts, base in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (20, 30.0)]:
        for _ in range(50):
            delay = backoff(attempts, retry, rng)
            assert base * 0.5 <= delay <= base, (attempts, delay)
    delays = {round(backoff(3, retry, rng), 6) for _ in range(20)}
    assert len(delays) > 10  # jittered, not in lockstep
    assert backoff(3, RetryConfig(initial=1.0, jitter=0.0), rng) == 4.0


def test_config_models() -> None:
    adapter: TypeAdapter[ExporterConfig] = TypeAdapter(ExporterConfig)
    webdav = adapter.validate_python(
        {
            "kind": "webdav",
            "url": "https://dms.example.org/dav",
            "username": "b",
            "password": "hunter2",
        }
    )
    assert isinstance(webdav, WebDavConfig) and webdav.secret() == "hunter2"
    assert "hunter2" not in repr(webdav)
    with pytest.raises(ValidationError, match="exactly one"):
        adapter.validate_python({"kind": "webdav", "url": "https://x", "username": "b"})
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "ftp", "url": "ftp://x"})
    with pytest.raises(ValidationError, match="exactly one"):
        adapter.validate_python({"kind": "http", "url": "https://x/u"})
    cfg = HandoverConfig.model_validate({"exporter": {"kind": "directory", "path": "/srv/in"}})
    assert isinstance(cfg.exporter, DirectoryDropConfig)
    assert cfg.outbox_path(Path("/var/lib/lisa")) == Path("/var/lib/lisa/handover.sqlite")
    with pytest.raises(ValidationError):
        HandoverConfig.model_validate({"exporter": {"kind": "directory", "path": "/x"}, "y": 1})


# --- directory drop --------------------------------------------------------------------------


async def test_directory_drop_writes_atomically_with_a_checksum_and_is_idempotent(
    tmp_path: Path,
) -> None:
    target = tmp_path / "share"
    target.mkdir()
    (target / ".doc-1.pdf.tmp-dead").write_bytes(b"half of an old attempt")
    drop = DirectoryDrop(DirectoryDropConfig(path=target))
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    doc, _ = outbox.submit("doc-1", PDF, "application/pdf", "agent-7", "t")
    first = await drop.deliver(doc)
    assert first.outcome == "delivered"
    assert sorted(p.name for p in target.iterdir()) == ["doc-1.pdf", "doc-1.pdf.sha256"]
    assert (target / "doc-1.pdf").read_bytes() == PDF
    assert (target / "doc-1.pdf.sha256").read_text() == f"{doc.sha256}  doc-1.pdf\n"
    again = await drop.deliver(doc)
    assert again.outcome == "already-present"
    assert sorted(p.name for p in target.iterdir()) == ["doc-1.pdf", "doc-1.pdf.sha256"]
    (target / "doc-1.pdf").write_bytes(b"damaged")  # not identical: written again
    assert (await drop.deliver(doc)).outcome == "delivered"
    assert (target / "doc-1.pdf").read_bytes() == PDF
    with pytest.raises(ExportError):
        await DirectoryDrop(DirectoryDropConfig(path=tmp_path / "missing")).deliver(doc)


@pytest.mark.realtime
async def test_service_hands_over_to_a_directory_audits_and_keeps_no_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "lisa.handover")
    target = tmp_path / "share"
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    drop = DirectoryDrop(DirectoryDropConfig(path=target))
    service = HandoverService(outbox, drop, LoopClock(), RetryConfig(initial=0.02, maximum=0.05))
    watch = AuditWatch()
    service.subscribe(watch)
    source = tmp_path / "signed.pdf"
    source.write_bytes(PDF)
    service.submit_file("doc-1", source, "application/pdf", "agent-7")
    assert not source.exists()  # the outbox holds the only copy now
    task = asyncio.create_task(service.run())
    try:
        await watch.wait_for(lambda: len(watch.of("attempt-failed")) >= 2, 5.0)  # no share yet
        target.mkdir()
        await service.wait_empty(5.0)
    finally:
        task.cancel()
    assert (target / "doc-1.pdf").read_bytes() == PDF
    trail = outbox.audit_trail("doc-1")
    assert trail[0].event == "queued" and trail[-1].event == "delivered"
    assert {e.requested_by for e in trail} == {"agent-7"}
    assert {e.target for e in trail} == {f"directory:{target}"}
    assert all(e.sha256 == trail[0].sha256 and e.size == len(PDF) for e in trail)
    assert SECRET[:20] not in database_bytes(tmp_path)
    assert "Mustermann" not in caplog.text and "handover delivered" in caplog.text
    outbox.close()
