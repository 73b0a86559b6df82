"""``lisa bench link``: the booth's MQTT link through a real Mosquitto on the loopback interface.

Everything runs against a private ``mosquitto -c CONFIG`` (:class:`sim.brokers.MosquittoBroker`):

- **latency**: a real :class:`booth.mqtt_link.MqttLink` (LoopClock, Trace, SQLite outbox in a
  temporary directory) in this process; ``link.event(...)`` (outbox write included) → receipt in
  a :class:`cloud_bridge.consumer.EventConsumer` (after JSON parsing, validation and
  de-duplication) in a process of its own, like the bridge, one event at a time; compared with a
  bare paho publish → receive (QoS 1, same payload size, TCP_NODELAY on both clients; the
  subscriber in the same consumer process) on the same broker in the same run. Receipt times
  are ``CLOCK_MONOTONIC`` (``time.perf_counter``), the same clock in both processes;
- **sustained rate**: 1,000 events/s paced on the real clock for ``--seconds``; every id must
  arrive, in order, without gaps;
- **outbox replay**: the broker stops, 60,000 events go into the outbox as fast as possible, the
  broker starts again; the drain rate from the first to the last replayed event at the consumer,
  exactly once and in order;
- **booth memory**: a real ``lisa booth run --sim --broker`` process with its link up (a simulated
  bridge online): VmRSS.
"""

from __future__ import annotations

import asyncio
import queue
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from booth.central import CentralEvent, LinkUp
from booth.config import BoothConfig, deep_merge, parse_config
from booth.mqtt_link import MqttLink
from booth.outbox import Outbox
from booth.trace import Trace
from cloud_bridge.consumer import EventConsumer
from hal.clock import LoopClock
from lisa_messages import AnyBoothEvent, StateReport
from sim.brokers import MosquittoBroker, rss_kb, stop_process

TARGETS = {
    "latency_p50_ms": 2.0,
    "latency_p99_ms": 10.0,
    "sustained_rate_per_s": 1000.0,
    "replay_rate_per_s": 5000.0,
    "booth_rss_mb": 100.0,
}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50_ms": round(statistics.median(values_ms), 3),
        "p99_ms": round(_pct(values_ms, 99), 3),
        "max_ms": round(max(values_ms), 3),
    }


def _nodelay(client: mqtt.Client) -> None:
    import socket

    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# --------------------------------------------------------------------------------- consumer
def consumer_main(argv: list[str] | None = None) -> None:
    """The consumer process: ``HOST PORT CLIENT_ID [RAW_TOPIC]``.

    Prints ``ready`` once subscribed, then ``e SEQ T`` for every new event (T = CLOCK_MONOTONIC
    at receipt, comparable across processes); with RAW_TOPIC it subscribes to that topic instead
    and reports every message, unparsed, numbered from 1. Answers ``stats`` on stdin with
    ``stats {json}`` (the de-duplicator's counts); ends on ``quit`` or end of input.
    """
    import json
    import queue
    import sys

    host, port, client_id, *raw = argv if argv is not None else sys.argv[1:]
    out: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    subscribed = threading.Event()

    def writer() -> None:  # batches lines under load, writes at once when idle
        while True:
            item = out.get()
            lines = [item]
            while item is not None:
                try:
                    item = out.get_nowait()
                except queue.Empty:
                    break
                lines.append(item)
            sys.stdout.write("".join(x for x in lines if x is not None))
            sys.stdout.flush()
            if lines[-1] is None:
                return

    counter = 0

    def on_event(event: AnyBoothEvent) -> None:
        out.put(f"e {event.seq} {time.perf_counter():.9f}\n")

    consumer = EventConsumer(host, int(port), on_event, client_id=client_id)
    client = consumer.client
    if raw:
        consumer.topic = raw[0]

        def on_raw(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            nonlocal counter
            counter += 1
            out.put(f"e {counter} {time.perf_counter():.9f}\n")

        client.on_message = on_raw
    client.on_subscribe = lambda *a: subscribed.set()
    thread = threading.Thread(target=writer, name="writer", daemon=True)
    thread.start()
    consumer.start()
    try:
        if not subscribed.wait(10):
            raise SystemExit("the consumer did not subscribe within 10 s")
        out.put("ready\n")
        for line in sys.stdin:
            if line.strip() == "stats":
                cursors = list(consumer.dedup.booths.values())
                stats = {
                    "received": consumer.received,
                    "gaps": sum(c.gaps for c in cursors),
                    "duplicates": sum(c.duplicates for c in cursors),
                    "last_seq": max((c.last_seq for c in cursors), default=0),
                }
                out.put(f"stats {json.dumps(stats)}\n")
            elif line.strip() == "quit":
                break
    finally:
        consumer.stop()
        out.put(None)
        thread.join(5)


class Collector:
    """A consumer process (:func:`consumer_main`): the bridge side, with its own interpreter like
    the real bridge (in this process its paho thread would compete with the link for the GIL).
    Keeps the receipt time and order of every new event."""

    def __init__(self, broker: MosquittoBroker, client_id: str, raw_topic: str | None = None):
        self.args = [broker.host, str(broker.port), client_id, *([raw_topic] if raw_topic else [])]
        self.lock = threading.Lock()
        self.received: dict[int, float] = {}  # seq -> CLOCK_MONOTONIC at receipt
        self.order: list[int] = []
        self.waiters: list[tuple[int, Callable[[], None]]] = []
        self.stats: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start the process and block until it is subscribed."""
        code = "import sys; from sim.bench_link import consumer_main; consumer_main()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.proc = proc
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the consumer process did not get ready: {line!r}")
        self._reader = threading.Thread(target=self._read, name="collector", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write("quit\n")
            proc.stdin.close()
            proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if self._reader is not None:
            self._reader.join(5)

    def _read(self) -> None:
        import json

        proc = self.proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("e "):
                _, seq, at = line.split()
                with self.lock:
                    self.received[int(seq)] = float(at)
                    self.order.append(int(seq))
                    count = len(self.order)
                    due = [w for w in self.waiters if count >= w[0]]
                    for w in due:
                        self.waiters.remove(w)
                for _, wake in due:
                    wake()
            elif line.startswith("stats "):
                self.stats.put(json.loads(line[6:]))

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.order.clear()

    async def wait_count(self, count: int, within: float) -> bool:
        """Wait until ``count`` events (since the last reset) have arrived."""
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(done.set)

        with self.lock:
            if len(self.order) >= count:
                return True
            self.waiters.append((count, wake))
        try:
            await asyncio.wait_for(done.wait(), within)
            return True
        except TimeoutError:
            return False

    async def dedup_stats(self) -> dict[str, Any]:
        """The consumer's de-duplicator counts: received, gaps, duplicates, last_seq."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return await asyncio.get_running_loop().run_in_executor(None, self.stats.get, True, 10)


# --------------------------------------------------------------------------------- bare paho
async def bare_paho(broker: MosquittoBroker, samples: int, payload_size: int) -> dict[str, Any]:
    """paho publish() (QoS 1, TCP_NODELAY) here → receipt in the consumer process (a plain
    subscriber there, no parsing), one message at a time: the floor under the link's latency."""
    topic = f"lisa-bench/{uuid.uuid4().hex[:8]}/rt"
    collector = Collector(broker, "lisa-bench-sub", raw_topic=topic)
    collector.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="lisa-bench-pub")
    latencies: list[float] = []
    try:
        pub.connect(broker.host, broker.port, 15)
        _nodelay(pub)
        pub.loop_start()
        payload = b"x" * payload_size
        for n in range(1, samples + 51):  # the first 50 warm up
            t0 = time.perf_counter()
            pub.publish(topic, payload, qos=1)
            if not await collector.wait_count(n, 5):
                raise RuntimeError("bare paho: a message did not arrive within 5 s")
            if n > 50:
                latencies.append((collector.received[n] - t0) * 1000)
    finally:
        pub.disconnect()
        pub.loop_stop()
        collector.stop()
    return _summary(latencies)


def link_config(url: str, state_dir: Path) -> BoothConfig:
    from sim.harness import example_config_data

    data = deep_merge(
        example_config_data(),
        {
            "booth": {"id": "bench-1"},
            "state_dir": str(state_dir),
            "central": {"kind": "mqtt"},
            # a short reconnect backoff: the outage below should not be dominated by waiting
            "mqtt": {"url": url, "require_bridge": False, "retry_initial": 0.2, "retry_max": 1.0},
        },
    )
    config, _ = parse_config(data, "bench")
    return config


class LinkBench:
    def __init__(self, broker: MosquittoBroker, workdir: Path) -> None:
        self.broker = broker
        self.config = link_config(broker.url, workdir / "state")
        self.clock = LoopClock()
        self.trace = Trace(self.clock.now)
        self.outbox = Outbox(workdir / "state" / "outbox.sqlite3")
        self.link = MqttLink(self.config, self.clock, self.trace, self.outbox)
        self.up = asyncio.Event()
        self.down = asyncio.Event()
        self.collector = Collector(broker, "lisa-bench-consumer")
        self.sent: dict[int, float] = {}  # seq -> perf_counter at link.event()

    def _sink(self, event: CentralEvent) -> None:
        if isinstance(event, LinkUp):
            self.up.set()
            self.down.clear()
        else:
            self.up.clear()
            self.down.set()

    def emit(self, n: int) -> None:
        """One event through the link; its latency counts from here (outbox write included)."""
        t0 = time.perf_counter()
        self.link.emit(StateReport(state="idle", detail=f"bench {n}"))
        self.sent[self.outbox.last_seq] = t0

    async def start(self) -> None:
        self.collector.start()
        await self.link.start(self._sink)
        await asyncio.wait_for(self.up.wait(), 15)

    async def stop(self) -> None:
        await self.link.stop()
        self.collector.stop()
        self.outbox.close()

    async def drained(self, within: float = 30.0) -> bool:
        deadline = time.monotonic() + within
        while self.outbox.count():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _latencies(self, seqs: list[int]) -> list[float]:
        got = self.collector.received
        return [(got[s] - self.sent[s]) * 1000 for s in seqs if s in got and s in self.sent]

    async def latency(self, samples: int) -> dict[str, Any]:
        for n in range(50):  # warm-up
            self.emit(n)
            await self.collector.wait_count(n + 1, 5)
        await self.drained()
        self.collector.reset()
        self.sent.clear()
        first = self.outbox.last_seq + 1
        for n in range(samples):
            self.emit(n)
            if not await self.collector.wait_count(n + 1, 5):
                raise RuntimeError(f"event {n} did not arrive within 5 s")
        return _summary(self._latencies(list(range(first, first + samples))))

    async def sustained(self, rate: float, seconds: float) -> dict[str, Any]:
        await self.drained()
        self.collector.reset()
        self.sent.clear()
        before = await self.collector.dedup_stats()
        total = round(rate * seconds)
        first = self.outbox.last_seq + 1
        backlog = 0
        n = 0
        start = time.perf_counter()
        while n < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while n < due:
                self.emit(n)
                n += 1
            backlog = max(backlog, self.outbox.count())
            await asyncio.sleep(0.001)
        send_s = time.perf_counter() - start
        complete = await self.collector.wait_count(total, 30)
        after = await self.collector.dedup_stats()
        c = self.collector
        seqs = list(range(first, first + total))
        unique = len(set(c.order))
        return {
            "sent": total,
            "send_seconds": round(send_s, 3),
            "send_rate_per_s": round(total / send_s, 1),
            "received_unique": unique,
            "lost": total - unique,
            "in_order": c.order == seqs,
            "gaps": after["gaps"] - before["gaps"],
            "duplicates": after["duplicates"] - before["duplicates"],
            "complete": complete,
            "max_outbox_backlog": backlog,
            "latency": _summary(self._latencies(seqs)),
        }

    async def replay(self, count: int) -> dict[str, Any]:
        """Outage: broker down, ``count`` events into the outbox, broker up, drain."""
        await self.drained()
        self.collector.stop()
        self.broker.stop()
        await asyncio.wait_for(self.down.wait(), 10)  # the link noticed
        first = self.outbox.last_seq + 1
        t0 = time.perf_counter()
        for n in range(count):
            self.emit(n)
        produce_s = time.perf_counter() - t0
        queued = self.outbox.count()
        # Deliberately blocking (no await): the link's reconnect runs on this loop, so it cannot
        # publish before the new consumer's subscription is in place (no persistence: the broker
        # forgot every session when it stopped).
        self.collector = Collector(self.broker, "lisa-bench-consumer-2")
        self.broker.start()
        broker_up = time.perf_counter()
        self.collector.start()
        complete = await self.collector.wait_count(count, 120)
        await self.drained(10)  # the last PUBACKs
        c = self.collector
        times = sorted(c.received.values())
        first_at, last_at = (times[0], times[-1]) if times else (broker_up, broker_up)
        drain_s = last_at - first_at
        stats = await self.collector.dedup_stats()
        return {
            "events": count,
            "produce_seconds": round(produce_s, 3),
            "produce_rate_per_s": round(count / produce_s, 1),
            "outbox_rows_while_down": queued,
            "reconnect_seconds": round(first_at - broker_up, 3),
            "drain_seconds": round(drain_s, 3),
            "drain_rate_per_s": round((count - 1) / drain_s, 1) if drain_s > 0 else None,
            "total_seconds_after_broker_start": round(last_at - broker_up, 3),
            "received_unique": len(set(c.order)),
            "accepted": len(c.order),
            "raw_received": stats["received"],
            "duplicates": stats["duplicates"],
            "gaps": stats["gaps"],
            "in_order": c.order == list(range(first, first + count)),
            "first_seq": first,
            "last_seq": stats["last_seq"],
            "complete": complete,
            "outbox_left_after_drain": self.outbox.count(),
        }


async def _link_benchmarks(
    broker: MosquittoBroker, samples: int, seconds: float, replay_events: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lisa-bench-link-") as tmp:
        bare = await bare_paho(broker, samples, 230)
        bench = LinkBench(broker, Path(tmp))
        await bench.start()
        try:
            latency = await bench.latency(samples)
            sustained = await bench.sustained(1000.0, seconds)
            replay = await bench.replay(replay_events)
        finally:
            await bench.stop()
    return {"bare_paho": bare, "latency": latency, "sustained": sustained, "replay": replay}


# --------------------------------------------------------------------------------- memory
def booth_rss(broker: MosquittoBroker, seconds: float) -> dict[str, Any]:
    """A real ``lisa booth run --sim --broker`` with its link up: VmRSS after ``seconds``."""
    from booth.control_client import ControlClient
    from sim.bench import lisa_executable
    from sim.bridge_sim import SimBridge

    with (
        tempfile.TemporaryDirectory(prefix="lisa-bench-booth-") as tmp,
        SimBridge(broker.host, broker.port, client_id="lisa-bench-bridge"),
    ):
        sock = Path(tmp) / "b.sock"
        cmd = [
            lisa_executable(),
            "booth",
            "run",
            "--sim",
            "--broker",
            broker.url,
            "--state-dir",
            f"{tmp}/state",
            "--socket",
            str(sock),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the booth daemon did not start")
                time.sleep(0.05)
            status: dict[str, Any] = {}
            with ControlClient(sock) as client:
                while time.monotonic() < deadline:
                    status = client.call("status")
                    if status.get("state") == "idle" and status.get("link"):
                        break
                    time.sleep(0.1)
                time.sleep(seconds)
                status = client.call("status")
            rss = rss_kb(proc.pid)
        finally:
            stop_process(proc)
    return {
        "seconds": seconds,
        "state": status.get("state"),
        "link_up": bool(status.get("link")),
        "rss_mb": round(rss / 1024, 1),
    }


# --------------------------------------------------------------------------------- all
def run_link_bench(
    samples: int = 2000,
    seconds: float = 10.0,
    replay_events: int = 60_000,
    rss_seconds: float = 5.0,
) -> dict[str, Any]:
    with MosquittoBroker(max_inflight=1000) as broker:
        version = subprocess.run(
            [broker.executable, "-h"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        result: dict[str, Any] = {"broker": version[0] if version else "mosquitto"}
        result.update(asyncio.run(_link_benchmarks(broker, samples, seconds, replay_events)))
        lat, bare = result["latency"], result["bare_paho"]
        result["latency_ratio_to_bare_paho"] = {
            "p50": round(lat["p50_ms"] / bare["p50_ms"], 2),
            "p99": round(lat["p99_ms"] / bare["p99_ms"], 2),
        }
        result["booth_memory"] = booth_rss(broker, rss_seconds)
    result["targets"] = TARGETS
    return result


def print_report(r: dict[str, Any]) -> None:
    t = r["targets"]

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    lat, bare, ratio = r["latency"], r["bare_paho"], r["latency_ratio_to_bare_paho"]
    print(f"broker: {r['broker']} on 127.0.0.1 (private process)")
    print(
        f"bare paho publish→receive   n={bare['n']:<5} p50={bare['p50_ms']:.3f} ms  "
        f"p99={bare['p99_ms']:.3f} ms  max={bare['max_ms']:.3f} ms"
    )
    print(
        f"link event→consumer         n={lat['n']:<5} p50={lat['p50_ms']:.3f} ms  "
        f"p99={lat['p99_ms']:.3f} ms  max={lat['max_ms']:.3f} ms   "
        f"(target p50 < {t['latency_p50_ms']:g} ms, p99 < {t['latency_p99_ms']:g} ms: "
        f"{mark(lat['p50_ms'] < t['latency_p50_ms'] and lat['p99_ms'] < t['latency_p99_ms'])}); "
        f"×{ratio['p50']} / ×{ratio['p99']} bare paho"
    )
    s = r["sustained"]
    ok = s["lost"] == 0 and s["gaps"] == 0 and s["in_order"] and s["send_rate_per_s"] >= 990
    print(
        f"sustained {s['sent']} events in {s['send_seconds']} s ({s['send_rate_per_s']}/s): "
        f"received {s['received_unique']} unique, lost {s['lost']}, gaps {s['gaps']}, "
        f"duplicates {s['duplicates']}, in order {s['in_order']}, max outbox backlog "
        f"{s['max_outbox_backlog']}; latency p50 {s['latency']['p50_ms']:.3f} ms p99 "
        f"{s['latency']['p99_ms']:.3f} ms   (target 1000/s, no loss: {mark(ok)})"
    )
    p = r["replay"]
    rate = p["drain_rate_per_s"] or 0.0
    exact = p["received_unique"] == p["events"] and p["duplicates"] == 0 and p["gaps"] == 0
    print(
        f"outbox replay: {p['events']} events written while the broker was down in "
        f"{p['produce_seconds']} s ({p['produce_rate_per_s']}/s); after the restart the link "
        f"reconnected in {p['reconnect_seconds']} s and drained them in {p['drain_seconds']} s = "
        f"{rate:.0f}/s (target ≥ {t['replay_rate_per_s']:g}/s: "
        f"{mark(rate >= t['replay_rate_per_s'])}); consumer: {p['received_unique']} unique, "
        f"{p['duplicates']} duplicates, {p['gaps']} gaps, in order {p['in_order']} "
        f"(exactly once: {mark(exact and p['in_order'])})"
    )
    m = r["booth_memory"]
    print(
        f"booth daemon (sim, link {'up' if m['link_up'] else 'DOWN'}, {m['state']}) "
        f"rss={m['rss_mb']:.1f} MB (target < {t['booth_rss_mb']:g} MB: "
        f"{mark(m['rss_mb'] < t['booth_rss_mb'])})"
    )
