"""``/users``: accounts for admins (list, create, change); ``/me/settings``: what the portal
keeps with the logged-in account. Account rules are the user store's
(:class:`cloud_bridge.users.UserStore`): disabling an account or a new password revokes all its
tokens (every session of it ends)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Path

from cloud_bridge.api.deps import ADMINS, PREFIX, BridgeDep, CurrentUser, UsersDep, require_role
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import UserCreate, UserEntry, UserPatch, UserSettingsBody
from cloud_bridge.ports import BridgeFacade
from cloud_bridge.users import User, UserError, UserSettings, UserStore

log = logging.getLogger("lisa.bridge.api")
router = APIRouter(prefix=PREFIX, tags=["users"])
UserName = Annotated[str, Path(min_length=1, max_length=63)]


def user_entry(bridge: BridgeFacade, user: User) -> UserEntry:
    return UserEntry(
        name=user.name,
        role=user.role,
        display_name=user.display_name,
        disabled=user.disabled,
        is_agent=user.name in bridge.agents,
    )


def _refused(exc: UserError) -> ApiError:
    if exc.code == "exists":
        return ApiError(409, "exists", str(exc))
    if exc.code == "unknown_user":
        return ApiError(404, "unknown_user", str(exc))
    return ApiError(422, "invalid", f"{exc.code}: {exc}")


def _other_active_admins(users: UserStore, name: str) -> int:
    return sum(1 for u in users.list() if u.role == "admin" and not u.disabled and u.name != name)


@router.get("/users", response_model=list[UserEntry], responses=errors(401, 403))
async def list_users(user: CurrentUser, bridge: BridgeDep, users: UsersDep) -> list[UserEntry]:
    """Every account (admins)."""
    require_role(user, ADMINS, "manage accounts")
    return [user_entry(bridge, u) for u in users.list()]


@router.post("/users", status_code=201, response_model=UserEntry, responses=errors(401, 403, 409))
async def create_user(
    body: UserCreate, user: CurrentUser, bridge: BridgeDep, users: UsersDep
) -> UserEntry:
    """Create an account (admins); ``409 exists`` when the name is taken."""
    require_role(user, ADMINS, "manage accounts")
    try:
        created = await asyncio.to_thread(
            users.add, body.name, body.role, body.password, body.display_name
        )
    except UserError as exc:
        raise _refused(exc) from None
    log.info("account created", extra={"by": user.name, "user": created.name, "role": body.role})
    return user_entry(bridge, created)


@router.patch("/users/{name}", response_model=UserEntry, responses=errors(401, 403, 404, 409))
async def change_user(
    name: UserName, body: UserPatch, user: CurrentUser, bridge: BridgeDep, users: UsersDep
) -> UserEntry:
    """Change an account (admins): any of ``role``, ``disabled``, ``display_name``,
    ``password``. Disabling or a new password revokes all the account's sessions. The last
    enabled admin cannot be disabled or demoted (``409 last_admin``)."""
    require_role(user, ADMINS, "manage accounts")
    target = users.get(name)
    if target is None:
        raise ApiError(404, "unknown_user", f"no user {name!r}")
    demoted = body.role is not None and body.role != "admin"
    if (
        target.role == "admin"
        and not target.disabled
        and (demoted or body.disabled is True)
        and _other_active_admins(users, name) == 0
    ):
        raise ApiError(
            409, "last_admin", f"{name} is the last enabled admin: make another admin first"
        )
    try:
        if body.display_name is not None:
            users.set_display_name(name, body.display_name)
        if body.role is not None:
            users.set_role(name, body.role)
        if body.password is not None:
            await asyncio.to_thread(users.set_password, name, body.password)
        if body.disabled is not None:
            users.set_disabled(name, body.disabled)
    except UserError as exc:
        raise _refused(exc) from None
    changed = sorted(k for k, v in body.model_dump().items() if v is not None)
    log.info("account changed", extra={"by": user.name, "user": name, "fields": changed})
    updated = users.get(name)
    if updated is None:  # pragma: no cover - deleted meanwhile (no API deletes accounts)
        raise ApiError(404, "unknown_user", f"no user {name!r}")
    return user_entry(bridge, updated)


@router.get("/me/settings", response_model=UserSettingsBody, responses=errors(401))
async def my_settings(user: CurrentUser, users: UsersDep) -> UserSettingsBody:
    """The logged-in account's portal settings."""
    try:
        stored = users.settings(user.name)
    except UserError as exc:  # pragma: no cover - the account exists (it is logged in)
        raise _refused(exc) from None
    return UserSettingsBody(auto_accept=stored.auto_accept)


@router.put("/me/settings", response_model=UserSettingsBody, responses=errors(401, 403))
async def set_my_settings(
    body: UserSettingsBody, user: CurrentUser, users: UsersDep
) -> UserSettingsBody:
    """Replace the logged-in account's portal settings."""
    try:
        stored = users.set_settings(user.name, UserSettings(auto_accept=body.auto_accept))
    except UserError as exc:  # pragma: no cover - the account exists (it is logged in)
        raise _refused(exc) from None
    return UserSettingsBody(auto_accept=stored.auto_accept)
