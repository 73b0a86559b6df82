"""Hand-over to real peers: a WebDAV server (wsgidav) with an outage, an HTTP upload API
(Starlette on uvicorn), and a hand-over process killed with SIGKILL mid-transfer."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from handover_peers import (
    PASSWORD,
    TOKEN,
    USER,
    AuditWatch,
    DavServer,
    UploadApp,
)

from booth.handover.config import HttpUploadConfig, RetryConfig, WebDavConfig
from booth.handover.exporters import HttpUploadExporter, WebDavExporter
from booth.handover.outbox import HandoverOutbox
from booth.handover.service import HandoverService
from hal.clock import LoopClock

pytestmark = pytest.mark.realtime
ROOT = Path(__file__).parents[2]
FAST = RetryConfig(initial=0.05, maximum=0.3)


def pdf(i: int, size: int = 2000) -> bytes:
    body = f"document {i} ".encode() * (size // 12 + 1)
    return b"%PDF-1.7\n" + body[:size] + b"\n%%EOF\n"


def webdav(dav: DavServer, collection: str = "/inbox/lisa") -> WebDavExporter:
    return WebDavExporter(
        WebDavConfig(url=dav.url, collection=collection, username=USER, password=PASSWORD)
    )


class Running:
    """A service running in a task, with its audit watched."""

    def __init__(self, service: HandoverService) -> None:
        self.service = service
        self.watch = AuditWatch()
        service.subscribe(self.watch)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.service.run())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.service.exporter.aclose()


async def test_webdav_delivers_once_creating_the_collection(dav: DavServer, tmp_path: Path) -> None:
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    service = HandoverService(outbox, webdav(dav), LoopClock(), FAST)
    async with Running(service) as run:
        service.submit("doc-1", pdf(1), "application/pdf", "agent-7")
        await service.wait_empty(10.0)
    assert dav.files("inbox/lisa") == ["doc-1.pdf"]  # no temp name left behind
    assert (dav.root / "inbox/lisa/doc-1.pdf").read_bytes() == pdf(1)
    assert [e.event for e in run.watch.entries] == ["queued", "delivered"]
    assert run.watch.entries[-1].target == f"webdav:{dav.url}/inbox/lisa/"
    methods = [m.split()[0] for m in dav.gate.methods] if dav.gate else []
    assert "MKCOL" in methods and "MOVE" in methods and "PROPFIND" in methods
    # delivering again (a confirmation lost) finds the identical copy and sends nothing
    exporter = webdav(dav)
    try:
        assert (await exporter.deliver(_doc_in_memory())).outcome == "already-present"
    finally:
        await exporter.aclose()
    outbox.close()


async def test_webdav_outage_queues_documents_and_delivers_each_once(
    dav: DavServer, tmp_path: Path
) -> None:
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    service = HandoverService(outbox, webdav(dav), LoopClock(), FAST)
    async with Running(service) as run:
        service.submit("doc-0", pdf(0), "application/pdf", "agent-7")
        await service.wait_empty(10.0)
        dav.stop()  # the DMS goes down
        for i in range(1, 6):
            service.submit(f"doc-{i}", pdf(i), "application/pdf", "agent-7")
        await run.watch.wait_for(lambda: len(run.watch.of("attempt-failed")) >= 10, 10.0)
        assert outbox.count() == 5  # nothing lost, nothing half-done
        failed = run.watch.of("attempt-failed")
        assert all("ConnectError" in e.detail for e in failed)
        dav.start()  # back, same port
        await service.wait_empty(10.0)
    assert dav.files("inbox/lisa") == [f"doc-{i}.pdf" for i in range(6)]
    for i in range(6):
        assert (dav.root / f"inbox/lisa/doc-{i}.pdf").read_bytes() == pdf(i)
        assert len([e for e in run.watch.of("delivered") if e.document_id == f"doc-{i}"]) == 1
    assert outbox.count() == 0
    outbox.close()


async def test_webdav_wrong_password_is_retried_never_dropped(
    dav: DavServer, tmp_path: Path
) -> None:
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    exporter = WebDavExporter(
        WebDavConfig(url=dav.url, collection="/in", username=USER, password="wrong")
    )
    service = HandoverService(outbox, exporter, LoopClock(), FAST)
    async with Running(service) as run:
        service.submit("doc-1", pdf(1), "application/pdf", "agent-7")
        await run.watch.wait_for(lambda: len(run.watch.of("attempt-failed")) >= 2, 10.0)
    assert "HTTP 401" in run.watch.of("attempt-failed")[0].detail
    assert outbox.count() == 1 and outbox.pending()[0].attempts >= 2
    outbox.close()


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_http_upload_with_a_bearer_token(
    upload_server: tuple[UploadApp, str], tmp_path: Path, method: str
) -> None:
    app, base = upload_server
    url = f"{base}/upload" if method == "POST" else f"{base}/documents/{{name}}"
    exporter = HttpUploadExporter(HttpUploadConfig(url=url, method=method, token=TOKEN))
    outbox = HandoverOutbox(tmp_path / "h.sqlite")
    service = HandoverService(outbox, exporter, LoopClock(), FAST)
    app.fail_next = 2  # the DMS answers 503 twice
    async with Running(service) as run:
        service.submit("doc-1", pdf(1), "application/pdf", "agent-7")
        await service.wait_empty(10.0)
    key = "doc-1" if method == "POST" else "doc-1.pdf"
    assert app.stored == {key: pdf(1)}
    assert [status for _, status in app.requests] == [503, 503, 201]
    assert [e.event for e in run.watch.entries] == [
        "queued",
        "attempt-failed",
        "attempt-failed",
        "delivered",
    ]
    assert "HTTP 503" in run.watch.entries[1].detail
    outbox.close()


async def test_http_upload_refused_token(upload_server: tuple[UploadApp, str]) -> None:
    app, base = upload_server
    exporter = HttpUploadExporter(HttpUploadConfig(url=f"{base}/upload", token="nope"))
    doc = _doc_in_memory()
    with pytest.raises(Exception, match="HTTP 401"):
        await exporter.deliver(doc)
    await exporter.aclose()
    assert app.stored == {}


def _doc_in_memory() -> Any:
    outbox = HandoverOutbox(":memory:")
    doc, _ = outbox.submit("doc-1", pdf(1), "application/pdf", "agent-7", "t")
    return doc


# --- SIGKILL mid-transfer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hold", "size"),
    [
        (("PUT", "before"), 4_000_000),  # killed while sending the body (the server not reading)
        (("MOVE", "after"), 20_000),  # killed after the DMS stored it, before it heard so
    ],
    ids=["mid-PUT", "after-MOVE"],
)
async def test_sigkill_mid_transfer_then_restart_gives_exactly_one_copy(
    dav: DavServer, tmp_path: Path, hold: tuple[str, str], size: int
) -> None:
    db = tmp_path / "h.sqlite"
    outbox = HandoverOutbox(db)
    outbox.submit("doc-1", pdf(1, size), "application/pdf", "agent-7", "t")
    outbox.close()
    assert dav.gate is not None
    dav.gate.hold = hold
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests/handover/worker.py"),
        str(db),
        dav.url,
        "/inbox",
        cwd=ROOT,
    )
    try:
        reached = await asyncio.to_thread(dav.gate.reached.wait, 30.0)
        assert reached, "the worker never reached the gate"
        os.kill(worker.pid, signal.SIGKILL)
        assert await asyncio.wait_for(worker.wait(), 10) == -signal.SIGKILL
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    dav.gate.release.set()  # the server goes on with whatever it got

    outbox = HandoverOutbox(db)  # the booth restarts: the document is still queued
    assert outbox.pending_ids() == ["doc-1"]
    service = HandoverService(outbox, webdav(dav, "/inbox"), LoopClock(), FAST)
    async with Running(service) as run:
        await service.wait_empty(20.0)
    expected = "already-present" if hold[0] == "MOVE" else "delivered"
    assert [e.event for e in run.watch.entries] == [expected]
    assert dav.files("inbox") == ["doc-1.pdf"]
    assert (dav.root / "inbox/doc-1.pdf").read_bytes() == pdf(1, size)
    async with httpx.AsyncClient(auth=(USER, PASSWORD)) as client:
        r = await client.request("PROPFIND", f"{dav.url}/inbox/", headers={"Depth": "1"})
    assert r.status_code == 207
    hrefs = re.findall(r"<D:href>([^<]*)</D:href>", r.text)
    assert hrefs == ["/inbox/", "/inbox/doc-1.pdf"]  # one copy, no temp upload left
    outbox.close()
