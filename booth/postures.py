"""Per-state actuator postures: what each top-level booth state asks of sign, light, door, entry
lock and induction loop (the controller applies them on state entry, door first)."""

from __future__ import annotations

from dataclasses import dataclass

from hal.events import DoorPosition, LightScene, SignState


@dataclass(frozen=True)
class Posture:
    """What a state asks of the actuators (None: leave as it is)."""

    sign: SignState
    scene: LightScene
    brightness: float
    door: DoorPosition | None
    lock: bool | None  # True: no entry from outside (egress is never blocked)
    loop: bool | None  # induction loop for hearing aids


_OOS, _CLOSED, _OPEN = SignState.OUT_OF_SERVICE, DoorPosition.CLOSED, DoorPosition.OPEN
POSTURES: dict[str, Posture] = {
    "selftest": Posture(_OOS, LightScene.STANDBY, 0.3, _CLOSED, True, False),
    "idle": Posture(SignState.FREE, LightScene.STANDBY, 0.3, _CLOSED, False, False),
    "occupied": Posture(SignState.OCCUPIED, LightScene.CONSULTATION, 1.0, _CLOSED, True, True),
    "farewell": Posture(SignState.OCCUPIED, LightScene.CONSULTATION, 1.0, _OPEN, True, None),
    "privacy_reset": Posture(SignState.OCCUPIED, LightScene.STANDBY, 0.3, _CLOSED, True, False),
    "offline": Posture(_OOS, LightScene.STANDBY, 0.3, _CLOSED, True, False),
    "fault": Posture(_OOS, LightScene.STANDBY, 0.5, _OPEN, False, False),
    "maintenance": Posture(_OOS, LightScene.MAINTENANCE, 1.0, None, True, False),
    "emergency": Posture(_OOS, LightScene.EMERGENCY, 1.0, _OPEN, False, False),
}
