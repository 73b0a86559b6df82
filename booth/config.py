"""The booth's configuration: one TOML file, validated by pydantic with clear messages.

``load_config(path)`` raises :class:`ConfigError` whose message names the file, the line (where it
can be found) and the key, e.g. ``booth.toml:12: devices.door.options.travel_time: Input should be
greater than 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from booth.handover.config import HandoverConfig
from booth.media.config import MediaConfig
from booth.signing.config import SigningConfig
from hal.base import DriverOptions
from hal.events import DeviceKind
from hal.registry import (
    CENTRALS,
    DriverNotFound,
    PluginNotFound,
    load_driver_class,
    load_plugin,
    plugin_names,
)
from lisa_common.config import ConfigError as ConfigError
from lisa_common.config import Loc, format_errors, key_lines, problem, read_toml
from lisa_common.config import deep_merge as deep_merge
from lisa_messages import DEFAULT_KEEPALIVE


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
    keepalive: int = Field(DEFAULT_KEEPALIVE, ge=5, le=600, description="MQTT keepalive (s).")
    client_id: str | None = Field(None, description="Default: lisa-booth-<booth id>.")
    retry_initial: float = Field(1.0, gt=0, description="First reconnect delay (s), jittered.")
    retry_max: float = Field(60.0, gt=0, description="Longest reconnect delay (s).")
    require_bridge: bool = Field(
        True,
        description="Count the central side as reachable only while the bridge announces "
        "itself online (lisa/v1/bridge/availability).",
    )


MISSING_CENTRAL = (
    "the config has no [central] table: say how the booth reaches the central side, e.g. "
    '[central] kind = "mqtt" (the cloud bridge, with [mqtt]), "sim" (a simulated central) or '
    '"none" (stand-alone)'
)


class CentralConfig(_Model):
    """How the booth reaches the central side. `kind` names a `lisa.centrals` entry point;
    a table `[central.<kind>]` holds that central's own settings (checked by it)."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(
        description="How the booth reaches the central side: 'mqtt' = the cloud bridge over "
        "MQTT ([mqtt]), 'sim' = a simulated central inside the process ([central.sim], for "
        "testers), 'none' = stand-alone (always offline). Required: a booth without a central "
        "would accept citizens whom nobody answers.",
    )
    opening_hours: str = Field("Mo–Fr 8–16 Uhr", description="Shown when nobody can be reached.")
    phone: str = Field("03984 70-0", description="Phone number shown when nobody can be reached.")

    @model_validator(mode="after")
    def _only_own_table(self) -> CentralConfig:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, dict):
                raise ValueError(f"central.{key} must be a table of settings")
        return self

    def options(self) -> dict[str, Any]:
        """The settings of the configured central (``[central.<kind>]``)."""
        value = (self.model_extra or {}).get(self.kind)
        return dict(value) if isinstance(value, dict) else {}


#: EN 301 549 reach range for controls (mm above the floor)
REACH_LOW_MM = 380.0
REACH_HIGH_MM = 1220.0
#: the touch display must keep at least this much of its height inside the reach range (mm)
MIN_REACHABLE_MM = 120.0


class ScreenConfig(_Model):
    """The booth screens (monitor, touch display, outside view-board), served by the daemon on
    127.0.0.1 to the kiosk browser (docs/portal.md, "Booth screens")."""

    enabled: bool = Field(True, description="Serve the booth screens (`--screen-port 0`: off).")
    port: int = Field(8090, ge=1, le=65535, description="Port on 127.0.0.1 the kiosk opens.")
    monitor_diagonal_in: float = Field(
        43.0, gt=0, description="Diagonal of the citizen's monitor (inches)."
    )
    monitor_resolution: tuple[int, int] = Field(
        (1920, 1080), description="Monitor resolution [width, height] in pixels."
    )
    touch_diagonal_in: float = Field(22.0, gt=0, description="Diagonal of the touch display (in).")
    touch_resolution: tuple[int, int] = Field(
        (1920, 1080), description="Touch display resolution [width, height] in pixels."
    )
    viewing_distance_mm: float = Field(
        700.0,
        gt=0,
        description="Distance of the citizen's eyes from the screens (mm): capitals subtend at "
        "least 0.7° there (EN 301 549).",
    )
    touch_mounting_height_mm: float = Field(
        800.0,
        ge=0,
        description="Height of the touch display's bottom edge above the floor (mm); controls "
        "are kept 380–1,220 mm above the floor.",
    )
    partners: list[str] = Field(
        default_factory=list, description="Names shown on the outside view-board."
    )
    explainer_video: str = Field(
        "",
        description="Explainer / waiting video file shown outside and while waiting; '': none.",
    )

    @model_validator(mode="after")
    def _check(self) -> ScreenConfig:
        for name in ("monitor_resolution", "touch_resolution"):
            width, height = getattr(self, name)
            if width <= 0 or height <= 0:
                raise ValueError(f"{name} must be two positive numbers [width, height]")
        width, height = self.touch_resolution
        height_mm = self.touch_diagonal_in * 25.4 * height / (width**2 + height**2) ** 0.5
        low = max(REACH_LOW_MM, self.touch_mounting_height_mm)
        high = min(REACH_HIGH_MM, self.touch_mounting_height_mm + height_mm)
        if high - low < MIN_REACHABLE_MM:
            raise ValueError(
                f"touch_mounting_height_mm = {self.touch_mounting_height_mm:g}: only "
                f"{max(0.0, high - low):.0f} mm of the touch display lie 380–1,220 mm above the "
                f"floor (at least {MIN_REACHABLE_MM:.0f} mm needed for its controls)"
            )
        return self


class BoothConfig(_Model):
    booth: BoothIdentity
    devices: DevicesConfig
    presence: PresenceConfig = Field(default_factory=PresenceConfig)
    timing: TimingConfig = Field(default_factory=TimingConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    screen: ScreenConfig = Field(default_factory=ScreenConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    signing: SigningConfig | None = Field(
        None, description="Signatures on the pen pad (docs/signature.md); none: no signing."
    )
    handover: HandoverConfig | None = Field(
        None, description="Hand-over of signed documents to the DMS; none: not handed over."
    )
    central: CentralConfig = Field(
        description="The central side ([central] kind = 'mqtt' | 'sim' | 'none'); required."
    )
    mqtt: MqttConfig | None = Field(None, description="MQTT link (central.kind = 'mqtt').")
    state_dir: Path = Field(Path("/var/lib/lisa"), description="Where the booth keeps state.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level (logs are JSON lines on stderr, no personal data)."
    )

    @model_validator(mode="before")
    @classmethod
    def _central_needed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "central" not in data:
            raise ValueError(MISSING_CENTRAL)
        return data

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


def parse_config(
    data: dict[str, Any], source: str = "<config>", text: str = ""
) -> tuple[BoothConfig, dict[str, DriverOptions]]:
    """Validate a config dict and every device's driver options.

    Returns the config and the validated options per device slot.
    """
    lines = key_lines(text)
    missing_central = "central" not in data
    if missing_central:  # reported with every other problem of the file
        data = {**data, "central": {"kind": "none"}}
    try:
        config = BoothConfig.model_validate(data)
    except ValidationError as exc:
        errors = format_errors(exc, lines)
        if missing_central:
            errors.insert(0, f" central: {MISSING_CENTRAL}")
        raise ConfigError(source, errors) from None
    if missing_central:
        raise ConfigError(source, [f" central: {MISSING_CENTRAL}"])
    options: dict[str, DriverOptions] = {}
    problems: list[str] = []
    for slot, dev in config.devices.slots().items():
        kind = DEVICE_SLOTS[slot][0]
        driver = ("devices", slot, "driver")
        try:
            cls = load_driver_class(kind, dev.driver)
        except DriverNotFound as exc:
            problems.append(problem(lines, driver, str(exc)))
            continue
        except ImportError as exc:
            problems.append(problem(lines, driver, f"driver {dev.driver!r} cannot load: {exc}"))
            continue
        try:
            options[slot] = cls.Options.model_validate(dev.options)
        except ValidationError as exc:
            problems.extend(format_errors(exc, lines, ("devices", slot, "options")))
    problems.extend(_check_central(config, lines))
    if problems:
        raise ConfigError(source, problems)
    return config, options


def _check_central(config: BoothConfig, lines: dict[Loc, int]) -> list[str]:
    """The central kind is registered (``lisa.centrals``) and its own settings are valid: a
    factory with an ``Options`` model checks ``[central.<kind>]``; without one, none are taken."""
    kind = config.central.kind
    known = plugin_names(CENTRALS)
    unknown = [k for k in config.central.model_extra or {} if k not in known]
    if unknown:  # a table per central kind may stay when the kind changes; others are typos
        return [
            problem(lines, ("central", k), f"unknown key (central kinds: {', '.join(known)})")
            for k in unknown
        ]
    try:
        factory = load_plugin(CENTRALS, kind, "central kind")
    except PluginNotFound as exc:
        return [problem(lines, ("central", "kind"), str(exc))]
    except ImportError as exc:
        return [problem(lines, ("central", "kind"), f"central {kind!r} cannot load: {exc}")]
    model = getattr(factory, "Options", None)
    settings = config.central.options()
    if model is None:
        if settings:
            return [problem(lines, ("central", kind), f"central {kind!r} takes no settings")]
        return []
    try:
        model.model_validate(settings)
    except ValidationError as exc:
        return format_errors(exc, lines, ("central", kind))
    return []


def load_config(
    path: Path | str, overrides: dict[str, Any] | None = None
) -> tuple[BoothConfig, dict[str, DriverOptions]]:
    """Read, parse and validate a booth config file (plus optional overrides)."""
    text, data = read_toml(path)
    if overrides:
        data = deep_merge(data, overrides)
    return parse_config(data, str(Path(path)), text)
