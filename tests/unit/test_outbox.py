"""The outbox keeps every event until it is acknowledged, in order, across restarts."""

from __future__ import annotations

import json
from pathlib import Path

from booth.outbox import Outbox


def payload(seq: int, event_id: str) -> bytes:
    return json.dumps({"seq": seq, "id": event_id}).encode()


def test_append_pending_ack_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    rows = [box.append("t", payload) for _ in range(5)]
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert len({r.id for r in rows}) == 5
    assert [r.seq for r in box.pending()] == [1, 2, 3, 4, 5]
    assert [r.seq for r in box.pending(after=3)] == [4, 5]
    box.ack([1, 2])
    assert [r.seq for r in box.pending()] == [3, 4, 5]
    assert json.loads(box.pending()[0].payload)["seq"] == 3


def test_survives_restart_and_seq_keeps_growing(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    for _ in range(3):
        box.append("t", payload)
    box.ack([1, 2, 3])
    box.append("t", payload)
    box.close()
    again = Outbox(path)  # like a restart after SIGKILL: nothing acknowledged is lost
    assert [r.seq for r in again.pending()] == [4]
    assert again.append("t", payload).seq == 5  # seq never goes back, even when all were acked


def test_command_results_are_kept_for_idempotency(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.command_result("c1") is None
    box.store_command_result("c1", {"id": "c1", "ok": True}, ts=100.0)
    assert box.command_result("c1") == {"id": "c1", "ok": True}
    assert box.prune_commands(older_than=50.0) == 0
    assert box.prune_commands(older_than=150.0) == 1
    assert box.command_result("c1") is None


def test_ack_out_of_order_gaps_and_repeats(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    for _ in range(8):
        box.append("t", payload)
    box.ack([])  # nothing to do
    box.ack([5, 1, 2, 2, 4, 8])  # PUBACKs in any order, a repeat: runs 1-2, 4-5, 8
    assert [r.seq for r in box.pending()] == [3, 6, 7]
    box.ack([7, 6, 3, 99])  # an unknown seq is ignored
    assert box.count() == 0
