"""``lisa booth run``: the long-running booth process.

Builds the devices from the config (drivers loaded lazily by name), the central link, the
controller and the local control socket; then runs the main loop: every ``timing.tick`` seconds
the PLC heartbeat and a health check, and only when that check passes the systemd watchdog ping.
SIGTERM/SIGINT stop it cleanly (the outside sign goes to out-of-service; egress is never blocked).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

from booth.central import BoothBinding, CentralLink, MediaLink
from booth.commands import CommandExecutor
from booth.config import BoothConfig, ConfigError, deep_merge, parse_config
from booth.controller import BoothController
from booth.devices import build_devices, force_sim
from booth.logsetup import setup_logging
from booth.screen_server import ScreenServer
from booth.sdnotify import SystemdNotifier, watchdog_interval
from booth.trace import Trace
from hal.base import DriverOptions
from hal.clock import LoopClock
from hal.events import SignState
from hal.registry import CENTRALS, SIMULATORS, load_plugin
from lisa_messages import MediaControl

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
    screen_port: int | None = None,
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
        # the simulator brings a simulated central when the config names none
        data.setdefault("central", {"kind": "sim"})
        overrides["control"] = {"allow_inject": True}
    if socket is not None:
        overrides.setdefault("control", {})["socket"] = str(socket)
    if booth_id is not None:
        overrides["booth"] = {"id": booth_id}
    if state_dir is not None:
        overrides["state_dir"] = str(state_dir)
    if screen_port is not None:
        # the demo gives each booth its own port; 0: no screen server
        overrides["screen"] = (
            {"enabled": False} if screen_port == 0 else {"enabled": True, "port": screen_port}
        )
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
    central = data.get("central")
    kind = overrides.get("central", {}).get("kind") or (
        central.get("kind") if isinstance(central, dict) else None
    )
    if demo_agent is not None and kind == "sim":
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
        self.media: Any = None
        self.signing: Any = None
        self.handover: Any = None

    def _build(self, clock: LoopClock) -> BoothController:
        trace = Trace(clock.now)
        # the central link by name (central.kind, a lisa.centrals entry point)
        factory = load_plugin(CENTRALS, self.config.central.kind, "central kind")
        central: CentralLink = factory(self.config, clock, trace)
        controller: BoothController
        if self.sim:
            # the simulator wires simulated devices and knows the inputs (lisa.simulators)
            sim_booth = load_plugin(SIMULATORS, "booth", "simulator")
            booth = sim_booth(self.config, self.options, clock, central=central, trace=trace)
            self.inject = booth.inject
            controller = booth.controller
        else:
            devices = build_devices(self.config, self.options, clock)
            controller = BoothController(self.config, devices, central, clock, trace)
        central.bind(
            BoothBinding(CommandExecutor(controller), controller.status, controller.settled)
        )
        self.media = self._media(controller, central)
        return controller

    def _media(self, controller: BoothController, central: CentralLink) -> Any:
        """The WebRTC endpoint (booth/media), bound to a central link that carries signalling;
        all media stops the moment the booth leaves the call (end, emergency, privacy reset)."""
        if not self.config.media.enabled or not isinstance(central, MediaLink):
            return None
        from booth.media.endpoint import MediaEndpoint

        endpoint = MediaEndpoint(self.config.media, controller.devices, central.send_media)

        def on_control(msg: MediaControl) -> None:
            session = controller.session
            in_call = str(controller.state).startswith("in_call")
            if msg.type != "stop" and (session is None or session.id != msg.session or not in_call):
                log.info("media message outside the call ignored", extra={"type": msg.type})
                return
            endpoint.spawn(endpoint.handle(msg))

        def on_state(state: str) -> None:
            if not state.startswith("in_call") and endpoint.session is not None:
                endpoint.spawn(endpoint.stop_all(f"left the call ({state})"))

        central.bind_media(on_control)
        controller.state_listeners.append(on_state)
        self.signing = self._signing(controller, endpoint)
        return endpoint

    def _signing(self, controller: BoothController, endpoint: Any) -> Any:
        """Signatures in the call (booth/signing/coordinator.py): the pad, the seal, the
        hand-over outbox to the DMS (its delivery loop runs with the daemon)."""
        cfg = self.config.signing
        pad = controller.devices.get("signature")
        if cfg is None or pad is None:
            return None
        from booth.signing.coordinator import SigningCoordinator
        from booth.signing.flow import SigningFlow

        handover = None
        if self.config.handover is not None:
            from booth.handover.exporters import build_exporter
            from booth.handover.outbox import HandoverOutbox
            from booth.handover.service import HandoverService

            hcfg = self.config.handover
            handover = HandoverService(
                HandoverOutbox(hcfg.outbox_path(self.config.state_dir)),
                build_exporter(hcfg.exporter),
                controller.clock,
                hcfg.retry,
            )
            self.handover = handover
        flow = SigningFlow(cfg, self.config.state_dir, pad, handover)
        return SigningCoordinator(flow, controller, endpoint)

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
        screens = await self._start_screens(controller)
        handover_task = (
            asyncio.create_task(self.handover.run(), name="handover")
            if self.handover is not None
            else None
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
            if handover_task is not None:
                handover_task.cancel()
            if self.media is not None:
                await self.media.close()
            if screens is not None:
                await screens.stop()
            await controller.stop()
        return 0

    async def _start_screens(self, controller: BoothController) -> ScreenServer | None:
        """The kiosk's pages on 127.0.0.1 (config [screen]); the booth runs on without them."""
        if not self.config.screen.enabled:
            return None
        screens = ScreenServer(controller, self.config, media=self.media, signing=self.signing)
        try:
            await screens.start()
        except OSError as exc:
            log.error(
                "booth screens unavailable",
                extra={"port": self.config.screen.port, "error": str(exc)},
            )
            return None
        return screens


def run_daemon(
    config_path: Path,
    sim: bool = False,
    socket: Path | None = None,
    demo_agent: float | None = None,
    booth_id: str | None = None,
    broker: str | None = None,
    state_dir: Path | None = None,
    screen_port: int | None = None,
) -> int:
    try:
        config, options = load_daemon_config(
            config_path, sim, socket, demo_agent, booth_id, broker, state_dir, screen_port
        )
    except ConfigError as exc:
        sys.stderr.write(f"lisa booth run: invalid configuration\n{exc}\n")
        return 2
    setup_logging(config.log_level)
    daemon = BoothDaemon(config, options, config_path, sim)
    return asyncio.run(daemon.run())
