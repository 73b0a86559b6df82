"""A real Mosquitto for tests, configured from the shipped ``systemd/mosquitto/lisa.conf``.

:class:`MosquittoBroker` lays out a broker the way Debian does: a main ``mosquitto.conf`` like
Debian's (persistence location, logging, ``include_dir``) that includes ``conf.d/lisa.conf``,
which is the shipped file with only two kinds of change: the paths under
``/etc/mosquitto/lisa/`` point to a temporary directory, and ``listener 8883`` becomes a free
loopback port. The ACL is the shipped ``systemd/mosquitto/acl``; users are created by the
project's own provisioning code (:mod:`booth.broker`) and loaded with SIGHUP, like
``lisa broker provision-booth --reload-pid``.

:class:`MqttProbe` is a small synchronous paho-mqtt 2.x client for assertions: it waits on
events with timeouts and never sleeps.

Used by the fixtures in ``tests/broker/conftest.py``; import the classes for annotations::

    from mosquitto_harness import MosquittoBroker, MqttProbe
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from booth import broker

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONF = REPO / "systemd" / "mosquitto" / "lisa.conf"
SHIPPED_ACL = REPO / "systemd" / "mosquitto" / "acl"
PRODUCTION_DIR = "/etc/mosquitto/lisa/"
HOST = "127.0.0.1"
START_TIMEOUT = 10.0


def mosquitto_binary() -> str | None:
    """The broker executable (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def derive_config(shipped: str, etc_dir: Path, tls_port: int, *, client_certs: bool) -> str:
    """The shipped lisa.conf with test paths and port (and optionally client certificates)."""
    lines = []
    listeners = 0
    for line in shipped.splitlines():
        if line.strip() == "listener 8883":
            line = f"listener {tls_port} {HOST}"
            listeners += 1
        elif client_certs and line.strip() == "require_certificate false":
            line = "require_certificate true"
        elif client_certs and line.strip() == "#use_identity_as_username true":
            line = "use_identity_as_username true"
        lines.append(line.replace(PRODUCTION_DIR, f"{etc_dir}/"))
    text = "\n".join(lines) + "\n"
    if listeners != 1:
        raise AssertionError(f"{SHIPPED_CONF}: expected one 'listener 8883' line")
    if PRODUCTION_DIR not in shipped or PRODUCTION_DIR in text:
        raise AssertionError(f"{SHIPPED_CONF}: paths under {PRODUCTION_DIR} not replaced")
    if client_certs and "use_identity_as_username true\n" not in text:
        raise AssertionError(f"{SHIPPED_CONF}: no '#use_identity_as_username true' option")
    return text


def _listener_options(conf: str) -> str:
    """The per-listener settings of lisa.conf that are about who is who (not TLS), to repeat
    for the plain test listener."""
    keep = ("use_username_as_clientid ",)
    return "".join(line + "\n" for line in conf.splitlines() if line.startswith(keep))


@dataclass(frozen=True)
class Pki:
    """A test CA with a server certificate for 127.0.0.1/localhost, and an unrelated CA."""

    dir: Path
    ca_file: Path
    server: broker.CertFiles
    other_ca_file: Path  # a CA that did not sign the server certificate

    @classmethod
    def create(cls, directory: Path) -> Pki:
        ca = broker.make_ca(directory, name="LISA test CA")
        server = broker.make_cert(directory, "localhost", ips=[HOST])
        other = broker.make_ca(directory / "other", name="Some other CA")
        return cls(directory, ca.cert, server, other.cert)

    def client_cert(self, name: str) -> broker.CertFiles:
        """A client certificate with CN = ``name`` (a booth id or ``bridge``), made once."""
        directory = self.dir / "clients"
        files = broker.CertFiles(directory / f"{name}.crt", directory / f"{name}.key")
        if files.cert.exists() and files.key.exists():
            return files
        return broker.make_cert(directory, name, client=True, ca_dir=self.dir)


class MosquittoBroker:
    """A ``mosquitto -c FILE`` process; ``start()``/``stop()``/``restart()`` keep the ports
    and the persistence directory."""

    def __init__(
        self, root: Path, pki: Pki, *, plain: bool = False, client_certs: bool = False
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (Debian package 'mosquitto')")
        self.binary = binary
        self.root = root
        self.pki = pki
        self.client_certs = client_certs
        #: stands for /etc/mosquitto/lisa: passwd, acl, ca.crt, server.crt, server.key
        self.etc = root / "etc"
        self.data = root / "data"
        self.conf_d = root / "conf.d"
        self.conf_file = root / "mosquitto.conf"
        self.log_file = root / "mosquitto.log"
        self.passwd_file = broker.passwd_path(self.etc)
        self.acl_file = broker.acl_path(self.etc)
        self.ca_file = self.etc / "ca.crt"
        self.host = HOST
        self.port_tls = free_port()
        self.port_plain: int | None = free_port() if plain else None
        #: the current password of every user provisioned through this object
        self.passwords: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started = False  # after the first start, the ports stay (restart())
        for d in (self.etc, self.data, self.conf_d):
            d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pki.ca_file, self.ca_file)
        shutil.copyfile(pki.server.cert, self.etc / "server.crt")
        shutil.copyfile(pki.server.key, self.etc / "server.key")
        shutil.copyfile(SHIPPED_ACL, self.acl_file)
        self._write_config()

    # ------------------------------------------------------------------------------- addresses
    @property
    def url_tls(self) -> str:
        return f"mqtts://{self.host}:{self.port_tls}"

    @property
    def url_plain(self) -> str:
        if self.port_plain is None:
            raise RuntimeError(
                "this broker has no plain listener (use the mosquitto_plain fixture)"
            )
        return f"mqtt://{self.host}:{self.port_plain}"

    @property
    def pid(self) -> int:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("mosquitto is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ---------------------------------------------------------------------------------- config
    def _write_config(self) -> None:
        main = [
            "# like Debian's /etc/mosquitto/mosquitto.conf, with test paths",
            "persistence true",
            f"persistence_location {self.data}/",
            "log_dest stderr",
            f"include_dir {self.conf_d}",
        ]
        if os.geteuid() == 0:
            # As root, Mosquitto would switch to the user "mosquitto", which cannot enter the
            # test's private temporary directory (0700).
            main.insert(1, "user root")
        self.conf_file.write_text("\n".join(main) + "\n", encoding="utf-8")
        lisa = derive_config(
            SHIPPED_CONF.read_text(encoding="utf-8"),
            self.etc,
            self.port_tls,
            client_certs=self.client_certs,
        )
        (self.conf_d / "lisa.conf").write_text(lisa, encoding="utf-8")
        plain = self.conf_d / "zz-test-plain.conf"
        if self.port_plain is not None:
            # Same users and ACL: per_listener_settings is false in lisa.conf.
            plain.write_text(
                f"listener {self.port_plain} {HOST}\n{_listener_options(lisa)}", encoding="utf-8"
            )
        else:
            plain.unlink(missing_ok=True)

    # ------------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self.running:
            return
        if not self.passwd_file.exists():
            # mosquitto refuses to start without its password file; the bridge user makes one.
            self.provision_bridge(reload=False)
        for attempt in range(3):
            self._log = self.log_file.open("ab")
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf_file)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            ports = [self.port_tls] + ([self.port_plain] if self.port_plain is not None else [])
            deadline = time.monotonic() + START_TIMEOUT
            try:
                for port in ports:
                    self._wait_port(port, deadline)
            except RuntimeError:
                in_use = "Address already in use" in self.log_text()
                self.stop()
                if self._started or not in_use or attempt == 2:
                    raise
                # another process took a "free" port before Mosquitto bound it: new ports
                self.port_tls = free_port()
                self.port_plain = free_port() if self.port_plain is not None else None
                self._write_config()
                continue
            self._started = True
            return

    def _wait_port(self, port: int, deadline: float) -> None:
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self._proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                with socket.create_connection((self.host, port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"mosquitto does not listen on {port} after {START_TIMEOUT:g} s:\n"
                        f"{self.log_text()[-3000:]}"
                    ) from None
                time.sleep(0.01)  # poll interval, bounded by the deadline

    def stop(self) -> None:
        """SIGTERM and wait: Mosquitto writes its persistence database on the way out."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same ports; retained messages and sessions survive."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL, no persistence written (a crash)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self.stop()

    def reload(self, timeout: float = 5.0) -> None:
        """SIGHUP, then wait until Mosquitto logged the reload. It re-reads the password file and
        the ACL and re-checks connected clients in that same main-loop pass, so whatever a
        test does afterwards sees the new accounts."""
        before = self.reload_count()
        broker.reload_broker(self.pid)
        self.wait_reloaded(before, timeout)

    def reload_count(self) -> int:
        """How often Mosquitto has reloaded so far (for :meth:`wait_reloaded`)."""
        return self.log_text().count("Reloading config.")

    def wait_reloaded(self, before: int, timeout: float = 5.0) -> None:
        """Wait until Mosquitto reloaded after ``before`` = :meth:`reload_count` (e.g. after
        ``lisa broker ... --reload-pid``)."""
        deadline = time.monotonic() + timeout
        while self.reload_count() <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"mosquitto did not reload within {timeout:g} s")
            time.sleep(0.01)  # poll interval, bounded by the deadline

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # ---------------------------------------------------------------------------- accounts
    def provision(self, booth_id: str, *, reload: bool = True) -> str:
        """Create the booth's account (``lisa broker provision-booth``); returns its password."""
        creds = broker.provision_booth(self.etc, booth_id)
        return self._after(creds, reload)

    def provision_bridge(self, *, reload: bool = True) -> str:
        return self._after(broker.provision_bridge(self.etc), reload)

    def rotate(self, booth_id: str, *, reload: bool = True) -> str:
        return self._after(broker.rotate_booth(self.etc, booth_id), reload)

    def revoke(self, booth_id: str, *, reload: bool = True) -> None:
        broker.revoke_booth(self.etc, booth_id)
        self.passwords.pop(booth_id, None)
        if reload and self.running:
            self.reload()

    def _after(self, creds: broker.Credentials, reload: bool) -> str:
        self.passwords[creds.username] = creds.password
        if reload and self.running:
            self.reload()
        return creds.password

    @property
    def bridge_password(self) -> str:
        return self.passwords[broker.BRIDGE_USER]


# ------------------------------------------------------------------------------------- client
@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class ConnectResult:
    """What happened to a connection attempt: ``rc`` is the CONNACK reason code (None when no
    CONNACK came, e.g. the TLS or TCP layer failed); ``error`` the exception of ``connect()``."""

    rc: ReasonCode | None = None
    error: BaseException | None = None
    disconnected: bool = False

    @property
    def ok(self) -> bool:
        return self.rc is not None and not self.rc.is_failure and self.error is None


@dataclass
class _State:
    connack: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    messages: list[Received] = field(default_factory=list)
    suback: dict[int, list[ReasonCode]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)


class MqttProbe:
    """A synchronous paho-mqtt (MQTT 3.1.1) client for tests."""

    def __init__(
        self,
        broker_: MosquittoBroker,
        username: str | None,
        password: str | None = None,
        *,
        tls: bool = True,
        ca_file: Path | None = None,
        cert: broker.CertFiles | None = None,
        client_id: str | None = None,
        port: int | None = None,
        keepalive: int = 15,
        clean_session: bool = True,
        will: tuple[str, bytes] | None = None,
        reconnect: bool = False,
    ) -> None:
        self.broker = broker_
        self.username = username
        self.tls = tls
        chosen = port or (broker_.port_tls if tls else broker_.port_plain)
        if chosen is None:
            raise RuntimeError("no plain listener on this broker (use mosquitto_plain)")
        self.port: int = chosen
        self.keepalive = keepalive
        self._state = _State()
        self.result = ConnectResult()
        cid = client_id or f"probe-{username or 'anonymous'}-{os.urandom(3).hex()}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cid,
            clean_session=clean_session,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=reconnect,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(
                ca_certs=str(ca_file or broker_.ca_file),
                certfile=str(cert.cert) if cert else None,
                keyfile=str(cert.key) if cert else None,
            )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # paho callbacks (network thread)
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        rc: ReasonCode,
        props: Properties | None,
    ) -> None:
        self.result.rc = rc
        self._state.connack.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        rc: ReasonCode,
        props: Properties | None,
    ) -> None:
        self.result.disconnected = True
        self._state.closed.set()
        self._state.connack.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.result.disconnected = True
        self._state.connack.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._state.cond:
            self._state.messages.append(
                Received(msg.topic, bytes(msg.payload), msg.qos, msg.retain)
            )
            self._state.cond.notify_all()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        rcs: list[ReasonCode],
        props: Properties | None,
    ) -> None:
        with self._state.cond:
            self._state.suback[mid] = rcs
            self._state.cond.notify_all()

    # API
    def connect(self, timeout: float = 5.0) -> ConnectResult:
        """Connect and wait for the CONNACK (or the connection's end). A TLS verification error
        is caught into ``result.error``; a refused CONNACK leaves ``result.rc`` failed."""
        try:
            self.client.connect(self.broker.host, self.port, keepalive=self.keepalive)
        except (OSError, ssl.SSLError) as exc:
            self.result.error = exc
            return self.result
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            # paho never sets TCP_NODELAY; QoS 1 round trips stall ~40 ms without it
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        if not self._state.connack.wait(timeout):
            raise TimeoutError(f"no CONNACK and no disconnect within {timeout:g} s")
        if not self.result.ok:
            self.client.loop_stop()
        return self.result

    def connected(self, timeout: float = 5.0) -> MqttProbe:
        """Connect, and fail the test unless the broker accepted."""
        result = self.connect(timeout)
        if not result.ok:
            raise AssertionError(f"{self.username!r} could not connect: {result}")
        return self

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[ReasonCode]:
        """Subscribe and wait for the SUBACK. Mosquitto 2.0.11 grants a subscription the ACL
        forbids (MQTT 3.1.1) and then filters every message: check deliveries, not the SUBACK."""
        rc, mid = self.client.subscribe(topic, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise AssertionError(f"subscribe {topic!r} failed: {rc}")
        with self._state.cond:
            if not self._state.cond.wait_for(lambda: mid in self._state.suback, timeout):
                raise TimeoutError(f"no SUBACK for {topic!r} within {timeout:g} s")
            return self._state.suback[mid]

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = 5.0,
    ) -> None:
        """Publish and, for QoS 1, wait for the PUBACK. Mosquitto acknowledges a publish the
        ACL forbids as well (and drops it)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError(f"publish to {topic!r} not acknowledged within {timeout:g} s")

    def wait_for(self, topic: str, timeout: float = 5.0, *, count: int = 1) -> Received:
        """The ``count``-th message received on ``topic`` (waiting up to ``timeout``)."""

        def on_topic() -> list[Received]:
            return [m for m in self._state.messages if m.topic == topic]

        with self._state.cond:
            if not self._state.cond.wait_for(lambda: len(on_topic()) >= count, timeout):
                raise TimeoutError(
                    f"{self.username!r} got {len(on_topic())} of {count} message(s) on "
                    f"{topic!r} within {timeout:g} s (all: {self.topics_locked()})"
                )
            return on_topic()[count - 1]

    def topics_locked(self) -> list[str]:
        return [m.topic for m in self._state.messages]

    def messages(self) -> list[Received]:
        with self._state.cond:
            return list(self._state.messages)

    def topics(self) -> list[str]:
        return [m.topic for m in self.messages()]

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True once the connection ended (e.g. the broker dropped it)."""
        return self._state.closed.wait(timeout)

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
