"""The hand-over outbox (SQLite, WAL): a document stays here until the DMS has confirmed it.

The document's bytes are a BLOB in the same transaction as its metadata, so a document is either
queued completely or not at all; a crash (SIGKILL, power) loses nothing that ``submit`` returned
for. After the DMS confirms, :meth:`HandoverOutbox.purge` removes every copy from the booth:
the BLOB is overwritten with zeros (``zeroblob``) and the row deleted with ``secure_delete``
on (SQLite overwrites freed content with zeros), then the WAL is checkpointed and truncated,
so neither the database file nor its WAL holds the document any more. The file is not
vacuumed (the zeroing makes that unnecessary; its pages are reused).

The audit trail (table ``audit``) records every step of every hand-over: when, which document
(id, SHA-256, size), who requested it, which target, the outcome. It never holds document
content or file names chosen by anyone but the booth (the target name is ``<id><suffix>``).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    document_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT NOT NULL
);
"""

#: document ids: also the name at the DMS, so nothing that could be a path or personal
DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
SUFFIXES = {
    "application/pdf": ".pdf",
    "application/xml": ".xml",
    "application/json": ".json",
    "application/octet-stream": ".bin",
}


@dataclass(frozen=True, slots=True)
class Document:
    """One document to hand over. ``name`` (at the DMS) is ``id`` + the type's suffix."""

    id: str
    name: str
    content_type: str
    sha256: str
    size: int
    content: bytes
    requested_by: str
    requested_at: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    ts: str
    document_id: str
    sha256: str
    size: int
    requested_by: str
    target: str
    event: str
    attempt: int
    detail: str


class DocumentConflict(ValueError):
    """A document id already queued with other content."""


class HandoverOutbox:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a confirmed submit survives power loss
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(SCHEMA)

    # -- documents -------------------------------------------------------------------------------
    def submit(
        self,
        document_id: str,
        content: bytes,
        content_type: str,
        requested_by: str,
        requested_at: str,
    ) -> tuple[Document, bool]:
        """Queue a document; returns it and whether it is new. The same id with the same
        content again is a no-op (idempotent); with other content it is refused."""
        if not DOCUMENT_ID.match(document_id):
            raise ValueError(f"invalid document id {document_id!r}")
        suffix = SUFFIXES.get(content_type)
        if suffix is None:
            raise ValueError(f"unsupported content type {content_type!r}")
        digest = hashlib.sha256(content).hexdigest()
        existing = self.get(document_id)
        if existing is not None:
            if existing.sha256 != digest:
                raise DocumentConflict(f"document {document_id} is queued with other content")
            return existing, False
        doc = Document(
            id=document_id,
            name=document_id + suffix,
            content_type=content_type,
            sha256=digest,
            size=len(content),
            content=bytes(content),
            requested_by=requested_by,
            requested_at=requested_at,
        )
        self._db.execute(
            "INSERT INTO documents (id, name, content_type, sha256, size, content, requested_by,"
            " requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.id,
                doc.name,
                doc.content_type,
                doc.sha256,
                doc.size,
                doc.content,
                doc.requested_by,
                doc.requested_at,
            ),
        )
        return doc, True

    def get(self, document_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT id, name, content_type, sha256, size, content, requested_by, requested_at,"
            " attempts FROM documents WHERE id = ?",
            (document_id,),
        ).fetchone()
        return None if row is None else _document(row)

    def pending(self) -> list[Document]:
        rows = self._db.execute(
            "SELECT id, name, content_type, sha256, size, content, requested_by, requested_at,"
            " attempts FROM documents ORDER BY requested_at, id"
        ).fetchall()
        return [_document(r) for r in rows]

    def pending_ids(self) -> list[str]:
        return [str(r[0]) for r in self._db.execute("SELECT id FROM documents ORDER BY id")]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def failed_attempt(self, document_id: str, error: str) -> int:
        """Count a failed attempt; returns the attempts so far."""
        self._db.execute(
            "UPDATE documents SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error[:500], document_id),
        )
        row = self._db.execute(
            "SELECT attempts FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def purge(self, document_id: str) -> None:
        """The DMS has it: zero the BLOB, delete the row, truncate the WAL (module docstring)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "UPDATE documents SET content = zeroblob(length(content)) WHERE id = ?",
                (document_id,),
            )
            self._db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- audit -----------------------------------------------------------------------------------
    def audit(
        self,
        ts: str,
        doc: Document,
        target: str,
        event: str,
        attempt: int,
        detail: str = "",
    ) -> AuditEntry:
        cur = self._db.execute(
            "INSERT INTO audit (ts, document_id, sha256, size, requested_by, target, event,"
            " attempt, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ts,
                doc.id,
                doc.sha256,
                doc.size,
                doc.requested_by,
                target,
                event,
                attempt,
                detail[:500],
            ),
        )
        seq = int(cur.lastrowid or 0)
        return AuditEntry(
            seq,
            ts,
            doc.id,
            doc.sha256,
            doc.size,
            doc.requested_by,
            target,
            event,
            attempt,
            detail[:500],
        )

    def audit_trail(self, document_id: str | None = None) -> list[AuditEntry]:
        sql = (
            "SELECT seq, ts, document_id, sha256, size, requested_by, target, event, attempt,"
            " detail FROM audit"
        )
        args: tuple[str, ...] = ()
        if document_id is not None:
            sql += " WHERE document_id = ?"
            args = (document_id,)
        rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [
            AuditEntry(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                int(r[4]),
                str(r[5]),
                str(r[6]),
                str(r[7]),
                int(r[8]),
                str(r[9]),
            )
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()


def _document(row: tuple[object, ...]) -> Document:
    return Document(
        id=str(row[0]),
        name=str(row[1]),
        content_type=str(row[2]),
        sha256=str(row[3]),
        size=int(row[4]),  # type: ignore[call-overload]
        content=bytes(row[5]),  # type: ignore[call-overload]
        requested_by=str(row[6]),
        requested_at=str(row[7]),
        attempts=int(row[8]),  # type: ignore[call-overload]
    )
