"""The booth's MQTT link against a real Mosquitto with the shipped config (TLS, passwords, ACL).

* a booth daemon driven only with ``mosquitto_pub`` / ``mosquitto_sub``, as a portal written by
  someone else would, every message checked against docs/asyncapi.yaml;
* no event lost: broker restarts and a SIGKILLed booth while a citizen walks through; the
  consumer gets every event exactly once, in order.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from booth_process import BOOTH, BoothProcess, wait_for
from mosquitto_harness import MosquittoBroker

from booth.outbox import Outbox
from cloud_bridge.consumer import EventConsumer
from lisa_messages import BoothEvent, now_rfc3339
from lisa_messages.schema_check import validate_message

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def portal(mosquitto: MosquittoBroker) -> str:
    """A second privileged account for tools (a portal written by someone else)."""
    with mosquitto.acl_file.open("a", encoding="utf-8") as fh:
        fh.write(
            "\n# test only: an operator tool account\nuser portal\n"
            "topic read lisa/v1/booth/+/#\ntopic write lisa/v1/booth/+/cmd\n"
            "topic write lisa/v1/booth/+/call\ntopic write lisa/v1/bridge/availability\n"
        )
    return mosquitto.provision("portal")


@pytest.fixture
def booth(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[BoothProcess]:
    # a broker outage during a visit ends it after 1 s (the default grace is 20 s)
    b = BoothProcess(tmp_path, mosquitto, mosquitto.provision(BOOTH), link_grace=1.0)
    try:
        yield b
    finally:
        b.stop()


class Sub:
    """``mosquitto_sub`` in the background; lines (topic, payload) arrive on a queue."""

    def __init__(self, broker: MosquittoBroker, user: str, password: str, topic: str) -> None:
        self.proc = subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                broker.host,
                "-p",
                str(broker.port_tls),
                "--cafile",
                str(broker.ca_file),
                "-u",
                user,
                "-P",
                password,
                "-q",
                "1",
                "-v",
                "-t",
                topic,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            self.lines.put((topic, payload))

    def expect(self, pred: Callable[[str, Any], bool], what: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no message: {what}")
            try:
                topic, payload = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append((topic, payload))
            if not topic.endswith("/cmd"):  # the test's own commands are wrong on purpose
                validate_message(topic, payload.encode())  # against docs/asyncapi.yaml
            try:
                data: Any = json.loads(payload)
            except json.JSONDecodeError:
                data = payload
            if pred(topic, data):
                return data

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def pub(
    broker: MosquittoBroker, password: str, topic: str, payload: str, retain: bool = False
) -> None:
    cmd = [
        "mosquitto_pub",
        "-h",
        broker.host,
        "-p",
        str(broker.port_tls),
        "--cafile",
        str(broker.ca_file),
        "-u",
        "portal",
        "-P",
        password,
        "-q",
        "1",
        "-t",
        topic,
        "-m",
        payload,
    ]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd, check=True, timeout=10)


def test_booth_driven_only_with_mosquitto_clients(
    mosquitto: MosquittoBroker, booth: BoothProcess, portal: str
) -> None:
    base = f"lisa/v1/booth/{BOOTH}"
    sub = Sub(mosquitto, "bridge", mosquitto.bridge_password, f"{base}/#")
    try:
        booth.start()
        sub.expect(lambda t, d: t.endswith("/availability") and d == "online", "online")
        # no bridge yet: the booth refuses citizens (offline)
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "offline", "offline")
        pub(mosquitto, portal, "lisa/v1/bridge/availability", "online", retain=True)
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "idle", "idle")

        booth.inject("person.enter")
        req = sub.expect(
            lambda t, d: t.endswith("/event") and d["type"] == "call_requested", "call_requested"
        )
        session = req["data"]["session"]
        ts = now_rfc3339()
        pub(
            mosquitto,
            portal,
            f"{base}/call",
            json.dumps(
                {
                    "id": "q1",
                    "session": session,
                    "type": "queued",
                    "position": 2,
                    "estimated_wait": 120,
                    "ts": ts,
                }
            ),
        )
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "queued", "queued")
        pub(
            mosquitto,
            portal,
            f"{base}/call",
            json.dumps(
                {
                    "id": "c1",
                    "session": session,
                    "type": "connected",
                    "queue": "clearing",
                    "agent": "Bürgerservice",
                    "ts": ts,
                }
            ),
        )
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "in_call", "in_call")

        # commands: ok, idempotent, expired, unknown, malformed, unsafe
        pub(mosquitto, portal, f"{base}/cmd", json.dumps({"id": "p1", "cmd": "ping"}))
        first = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "p1", "ping")
        assert first["ok"] and first["result"]["state"] == "in_call"
        pub(mosquitto, portal, f"{base}/cmd", json.dumps({"id": "p1", "cmd": "ping"}))
        again = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "p1", "ping 2")
        assert again == first  # the first answer again, not executed twice
        past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        pub(
            mosquitto,
            portal,
            f"{base}/cmd",
            json.dumps({"id": "e1", "cmd": "door.open", "expires_at": past}),
        )
        expired = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "e1", "exp")
        assert not expired["ok"] and "expired" in expired["error"]
        pub(mosquitto, portal, f"{base}/cmd", json.dumps({"id": "u1", "cmd": "door.explode"}))
        unknown = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "u1", "unk")
        assert not unknown["ok"] and "unknown command 'door.explode'" in unknown["error"]
        pub(
            mosquitto,
            portal,
            f"{base}/cmd",
            json.dumps({"id": "b1", "cmd": "light.set", "args": {"brightness": 7}}),
        )
        bad = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "b1", "bad")
        assert not bad["ok"] and "brightness" in bad["error"]
        impossible = {"id": "c1", "cmd": "ping", "args": {}, "expires_at": "2026-02-30T10:00:00Z"}
        pub(mosquitto, portal, f"{base}/cmd", json.dumps(impossible))  # no such day: answered
        no_day = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "c1", "date")
        assert not no_day["ok"] and "expires_at" in no_day["error"]
        pub(mosquitto, portal, f"{base}/cmd", "this is not json")
        err = sub.expect(
            lambda t, d: t.endswith("/event") and d["type"] == "protocol_error", "protocol_error"
        )
        assert "not JSON" in err["data"]["error"]
        booth.inject("door.obstruct")
        pub(mosquitto, portal, f"{base}/cmd", json.dumps({"id": "d1", "cmd": "door.close"}))
        refused = sub.expect(lambda t, d: t.endswith("/cmd/result") and d["id"] == "d1", "door")
        assert not refused["ok"] and "obstructed" in refused["error"]
        booth.inject("door.clear")

        pub(
            mosquitto,
            portal,
            f"{base}/call",
            json.dumps(
                {
                    "id": "h1",
                    "session": session,
                    "type": "ended",
                    "reason": "agent_hangup",
                    "ts": ts,
                }
            ),
        )
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "farewell", "farewell")
        booth.inject("person.leave")
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "idle", "idle again")

        # the bridge goes away (its last will): no new citizen is accepted
        pub(mosquitto, portal, "lisa/v1/bridge/availability", "offline", retain=True)
        sub.expect(lambda t, d: t.endswith("/state") and d["state"] == "offline", "offline 2")
        booth.stop()
        sub.expect(lambda t, d: t.endswith("/availability") and d == "offline", "offline will")
    finally:
        sub.close()


def test_no_event_lost_across_broker_restart_and_sigkill(
    mosquitto: MosquittoBroker, booth: BoothProcess, portal: str
) -> None:
    pub(mosquitto, portal, "lisa/v1/bridge/availability", "online", retain=True)
    got: list[BoothEvent] = []
    consumer = EventConsumer(
        mosquitto.host,
        mosquitto.port_tls,
        got.append,
        username="bridge",
        password=mosquitto.bridge_password,
        tls_ca=str(mosquitto.ca_file),
    )
    consumer.start()
    try:
        assert consumer.connected.wait(10)
        booth.start()
        wait_for(lambda: booth.state() == "idle", "idle")

        def visit() -> None:
            booth.inject("person.enter")
            wait_for(lambda: booth.state() == "occupied", "occupied")
            booth.inject("person.leave")

        visit()
        mosquitto.restart()  # while the citizen is leaving: the booth keeps producing events
        wait_for(lambda: booth.state() == "idle", "idle after broker restart", 30)
        visit()
        booth.kill()  # SIGKILL mid-visit: unacknowledged events stay in the outbox
        booth.start()
        wait_for(lambda: booth.state() == "idle", "idle after SIGKILL", 30)
        booth.inject("person.enter")
        wait_for(lambda: booth.state() == "occupied", "occupied")
        mosquitto.stop()  # link lost with a citizen inside: events go to the outbox meanwhile
        wait_for(lambda: booth.state() == "farewell", "farewell after link loss")
        booth.inject("person.leave")
        wait_for(lambda: booth.state() == "offline", "offline while the broker is down")
        mosquitto.start()
        assert consumer.connected.wait(30)
        wait_for(lambda: booth.state() == "idle", "idle at the end", 30)
        booth.stop()
        outbox = Outbox(booth.workdir / "state" / "outbox.sqlite3")
        last = outbox.last_seq
        assert outbox.count() == 0, "events left unacknowledged in the outbox"
        wait_for(lambda: len(got) >= last, f"all {last} events at the consumer", 30)
        seqs = [e.seq for e in got]
        assert seqs == list(range(1, last + 1)), "events missing, duplicated or out of order"
        assert len({e.id for e in got}) == last
        cursor = consumer.dedup.booths[BOOTH]
        assert cursor.gaps == 0
        types = {e.type for e in got}
        assert {"state", "presence", "door", "call_requested", "call_ended"} <= types, types
    finally:
        consumer.stop()
