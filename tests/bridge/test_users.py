"""Accounts and tokens (cloud_bridge.users) and ``lisa bridge user`` (cloud_bridge.users_cli)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from cloud_bridge.store import SQLiteStore
from cloud_bridge.users import User, UserError, UserStore
from cloud_bridge.users_cli import user_app

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PW = "correct-horse"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> UserStore:
    return UserStore(tmp_path / "bridge.db", hasher=FAST, clock=clock)


def test_add_get_list(store: UserStore, clock: FakeClock) -> None:
    user = store.add("clearing1", "agent", PW, "Bürgerservice")
    assert user == User("clearing1", "agent", "Bürgerservice", False, clock.t, clock.t)
    store.add("admin1", "admin", PW)
    assert store.get("clearing1") == user
    assert store.get("nobody") is None
    assert [u.name for u in store.list()] == ["admin1", "clearing1"]


@pytest.mark.parametrize(
    ("name", "role", "password", "code"),
    [
        ("Clearing1", "agent", PW, "invalid_name"),
        ("-x", "agent", PW, "invalid_name"),
        ("a" * 64, "agent", PW, "invalid_name"),
        ("ok", "boss", PW, "invalid_role"),
        ("ok", "agent", "short", "weak_password"),
        ("ok", "agent", "", "weak_password"),
        ("ok", "agent", "x" * 2000, "invalid_password"),
    ],
)
def test_add_refuses(store: UserStore, name: str, role: str, password: str, code: str) -> None:
    with pytest.raises(UserError) as err:
        store.add(name, role, password)
    assert err.value.code == code
    assert store.list() == []


def test_add_existing_and_weak_for_demo(store: UserStore) -> None:
    store.add("clearing1", "agent", PW)
    with pytest.raises(UserError) as err:
        store.add("clearing1", "supervisor", PW)
    assert err.value.code == "exists"
    store.add("demo", "agent", "demo", allow_weak=True)
    assert store.authenticate("demo", "demo") is not None


def test_authenticate(store: UserStore) -> None:
    store.add("clearing1", "agent", PW)
    user = store.authenticate("clearing1", PW)
    assert user is not None and user.name == "clearing1"
    assert store.authenticate("clearing1", "wrong-password") is None
    assert store.authenticate("nobody", PW) is None  # verified against the dummy hash
    assert store.authenticate("clearing1", "x" * 5000) is None
    store.set_disabled("clearing1", True)
    assert store.authenticate("clearing1", PW) is None
    store.set_disabled("clearing1", False)
    assert store.authenticate("clearing1", PW) is not None


def test_passwords_are_argon2_hashes(store: UserStore, tmp_path: Path) -> None:
    store.add("clearing1", "agent", PW)
    with sqlite3.connect(tmp_path / "bridge.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and PW not in stored


def test_rehash_when_parameters_changed(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    UserStore(db, hasher=FAST).add("clearing1", "agent", PW)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    store = UserStore(db, hasher=stronger)
    with sqlite3.connect(db) as conn:
        (before,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert stronger.check_needs_rehash(before)
    assert store.authenticate("clearing1", "wrong-password") is None
    with sqlite3.connect(db) as conn:  # a failed login changes nothing
        assert conn.execute("SELECT password_hash FROM users").fetchone()[0] == before
    assert store.authenticate("clearing1", PW) is not None
    with sqlite3.connect(db) as conn:
        (after,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert after != before and not stronger.check_needs_rehash(after)
    assert store.authenticate("clearing1", PW) is not None


def test_set_password_role_and_unknown(store: UserStore) -> None:
    store.add("clearing1", "agent", PW)
    store.set_password("clearing1", "another-password")
    assert store.authenticate("clearing1", PW) is None
    assert store.authenticate("clearing1", "another-password") is not None
    with pytest.raises(UserError, match="shorter"):
        store.set_password("clearing1", "short")
    store.set_role("clearing1", "supervisor")
    user = store.get("clearing1")
    assert user is not None and user.role == "supervisor"
    with pytest.raises(UserError) as err:
        store.set_role("clearing1", "boss")
    assert err.value.code == "invalid_role"
    with pytest.raises(UserError) as err:
        store.set_password("nobody", PW)
    assert err.value.code == "unknown_user"
    with pytest.raises(UserError) as err:
        store.set_disabled("nobody", True)
    assert err.value.code == "unknown_user"
    with pytest.raises(UserError) as err:
        store.set_role("nobody", "agent")
    assert err.value.code == "unknown_user"


def test_tokens(store: UserStore, clock: FakeClock, tmp_path: Path) -> None:
    store.add("clearing1", "agent", PW)
    token = store.issue_token("clearing1", ttl_s=60)
    assert len(token) >= 43
    user = store.user_for_token(token)
    assert user is not None and user.name == "clearing1"
    assert store.token_expires_at(token) == clock.t + 60
    assert store.user_for_token("not-a-token") is None
    assert store.user_for_token("") is None
    with sqlite3.connect(tmp_path / "bridge.db") as db:  # only the SHA-256 is stored
        rows = db.execute("SELECT * FROM tokens").fetchall()
    assert len(rows) == 1 and token not in repr(rows)
    clock.t += 61
    assert store.user_for_token(token) is None  # expired
    with pytest.raises(UserError):
        store.issue_token("nobody", 60)


def test_token_revocation(store: UserStore) -> None:
    store.add("clearing1", "agent", PW)
    a = store.issue_token("clearing1", 3600)
    b = store.issue_token("clearing1", 3600)
    assert store.revoke_token(a) is True
    assert store.revoke_token(a) is False
    assert store.user_for_token(a) is None
    assert store.user_for_token(b) is not None
    store.set_password("clearing1", "another-password")  # logs every session out
    assert store.user_for_token(b) is None
    c = store.issue_token("clearing1", 3600)
    store.set_disabled("clearing1", True)
    assert store.user_for_token(c) is None
    store.set_disabled("clearing1", False)
    assert store.user_for_token(c) is None  # revoked, not just hidden
    d = store.issue_token("clearing1", 3600)
    assert store.revoke_all("clearing1") == 1
    assert store.user_for_token(d) is None


def test_tokens_survive_a_restart_and_share_the_bridge_database(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    bridge_store = SQLiteStore(db)  # the bridge's own tables in the same file
    first = UserStore(db, hasher=FAST)
    first.add("clearing1", "agent", PW)
    token = first.issue_token("clearing1", 3600)
    first.close()
    second = UserStore(db, hasher=FAST)
    user = second.user_for_token(token)
    assert user is not None and user.name == "clearing1"
    bridge_store.append_audit(1.0, "clearing1", "agent", "gartz-1", "ping", {}, "sent x")
    assert bridge_store.audit(1)[0]["user"] == "clearing1"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    bridge_store.close()


def test_memory_database() -> None:
    store = UserStore(":memory:", hasher=FAST)
    store.add("clearing1", "agent", PW)
    assert store.authenticate("clearing1", PW) is not None


# ------------------------------------------------------------------------------ the CLI
runner = CliRunner()


def _cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(user_app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_add_list_disable_enable_passwd(tmp_path: Path) -> None:
    db = str(tmp_path / "bridge.db")
    code, _, err = _cli(
        "add", "clearing1", "--role", "agent", "--display-name", "Bürgerservice",
        "--password-stdin", "--db", db, stdin=f"{PW}\n",
    )  # fmt: skip
    assert code == 0, err
    assert "clearing1" in err
    code, out, _ = _cli("list", "--json", "--db", db)
    assert code == 0
    listed = json.loads(out)
    assert [(u["name"], u["role"], u["display_name"], u["disabled"]) for u in listed] == [
        ("clearing1", "agent", "Bürgerservice", False)
    ]
    assert "password" not in out and PW not in out
    assert _cli("disable", "clearing1", "--db", db)[0] == 0
    assert json.loads(_cli("list", "--json", "--db", db)[1])[0]["disabled"] is True
    assert _cli("enable", "clearing1", "--db", db)[0] == 0
    code, _, err = _cli("passwd", "clearing1", "--password-stdin", "--db", db, stdin="new-pass-1\n")
    assert code == 0, err
    assert _cli("role", "clearing1", "supervisor", "--db", db)[0] == 0
    store = UserStore(db, hasher=FAST)
    user = store.authenticate("clearing1", "new-pass-1")
    assert user is not None and user.role == "supervisor" and not user.disabled
    code, out, _ = _cli("list", "--db", db)
    assert code == 0 and "clearing1" in out


def test_cli_prompts_twice(tmp_path: Path) -> None:
    db = str(tmp_path / "bridge.db")
    code, _, err = _cli("add", "a1", "--role", "agent", "--db", db, stdin=f"{PW}\n{PW}\n")
    assert code == 0, err
    assert UserStore(db, hasher=FAST).authenticate("a1", PW) is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "x1", "--role", "boss", "--password-stdin"], f"{PW}\n", "invalid role"),
        (["add", "X!", "--role", "agent", "--password-stdin"], f"{PW}\n", "invalid user name"),
        (["add", "x1", "--role", "agent", "--password-stdin"], "short\n", "shorter than 8"),
        (["add", "taken", "--role", "agent", "--password-stdin"], f"{PW}\n", "exists already"),
        (["passwd", "nobody", "--password-stdin"], f"{PW}\n", "no user 'nobody'"),
        (["disable", "nobody"], None, "no user 'nobody'"),
        (["role", "taken", "boss"], None, "invalid role"),
    ],
)
def test_cli_errors_exit_2(
    tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    db = str(tmp_path / "bridge.db")
    UserStore(db, hasher=FAST).add("taken", "agent", PW)
    code, _, err = _cli(*args, "--db", db, stdin=stdin)
    assert code == 2
    assert message in err


def test_cli_needs_a_database(tmp_path: Path) -> None:
    code, _, err = _cli("list")
    assert code == 2 and "--config" in err and "--db" in err
    code, _, err = _cli("list", "--db", str(tmp_path / "missing" / "x.db"))
    assert code == 2 and "does not exist" in err
    code, _, err = _cli("list", "--db", "a.db", "--config", "b.toml")
    assert code == 2 and "not both" in err
    code, _, err = _cli("list", "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml" in err


def test_cli_with_bridge_config(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "cloud_bridge" / "examples" / "uckermark.toml"
    text = re.sub(r"(?m)^database\s*=.*$", 'database = "accounts.db"', example.read_text("utf-8"))
    config = tmp_path / "bridge.toml"
    config.write_text(text, "utf-8")
    code, _, err = _cli(
        "add", "clearing1", "--role", "agent", "--password-stdin", "--config", str(config),
        stdin=f"{PW}\n",
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "accounts.db").exists()
    assert json.loads(_cli("list", "--json", "-c", str(config))[1])[0]["name"] == "clearing1"
