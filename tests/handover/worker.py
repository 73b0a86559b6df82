"""Runs the hand-over of a booth's outbox to a WebDAV DMS until the outbox is empty, in its own
process (the SIGKILL test kills it mid-transfer). ``python worker.py OUTBOX URL COLLECTION``."""

from __future__ import annotations

import asyncio
import sys

from booth.handover.config import RetryConfig, WebDavConfig
from booth.handover.exporters import WebDavExporter
from booth.handover.outbox import HandoverOutbox
from booth.handover.service import HandoverService
from hal.clock import LoopClock


async def main(outbox_path: str, url: str, collection: str) -> None:
    outbox = HandoverOutbox(outbox_path)
    config = WebDavConfig(url=url, collection=collection, username="alice", password="s3cret")
    exporter = WebDavExporter(config)
    service = HandoverService(outbox, exporter, LoopClock(), RetryConfig(initial=0.05, maximum=0.2))
    task = asyncio.create_task(service.run())
    try:
        await service.wait_empty(60.0)
    finally:
        task.cancel()
        await exporter.aclose()
        outbox.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
