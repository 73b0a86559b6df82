"""The simulated cloud bridge over a real (embedded) MQTT broker: availability, the call
sequence queued → connected → ended, cancellation on the booth's call_ended, stale requests."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lisa_messages import (
    BRIDGE_AVAILABILITY,
    CallControl,
    Topics,
    now_rfc3339,
    parse_booth_event,
)
from sim.bridge_sim import AGENT_NAME, SimBridge
from sim.brokers import EmbeddedBroker

BOOTH = Topics("t-1")


class Probe:
    """A paho client playing the booth: publishes events, collects what arrives."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.seq = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe")
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        subscribed: queue.Queue[bool] = queue.Queue()
        self.client.on_subscribe = lambda *a: subscribed.put(True)
        self.client.subscribe([(BOOTH.call, 1), (BRIDGE_AVAILABILITY, 1)])
        subscribed.get(timeout=5)

    def event(self, type_: str, session: str, ts: str | None = None) -> None:
        self.seq += 1
        msg = parse_booth_event(
            {
                "id": uuid.uuid4().hex,
                "booth": BOOTH.booth_id,
                "seq": self.seq,
                "ts": ts or now_rfc3339(),
                "type": type_,
                "data": {"session": session},
            }
        )
        self.client.publish(BOOTH.event, msg.model_dump_json(), qos=1).wait_for_publish(5)

    def next(self, topic: str, within: float = 3.0) -> bytes:
        while True:
            got_topic, payload = self.messages.get(timeout=within)
            if got_topic == topic:
                return payload

    def call(self, within: float = 3.0) -> CallControl:
        return CallControl.model_validate_json(self.next(BOOTH.call, within))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


def test_call_sequence_and_availability(broker: EmbeddedBroker) -> None:
    bridge = SimBridge(broker.host, broker.port, answer_after=0.2, hangup_after=0.3)
    bridge.start()
    probe = Probe(broker)
    try:
        assert probe.next(BRIDGE_AVAILABILITY) == b"online"  # retained
        probe.event("call_requested", "s1")
        queued, connected, ended = probe.call(), probe.call(), probe.call()
        assert (queued.type, queued.position, queued.session) == ("queued", 1, "s1")
        assert (connected.type, connected.queue, connected.agent) == (
            "connected",
            "clearing",
            AGENT_NAME,
        )
        assert (ended.type, ended.session) == ("ended", "s1")
        assert [a.type for a in bridge.actions] == ["queued", "connected", "ended"]
    finally:
        bridge.stop()
    try:
        assert probe.next(BRIDGE_AVAILABILITY) == b"offline"
    finally:
        probe.close()


def test_call_ended_by_the_booth_cancels_and_stale_requests_are_ignored(
    broker: EmbeddedBroker,
) -> None:
    with SimBridge(broker.host, broker.port, answer_after=0.3, hangup_after=0.3) as bridge:
        probe = Probe(broker)
        try:
            probe.event("call_requested", "s2")
            assert probe.call().type == "queued"
            probe.event("call_ended", "s2")
            with pytest.raises(queue.Empty):
                probe.call(within=0.8)  # no connected, no ended
            assert bridge.pending("t-1", "s2") == 0
            old = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            probe.event("call_requested", "s3", ts=old)
            with pytest.raises(queue.Empty):
                probe.call(within=0.5)
            assert [a.type for a in bridge.actions] == ["queued", "cancelled", "ignored"]
        finally:
            probe.close()
