"""Accounts and login tokens of the people using the bridge (agents, supervisors, technicians,
admins).

Stored in the bridge's SQLite database (tables ``users`` and ``tokens`` only; the bridge's other
tables belong to :mod:`cloud_bridge.store`). Per-account settings of the portal (``auto_accept``)
are a JSON column ``settings`` of ``users``; a database made before that column existed gets it
when a :class:`UserStore` opens it (``ALTER TABLE``, nothing else changes).

Passwords are hashed with Argon2id (:class:`argon2.PasswordHasher`; a stored hash made with older
parameters is replaced at the next successful login). Tokens are random
(``secrets.token_urlsafe(32)``); only their SHA-256 is stored, so a copy of the database does not
let anyone in, and they survive a bridge restart.

Every method is thread-safe (one connection, ``check_same_thread=False``, guarded by a lock);
password hashing runs outside the lock because it is slow on purpose.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cloud_bridge.acd.model import Clock
from cloud_bridge.clock import SystemClock
from cloud_bridge.ports import ROLES

log = logging.getLogger("lisa.bridge.users")

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 copes with more, but nobody types that: refuse it early
MAX_DISPLAY_NAME = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_name ON tokens(name);
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens(expires);
"""
# columns added after the first release: name -> definition (added to an existing table on open)
_ADDED_COLUMNS = {"settings": "TEXT NOT NULL DEFAULT '{}'"}


class UserError(Exception):
    """A refused account operation; ``code`` is stable: exists, unknown_user, invalid_name,
    invalid_role, weak_password, invalid_password, invalid_display_name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    display_name: str
    disabled: bool
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class UserSettings:
    """What the portal keeps with an account."""

    auto_accept: bool = False  # take offered calls without a click


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise UserError(
            "invalid_name",
            f"invalid user name {name!r}: lowercase letters, digits and '-', "
            "starting with a letter or digit, at most 63 characters",
        )
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise UserError("invalid_role", f"invalid role {role!r}: one of {', '.join(ROLES)}")
    return role


def validate_password(password: str, *, allow_weak: bool = False) -> str:
    if len(password) > MAX_PASSWORD:
        raise UserError("invalid_password", f"password longer than {MAX_PASSWORD} characters")
    if not password:
        raise UserError("weak_password", "empty password")
    if len(password) < MIN_PASSWORD and not allow_weak:
        raise UserError("weak_password", f"password shorter than {MIN_PASSWORD} characters")
    return password


def _validate_display_name(display_name: str) -> str:
    if len(display_name) > MAX_DISPLAY_NAME or any(ord(c) < 32 for c in display_name):
        raise UserError(
            "invalid_display_name",
            f"display name: at most {MAX_DISPLAY_NAME} printable characters",
        )
    return display_name


class UserStore:
    """Accounts and tokens in SQLite (``path``: the bridge database file, or ``":memory:"``).

    ``hasher``: the Argon2 parameters (tests pass cheap ones); ``clock``: epoch seconds for
    token expiry and timestamps.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.path = str(path)
        self.hasher = hasher or PasswordHasher()
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 5000")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Add the columns a database of an older version lacks (under the lock)."""
        have = {str(row[1]) for row in self._db.execute("PRAGMA table_info(users)")}
        for column, definition in _ADDED_COLUMNS.items():
            if column in have:
                continue
            try:
                self._db.execute(f"ALTER TABLE users ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as exc:  # another process added it just now
                if "duplicate column" not in str(exc):
                    raise
            log.info("users table migrated", extra={"column": column})

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def now(self) -> float:
        return self.clock.time()

    # ------------------------------------------------------------------------------ accounts
    def add(
        self,
        name: str,
        role: str,
        password: str,
        display_name: str = "",
        *,
        allow_weak: bool = False,
    ) -> User:
        """Create an account; :class:`UserError` ``exists`` when the name is taken."""
        validate_name(name)
        validate_role(role)
        validate_password(password, allow_weak=allow_weak)
        _validate_display_name(display_name)
        password_hash = self.hasher.hash(password)
        now = self.now()
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users (name, role, display_name, password_hash, disabled, "
                    "created, updated) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (name, role, display_name, password_hash, now, now),
                )
            except sqlite3.IntegrityError:
                raise UserError("exists", f"user {name!r} exists already") from None
        log.info("user added", extra={"user": name, "role": role})
        return User(name, role, display_name, False, now, now)

    def set_password(self, name: str, password: str, *, allow_weak: bool = False) -> None:
        """New password; the user's tokens are revoked (every session logs in again)."""
        validate_password(password, allow_weak=allow_weak)
        password_hash = self.hasher.hash(password)
        with self._lock:
            self._update(name, "password_hash = ?", password_hash)
            self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))
        log.info("password changed", extra={"user": name})

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (tokens are revoked, logins refused) or enable an account."""
        with self._lock:
            self._update(name, "disabled = ?", int(disabled))
            if disabled:
                self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))
        log.info("user disabled" if disabled else "user enabled", extra={"user": name})

    def set_role(self, name: str, role: str) -> None:
        validate_role(role)
        with self._lock:
            self._update(name, "role = ?", role)
        log.info("role changed", extra={"user": name, "role": role})

    def set_display_name(self, name: str, display_name: str) -> None:
        _validate_display_name(display_name)
        with self._lock:
            self._update(name, "display_name = ?", display_name)

    def _update(self, name: str, assignment: str, value: object) -> None:
        cur = self._db.execute(
            f"UPDATE users SET {assignment}, updated = ? WHERE name = ?",
            (value, self.now(), name),
        )
        if cur.rowcount == 0:
            raise UserError("unknown_user", f"no user {name!r}")

    def settings(self, name: str) -> UserSettings:
        """The account's settings (defaults for what was never set); ``unknown_user``."""
        with self._lock:
            row = self._db.execute("SELECT settings FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UserError("unknown_user", f"no user {name!r}")
        return _settings(row[0])

    def set_settings(self, name: str, settings: UserSettings) -> UserSettings:
        """Store the account's settings (keys this version does not know are kept)."""
        with self._lock:
            row = self._db.execute("SELECT settings FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UserError("unknown_user", f"no user {name!r}")
            stored = _settings_dict(row[0])
            stored["auto_accept"] = bool(settings.auto_accept)
            self._update(name, "settings = ?", json.dumps(stored, separators=(",", ":")))
        return _settings(json.dumps(stored))

    def get(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, display_name, disabled, created, updated FROM users "
                "WHERE name = ?",
                (name,),
            ).fetchone()
        return _user(row) if row else None

    def list(self) -> builtins.list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, role, display_name, disabled, created, updated FROM users "
                "ORDER BY name"
            ).fetchall()
        return [_user(row) for row in rows]

    # ----------------------------------------------------------------------------- passwords
    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right and the account enabled, else None.

        Takes about as long for an unknown name (a dummy hash is verified), so response times
        do not tell which accounts exist. Rehashes the password when the hasher's parameters
        changed since it was stored. Slow on purpose: call it from a worker thread."""
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash, disabled FROM users WHERE name = ?", (name,)
            ).fetchone()
        if row is None or len(password) > MAX_PASSWORD:
            self._verify_dummy(password[:MAX_PASSWORD])
            return None
        stored_hash, disabled = str(row[0]), bool(row[1])
        try:
            self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if disabled:
            return None
        if self.hasher.check_needs_rehash(stored_hash):
            new_hash = self.hasher.hash(password)
            with self._lock:
                self._db.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                    (new_hash, name, stored_hash),
                )
            log.info("password rehashed", extra={"user": name})
        return self.get(name)

    def _verify_dummy(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        try:
            self.hasher.verify(self._dummy_hash, password or "-")
        except VerificationError:
            pass

    # -------------------------------------------------------------------------------- tokens
    def issue_token(self, name: str, ttl_s: float) -> str:
        """A new bearer token for ``name``, valid ``ttl_s`` seconds (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE expires <= ?", (now,))
            try:
                self._db.execute(
                    "INSERT INTO tokens (token_sha256, name, created, expires) VALUES (?, ?, ?, ?)",
                    (_sha256(token), name, now, now + ttl_s),
                )
            except sqlite3.IntegrityError:
                raise UserError("unknown_user", f"no user {name!r}") from None
        return token

    def token_expires_at(self, token: str) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT expires FROM tokens WHERE token_sha256 = ?", (_sha256(token),)
            ).fetchone()
        return float(row[0]) if row else None

    def user_for_token(self, token: str) -> User | None:
        """The token's user; None for an unknown, expired or revoked token or a disabled user."""
        if not token or len(token) > 200:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT u.name, u.role, u.display_name, u.disabled, u.created, u.updated, "
                "t.expires FROM tokens t JOIN users u ON u.name = t.name "
                "WHERE t.token_sha256 = ?",
                (_sha256(token),),
            ).fetchone()
        if row is None or float(row[6]) <= self.now():
            return None
        user = _user(row[:6])
        return None if user.disabled else user

    def revoke_token(self, token: str) -> bool:
        """Forget a token; True when it existed."""
        with self._lock:
            cur = self._db.execute("DELETE FROM tokens WHERE token_sha256 = ?", (_sha256(token),))
        return cur.rowcount > 0

    def revoke_all(self, name: str) -> int:
        """Forget every token of ``name``; how many there were."""
        with self._lock:
            cur = self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))
        return cur.rowcount


def _settings_dict(text: object) -> dict[str, Any]:
    try:
        value = json.loads(str(text or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _settings(text: object) -> UserSettings:
    return UserSettings(auto_accept=bool(_settings_dict(text).get("auto_accept", False)))


def _user(row: tuple[Any, ...]) -> User:
    name, role, display_name, disabled, created, updated = row
    return User(
        name=str(name),
        role=str(role),
        display_name=str(display_name),
        disabled=bool(disabled),
        created=float(created),
        updated=float(updated),
    )
