"""``lisa booth run``: the long-running booth process.

Builds the devices from the config (drivers loaded lazily by name), the central link, the
controller and the local control socket; then runs the main loop: every ``timing.tick`` seconds
the PLC heartbeat and a health check, and only when that check passes the systemd watchdog ping.
SIGTERM/SIGINT stop it cleanly (the outside sign goes to out-of-service; egress is never blocked).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

from booth.central import CENTRALS, NoCentral
from booth.config import BoothConfig, ConfigError, deep_merge, parse_config
from booth.controller import BoothController
from booth.devices import build_devices, force_sim
from booth.logsetup import setup_logging
from booth.sdnotify import SystemdNotifier, watchdog_interval
from booth.trace import Trace
from hal.base import DriverOptions
from hal.clock import LoopClock
from hal.events import SignState

log = logging.getLogger("lisa.booth.daemon")

Injector = Any  # callable(name, args) -> str, only for simulated booths


def load_daemon_config(
    path: Path,
    sim: bool,
    socket: Path | None,
    demo_agent: float | None,
    booth_id: str | None = None,
    broker: str | None = None,
    state_dir: Path | None = None,
) -> tuple[BoothConfig, dict[str, DriverOptions]]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f" cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f" invalid TOML: {exc}"]) from None
    overrides: dict[str, Any] = {}
    if sim:
        data = force_sim(data)
        overrides["control"] = {"allow_inject": True}
    if socket is not None:
        overrides.setdefault("control", {})["socket"] = str(socket)
    if booth_id is not None:
        overrides["booth"] = {"id": booth_id}
    if state_dir is not None:
        overrides["state_dir"] = str(state_dir)
    if broker is not None:
        overrides["central"] = {"kind": "mqtt"}
        overrides["mqtt"] = {"url": broker}
    mqtt_env = {
        key: os.environ[var]
        for key, var in (("username", "LISA_MQTT_USERNAME"), ("password", "LISA_MQTT_PASSWORD"))
        if os.environ.get(var)
    }
    if mqtt_env:
        overrides.setdefault("mqtt", {}).update(mqtt_env)
    if demo_agent is not None:
        # the demo's simulated agents answer after a few seconds and hang up after a minute
        overrides.setdefault("central", {})["sim"] = {
            "answer_after": demo_agent,
            "hangup_after": 60.0,
        }
    return parse_config(deep_merge(data, overrides), str(path), text)


class BoothDaemon:
    def __init__(
        self, config: BoothConfig, options: dict[str, DriverOptions], config_path: Path, sim: bool
    ) -> None:
        self.config = config
        self.options = options
        self.config_path = config_path
        self.sim = sim
        self.notifier = SystemdNotifier()
        self.stop_event = asyncio.Event()
        self.inject: Injector | None = None

    def _central(self, clock: LoopClock, trace: Trace) -> Any:
        """The central link by config (None: the simulator brings its own simulated central)."""
        kind = self.config.central.kind
        if kind == "none":
            return NoCentral()
        if kind == "mqtt":
            from booth.mqtt_link import MqttLink
            from booth.outbox import Outbox

            outbox = Outbox(self.config.state_dir / "outbox.sqlite3")
            return MqttLink(self.config, clock, trace, outbox)
        if self.sim:
            return None
        module, _, cls = CENTRALS[kind].partition(":")
        return getattr(importlib.import_module(module), cls)(self.config.central.sim, clock, trace)

    def _build(self, clock: LoopClock) -> BoothController:
        trace = Trace(clock.now)
        central = self._central(clock, trace)
        controller: BoothController
        if self.sim:
            # the simulator wires simulated devices (and a simulated central) and knows the inputs
            harness = importlib.import_module("sim.harness")
            booth = harness.SimBooth(self.config, self.options, clock, central=central, trace=trace)
            self.inject = booth.inject
            controller = booth.controller
        else:
            devices = build_devices(self.config, self.options, clock)
            controller = BoothController(self.config, devices, central, clock, trace)
        bind = getattr(controller.central, "bind", None)
        if bind is not None:
            from booth.commands import CommandExecutor

            bind(CommandExecutor(controller), controller.status, controller.settled)
        return controller

    async def run(self) -> int:
        from booth.control import ControlServer

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        clock = LoopClock()
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        controller = self._build(clock)
        await controller.start()
        control = ControlServer(
            controller,
            self.config,
            config_path=self.config_path,
            inject=self.inject if self.config.control.allow_inject else None,
        )
        try:
            await control.start()
        except OSError as exc:
            log.error(
                "control socket unavailable",
                extra={"path": str(self.config.control.socket), "error": str(exc)},
            )
        interval = self.config.timing.tick
        wd = watchdog_interval()
        if wd is not None:
            interval = min(interval, wd)
        self.notifier.ready(f"booth {self.config.booth.id} starting")
        log.info("booth daemon running", extra={"booth": self.config.booth.id, "sim": self.sim})

        def show_state(state: str) -> None:
            self.notifier.status(f"state={state}")

        def ping() -> None:
            self.notifier.watchdog()

        controller.state_listeners.append(show_state)
        try:
            await controller.run_main_loop(self.stop_event, ping, interval)
        finally:
            self.notifier.stopping()
            log.info("booth daemon stopping")
            await controller.actuators.sign(SignState.OUT_OF_SERVICE)
            await control.stop()
            await controller.stop()
        return 0


def run_daemon(
    config_path: Path,
    sim: bool = False,
    socket: Path | None = None,
    demo_agent: float | None = None,
    booth_id: str | None = None,
    broker: str | None = None,
    state_dir: Path | None = None,
) -> int:
    try:
        config, options = load_daemon_config(
            config_path, sim, socket, demo_agent, booth_id, broker, state_dir
        )
    except ConfigError as exc:
        sys.stderr.write(f"lisa booth run: invalid configuration\n{exc}\n")
        return 2
    setup_logging(config.log_level)
    daemon = BoothDaemon(config, options, config_path, sim)
    return asyncio.run(daemon.run())
