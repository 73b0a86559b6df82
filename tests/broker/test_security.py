"""Security of the LISA broker, against a real Mosquitto started from the shipped config.

Absence ("booth A never gets B's command") is shown without sleeping: after the forbidden
messages the same publisher sends an allowed *sentinel*; Mosquitto delivers in order, so once
the sentinel has arrived, a forbidden message that got through would have arrived before it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from mosquitto_harness import MosquittoBroker, MqttProbe, Pki
from typer.testing import CliRunner, Result

from booth import broker_cli
from booth.broker import users
from booth.config import MqttConfig
from lisa_messages import BRIDGE_AVAILABILITY, ROOT, Topics

ProbeFactory = Callable[..., MqttProbe]

A, B = "hgw-sparkasse-01", "pasewalk-02"
TA, TB = Topics(A), Topics(B)
BOOTH_WRITES = ("availability", "state", "health", "event", "cmd_result")
BOOTH_READS = ("cmd", "call")
NOT_AUTHORIZED = "Not authorized"  # CONNACK 5 (MQTT 3.1.1) as paho names it

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_pub") is None, reason="mosquitto-clients is not installed"
)


def _bridge(mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory) -> MqttProbe:
    return mqtt_probe(mosquitto, "bridge", mosquitto.bridge_password).connected()


def _refused(probe: MqttProbe) -> str:
    result = probe.connect()
    assert not result.ok, f"{probe.username!r} was let in"
    assert result.rc is not None, f"expected a CONNACK refusal, got {result}"
    return str(result.rc)


# ----------------------------------------------------------------------------- what is allowed
def test_booth_publishes_its_own_topics_and_the_bridge_receives_them(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    password = mosquitto.provision(A)
    bridge = _bridge(mosquitto, mqtt_probe)
    bridge.subscribe(f"{ROOT}/booth/+/#")
    booth = mqtt_probe(mosquitto, A, password, will=(TA.availability, b"offline")).connected()

    for leaf in BOOTH_WRITES:
        booth.publish(getattr(TA, leaf), f"{leaf} of {A}", retain=leaf != "event")
    for leaf in BOOTH_WRITES:
        assert bridge.wait_for(getattr(TA, leaf)).payload == f"{leaf} of {A}".encode()

    # ...and it reads its commands, call control and the bridge's availability
    for topic in (TA.cmd, TA.call, BRIDGE_AVAILABILITY):
        booth.subscribe(topic)
    bridge.publish(BRIDGE_AVAILABILITY, "online", retain=True)
    bridge.publish(TA.cmd, '{"id": "c1"}')
    bridge.publish(TA.call, '{"id": "k1"}')
    assert booth.wait_for(BRIDGE_AVAILABILITY).payload == b"online"
    assert booth.wait_for(TA.cmd).payload == b'{"id": "c1"}'
    assert booth.wait_for(TA.call).payload == b'{"id": "k1"}'


# ------------------------------------------------------------------------- what is forbidden
def test_booth_cannot_write_to_another_booth_or_command_itself(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    pw_a, pw_b = mosquitto.provision(A), mosquitto.provision(B)
    bridge = _bridge(mosquitto, mqtt_probe)
    bridge.subscribe(f"{ROOT}/booth/+/#")
    bridge.subscribe(BRIDGE_AVAILABILITY)
    victim = mqtt_probe(mosquitto, B, pw_b).connected()
    for topic in (TB.cmd, TB.call, BRIDGE_AVAILABILITY):
        victim.subscribe(topic)
    attacker = mqtt_probe(mosquitto, A, pw_a).connected()

    forbidden = [getattr(TB, leaf) for leaf in (*BOOTH_WRITES, *BOOTH_READS)]
    # only the bridge commands a booth - also this one; only the bridge is "the bridge"
    forbidden += [TA.cmd, TA.call, BRIDGE_AVAILABILITY, f"{ROOT}/booth/{A}/other", "lisa/v1/x"]
    for topic in forbidden:
        attacker.publish(topic, "forged", retain=topic != TB.event)  # PUBACK comes anyway
    attacker.publish(TA.state, "sentinel")

    bridge.wait_for(TA.state)
    assert bridge.topics() == [TA.state], "the bridge got a forged message"
    # the victim's own subscriptions: the bridge's sentinel follows the forged messages
    bridge.publish(TB.cmd, "real command")
    assert victim.wait_for(TB.cmd).payload == b"real command"
    assert [m.payload for m in victim.messages()] == [b"real command"]
    # nothing forged was retained either: a new subscriber of everything sees none of it
    # (one connection per user: the new bridge login replaces the old one)
    bridge.close()
    late = _bridge(mosquitto, mqtt_probe)
    late.subscribe(f"{ROOT}/booth/+/#")
    late.subscribe(BRIDGE_AVAILABILITY)
    late.publish(TB.cmd, "sentinel 2")
    late.wait_for(TB.cmd)
    assert [m.payload for m in late.messages()] == [b"sentinel 2"]


def test_booth_cannot_kick_another_booth_with_its_client_id(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    pw_a, pw_b = mosquitto.provision(A), mosquitto.provision(B)
    victim = mqtt_probe(mosquitto, B, pw_b, client_id=f"lisa-booth-{B}", clean_session=False)
    victim.connected()
    mqtt_probe(mosquitto, A, pw_a, client_id=f"lisa-booth-{B}").connected()
    # a take-over would have closed B's connection before A got its CONNACK
    victim.publish(TB.state, "still here")
    assert victim.client.is_connected()
    assert f"as {A} (" in mosquitto.log_text()  # use_username_as_clientid: A's id is "A"


def test_booth_cannot_read_another_booths_topics(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    pw_a, pw_b = mosquitto.provision(A), mosquitto.provision(B)
    bridge = _bridge(mosquitto, mqtt_probe)
    owner = mqtt_probe(mosquitto, B, pw_b).connected()
    owner.publish(TB.state, "state of B", retain=True)
    owner.subscribe(TB.cmd)
    spy = mqtt_probe(mosquitto, A, pw_a).connected()
    for topic in (TB.cmd, TB.call, TB.state, f"{ROOT}/booth/+/cmd", f"{ROOT}/booth/#", "#"):
        # Mosquitto 2.0.11 grants the subscription (MQTT 3.1.1) and filters each message
        spy.subscribe(topic)

    bridge.publish(TB.cmd, "open the door of B")
    bridge.publish(TB.call, "call for B")
    assert owner.wait_for(TB.cmd).payload == b"open the door of B"
    bridge.publish(TA.cmd, "sentinel")  # allowed for A, after the messages for B
    spy.wait_for(TA.cmd)
    assert set(spy.topics()) == {TA.cmd}, "booth A read another booth's messages"


def _client(
    tool: str,
    broker: MosquittoBroker,
    user: str | None,
    password: str | None,
    *args: str,
    cafile: Path | None = None,
    tls: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run mosquitto_pub/mosquitto_sub against the broker's TLS port."""
    cmd = [tool, "-h", broker.host, "-p", str(broker.port_tls)]
    if tls:
        cmd += ["--cafile", str(cafile or broker.ca_file)]
    if user is not None:
        cmd += ["-u", user, "-P", password or ""]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=15)


def test_mosquitto_clients_see_only_their_own_booth(mosquitto: MosquittoBroker) -> None:
    """The same with mosquitto_pub/mosquitto_sub. Retained messages are sent per subscription
    filter, in order: the bridge's availability (second filter) is the sentinel."""
    pw_a, pw_b = mosquitto.provision(A), mosquitto.provision(B)
    bridge_pw = mosquitto.bridge_password
    for user, password, topic in ((A, pw_a, TA.state), ("bridge", bridge_pw, BRIDGE_AVAILABILITY)):
        pub = _client(
            "mosquitto_pub", mosquitto, user, password, "-q", "1", "-r", "-t", topic, "-m", user
        )
        assert pub.returncode == 0, pub.stderr

    once = ("-q", "1", "-v", "-C", "1", "-W", "10")
    filters = ("-t", f"{ROOT}/booth/+/state", "-t", BRIDGE_AVAILABILITY)
    spy = _client("mosquitto_sub", mosquitto, B, pw_b, *once, *filters)
    assert spy.stdout.strip() == f"{BRIDGE_AVAILABILITY} bridge", spy.stderr
    seen = _client(
        "mosquitto_sub", mosquitto, "bridge", bridge_pw, *once, "-t", f"{ROOT}/booth/+/state"
    )
    assert seen.stdout.strip() == f"{TA.state} {A}", seen.stderr


# ------------------------------------------------------------------------ authentication, TLS
def test_wrong_password_unknown_user_and_anonymous_are_refused(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    pw_a, pw_b = mosquitto.provision(A), mosquitto.provision(B)
    assert _refused(mqtt_probe(mosquitto, A, pw_a + "x")) == NOT_AUTHORIZED
    assert _refused(mqtt_probe(mosquitto, A, pw_b)) == NOT_AUTHORIZED  # B's password
    assert _refused(mqtt_probe(mosquitto, "nobody-03", pw_a)) == NOT_AUTHORIZED
    assert _refused(mqtt_probe(mosquitto, None)) == NOT_AUTHORIZED  # anonymous
    assert _refused(mqtt_probe(mosquitto, A, "")) == NOT_AUTHORIZED
    mqtt_probe(mosquitto, A, pw_a).connected()  # the right one works

    for user, password in ((A, "wrong"), (None, None)):
        proc = _client("mosquitto_pub", mosquitto, user, password, "-t", TA.state, "-m", "x")
        assert proc.returncode != 0
        assert "not authorised" in proc.stderr.lower()


def test_plain_mqtt_to_the_tls_port_fails(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    password = mosquitto.provision(A)
    probe = mqtt_probe(mosquitto, A, password, tls=False, port=mosquitto.port_tls)
    result = probe.connect()
    assert not result.ok and result.rc is None, result  # no CONNACK: the TLS port drops it
    assert "wrong version number" in mosquitto.log_text()

    proc = _client("mosquitto_pub", mosquitto, A, password, "-t", TA.state, "-m", "x", tls=False)
    assert proc.returncode != 0


def test_tls_with_a_wrong_ca_fails(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory, mosquitto_pki: Pki
) -> None:
    password = mosquitto.provision(A)
    probe = mqtt_probe(mosquitto, A, password, ca_file=mosquitto_pki.other_ca_file)
    result = probe.connect()
    assert isinstance(result.error, ssl.SSLCertVerificationError), result

    proc = _client(
        "mosquitto_pub",
        mosquitto,
        A,
        password,
        "-t",
        TA.state,
        "-m",
        "x",
        cafile=mosquitto_pki.other_ca_file,
    )
    assert proc.returncode != 0
    assert "TLS error" in proc.stderr
    assert "unknown ca" in mosquitto.log_text()


def test_plain_listener_has_the_same_users_and_acl(
    mosquitto_plain: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    broker = mosquitto_plain
    pw_a = broker.provision(A)
    assert _refused(mqtt_probe(broker, None, tls=False)) == NOT_AUTHORIZED
    assert _refused(mqtt_probe(broker, A, "wrong", tls=False)) == NOT_AUTHORIZED
    bridge = mqtt_probe(broker, "bridge", broker.bridge_password, tls=False).connected()
    bridge.subscribe(f"{ROOT}/booth/+/#")
    booth = mqtt_probe(broker, A, pw_a, tls=False).connected()
    booth.publish(TB.state, "forged")
    booth.publish(TA.state, "mine")
    assert bridge.wait_for(TA.state).payload == b"mine"
    assert bridge.topics() == [TA.state]


# ------------------------------------------------------------------------- revoke and rotate
def _cli(*args: str) -> Result:
    result = CliRunner().invoke(broker_cli.app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_revoke_cuts_the_booth_off(mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory) -> None:
    password, other = mosquitto.provision(A), mosquitto.provision(B)
    connected = mqtt_probe(mosquitto, A, password).connected()
    bystander = mqtt_probe(mosquitto, B, other).connected()

    before = mosquitto.reload_count()
    _cli("revoke-booth", A, "--dir", str(mosquitto.etc), "--reload-pid", str(mosquitto.pid))
    mosquitto.wait_reloaded(before)
    assert users(mosquitto.passwd_file) == ["bridge", B]

    # Mosquitto 2.0.11 re-checks connected clients on reload: the open connection is closed
    assert connected.wait_closed(), "the revoked booth stayed connected"
    assert _refused(mqtt_probe(mosquitto, A, password)) == NOT_AUTHORIZED
    assert bystander.client.is_connected()
    mqtt_probe(mosquitto, B, other).connected()


def test_rotate_gives_a_new_password_and_the_old_one_fails(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory, tmp_path: Path
) -> None:
    old = mosquitto.provision(A)
    session = mqtt_probe(mosquitto, A, old).connected()
    out = tmp_path / "new-password"
    before = mosquitto.reload_count()
    result = _cli(
        "rotate",
        A,
        "--dir",
        str(mosquitto.etc),
        "--password-out",
        str(out),
        "--reload-pid",
        str(mosquitto.pid),
    )
    mosquitto.wait_reloaded(before)
    new = out.read_text().strip()
    assert new != old and new not in result.output
    assert "systemctl restart lisa-booth" in result.stderr

    assert session.wait_closed(), "the old password's session survived the reload"
    assert _refused(mqtt_probe(mosquitto, A, old)) == NOT_AUTHORIZED
    bridge = _bridge(mosquitto, mqtt_probe)
    bridge.subscribe(TA.state)
    mqtt_probe(mosquitto, A, new).connected().publish(TA.state, "after rotation")
    assert bridge.wait_for(TA.state).payload == b"after rotation"


def test_provisioned_snippet_credentials_work(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    before = mosquitto.reload_count()
    result = _cli(
        "provision-booth",
        A,
        "--dir",
        str(mosquitto.etc),
        "--url",
        mosquitto.url_tls,
        "--ca-file",
        str(mosquitto.ca_file),
        "--reload-pid",
        str(mosquitto.pid),
    )
    mosquitto.wait_reloaded(before)
    mqtt = MqttConfig.model_validate(tomllib.loads(result.stdout)["mqtt"])
    assert mqtt.url == mosquitto.url_tls and mqtt.username == A and mqtt.password is not None
    assert mqtt.ca_file is not None
    probe = mqtt_probe(
        mosquitto,
        mqtt.username,
        mqtt.password.get_secret_value(),
        ca_file=mqtt.ca_file,
        client_id=mqtt.client_id,
        keepalive=mqtt.keepalive,
    )
    assert probe.connect().ok


# ------------------------------------------------------------------------ client certificates
def test_client_certificates_map_the_cn_to_the_booth(
    mosquitto_factory: Callable[..., MosquittoBroker],
    mqtt_probe: ProbeFactory,
    mosquitto_pki: Pki,
) -> None:
    broker = mosquitto_factory(client_certs=True)
    bridge = mqtt_probe(broker, None, cert=mosquitto_pki.client_cert("bridge")).connected()
    bridge.subscribe(f"{ROOT}/booth/+/#")
    booth = mqtt_probe(broker, None, cert=mosquitto_pki.client_cert(A)).connected()
    booth.publish(TB.state, "forged")
    booth.publish(TA.state, "mine")
    assert bridge.wait_for(TA.state).payload == b"mine"
    assert bridge.topics() == [TA.state]
    # without a certificate there is no way in, not even with a valid password
    password = broker.provision(A)
    result = mqtt_probe(broker, A, password).connect()
    assert not result.ok, result


# ------------------------------------------------------------------------- the fixture itself
def test_restart_keeps_retained_messages_and_sessions(
    mosquitto: MosquittoBroker, mqtt_probe: ProbeFactory
) -> None:
    password = mosquitto.provision(A)
    booth = mqtt_probe(mosquitto, A, password, clean_session=False).connected()
    booth.subscribe(TA.cmd)
    booth.publish(TA.state, "retained", retain=True)
    booth.close()
    bridge = _bridge(mosquitto, mqtt_probe)
    bridge.publish(TA.cmd, "queued while offline")
    bridge.close()
    port, pid = mosquitto.port_tls, mosquitto.pid

    mosquitto.restart()
    assert (mosquitto.port_tls, mosquitto.running) == (port, True) and mosquitto.pid != pid
    again = mqtt_probe(mosquitto, A, password, clean_session=False).connected()
    assert again.wait_for(TA.cmd).payload == b"queued while offline"
    late = _bridge(mosquitto, mqtt_probe)
    late.subscribe(TA.state)
    assert late.wait_for(TA.state).retain
