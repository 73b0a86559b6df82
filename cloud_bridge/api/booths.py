"""``/booths/{booth}/commands``: a command to a booth, answered with the booth's result;
``/booths/{booth}/faults``: the booth's recent faults (kept in memory by the bridge)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud_bridge.api.deps import (
    FAULT_READERS,
    PREFIX,
    BridgeDep,
    CurrentUser,
    SettingsDep,
    require_role,
)
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import BoothCommandRequest, CommandResult, FaultEntry
from cloud_bridge.ports import CommandDenied

router = APIRouter(prefix=PREFIX, tags=["booths"])


@router.post(
    "/booths/{booth}/commands",
    response_model=CommandResult,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 504),
)
async def booth_command(
    booth: str,
    body: BoothCommandRequest,
    user: CurrentUser,
    bridge: BridgeDep,
    settings: SettingsDep,
) -> CommandResult:
    """Send a command to a booth and wait for its result. Agents only for a booth they are
    in a call with. Every attempt is audited. ``ok: false`` = the booth refused/failed."""
    timeout = settings.command_timeout_s
    try:
        result = await bridge.booth_command(
            user.name, user.role, booth, body.cmd, body.args, timeout=timeout
        )
    except CommandDenied as exc:
        raise ApiError(403, "command_denied", str(exc) or "command denied") from None
    except KeyError:
        raise ApiError(404, "unknown_booth", f"no booth {booth}") from None
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    except TimeoutError:
        raise ApiError(
            504, "timeout", f"booth {booth} did not answer within {timeout:g} s"
        ) from None
    return CommandResult.model_validate(result)


MAX_FAULTS = 200  # what the bridge keeps per booth (cloud_bridge.booths.FAULTS_KEPT)


@router.get(
    "/booths/{booth}/faults",
    response_model=list[FaultEntry],
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404),
)
async def booth_faults(
    booth: Annotated[str, Path(min_length=1, max_length=63)],
    user: CurrentUser,
    bridge: BridgeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_FAULTS)] = 50,
) -> list[FaultEntry]:
    """The booth's recent ``health`` events, ``selftest`` not passed, ``error`` and
    ``protocol_error`` events, newest first (supervisors, technicians, admins; in memory: a
    bridge restart forgets them)."""
    require_role(user, FAULT_READERS, "read booth faults")
    try:
        rows = bridge.booth_faults(booth, limit)
    except KeyError:
        raise ApiError(404, "unknown_booth", f"no booth {booth}") from None
    return [FaultEntry.model_validate(r) for r in rows]
