"""``GET /api/v1/status`` shows operators the booths refused for not being in the tenant
config (``unknown_booths``, documented in the OpenAPI schema) and a booth's seq jumps."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_harness import BOOTH, PASSWORD, live_api

from lisa_messages import Topics, dump_booth_event, now_rfc3339, parse_booth_event


def _event(booth: str, seq: int, event_id: str) -> bytes:
    return dump_booth_event(
        parse_booth_event(
            {"id": event_id, "booth": booth, "seq": seq, "ts": now_rfc3339()}
            | {"type": "call_requested", "data": {"session": f"s-{event_id}"}}
        )
    )


@pytest.mark.realtime
async def test_status_lists_unknown_booths_and_seq_jumps(tmp_path: Path) -> None:
    async with live_api(tmp_path) as api:
        bridge = api.bridge
        for i in range(3):
            booth = f"made-up-{i}"
            bridge._on_mqtt(f"{Topics(booth).base}/event", _event(booth, 1, f"ev-made-up-{i}"))
        bridge._on_mqtt(f"{Topics(BOOTH).base}/event", _event(BOOTH, 1, "ev-real-000001"))
        bridge._on_mqtt(f"{Topics(BOOTH).base}/event", _event(BOOTH, 900, "forged-000001"))
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
            login = await http.post(
                "/api/v1/login", json={"username": "super1", "password": PASSWORD}
            )
            token = login.json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            status = (await http.get("/api/v1/status", headers=headers)).json()
            schema = (await http.get("/openapi.json")).json()
        assert [u["id"] for u in status["unknown_booths"]] == [f"made-up-{i}" for i in (2, 1, 0)]
        assert all(u["count"] == 1 and u["last_seen"] for u in status["unknown_booths"])
        assert {c["booth"] for c in status["calls"]} <= {BOOTH}
        (view,) = [b for b in status["booths"] if b["id"] == BOOTH]
        assert view["seq_jumps"] == 1 and view["last_seq_jump"]["gap"] == 898
        props = schema["components"]["schemas"]["StatusResponse"]["properties"]
        assert "unknown_booths" in props
