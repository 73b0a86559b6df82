"""Schemathesis against the bridge's own OpenAPI schema, on a real uvicorn socket.

Generated requests (valid and invalid) for every route, as a supervisor: no server error, every
answer documented (status and body schema), no schema-valid request refused as invalid. Logout
and ending the portal session are left out (they would end the session under the fuzzer).
``GET /reports`` may refuse schema-valid dates with 422 (``from`` after ``to``, more than a year,
outside 2000–2999: relations the schema cannot express).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_harness import PASSWORD, ThreadedApi

ST = Path(sys.executable).parent / "st"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ThreadedApi]:
    server = ThreadedApi(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed (pip install .[dev])")
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    api: ThreadedApi, tmp_path: Path
) -> None:
    login = httpx.post(
        f"{api.url}/api/v1/login", json={"username": "super1", "password": PASSWORD}, timeout=10
    )
    token = login.json()["token"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[[operations]]\n"
        'include-path = "/api/v1/reports"\n'
        "checks.positive_data_acceptance.expected-statuses = "
        '["2xx", "401", "403", "404", "409", "422", "429"]\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(config),
            "run",
            f"{api.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--exclude-path",
            "/api/v1/logout",
            "--exclude-name",
            "DELETE /api/v1/session",
            "--max-examples",
            "25",
            "--checks",
            "all",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # its cache directory goes there
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
