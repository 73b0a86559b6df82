"""The bridge's SQLite store: round trips, atomic steps, event cursors, crash recovery, audit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import cloud_bridge.store as store_module
from cloud_bridge.acd.model import LogEntry
from cloud_bridge.store import (
    Changes,
    DuplicateEventError,
    SQLiteStore,
    Store,
    StoreError,
)

REPO = Path(__file__).resolve().parents[2]


def entry(ts: float, event: Any = "OFFER", call: str = "c1", **data: Any) -> LogEntry:
    return LogEntry(ts, call, "wohngeld", "a1", "b1", event, data)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SQLiteStore(tmp_path / "bridge.db")
    yield s
    s.close()


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "bridge.db"  # parents are created
    s = SQLiteStore(path)
    assert isinstance(s, Store)
    s.apply(
        Changes(
            calls={"c1": {"id": "c1", "status": "waiting"}, "c2": {"id": "c2", "ä": [1, 2.5]}},
            agents={"a1": {"id": "a1", "status": "ready"}},
            queues={"wohngeld": {"id": "wohngeld", "waiting": 1}},
        ),
        [entry(10.0, "ENTERQUEUE", booth="b1", priority=0, transfer=False)],
        ("b1", 1, "ev-1"),
    )
    s.apply(
        Changes(calls={"c1": {"id": "c1", "status": "ringing"}, "c2": None}),
        [entry(11.0, wait_s=1.0, ring_timeout_s=20)],
    )
    s.close()
    s.close()  # idempotent

    with SQLiteStore(str(path)) as again:
        calls, agents, queues = again.load_state()
        assert calls == [{"id": "c1", "status": "ringing"}]
        assert agents == [{"id": "a1", "status": "ready"}]
        assert queues == [{"id": "wohngeld", "waiting": 1}]
        assert again.cursors() == {"b1": 1}
        assert again.seen_event("ev-1") and not again.seen_event("ev-2")
        log = list(again.log_entries())
        assert log == [
            entry(10.0, "ENTERQUEUE", booth="b1", priority=0, transfer=False),
            entry(11.0, wait_s=1.0, ring_timeout_s=20),
        ]
        mode = again._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_entities_keep_the_order_they_were_first_written(store: SQLiteStore) -> None:
    store.apply(Changes(agents={"z": {"id": "z"}, "a": {"id": "a"}}), [])
    store.apply(Changes(agents={"z": {"id": "z", "v": 2}, "m": {"id": "m"}}), [])
    assert store.load_state()[1] == [{"id": "z", "v": 2}, {"id": "a"}, {"id": "m"}]


def test_log_order_and_period(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_PAGE", 3)  # pages end in the middle of equal ts
    lines = [entry(ts, n=n) for n, ts in enumerate([5, 1, 3, 3, 3, 3, 2, 9, 3, 7])]
    store.apply(Changes(), lines[:4])
    store.apply(Changes(), lines[4:])
    got = [(e.ts, e.data["n"]) for e in store.log_entries()]
    assert got == [(1, 1), (2, 6), (3, 2), (3, 3), (3, 4), (3, 5), (3, 8), (5, 0), (7, 9), (9, 7)]
    assert [e.data["n"] for e in store.log_entries(3, 7)] == [2, 3, 4, 5, 8, 0]  # [start, end)
    assert [e.data["n"] for e in store.log_entries(start=7)] == [9, 7]
    assert [e.data["n"] for e in store.log_entries(end=3)] == [1, 6]
    assert list(store.log_entries(100, 200)) == []


def test_an_exception_mid_apply_leaves_nothing(store: SQLiteStore) -> None:
    store.apply(Changes(calls={"keep": {"v": 1}}), [entry(1.0)], ("b1", 1, "e1"))
    bad_log = [entry(2.0), entry(3.0, oops=object())]  # not JSON: fails after the upserts
    with pytest.raises(TypeError):
        store.apply(
            Changes(
                calls={"keep": None, "new": {"v": 2}},
                agents={"a1": {"v": 2}},
                queues={"q": {"v": 2}},
            ),
            bad_log,
            ("b1", 2, "e2"),
        )
    assert store.load_state() == ([{"v": 1}], [], [])
    assert [e.ts for e in store.log_entries()] == [1.0]
    assert store.cursors() == {"b1": 1}
    assert not store.seen_event("e2")
    # the store is usable afterwards, and the same event can be applied now
    store.apply(Changes(calls={"new": {"v": 2}}), [entry(2.0)], ("b1", 2, "e2"))
    assert store.cursors() == {"b1": 2}


def test_cursor_is_idempotent_by_event_id(store: SQLiteStore) -> None:
    store.apply(Changes(calls={"c": {"n": 1}}), [entry(1.0)], ("b1", 5, "e5"))
    store.apply(Changes(), [entry(1.5)], ("b2", 1, "x1"))  # booths have their own seq
    for cursor in (("b1", 5, "e5"), ("b1", 4, "e5"), ("b2", 9, "e5"), ("b2", 2, "x1")):
        with pytest.raises(DuplicateEventError) as info:
            store.apply(Changes(calls={"c": {"n": 2}}), [entry(2.0)], cursor)
        assert info.value.booth == cursor[0] and info.value.seq == cursor[1]
    assert store.load_state()[0] == [{"n": 1}]
    assert [e.ts for e in store.log_entries()] == [1.0, 1.5]
    assert store.cursors() == {"b1": 5, "b2": 1}
    store.apply(Changes(calls={"c": {"n": 3}}), [entry(3.0)], ("b1", 7, "e7"))  # gaps are fine
    assert store.cursors() == {"b1": 7, "b2": 1}
    # a seq that is not beyond the cursor is no duplicate (new id): applied, the cursor follows
    # it (a seq is an ordering hint; one forged far-ahead seq must not silence a booth)
    store.apply(Changes(calls={"c": {"n": 4}}), [entry(4.0)], ("b1", 6, "e6"))
    assert store.cursors() == {"b1": 6, "b2": 1}
    assert store.load_state()[0] == [{"n": 4}]
    assert isinstance(DuplicateEventError("b", 1, "e", "x"), StoreError)


def test_unknown_booths_round_trip(store: SQLiteStore) -> None:
    assert store.unknown_booths() == []
    store.put_unknown_booths([{"id": "x-1", "count": 2}])
    store.put_unknown_booths([{"id": "x-2", "count": 1}, {"id": "x-1", "count": 3}])
    assert store.unknown_booths() == [{"id": "x-2", "count": 1}, {"id": "x-1", "count": 3}]


def test_old_event_ids_are_forgotten(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "SEEN_EVENTS_KEEP", 10)
    monkeypatch.setattr(store_module, "_PRUNE_EVERY", 5)
    for seq in range(1, 31):
        store.apply(Changes(), [], ("b1", seq, f"e{seq}"))
    assert not store.seen_event("e1")
    assert all(store.seen_event(f"e{seq}") for seq in range(21, 31))
    assert store._db.execute("SELECT count(*) FROM seen_events").fetchone()[0] <= 15


def test_booth_views_survive_a_restart(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "b.db") as s:
        s.put_booth("b1", {"online": True, "state": "idle"})
        s.put_booth("b2", {"online": False})
        s.put_booth("b1", {"online": True, "state": "in_call", "health": {"door": "ok"}})
    with SQLiteStore(tmp_path / "b.db") as s:
        assert s.booths() == {
            "b1": {"online": True, "state": "in_call", "health": {"door": "ok"}},
            "b2": {"online": False},
        }


def test_audit_newest_first(store: SQLiteStore) -> None:
    store.append_audit(10.0, "anna", "agent", "b1", "door_open", {"why": "Rollstuhl"}, "ok")
    store.append_audit(12.0, "tech", "technician", "b2", "reboot", {}, "denied")
    store.append_audit(11.0, "anna", "agent", "b1", "light", {"level": 80}, "ok")
    store.append_audit(12.0, "tech", "technician", "b1", "diag", {}, "timeout")
    rows = store.audit()
    assert [(r["ts"], r["cmd"]) for r in rows] == [
        (12.0, "diag"),  # same ts: the later line first
        (12.0, "reboot"),
        (11.0, "light"),
        (10.0, "door_open"),
    ]
    assert rows[2] == {
        "ts": 11.0,
        "user": "anna",
        "role": "agent",
        "booth": "b1",
        "cmd": "light",
        "args": {"level": 80},
        "outcome": "ok",
    }
    assert [r["cmd"] for r in store.audit(limit=2)] == ["diag", "reboot"]
    assert [r["cmd"] for r in store.audit(booth="b1")] == ["diag", "light", "door_open"]
    assert [r["cmd"] for r in store.audit(limit=1, booth="b2")] == ["reboot"]
    assert store.audit(booth="nope") == []


def test_threads_share_the_store(store: SQLiteStore) -> None:
    def work(booth: str) -> None:
        for seq in range(1, 51):
            store.apply(
                Changes(agents={booth: {"seq": seq}}),
                [entry(float(seq), call=booth)] * 3,
                (booth, seq, f"{booth}-{seq}"),
            )
            store.append_audit(float(seq), "u", "admin", booth, "x", {}, "ok")

    threads = [threading.Thread(target=work, args=(f"b{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.cursors() == {f"b{i}": 50 for i in range(4)}
    assert sum(1 for _ in store.log_entries()) == 4 * 50 * 3
    assert len(store.audit(limit=1000)) == 200


def test_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not a database, just some text that is long enough\n" * 20)
    with pytest.raises(StoreError, match=r"notes\.db is not a LISA database"):
        SQLiteStore(path)


def test_refuses_another_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, payload TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"outbox\.db is not a LISA database.*outbox"):
        SQLiteStore(path)


def test_shares_the_file_with_the_user_accounts(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    db = sqlite3.connect(path)  # as cloud_bridge.users creates them before the store runs
    db.execute("CREATE TABLE users (name TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE tokens (token_sha256 TEXT PRIMARY KEY)")
    db.execute("INSERT INTO users VALUES ('anna')")
    db.commit()
    db.close()
    with SQLiteStore(path) as s:
        s.put_booth("b1", {})
    with SQLiteStore(path) as s:
        assert s.booths() == {"b1": {}}
        assert s._db.execute("SELECT name FROM users").fetchall() == [("anna",)]


def test_a_version_1_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    with SQLiteStore(path) as s:
        s.put_booth("b1", {"x": 1})
    db = sqlite3.connect(path)  # as the first LISA version left it
    db.execute("DROP TABLE meta")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with SQLiteStore(path) as s:
        assert s.booths() == {"b1": {"x": 1}}
        s.put_unknown_booths([{"id": "x"}])
        assert s.unknown_booths() == [{"id": "x"}]
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match=r"bridge\.db has schema version 99"):
        SQLiteStore(path)


def test_unusable_location_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"plain-file/bridge\.db"):
        SQLiteStore(blocker / "bridge.db")
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteStore(tmp_path)
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x.db", synchronous="SOMETIMES")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write everywhere")
def test_unwritable_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    SQLiteStore(path).close()
    path.chmod(0o444)
    try:
        with pytest.raises(StoreError, match=r"bridge\.db is not readable and writable"):
            SQLiteStore(path)
    finally:
        path.chmod(0o644)


_CHILD = """
import sys
from cloud_bridge.acd.model import LogEntry
from cloud_bridge.store import Changes, SQLiteStore

store = SQLiteStore(sys.argv[1])
seq = 0
while True:
    seq += 1
    n = {"seq": seq}
    log = [LogEntry(float(seq), "c", "q", "a", "b1", "OFFER", {**n, "k": k}) for k in (0, 1, 2)]
    changes = Changes(calls={"c": n, f"x{seq}": n}, agents={"a": n})
    store.apply(changes, log, ("b1", seq, f"e{seq}"))
    print(seq, flush=True)
"""


def test_recovers_after_the_process_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert child.stdout is not None
    committed = 0
    try:
        while committed < 400:
            text = child.stdout.readline()
            assert text, f"the child stopped (exit code {child.poll()})"
            committed = int(text)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").exists()  # killed: nothing checkpointed the WAL away

    with SQLiteStore(path) as s:
        assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seq = s.cursors()["b1"]
        assert seq >= committed  # every step the child reported is there
        calls, agents, _ = s.load_state()
        assert calls[0] == {"seq": seq}  # entity, log and cursor from the same last step
        assert len(calls) == seq + 1
        assert agents == [{"seq": seq}]
        log = list(s.log_entries())
        assert len(log) == 3 * seq
        assert [e.data["seq"] for e in log[::3]] == list(range(1, seq + 1))
        assert s.seen_event(f"e{seq}") and not s.seen_event(f"e{seq + 1}")
        with pytest.raises(DuplicateEventError):
            s.apply(Changes(), [], ("b1", seq, f"e{seq}"))
        s.apply(Changes(calls={"c": {"seq": seq + 1}}), [], ("b1", seq + 1, f"e{seq + 1}"))
    with SQLiteStore(path) as s:
        assert s.cursors() == {"b1": seq + 1}
