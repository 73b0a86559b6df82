"""``/booths/{booth}/commands``: a command to a booth, answered with the booth's result."""

from __future__ import annotations

from fastapi import APIRouter

from cloud_bridge.api.deps import PREFIX, BridgeDep, CurrentUser, SettingsDep
from cloud_bridge.api.errors import ApiError, errors
from cloud_bridge.api.models import BoothCommandRequest, CommandResult
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
