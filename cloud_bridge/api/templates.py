"""``/templates``: the PDF forms an agent can ask a citizen to sign (``[signing]
templates_dir``). The portal lists them and fetches one into the browser, which sends it to
the booth over the call's data channel (docs/signature.md); an uploaded PDF takes the same way
without passing the bridge at all."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from cloud_bridge.api.deps import PREFIX, BridgeDep, CurrentUser, SettingsDep, require_agent
from cloud_bridge.api.errors import ApiError, errors

router = APIRouter(prefix=PREFIX, tags=["signing"])
NAME_RE = re.compile(r"^[\w .()-]{1,120}$")
MAX_TEMPLATE_BYTES = 20 * 1024 * 1024


class TemplateView(BaseModel):
    name: str
    title: str
    size: int


def _templates(directory: Path | None) -> dict[str, Path]:
    if directory is None or not directory.is_dir():
        return {}
    out: dict[str, Path] = {}
    for path in sorted(directory.glob("*.pdf")):
        if path.is_file() and NAME_RE.match(path.stem) and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(5) == b"%PDF-":
                    out[path.stem] = path
    return out


@router.get("/templates", response_model=list[TemplateView], responses=errors(401, 403))
async def templates(
    bridge: BridgeDep, user: CurrentUser, settings: SettingsDep
) -> list[TemplateView]:
    """The PDF forms in the templates folder (name = file name without `.pdf`)."""
    require_agent(bridge, user)
    return [
        TemplateView(name=name, title=name.replace("_", " "), size=path.stat().st_size)
        for name, path in _templates(settings.templates_dir).items()
    ]


@router.get(
    "/templates/{name}",
    response_class=Response,
    responses={**errors(401, 403, 404), 200: {"content": {"application/pdf": {}}}},
)
async def template(
    name: str, bridge: BridgeDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    """One form as `application/pdf` (only names from the list: no paths)."""
    require_agent(bridge, user)
    path = _templates(settings.templates_dir).get(name)
    if path is None:
        raise ApiError(404, "unknown_template", f"no template {name!r}")
    data = path.read_bytes()
    if len(data) > MAX_TEMPLATE_BYTES or not data.startswith(b"%PDF-"):
        raise ApiError(404, "unknown_template", f"template {name!r} is not a usable PDF")
    return Response(data, media_type="application/pdf", headers={"Cache-Control": "no-store"})
