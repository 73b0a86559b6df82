"""A real stack for the portal's browser tests: a private Mosquitto (the shipped config, TLS),
the cloud bridge as its own process (``lisa bridge run``) with the Uckermark tenant config and
simulated booths as processes (``lisa booth run --sim``), one of them with its screen server.

Reuses the process helpers of ``tests/broker/`` (Mosquitto from the shipped config, the bridge
and booth processes). Differences from ``tests/broker/test_bridge_e2e.py``: the tenant config is
``cloud_bridge/examples/uckermark.toml`` (database, broker and port replaced, opening hours left
out so the queues are open at any hour), the accounts are the portal's five roles, and the
booth ``gartz-01`` serves its screens on a free port.

Everything waits on conditions with a deadline (:func:`wait_until`), never a fixed sleep.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

BROKER_HELPERS = Path(__file__).resolve().parents[1] / "broker"
if str(BROKER_HELPERS) not in sys.path:
    sys.path.insert(0, str(BROKER_HELPERS))

from booth_process import LISA, BoothProcess  # noqa: E402
from bridge_process import BridgeProcess, free_port  # noqa: E402
from mosquitto_harness import MosquittoBroker, Pki, mosquitto_binary  # noqa: E402

from booth.control_client import ControlClient  # noqa: E402
from sim.booth_files import booth_config_text, fast_timing  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
UCKERMARK = REPO / "cloud_bridge" / "examples" / "uckermark.toml"
PASSWORD = "test-pass-123"
#: the portal's accounts: name → role (clearing1 and wohngeld1 are ACD agents in the config)
ACCOUNTS = {
    "clearing1": "agent",
    "wohngeld1": "agent",
    "super1": "supervisor",
    "tech1": "technician",
    "admin1": "admin",
}
SCREEN_BOOTH = "gartz-01"  # with its screen server: the citizen's side of the flow
IDLE_BOOTH = "templin-01"  # stays idle: the technician's self-test
T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last})")
        time.sleep(0.05)


def _replace(text: str, pattern: str, line: str) -> str:
    new, count = re.subn(pattern, lambda _: line, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"{UCKERMARK}: no line matches {pattern!r}")
    return new


def uckermark_config(workdir: Path, broker: MosquittoBroker, port: int) -> str:
    """The shipped Uckermark tenant config on this test's broker, database and port."""
    (workdir / "mqtt.pw").write_text(broker.bridge_password + "\n", "utf-8")
    text = UCKERMARK.read_text("utf-8")
    text = _replace(text, r"^database = .*$", f'database = "{workdir / "bridge.db"}"')
    text = _replace(text, r"^url = \"mqtts?://.*$", f'url = "{broker.url_tls}"')
    text = _replace(text, r"^# password_file = .*$", f'password_file = "{workdir / "mqtt.pw"}"')
    text = _replace(text, r"^# tls_ca = .*$", f'tls_ca = "{broker.ca_file}"')
    text = _replace(text, r"^port = \d+.*$", f"port = {port}")
    # the queues' opening hours are left out: the tests run at any hour (and on holidays)
    text, n = re.subn(r'(?m)^hours = "[a-z-]+".*\n', "", text)
    if n == 0:
        raise AssertionError(f"{UCKERMARK}: no queue with opening hours found")
    return text


class PortalBridge(BridgeProcess):
    """``lisa bridge run`` with the adapted Uckermark config; its PDF templates for signing
    (``[signing] templates_dir``) are the files a test puts into :attr:`templates`."""

    def __init__(self, workdir: Path, broker: MosquittoBroker) -> None:
        super().__init__(workdir, broker, [])
        self.templates = workdir / "templates"
        self.templates.mkdir(parents=True, exist_ok=True)
        text = uckermark_config(workdir, broker, self.port)
        text += f'\n[signing]\ntemplates_dir = "{self.templates}"\n'
        self.config.write_text(text, "utf-8")

    def add_users(self, accounts: dict[str, str], password: str) -> None:
        """The accounts, through the account store of the bridge's database (as the CLI)."""
        from cloud_bridge.users import UserStore

        store = UserStore(self.workdir / "bridge.db")
        try:
            for name, role in accounts.items():
                store.add(name, role, password)
        finally:
            store.close()

    def terminate(self) -> None:
        """SIGTERM, and wait for the process to end."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(15)


class ScreenBooth(BoothProcess):
    """A simulated booth process; with ``screen=True`` it serves its screens on a free port.
    It signs with demo keys and hands signed documents over to the folder :attr:`dms` (a
    demo document system, ``[handover]`` directory drop)."""

    def __init__(
        self, workdir: Path, broker: MosquittoBroker, booth_id: str, *, screen: bool
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir, broker, broker.provision(booth_id), booth_id)
        self.screen_port = free_port() if screen else 0
        self.dms = workdir / "dms"
        self.dms.mkdir(exist_ok=True)
        mqtt = (
            f'\n[mqtt]\nurl = "{broker.url_tls}"\nusername = "{booth_id}"\n'
            f'password = "{broker.passwords[booth_id]}"\n'
            f'ca_file = "{broker.ca_file}"\nretry_initial = 0.2\nretry_max = 1.0\n'
        )
        self.config.write_text(
            booth_config_text(
                booth_id,
                workdir / "state",
                self.socket,
                mqtt_central=True,
                timing=fast_timing(),
                screens=screen,
                extra=mqtt,
                dms_dir=self.dms,
            ),
            "utf-8",
        )

    @property
    def screen_url(self) -> str:
        return f"http://127.0.0.1:{self.screen_port}/"

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [
                    *(str(LISA), "booth", "run", "--sim", "--config", str(self.config)),
                    *("--screen-port", str(self.screen_port)),
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, "the booth daemon's control socket", 30)

    def status(self) -> dict[str, Any]:
        with ControlClient(self.socket, timeout=10) as c:
            return dict(c.call("status"))

    def wait_detail(self, *wanted: str, timeout: float = 20.0) -> str:
        """Wait until the booth's state or detailed state is one of ``wanted``."""

        def check() -> str | None:
            st = self.status()
            for key in ("state", "detail"):
                if st.get(key) in wanted:
                    return str(st[key])
            return None

        return wait_until(check, f"booth {self.booth_id} in {wanted}", timeout)


class Api:
    """Bearer-token API access for set-up and checks (the browser uses its cookie session)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, str] = {}

    def token(self, name: str) -> str:
        if name not in self.tokens:
            r = httpx.post(
                f"{self.url}/api/v1/login",
                json={"username": name, "password": PASSWORD},
                timeout=10,
            )
            r.raise_for_status()
            self.tokens[name] = r.json()["token"]
        return self.tokens[name]

    def call(self, user: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=15, **kw)

    def status(self) -> dict[str, Any]:
        r = self.call("super1", "GET", "/status")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def agent(self, name: str) -> dict[str, Any]:
        return next(a for a in self.status()["agents"] if a["id"] == name)

    def wait_agent(self, name: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            a = self.agent(name)
            return a if a["status"] == status else None

        return wait_until(check, f"agent {name} {status}", timeout)


class PortalStack:
    """Mosquitto + bridge + two booths; :meth:`reset` brings everything back to quiet."""

    def __init__(self, root: Path) -> None:
        if mosquitto_binary() is None:
            raise RuntimeError("mosquitto is not installed (Debian package 'mosquitto')")
        self.root = root
        self.broker = MosquittoBroker(root / "mosquitto", Pki.create(root / "pki"))
        self.bridge: PortalBridge | None = None
        self.booths: dict[str, ScreenBooth] = {}

    def start(self) -> PortalStack:
        self.broker.start()
        self.broker.provision_bridge()
        self.bridge = PortalBridge(self.root / "bridge", self.broker)
        self.bridge.add_users(ACCOUNTS, PASSWORD)
        self.bridge.start()
        self.api = Api(self.bridge.url)
        for booth_id, screen in ((SCREEN_BOOTH, True), (IDLE_BOOTH, False)):
            booth = ScreenBooth(self.root / booth_id, self.broker, booth_id, screen=screen)
            booth.start()
            self.booths[booth_id] = booth
        for booth in self.booths.values():
            booth.wait_detail("idle", timeout=30)
        wait_until(self._booths_online, "the bridge to see both booths online", 30)
        return self

    def _booths_online(self) -> bool:
        online = {b["id"] for b in self.api.status()["booths"] if b["online"]}
        return set(self.booths) <= online

    @property
    def url(self) -> str:
        assert self.bridge is not None
        return self.bridge.url

    @property
    def booth(self) -> ScreenBooth:
        return self.booths[SCREEN_BOOTH]

    def inject(self, name: str, booth: str = SCREEN_BOOTH) -> None:
        self.booths[booth].inject(name)

    def reset(self) -> None:
        """End every call (supervisor hang-up), let the citizen leave, log every agent out of
        the ACD; wait until the bridge and the booths are quiet."""
        for call in self.api.status()["calls"]:
            if call["status"] == "connected" and call["kind"] == "call":
                self.api.call("super1", "POST", f"/calls/{call['id']}/hangup")
        for booth in self.booths.values():
            if booth.status()["state"] not in ("idle",):
                booth.inject("person.leave")
        for booth in self.booths.values():
            booth.wait_detail("idle", timeout=30)
        for name in ("clearing1", "wohngeld1"):
            self.api.call(name, "POST", "/agent/status", json={"status": "logged_out"})
        wait_until(lambda: not self.api.status()["calls"], "no calls left", 20)
        for name in ("clearing1", "wohngeld1"):
            self.api.wait_agent(name, "logged_out")

    def stop(self) -> None:
        for booth in self.booths.values():
            booth.stop()
        if self.bridge is not None:
            self.bridge.stop()
        self.broker.stop()
        shutil.rmtree(self.root / "pki", ignore_errors=True)
