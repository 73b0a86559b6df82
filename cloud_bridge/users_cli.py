"""``lisa bridge user …``: accounts of the people using the bridge (agents, supervisors,
technicians, admins).

Works directly on the bridge database (``--config`` the bridge config, or ``--db`` the SQLite
file); the running bridge sees changes at once (new logins; disabling an account or changing its
password revokes its tokens). Exit codes: 0 done; 2 wrong usage or a refused change (the reason
is on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from cloud_bridge.ports import ROLES
from cloud_bridge.users import (
    MIN_PASSWORD,
    User,
    UserError,
    UserStore,
    validate_name,
    validate_password,
    validate_role,
)

user_app = typer.Typer(
    help="Accounts of agents, supervisors, technicians and admins (in the bridge database).",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Bridge config (TOML); the accounts live in its database.",
        show_default=False,
    ),
]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="The bridge's SQLite database file.", show_default=False),
]
NameArg = Annotated[str, typer.Argument(help="Login name (a-z, 0-9, '-'; = the agent id).")]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (no prompt)."
    ),
]
AllowWeakOpt = Annotated[
    bool,
    typer.Option(
        "--allow-weak",
        help=f"Accept a password shorter than {MIN_PASSWORD} characters (demo installations only).",
        hidden=True,
    ),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"lisa bridge user: {message}\n")
    raise typer.Exit(code)


def _store(config: Path | None, db: Path | None) -> UserStore:
    if config is not None and db is not None:
        _fail("give either --config or --db, not both")
    if db is None:
        if config is None:
            _fail("which database? give --config BRIDGE.toml or --db FILE")
        try:
            from cloud_bridge.config import load_bridge_config  # only when --config is given

            db = Path(load_bridge_config(config).bridge.database)
        except Exception as exc:  # config errors of every kind: report, do not trace
            _fail(f"{config}: cannot read the bridge config: {exc}")
    if not db.parent.exists():
        _fail(f"{db}: directory {db.parent} does not exist")
    try:
        return UserStore(db)
    except Exception as exc:  # sqlite3.Error, permissions
        _fail(f"{db}: cannot open the database: {exc}")


@contextmanager
def _opened(config: Path | None, db: Path | None) -> Iterator[UserStore]:
    """The account store of the bridge database; a refused change exits 2 with its reason."""
    store = _store(config, db)
    try:
        yield store
    except UserError as exc:
        _fail(str(exc))
    finally:
        store.close()


def _password(password_stdin: bool, *, allow_weak: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(
            typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")
        )
    try:
        return validate_password(password, allow_weak=allow_weak)
    except UserError as exc:
        _fail(str(exc))


def _user_json(user: User) -> dict[str, object]:
    return {
        "name": user.name,
        "role": user.role,
        "display_name": user.display_name,
        "disabled": user.disabled,
        "created": user.created,
        "updated": user.updated,
    }


@user_app.command("add")
def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of: {', '.join(ROLES)}.")],
    display_name: Annotated[
        str, typer.Option("--display-name", help="Shown in the portal (a role title).")
    ] = "",
    password_stdin: PasswordStdinOpt = False,
    allow_weak: AllowWeakOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Create an account (the password is prompted for twice unless --password-stdin)."""
    with _opened(config, db) as store:
        validate_name(name)
        validate_role(role)
        if store.get(name) is not None:
            _fail(f"user {name!r} exists already")
        store.add(
            name,
            role,
            _password(password_stdin, allow_weak=allow_weak),
            display_name,
            allow_weak=allow_weak,
        )
    sys.stderr.write(f"user {name} added (role {role})\n")


@user_app.command("passwd")
def passwd(
    name: NameArg,
    password_stdin: PasswordStdinOpt = False,
    allow_weak: AllowWeakOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Set a new password (the user's open sessions are logged out)."""
    with _opened(config, db) as store:
        if store.get(name) is None:
            _fail(f"no user {name!r}")
        store.set_password(
            name, _password(password_stdin, allow_weak=allow_weak), allow_weak=allow_weak
        )
    sys.stderr.write(f"password of {name} changed\n")


def _set_disabled(name: str, disabled: bool, config: Path | None, db: Path | None) -> None:
    with _opened(config, db) as store:
        store.set_disabled(name, disabled)
    sys.stderr.write(f"user {name} {'disabled' if disabled else 'enabled'}\n")


@user_app.command("disable")
def disable(name: NameArg, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Disable an account: logins are refused and open sessions end."""
    _set_disabled(name, True, config, db)


@user_app.command("enable")
def enable(name: NameArg, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Enable a disabled account again."""
    _set_disabled(name, False, config, db)


@user_app.command("role")
def role(
    name: NameArg,
    new_role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Change an account's role."""
    with _opened(config, db) as store:
        store.set_role(name, new_role)
    sys.stderr.write(f"user {name} has role {new_role}\n")


@user_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """List the accounts (never passwords)."""
    with _opened(config, db) as store:
        users = store.list()
    if as_json:
        print(json.dumps([_user_json(u) for u in users]))
        return
    table = Table("name", "role", "display name", "state")
    for user in users:
        table.add_row(
            user.name, user.role, user.display_name, "disabled" if user.disabled else "enabled"
        )
    Console().print(table)
