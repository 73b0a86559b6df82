"""A booth on simulated hardware: the real controller, simulated drivers, a simulated central side,
and the catalogue of simulator inputs (``person.enter``, ``door.obstruct``, …) shared by the
scenario runner, the control socket and the console.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from booth.config import BoothConfig, deep_merge, parse_config
from booth.controller import BoothController
from booth.devices import build_devices, force_sim
from booth.safety import Origin
from booth.trace import Trace
from hal.clock import Clock
from hal.registry import CENTRALS, load_plugin
from sim.central import SimCentral


@dataclass(frozen=True)
class InputSpec:
    name: str
    help: str
    args: dict[str, type]  # required arguments and their types
    optional: dict[str, type]


INPUTS: dict[str, InputSpec] = {
    spec.name: spec
    for spec in [
        InputSpec(
            "person.enter",
            "a citizen walks in (refused while entry is locked)",
            {},
            {"distance": float},
        ),
        InputSpec("person.leave", "the citizen opens the door and leaves", {}, {}),
        InputSpec(
            "person.still", "the citizen sits still out of the sonar's view (no echo)", {}, {}
        ),
        InputSpec(
            "presence.distance",
            "the sonar reads this distance from now on",
            {"distance": float},
            {},
        ),
        InputSpec(
            "presence.spurious", "a few spurious sonar echoes", {"distance": float}, {"count": int}
        ),
        InputSpec("presence.garbage", "the sonar returns nonsense", {}, {"count": int}),
        InputSpec("door.obstruct", "something blocks the door", {}, {}),
        InputSpec("door.clear", "the door is clear again", {}, {}),
        InputSpec("door.jam", "the door motor jams (never reaches its target)", {}, {}),
        InputSpec("emergency.on", "fire alarm / emergency input through the PLC", {}, {}),
        InputSpec("emergency.off", "the emergency input clears", {}, {}),
        InputSpec("nfc.tap", "a card is held to the reader", {"uid": str}, {}),
        InputSpec("link.down", "the network to the central side fails", {}, {}),
        InputSpec("link.up", "the network is back (the next reconnect succeeds)", {}, {}),
        InputSpec("device.fail", "a device fails", {"device": str}, {"reason": str}),
        InputSpec("device.recover", "a failed device recovers", {"device": str}, {}),
        InputSpec(
            "camera.black",
            "a camera delivers black images (its self-test fails, its health stays ok)",
            {"device": str},
            {},
        ),
        InputSpec("camera.normal", "the camera delivers normal images again", {"device": str}, {}),
        InputSpec(
            "agent.answer",
            "an agent answers (front desk, or the transfer target)",
            {},
            {"queue": str},
        ),
        InputSpec("agent.transfer", "the agent transfers the call", {"queue": str}, {}),
        InputSpec("agent.hangup", "the agent ends the call", {}, {}),
        InputSpec("agent.signature", "the agent asks the citizen to sign on the pad", {}, {}),
        InputSpec("agent.signature_done", "the signature is complete", {}, {}),
        InputSpec(
            "pen.sign",
            "the citizen signs on the pen pad (three strokes, about 1.5 s at 500 Hz)",
            {},
            {},
        ),
        InputSpec("agent.unavailable", "nobody can take the call (closed)", {}, {}),
        InputSpec("maintenance.enter", "technician command: maintenance mode", {}, {}),
        InputSpec("maintenance.exit", "technician command: leave maintenance", {}, {}),
    ]
}


class InputError(ValueError):
    pass


def check_input(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Validate an input and its arguments; returns the arguments converted to their types."""
    spec = INPUTS.get(name)
    if spec is None:
        raise InputError(f"unknown input {name!r} (known: {', '.join(INPUTS)})")
    out: dict[str, Any] = {}
    for key in spec.args:
        if key not in args:
            raise InputError(f"input {name!r} needs argument {key!r}")
    allowed = {**spec.args, **spec.optional}
    for key, value in args.items():
        if key not in allowed:
            raise InputError(
                f"input {name!r} has no argument {key!r}"
                + (f" (it takes: {', '.join(allowed)})" if allowed else " (it takes none)")
            )
        typ = allowed[key]
        try:
            if typ is float and isinstance(value, bool):
                raise ValueError
            out[key] = typ(value)
        except (TypeError, ValueError):
            raise InputError(
                f"input {name!r}: argument {key!r} must be {typ.__name__}, got {value!r}"
            ) from None
    return out


def example_config_data() -> dict[str, Any]:
    """The shipped example config of a simulated booth."""
    text = resources.files("booth").joinpath("examples/booth-sim.toml").read_text("utf-8")
    return tomllib.loads(text)


class SimBooth:
    """The real controller on simulated hardware, with the input catalogue wired up."""

    def __init__(
        self,
        config: BoothConfig,
        options: dict[str, Any],
        clock: Clock,
        central: Any = None,
        trace: Trace | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.trace = trace or Trace(clock.now)
        self.devices = build_devices(config, options, clock)
        self.central: Any
        if central is not None:
            self.central = central
        else:
            factory = load_plugin(CENTRALS, config.central.kind, "central kind")
            self.central = factory(config, clock, self.trace)
        self.controller = BoothController(config, self.devices, self.central, clock, self.trace)
        self._pen_tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._main: asyncio.Task[None] | None = None

    @classmethod
    def from_data(
        cls, data: dict[str, Any], clock: Clock, source: str = "<config>", text: str = ""
    ) -> SimBooth:
        config, options = parse_config(force_sim(data), source, text)
        return cls(config, options, clock)

    @classmethod
    def from_example(cls, clock: Clock, overrides: dict[str, Any] | None = None) -> SimBooth:
        data = example_config_data()
        if overrides:
            data = deep_merge(data, overrides)
        return cls.from_data(data, clock, "booth-sim.toml (with overrides)")

    @classmethod
    def from_file(cls, path: Path, clock: Clock) -> SimBooth:
        text = path.read_text("utf-8")
        return cls.from_data(tomllib.loads(text), clock, str(path), text)

    async def start(self) -> None:
        """Start the controller and its main loop, as the daemon runs it (PLC heartbeat, health
        check): without it the PLC's dead-man would trip."""
        await self.controller.start()
        self._stop = asyncio.Event()
        self._main = asyncio.create_task(
            self.controller.run_main_loop(self._stop), name="sim-booth-main"
        )

    async def stop(self) -> None:
        if self._main is not None:
            self._stop.set()
            await self._main
            self._main = None
        await self.controller.stop()

    async def wait_state(self, state: str, within: float = 60.0) -> None:
        """Wait until the booth is in top-level ``state`` (or ``detail`` state), at most
        ``within`` seconds of the booth's clock; raises ``TimeoutError`` otherwise."""

        def matches(current: str) -> bool:
            return current == state or current.split(".", 1)[0] == state

        if matches(self.controller.state):
            await self.controller.settled()
            return
        reached = asyncio.Event()

        def listener(current: str) -> None:
            if matches(current):
                reached.set()

        self.controller.state_listeners.append(listener)
        try:
            async with asyncio.timeout(within):
                await reached.wait()
                await self.controller.settled()
        finally:
            self.controller.state_listeners.remove(listener)

    def dev(self, slot: str) -> Any:
        try:
            return self.devices[slot]
        except KeyError:
            raise InputError(
                f"no device {slot!r} in this booth (devices: {', '.join(self.devices)})"
            ) from None

    def inject(self, name: str, args: dict[str, Any] | None = None) -> str:
        """Apply a simulator input; returns a short description of what happened."""
        a = check_input(name, args or {})
        shown = {k: ("<redacted>" if k == "uid" else v) for k, v in a.items()}
        self.trace.record("input", device="sim", input=name, args=shown)
        if name == "person.enter":
            door = self.dev("door")
            if not door.entry_request():
                self.trace.record("info", event="entry refused", reason="entry locked")
                return "entry refused: the door is locked against entry"
            self.dev("presence").person_at(a.get("distance", 0.7))
            return "citizen entered"
        if name == "person.leave":
            self.dev("door").egress_request()
            empty = self.dev("presence").options.empty_room_distance
            self.dev("presence").person_at(empty)
            return "citizen left"
        if name == "person.still":
            self.dev("presence").no_echo()
            return "sonar sees no echo"
        if name == "pen.sign":
            pad = self.dev("signature")
            if not pad.enabled():
                return "the pad is off (nothing to sign)"
            task = asyncio.get_running_loop().create_task(_sign_strokes(pad))
            self._pen_tasks.add(task)
            task.add_done_callback(self._pen_tasks.discard)
            return "signing on the pad"
        if name == "presence.distance":
            self.dev("presence").person_at(a["distance"])
        elif name == "presence.spurious":
            self.dev("presence").spurious(a["distance"], a.get("count", 1))
        elif name == "presence.garbage":
            self.dev("presence").garbage(a.get("count", 1))
        elif name == "door.obstruct":
            self.dev("door").obstruct()
        elif name == "door.clear":
            self.dev("door").clear()
        elif name == "door.jam":
            self.dev("door").jam()
        elif name == "emergency.on":
            self.dev("plc").trip_fire_alarm()
        elif name == "emergency.off":
            self.dev("plc").clear_fire_alarm()
        elif name == "nfc.tap":
            nfc = self.dev("nfc")
            nfc.present(a["uid"])
            self.clock.call_later(0.5, nfc.remove)
        elif name == "link.down":
            self._central().network_down()
        elif name == "link.up":
            self._central().network_up()
        elif name == "device.fail":
            self.dev(a["device"]).fail(a.get("reason", "simulated failure"))
        elif name == "device.recover":
            self.dev(a["device"]).recover()
        elif name in ("camera.black", "camera.normal"):
            cam = self.dev(a["device"])
            if not hasattr(cam, "black"):
                raise InputError(f"device {a['device']!r} is not a camera")
            cam.black() if name == "camera.black" else cam.normal()
        elif name == "agent.answer":
            return "answered" if self._central().answer(a.get("queue")) else "no call to answer"
        elif name == "agent.transfer":
            ok = self._central().transfer(a["queue"])
            return "transferring" if ok else "no connected call"
        elif name == "agent.signature":
            ok = self._central().request_signature()
            return "signature requested" if ok else "no connected call"
        elif name == "agent.signature_done":
            return "signature done" if self._central().signature_done() else "no connected call"
        elif name == "agent.hangup":
            return "hung up" if self._central().hangup() else "no call"
        elif name == "agent.unavailable":
            return "told unavailable" if self._central().unavailable() else "no call"
        elif name == "maintenance.enter":
            refusal = self.controller.request_maintenance(True, Origin.DIAG, by="diag")
            return refusal or "ok"
        elif name == "maintenance.exit":
            refusal = self.controller.request_maintenance(False, Origin.DIAG, by="diag")
            return refusal or "ok"
        return "ok"

    def _central(self) -> SimCentral:
        if not isinstance(self.central, SimCentral):
            raise InputError("this booth has no simulated central side (central.kind)")
        return self.central


async def _sign_strokes(pad: Any) -> None:
    """A signature-like ink: a loop, a wave and an underline (pad units, 10000 × 6000)."""
    w, h = pad.width, pad.height
    loop = [(0.10, 0.60), (0.18, 0.25), (0.26, 0.62), (0.20, 0.70), (0.14, 0.55), (0.30, 0.40)]
    wave = [(0.35, 0.55), (0.42, 0.35), (0.50, 0.60), (0.58, 0.32), (0.66, 0.58), (0.74, 0.36)]
    line = [(0.12, 0.80), (0.80, 0.78)]
    for points, duration in ((loop, 0.6), (wave, 0.6), (line, 0.3)):
        await pad.draw_stroke([(x * w, y * h) for x, y in points], duration, pressure=620)
        await asyncio.sleep(0.08)  # the pen lifted between strokes
