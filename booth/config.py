"""The booth's configuration: one TOML file, validated by pydantic with clear messages.

``load_config(path)`` raises :class:`ConfigError` whose message names the file, the line (where it
can be found) and the key, e.g. ``booth.toml:12: devices.door.options.travel_time: Input should be
greater than 0``.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from hal.base import DriverOptions
from hal.events import DeviceKind
from hal.registry import DriverNotFound, load_driver_class


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoothIdentity(_Model):
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Booth id, used in MQTT topics: lower-case letters, digits and '-'.",
    )
    name: str = Field("", description="Human readable name, e.g. 'Gartz – Sparkasse'.")
    site: str = Field("", description="Site (location) the booth belongs to.")


class DeviceConfig(_Model):
    driver: str = Field(description="Driver name (see `lisa diag drivers`); 'sim' = simulated.")
    critical: bool | None = Field(
        None,
        description="Whether the booth goes out of service when this device is unavailable. "
        "Default: door, plc, presence, main camera and audio are critical.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Driver options (validated by the driver)."
    )


# device slot name -> (device class, critical by default)
DEVICE_SLOTS: dict[str, tuple[DeviceKind, bool]] = {
    "presence": (DeviceKind.PRESENCE, True),
    "door": (DeviceKind.DOOR, True),
    "plc": (DeviceKind.PLC, True),
    "light": (DeviceKind.LIGHT, False),
    "camera_main": (DeviceKind.CAMERA, True),
    "camera_document": (DeviceKind.CAMERA, False),
    "audio": (DeviceKind.AUDIO, True),
    "nfc": (DeviceKind.NFC, False),
    "signature": (DeviceKind.SIGNATURE, False),
}


class DevicesConfig(_Model):
    presence: DeviceConfig = Field(description="Sonar presence sensor.")
    door: DeviceConfig = Field(description="Door operator.")
    plc: DeviceConfig = Field(description="PLC (emergency / fire input, heartbeat, I/O).")
    light: DeviceConfig | None = Field(None, description="Light channel and outside sign.")
    camera_main: DeviceConfig | None = Field(None, description="Main camera.")
    camera_document: DeviceConfig | None = Field(None, description="Document camera.")
    audio: DeviceConfig | None = Field(None, description="Microphone, speaker, induction loop.")
    nfc: DeviceConfig | None = Field(None, description="NFC/RFID reader.")
    signature: DeviceConfig | None = Field(None, description="Signature pad.")

    def slots(self) -> dict[str, DeviceConfig]:
        """Configured devices by slot name (absent optional devices left out)."""
        return {slot: dev for slot in DEVICE_SLOTS if (dev := getattr(self, slot)) is not None}


class PresenceConfig(_Model):
    """Presence pipeline: sonar distance → median → hysteresis → delayed on / off."""

    median_window: int = Field(5, ge=1, le=51, description="Samples in the median window (odd).")
    on_distance: float = Field(
        1.2, gt=0, description="A person is seen when the median is at or below this (m)."
    )
    off_distance: float = Field(
        1.6, gt=0, description="A person is gone when the median is at or above this (m)."
    )
    delay_on: float = Field(1.5, ge=0, description="Seen this long (s) before presence is on.")
    delay_off: float = Field(8.0, ge=0, description="Gone this long (s) before presence is off.")
    door_confirms_absence: bool = Field(
        True,
        description="Only accept 'gone' if the door was open during the gone period "
        "(a citizen sitting still is never taken for gone).",
    )
    door_grace: float = Field(
        0.0,
        ge=0,
        description="How long before 'gone' began a door opening still counts (s). 0: the door "
        "must be open at some moment after the sonar lost the citizen.",
    )

    @model_validator(mode="after")
    def _check(self) -> PresenceConfig:
        if self.median_window % 2 == 0:
            raise ValueError("median_window must be odd")
        if self.off_distance <= self.on_distance:
            raise ValueError(
                f"off_distance ({self.off_distance}) must be greater than on_distance "
                f"({self.on_distance}) for hysteresis"
            )
        return self


class TimingConfig(_Model):
    selftest_timeout: float = Field(10.0, gt=0, description="Per-device self-test timeout (s).")
    privacy_reset: float = Field(3.0, ge=0, description="Time the privacy reset takes (s).")
    reclose_delay: float = Field(
        3.0, ge=0, description="Wait after an obstruction clears before closing again (s)."
    )
    actuator_timeout: float = Field(
        2.0,
        gt=0,
        description="A device that does not answer a request within this (s) is "
        "reported; the controller goes on.",
    )
    link_grace: float = Field(
        20.0,
        ge=0,
        description="A visit survives a loss of the link to the bridge this long (s): a bridge "
        "restart or a short network hiccup does not end the citizen's call (the video runs peer "
        "to peer). 0 = say goodbye at once.",
    )
    fault_recheck: float = Field(
        60.0,
        gt=0,
        description="Out of service because of a failed self-test only: re-test this often (s).",
    )
    tick: float = Field(
        1.0, gt=0, le=10, description="Main loop tick: PLC heartbeat, health check, watchdog (s)."
    )


class MaintenanceConfig(_Model):
    badge_hashes: list[str] = Field(
        default_factory=list,
        description="Salted hashes (lisa diag hash-uid) of technician badges allowed to switch "
        "the booth into maintenance.",
    )
    uid_salt: SecretStr = Field(
        SecretStr("change-me"),
        description="Secret salt for NFC UID hashes. Keep it secret; rotate by re-hashing badges.",
    )


class ControlConfig(_Model):
    socket: Path = Field(
        Path("/run/lisa/booth.sock"), description="Local control socket for lisa diag/console."
    )
    group: str | None = Field(
        None, description="Group that owns the socket (mode 0660); None: the daemon's group."
    )
    allow_inject: bool = Field(
        False,
        description="Allow simulator inputs (person.enter, …) over the socket. Only for "
        "simulated booths; forced on with --sim.",
    )


class SimCentralConfig(_Model):
    answer_after: float | None = Field(
        None, ge=0, description="Simulated agent answers this many seconds after the request."
    )
    hangup_after: float | None = Field(
        None, ge=0, description="Simulated agent hangs up this long after answering (s)."
    )
    queue_after: float = Field(
        0.0, ge=0, description="Delay before the simulated central reports the queue position (s)."
    )
    queue_position: int = Field(1, ge=1, description="Position reported while waiting.")
    estimated_wait: float = Field(60.0, ge=0, description="Estimated wait reported (s).")
    retry_initial: float = Field(1.0, gt=0, description="First reconnect delay (s).")
    retry_max: float = Field(30.0, gt=0, description="Longest reconnect delay (s).")
    seed: int = Field(1, description="Seed of the reconnect jitter.")


class MqttConfig(_Model):
    """The MQTT link to the cloud bridge (used when central.kind = "mqtt")."""

    url: str = Field(
        description="Broker URL: mqtts://host:8883 (TLS) or mqtt://host:1883 (loopback/tests).",
        pattern=r"^mqtts?://[^/:]+(:\d+)?/?$",
    )
    username: str | None = Field(
        None, description="Broker user (the booth id); env LISA_MQTT_USERNAME overrides."
    )
    password: SecretStr | None = Field(
        None, description="Broker password; env LISA_MQTT_PASSWORD overrides."
    )
    ca_file: Path | None = Field(None, description="CA certificate(s) to verify the broker.")
    cert_file: Path | None = Field(None, description="Client certificate (optional).")
    key_file: Path | None = Field(None, description="Client key (optional).")
    keepalive: int = Field(15, ge=5, le=600, description="MQTT keepalive (s).")
    client_id: str | None = Field(None, description="Default: lisa-booth-<booth id>.")
    retry_initial: float = Field(1.0, gt=0, description="First reconnect delay (s), jittered.")
    retry_max: float = Field(60.0, gt=0, description="Longest reconnect delay (s).")
    require_bridge: bool = Field(
        True,
        description="Count the central side as reachable only while the bridge announces "
        "itself online (lisa/v1/bridge/availability).",
    )


class CentralConfig(_Model):
    kind: Literal["sim", "mqtt", "none"] = Field(
        "sim",
        description="How the booth reaches the central side: 'mqtt' = the cloud bridge over "
        "MQTT ([mqtt]), 'sim' = a simulated central inside the process, 'none' = stand-alone "
        "(always offline).",
    )
    sim: SimCentralConfig = Field(default_factory=SimCentralConfig)
    opening_hours: str = Field("Mo–Fr 8–16 Uhr", description="Shown when nobody can be reached.")
    phone: str = Field("03984 70-0", description="Phone number shown when nobody can be reached.")


class BoothConfig(_Model):
    booth: BoothIdentity
    devices: DevicesConfig
    presence: PresenceConfig = Field(default_factory=PresenceConfig)
    timing: TimingConfig = Field(default_factory=TimingConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    central: CentralConfig = Field(default_factory=CentralConfig)
    mqtt: MqttConfig | None = Field(None, description="MQTT link (central.kind = 'mqtt').")
    state_dir: Path = Field(Path("/var/lib/lisa"), description="Where the booth keeps state.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level (logs are JSON lines on stderr, no personal data)."
    )

    @model_validator(mode="after")
    def _mqtt_needed(self) -> BoothConfig:
        if self.central.kind == "mqtt" and self.mqtt is None:
            raise ValueError("central.kind is 'mqtt' but there is no [mqtt] table")
        return self

    def critical(self, slot: str) -> bool:
        dev = getattr(self.devices, slot)
        if dev is None:
            return False
        if dev.critical is not None:
            return bool(dev.critical)
        return DEVICE_SLOTS[slot][1]


class ConfigError(Exception):
    """A configuration problem; ``problems`` lists each as 'where: what'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}:{p}" for p in problems))


def _locate(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort line number (1-based) of a key path in TOML text."""
    if not text:
        return None
    lines = text.splitlines()
    keys = [str(k) for k in loc if isinstance(k, str)]
    best: int | None = None
    # find the deepest table header that is a prefix of the key path, then the key inside it
    for depth in range(len(keys), 0, -1):
        header = ".".join(keys[:depth])
        pat = re.compile(r"^\s*\[\[?\s*" + re.escape(header) + r"\s*\]\]?\s*$")
        for i, line in enumerate(lines):
            if pat.match(line):
                best = i + 1
                rest = keys[depth:]
                if rest:
                    key_pat = re.compile(r"^\s*" + re.escape(rest[0]) + r"\s*=")
                    for j in range(i + 1, len(lines)):
                        if lines[j].lstrip().startswith("["):
                            break
                        if key_pat.match(lines[j]):
                            return j + 1
                return best
    if keys:
        key_pat = re.compile(r"^\s*" + re.escape(keys[-1]) + r"\s*=")
        for i, line in enumerate(lines):
            if key_pat.match(line):
                return i + 1
    return best


def _format_errors(
    exc: ValidationError, text: str, prefix: tuple[str | int, ...] = ()
) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _locate(text, loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif (
            "input" in err
            and err["type"] not in ("missing",)
            and not isinstance(err["input"], dict)
        ):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(f"{line or ''}: {where}: {msg}" if line else f" {where}: {msg}")
    return problems


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in (tables merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_config(
    data: dict[str, Any], source: str = "<config>", text: str = ""
) -> tuple[BoothConfig, dict[str, DriverOptions]]:
    """Validate a config dict and every device's driver options.

    Returns the config and the validated options per device slot.
    """
    try:
        config = BoothConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _format_errors(exc, text)) from None
    options: dict[str, DriverOptions] = {}
    problems: list[str] = []
    for slot, dev in config.devices.slots().items():
        kind = DEVICE_SLOTS[slot][0]
        try:
            cls = load_driver_class(kind, dev.driver)
        except DriverNotFound as exc:
            line = _locate(text, ("devices", slot, "driver"))
            problems.append(f"{line or ''}: devices.{slot}.driver: {exc}")
            continue
        except ImportError as exc:
            problems.append(f" devices.{slot}.driver: driver {dev.driver!r} cannot load: {exc}")
            continue
        try:
            options[slot] = cls.Options.model_validate(dev.options)
        except ValidationError as exc:
            problems.extend(_format_errors(exc, text, ("devices", slot, "options")))
    if problems:
        raise ConfigError(source, problems)
    return config, options


def load_config(
    path: Path | str, overrides: dict[str, Any] | None = None
) -> tuple[BoothConfig, dict[str, DriverOptions]]:
    """Read, parse and validate a booth config file (plus optional overrides)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [f" cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{m.group(1)}:{m.group(2)}" if m else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(str(p), [f"{where}: invalid TOML: {reason}"]) from None
    if overrides:
        data = deep_merge(data, overrides)
    return parse_config(data, str(p), text)
