"""The bridge's persistence: ACD entities, the call log, booth cursors and views, the audit log,
the booths refused for not being in the tenant config.

:class:`Store` is what the bridge needs; :class:`SQLiteStore` implements it with the standard
library's ``sqlite3`` (WAL mode, one connection shared by threads under a lock). A PostgreSQL
backend can implement the same protocol later.

The engine's entities (calls, agents, queues) are JSON-ready dicts that the store keeps as JSON
text keyed by id, without looking inside. :meth:`Store.apply` writes one engine step atomically:
the changed entities, the new log lines and (optionally) the booth event cursor
``(booth, seq, event_id)`` of the event that caused the step. Applying an event whose id was
seen already raises :class:`DuplicateEventError` and changes nothing, so replaying events after
a crash is safe. Duplicates are told by id only: the stored seq is the seq of the booth's last
applied event, an ordering hint (the bridge notices jumps with it), never a reason to refuse an
event (one event with a forged, far-ahead seq would otherwise silence its booth).

The file is shared with :mod:`cloud_bridge.users` (tables ``users`` and ``tokens``). The store
marks it as a LISA database with ``PRAGMA application_id`` and versions its own tables with
``PRAGMA user_version``; any other SQLite file (or a non-SQLite file) is refused with a
:class:`StoreError` naming it. With ``synchronous="NORMAL"`` (WAL) a committed step survives a
killed process; ``"FULL"`` also survives a power cut, at the price of an fsync per step.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cloud_bridge.acd.model import LogEntry

APPLICATION_ID = 0x4C495341  # "LISA": marks the file as a LISA bridge database
SCHEMA_VERSION = 2
SEEN_EVENTS_KEEP = 100_000  # event ids remembered for de-duplication
_PRUNE_EVERY = 1_000  # prune the remembered event ids every this many applies with a cursor
_PAGE = 5_000  # log lines fetched per query by log_entries()
# Tables other modules keep in the same file (cloud_bridge.users); a file holding only these is
# still a LISA database that the store has not initialised yet.
SHARED_TABLES = frozenset({"users", "tokens"})

_SCHEMA_V1 = """
CREATE TABLE calls (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE agents (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE queues (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE log (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    call TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    booth TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX log_ts ON log (ts);
CREATE TABLE cursors (booth TEXT PRIMARY KEY, seq INTEGER NOT NULL, event_id TEXT NOT NULL);
CREATE TABLE seen_events (n INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE);
CREATE TABLE booths (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    booth TEXT NOT NULL,
    cmd TEXT NOT NULL,
    args TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_ts ON audit (ts);
CREATE INDEX audit_booth_ts ON audit (booth, ts);
"""

# version 2: small named JSON documents of the bridge (the booths refused as unknown)
_SCHEMA_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, data TEXT NOT NULL);
"""

# schema version -> SQL that upgrades from the version before (1 is the initial schema)
_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}

_UPSERT = {
    table: f"INSERT INTO {table} (id, data) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET data = excluded.data"
    for table in ("calls", "agents", "queues", "booths")
}
_INSERT_LOG = (
    "INSERT INTO log (ts, call, queue, agent, booth, event, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class StoreError(Exception):
    """The database cannot be used (not a LISA database, unwritable, newer schema, …)."""


class DuplicateEventError(StoreError):
    """:meth:`Store.apply` with a booth event that was applied already; nothing was changed."""

    def __init__(self, booth: str, seq: int, event_id: str, reason: str) -> None:
        super().__init__(f"event {event_id!r} (booth {booth!r}, seq {seq}) {reason}")
        self.booth = booth
        self.seq = seq
        self.event_id = event_id


@dataclass
class Changes:
    """Entities changed by one engine step: id -> JSON-ready dict (for calls ``None`` deletes)."""

    calls: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.calls or self.agents or self.queues)


@runtime_checkable
class Store(Protocol):
    def apply(
        self,
        changes: Changes,
        log: Sequence[LogEntry],
        cursor: tuple[str, int, str] | None = None,
    ) -> None:
        """In one transaction: upsert/delete the entities, append the log lines and set the
        booth event cursor ``(booth, seq, event_id)``. Raises :class:`DuplicateEventError`
        (nothing written) when the event id was seen; any seq is taken (it is a hint)."""
        ...

    def load_state(
        self,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The stored ``(calls, agents, queues)`` in the order they were first written."""
        ...

    def cursors(self) -> dict[str, int]:
        """Booth -> seq of the last event applied."""
        ...

    def reset_cursor(self, booth: str) -> None:
        """Forget a booth's seq (its numbering started again: new PC, wiped state)."""
        ...

    def seen_event(self, event_id: str) -> bool:
        """Whether an event with this id was applied (among the last ~100,000)."""
        ...

    def put_booth(self, booth_id: str, view: dict[str, Any]) -> None: ...

    def booths(self) -> dict[str, dict[str, Any]]:
        """Booth id -> the last view stored with :meth:`put_booth`."""
        ...

    def put_unknown_booths(self, entries: list[dict[str, Any]]) -> None:
        """The bounded list of booths refused as not in the tenant config (replaces it)."""
        ...

    def unknown_booths(self) -> list[dict[str, Any]]:
        """What :meth:`put_unknown_booths` stored last (empty when nothing)."""
        ...

    def append_audit(
        self,
        ts: float,
        user: str,
        role: str,
        booth: str,
        cmd: str,
        args: dict[str, Any],
        outcome: str,
    ) -> None: ...

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        """Newest first: dicts with ts, user, role, booth, cmd, args, outcome."""
        ...

    def log_entries(
        self, start: float | None = None, end: float | None = None
    ) -> Iterator[LogEntry]:
        """Log lines with ``start <= ts < end``, ordered by ts, then by insertion."""
        ...

    def close(self) -> None: ...


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SQLiteStore:
    """:class:`Store` in one SQLite file (WAL mode), safe to share between threads."""

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = path if path == ":memory:" else Path(path)
        self._lock = threading.RLock()
        self._applied = 0
        self._closed = False
        self._db = self._open(synchronous.upper())

    # ------------------------------------------------------------------------------ opening
    def _open(self, synchronous: str) -> sqlite3.Connection:
        name = str(self.path)
        if isinstance(self.path, Path):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory for database {name}: {exc}") from exc
            if self.path.is_dir():
                raise StoreError(f"database {name} is a directory")
            if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
                raise StoreError(f"database {name} is not readable and writable")
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise StoreError(
                    f"database {name}: the directory {self.path.parent} is not writable"
                )
        try:
            db = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {name}: {exc}") from exc
        try:
            self._prepare(db, name, synchronous)
        except sqlite3.DatabaseError as exc:
            db.close()
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise StoreError(f"{name} is not a LISA database (not an SQLite file)") from exc
            raise StoreError(f"cannot use database {name}: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection, name: str, synchronous: str) -> None:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        foreign = sorted(tables - SHARED_TABLES)
        if app_id != APPLICATION_ID and (app_id != 0 or version or foreign):
            raise StoreError(
                f"{name} is not a LISA database (SQLite application_id {app_id:#x}, "
                f"user_version {version}, tables: {', '.join(foreign) or 'none'})"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {name} has schema version {version}; this LISA version knows only "
                f"up to {SCHEMA_VERSION} (written by a newer LISA?)"
            )
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        if version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step].split(";"):
                        if statement.strip():
                            db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- engine state
    def apply(
        self,
        changes: Changes,
        log: Sequence[LogEntry],
        cursor: tuple[str, int, str] | None = None,
    ) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if cursor is not None:
                    self._advance_cursor(db, *cursor)
                upserts: list[tuple[str, str]] = []
                deletes: list[tuple[str]] = []
                for call_id, view in changes.calls.items():
                    if view is None:
                        deletes.append((call_id,))
                    else:
                        upserts.append((call_id, _dumps(view)))
                if upserts:
                    db.executemany(_UPSERT["calls"], upserts)
                if deletes:
                    db.executemany("DELETE FROM calls WHERE id = ?", deletes)
                if changes.agents:
                    db.executemany(
                        _UPSERT["agents"], [(k, _dumps(v)) for k, v in changes.agents.items()]
                    )
                if changes.queues:
                    db.executemany(
                        _UPSERT["queues"], [(k, _dumps(v)) for k, v in changes.queues.items()]
                    )
                if log:
                    db.executemany(
                        _INSERT_LOG,
                        [
                            (e.ts, e.call, e.queue, e.agent, e.booth, e.event, _dumps(e.data))
                            for e in log
                        ],
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _advance_cursor(self, db: sqlite3.Connection, booth: str, seq: int, event_id: str) -> None:
        if event_id:
            if db.execute("SELECT 1 FROM seen_events WHERE event_id = ?", (event_id,)).fetchone():
                raise DuplicateEventError(booth, seq, event_id, "was applied already")
            db.execute("INSERT INTO seen_events (event_id) VALUES (?)", (event_id,))
            self._applied += 1
            if self._applied % _PRUNE_EVERY == 0:
                db.execute(
                    "DELETE FROM seen_events WHERE n <= (SELECT max(n) FROM seen_events) - ?",
                    (SEEN_EVENTS_KEEP,),
                )
        db.execute(
            "INSERT INTO cursors (booth, seq, event_id) VALUES (?, ?, ?) ON CONFLICT (booth) "
            "DO UPDATE SET seq = excluded.seq, event_id = excluded.event_id",
            (booth, seq, event_id),
        )

    def load_state(
        self,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        with self._lock:
            return (
                self._entities("calls"),
                self._entities("agents"),
                self._entities("queues"),
            )

    def _entities(self, table: str) -> list[dict[str, Any]]:
        rows = self._db.execute(f"SELECT data FROM {table} ORDER BY rowid").fetchall()
        return [json.loads(data) for (data,) in rows]

    def cursors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT booth, seq FROM cursors ORDER BY booth"))

    def reset_cursor(self, booth: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cursors WHERE booth = ?", (booth,))

    def seen_event(self, event_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM seen_events WHERE event_id = ?", (event_id,)
            ).fetchone()
            return row is not None

    # -------------------------------------------------------------------------------- booths
    def put_booth(self, booth_id: str, view: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(_UPSERT["booths"], (booth_id, _dumps(view)))

    def booths(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, data FROM booths ORDER BY id").fetchall()
        return {booth_id: json.loads(data) for booth_id, data in rows}

    def put_unknown_booths(self, entries: list[dict[str, Any]]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, data) VALUES ('unknown_booths', ?) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (_dumps(entries),),
            )

    def unknown_booths(self) -> list[dict[str, Any]]:
        with self._lock:
            row = self._db.execute("SELECT data FROM meta WHERE key = 'unknown_booths'").fetchone()
        if row is None:
            return []
        entries: list[dict[str, Any]] = json.loads(row[0])
        return entries

    # --------------------------------------------------------------------------------- audit
    def append_audit(
        self,
        ts: float,
        user: str,
        role: str,
        booth: str,
        cmd: str,
        args: dict[str, Any],
        outcome: str,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (ts, user, role, booth, cmd, args, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ts, user, role, booth, cmd, _dumps(args), outcome),
            )

    def audit(self, limit: int = 100, booth: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT ts, user, role, booth, cmd, args, outcome FROM audit"
        params: tuple[Any, ...] = (limit,)
        if booth is not None:
            sql += " WHERE booth = ?"
            params = (booth, limit)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            {
                "ts": ts,
                "user": user,
                "role": role,
                "booth": booth_id,
                "cmd": cmd,
                "args": json.loads(args),
                "outcome": outcome,
            }
            for ts, user, role, booth_id, cmd, args, outcome in rows
        ]

    # ----------------------------------------------------------------------------------- log
    def log_entries(
        self, start: float | None = None, end: float | None = None
    ) -> Iterator[LogEntry]:
        """Fetched in pages of a few thousand lines, so the lock is never held while the caller
        works and huge periods do not need to fit in memory at once."""
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        last_ts, last_id = lo, -1
        first = True
        while True:
            with self._lock:
                if first:
                    rows = self._db.execute(
                        "SELECT id, ts, call, queue, agent, booth, event, data FROM log "
                        "WHERE ts >= ? AND ts < ? ORDER BY ts, id LIMIT ?",
                        (lo, hi, _PAGE),
                    ).fetchall()
                else:
                    rows = self._db.execute(
                        "SELECT id, ts, call, queue, agent, booth, event, data FROM log "
                        "WHERE (ts, id) > (?, ?) AND ts < ? ORDER BY ts, id LIMIT ?",
                        (last_ts, last_id, hi, _PAGE),
                    ).fetchall()
            first = False
            for row_id, ts, call, queue, agent, booth, event, data in rows:
                yield LogEntry(ts, call, queue, agent, booth, event, json.loads(data))
                last_ts, last_id = ts, row_id
            if len(rows) < _PAGE:
                return
