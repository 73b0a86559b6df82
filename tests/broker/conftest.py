"""Fixtures: a real Mosquitto started from the shipped config, and MQTT probe clients.

* ``mosquitto``: TLS listener only (``url_tls``), the shipped ACL, a ``bridge`` account.
* ``mosquitto_plain``: the same plus a plain listener on loopback (``url_plain``) with the same
  users and ACL (``per_listener_settings false``).
* ``mosquitto_factory(plain=False, client_certs=False)``: more brokers, or client-certificate
  authentication (``require_certificate true`` + ``use_identity_as_username true``).
* ``mosquitto_pki``: the session's test CA (``ca_file``), the server certificate for
  127.0.0.1/localhost, an unrelated CA (``other_ca_file``) and ``client_cert(name)``.
* ``mqtt_probe(broker, username, password, tls=True, ...)``: a connected-on-demand paho client
  (:class:`mosquitto_harness.MqttProbe`), closed at teardown.

A broker offers ``provision(booth_id) -> password`` (``lisa broker`` code + SIGHUP reload,
waited for), ``provision_bridge()``, ``rotate(booth_id) -> password``, ``revoke(booth_id)``,
``bridge_password``, ``passwords``, ``ca_file``, ``host``, ``port_tls``/``port_plain``,
``url_tls``/``url_plain``, ``etc`` (the /etc/mosquitto/lisa stand-in), ``reload()``,
``reload_count()``/``wait_reloaded(before)`` (after ``lisa broker … --reload-pid``),
``restart()`` (same ports, persistence kept), ``stop()``, ``start()``, ``kill()``, ``pid``,
``log_text()``. A probe offers ``connect() -> ConnectResult``, ``connected()``, ``subscribe()``,
``publish()`` (waits for the PUBACK), ``wait_for(topic, count=1)``, ``messages()``,
``topics()``, ``wait_closed()``, ``close()`` and the paho ``client``.

Mosquitto allows one connection per user (``use_username_as_clientid``): a second probe with
the same username replaces the first. Async tests using a broker need ``@pytest.mark.realtime``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mosquitto_harness import MosquittoBroker, MqttProbe, Pki, mosquitto_binary

BrokerFactory = Callable[..., MosquittoBroker]
ProbeFactory = Callable[..., MqttProbe]


@pytest.fixture(scope="session")
def mosquitto_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("mosquitto-pki"))


@pytest.fixture
def mosquitto_factory(tmp_path: Path, mosquitto_pki: Pki) -> Iterator[BrokerFactory]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (Debian package 'mosquitto'; `make deps`)")
    brokers: list[MosquittoBroker] = []

    def make(*, plain: bool = False, client_certs: bool = False) -> MosquittoBroker:
        broker = MosquittoBroker(
            tmp_path / f"mosquitto-{len(brokers)}",
            mosquitto_pki,
            plain=plain,
            client_certs=client_certs,
        )
        brokers.append(broker)
        broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: BrokerFactory) -> MosquittoBroker:
    """A running Mosquitto with the shipped config: TLS only."""
    return mosquitto_factory()


@pytest.fixture
def mosquitto_plain(mosquitto_factory: BrokerFactory) -> MosquittoBroker:
    """A running Mosquitto with the shipped config: TLS plus a plain loopback listener."""
    return mosquitto_factory(plain=True)


@pytest.fixture
def mqtt_probe() -> Iterator[ProbeFactory]:
    probes: list[MqttProbe] = []

    def make(broker: MosquittoBroker, *args: Any, **kwargs: Any) -> MqttProbe:
        probe = MqttProbe(broker, *args, **kwargs)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        probe.close()
