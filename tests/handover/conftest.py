"""Fixtures of the hand-over tests: the real DMS peers of handover_peers.py, started and
stopped around each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from handover_peers import DavServer, UploadApp, UvicornServer


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dms"
    root.mkdir()
    server = DavServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def upload_server() -> AsyncIterator[tuple[UploadApp, str]]:
    app = UploadApp()
    config = uvicorn.Config(app.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = UvicornServer(config)
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(server.ready.wait(), 10)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
