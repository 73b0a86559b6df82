"""``/api/v1/templates``: the PDF forms agents can ask a citizen to sign."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from api_harness import PASSWORD, LiveApi, live_api

from booth.signing.pdf import blank_pdf

pytestmark = pytest.mark.realtime


async def _token(api: LiveApi, name: str) -> str:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        r = await http.post("/api/v1/login", json={"username": name, "password": PASSWORD})
        return str(r.json()["token"])


async def test_templates_are_listed_and_served(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    pdf = blank_pdf(2, title="Wohngeld")
    (forms / "Antrag_Wohngeld.pdf").write_bytes(pdf)
    (forms / "notes.txt").write_text("not a form")
    (forms / "kaputt.pdf").write_bytes(b"no pdf")
    (forms / "link.pdf").symlink_to(forms / "Antrag_Wohngeld.pdf")
    async with live_api(tmp_path, templates_dir=forms) as api:
        token = await _token(api, "clearing1")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10) as http:
            listed = (await http.get("/api/v1/templates")).json()
            assert [t["name"] for t in listed] == ["Antrag_Wohngeld"]
            assert listed[0]["title"] == "Antrag Wohngeld"
            r = await http.get("/api/v1/templates/Antrag_Wohngeld")
            assert r.status_code == 200 and r.content == pdf
            assert r.headers["content-type"] == "application/pdf"
            assert (await http.get("/api/v1/templates/kaputt")).status_code == 404
            assert (await http.get("/api/v1/templates/..%2Fnotes")).status_code == 404
            assert (await http.get("/api/v1/templates/link")).status_code == 404
        tech = await _token(api, "tech1")
        r = await httpx.AsyncClient(base_url=api.url).get(
            "/api/v1/templates", headers={"Authorization": f"Bearer {tech}"}
        )
        assert r.status_code == 403
        assert (
            await httpx.AsyncClient(base_url=api.url).get("/api/v1/templates")
        ).status_code == 401


async def test_no_templates_folder(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        token = await _token(api, "clearing1")
        async with httpx.AsyncClient(
            base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as http:
            assert (await http.get("/api/v1/templates")).json() == []
