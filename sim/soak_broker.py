"""``lisa sim soak-broker``: booth events through many broker restarts, counted at the consumer.

A private Mosquitto with persistence (as in production: sessions and queued QoS 1 messages
survive a restart), the booth's real MQTT link (:class:`booth.mqtt_link.MqttLink` with its
SQLite outbox) publishing ``rate`` events a second, and the bridge's event consumer
(:class:`cloud_bridge.consumer.EventConsumer`, de-duplicating by event id) in a process of
its own. The broker is restarted ``restarts`` times (SIGTERM, ``down_s`` seconds away, started
again) while the events keep coming. At the end every event must have reached the consumer's
handler exactly once: ``lost`` (sent but never handed over) and ``duplicated`` (handed over
twice) are 0; ``redelivered`` counts the copies the broker or the outbox sent again and the
consumer recognised (that is what de-duplication is for).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sim.bench_link import LinkBench
from sim.brokers import MosquittoBroker


async def _run(restarts: int, rate: float, up_s: float, down_s: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="lisa-soak-broker-"))
    broker = MosquittoBroker(workdir=workdir / "mosquitto", persistence=True)
    broker.start()
    bench = LinkBench(broker, workdir)
    t_start = time.monotonic()
    restart_s: list[float] = []
    sent = 0
    try:
        await bench.start()
        first = bench.outbox.last_seq + 1
        stop = asyncio.Event()

        async def produce() -> None:
            nonlocal sent
            t0 = time.monotonic()
            while not stop.is_set():
                sent += 1
                bench.emit(sent)
                await asyncio.sleep(max(0.0, t0 + sent / rate - time.monotonic()))

        producer = asyncio.create_task(produce())
        for _ in range(restarts):
            await asyncio.sleep(up_s)
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(down_s)
            t0 = time.monotonic()
            await asyncio.to_thread(broker.start)
            restart_s.append(time.monotonic() - t0)
        await asyncio.sleep(up_s)
        stop.set()
        await producer
        last = bench.outbox.last_seq
        drained = await bench.drained(within=60)
        arrived = await bench.collector.wait_count(last - first + 1, within=60)
        stats = await bench.collector.dedup_stats()
        with bench.collector.lock:
            order = list(bench.collector.order)
        counts = Counter(order)
        expected = set(range(first, last + 1))
        got = set(counts)
        return {
            "restarts": restarts,
            "rate_per_s": rate,
            "sent": last - first + 1,
            "handed_over": len(order),
            "lost": len(expected - got),
            "duplicated": sum(n - 1 for n in counts.values() if n > 1),
            "unexpected": len(got - expected),
            "redelivered": int(stats.get("duplicates", 0)),
            "outbox_drained": drained,
            "all_arrived": arrived,
            "broker_restart_s_mean": round(sum(restart_s) / max(1, len(restart_s)), 2),
            "wall_s": round(time.monotonic() - t_start, 1),
        }
    finally:
        await bench.stop()
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run_broker_soak(
    restarts: int = 100, rate: float = 100.0, up_s: float = 1.0, down_s: float = 0.3
) -> dict[str, Any]:
    return asyncio.run(_run(restarts, rate, up_s, down_s))


def ok(result: dict[str, Any]) -> bool:
    return (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["unexpected"] == 0
        and bool(result["outbox_drained"])
    )


def print_report(result: dict[str, Any]) -> None:
    print(
        f"broker restarts: {result['restarts']} under {result['rate_per_s']:g} events/s; "
        f"{result['sent']} events sent, {result['handed_over']} handed over; "
        f"lost {result['lost']}, duplicated {result['duplicated']}, "
        f"redelivered and recognised {result['redelivered']}; "
        f"outbox drained: {result['outbox_drained']}; wall time {result['wall_s']} s "
        f"({'ok' if ok(result) else 'FAIL'})"
    )
