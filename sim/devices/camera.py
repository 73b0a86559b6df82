"""Simulated camera (main or document camera) delivering a deterministic test pattern."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import CameraControls, CameraRole, DeviceKind, Frame
from hal.health import SelftestResult
from sim.devices._base import SimDevice


class SimCameraOptions(DriverOptions):
    role: CameraRole = Field(CameraRole.MAIN, description="Main (face) or document camera.")
    width: int = Field(320, ge=8, le=4096, description="Frame width in pixels.")
    height: int = Field(240, ge=8, le=4096, description="Frame height in pixels.")
    pixel_format: Literal["gray8"] = Field("gray8", description="Pixel format of the frames.")
    fps: float = Field(30.0, gt=0.0, le=240.0, description="Frames per second grab() paces to.")
    zoom: float = Field(0.0, ge=0.0, le=1.0, description="Initial zoom, 0..1.")
    focus: float = Field(0.5, ge=0.0, le=1.0, description="Initial focus, 0..1.")
    brightness: float = Field(
        0.5, ge=0.0, le=1.0, description="Initial brightness, 0..1 (0.5 = pattern as is)."
    )


class SimCamera(SimDevice):
    """A camera whose frames are a test pattern: a horizontal grey ramp with a bright vertical
    bar that moves with every frame; ``seq`` increases by one per frame. Brightness scales the
    pixel values (0.5 leaves them as they are, 0.0 is black, 1.0 doubles them).

    Test control:

    - ``black()``: frames are all zero (lens covered);
    - ``freeze()``: every frame carries the same data (seq still increases);
    - ``unplug()``: ``grab()`` raises ``DeviceError``, health ``UNAVAILABLE`` "camera unplugged";
    - ``normal()``: undo ``black``/``freeze``/``unplug`` (and any ``fail``);
    - ``fail(reason)`` / ``recover()``.
    """

    kind = DeviceKind.CAMERA
    Options = SimCameraOptions

    def __init__(self, name: str, options: SimCameraOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.role = options.role
        self.width = options.width
        self.height = options.height
        self.pixel_format = options.pixel_format
        self._controls = CameraControls(
            zoom=options.zoom, focus=options.focus, brightness=options.brightness
        )
        self._seq = 0
        self._last_t: float | None = None
        self._black = False
        self._frozen_at: int | None = None

    # -- protocol ------------------------------------------------------------------------------
    async def grab(self) -> Frame:
        """Wait for the next frame (paced to ``fps`` on the clock) and return it."""
        self._check()
        now = self.clock.now()
        if self._last_t is not None:
            await self.clock.sleep(self._last_t + 1.0 / self.options.fps - now)
        self._check()  # unplugged while waiting
        t = self.clock.now()
        self._last_t = t
        self._seq += 1
        if self._black:
            data = bytes(self.width * self.height)
        else:
            pattern = self._frozen_at if self._frozen_at is not None else self._seq
            data = self._pattern(pattern)
        return Frame(self.width, self.height, self.pixel_format, data, t, self._seq)

    async def set_controls(self, controls: CameraControls) -> CameraControls:
        """Apply the controls that are not None (each 0..1, else ``ValueError``)."""
        self._record(
            "set_controls",
            zoom=controls.zoom,
            focus=controls.focus,
            brightness=controls.brightness,
        )
        for label, value in (
            ("zoom", controls.zoom),
            ("focus", controls.focus),
            ("brightness", controls.brightness),
        ):
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{label} must be within 0..1, got {value!r}")
        self._check()
        current = self._controls
        self._controls = CameraControls(
            zoom=current.zoom if controls.zoom is None else float(controls.zoom),
            focus=current.focus if controls.focus is None else float(controls.focus),
            brightness=(
                current.brightness if controls.brightness is None else float(controls.brightness)
            ),
        )
        return self._controls

    def controls(self) -> CameraControls:
        return self._controls

    async def selftest(self) -> SelftestResult:
        """Grab three frames; FAIL if none arrives, they are black or all identical."""
        failed = self._failed_result()
        if failed is not None:
            return failed
        frames: list[Frame] = []
        try:
            for _ in range(3):
                frames.append(await self.grab())
        except DeviceError as exc:
            return self._result(False, f"no frame: {exc}", {"frames": len(frames)})
        details = {"frames": len(frames), "width": self.width, "height": self.height}
        expected = self.width * self.height
        if any(len(f.data) != expected for f in frames):
            return self._result(False, "frame size mismatch", details)
        if all(not f.data.strip(b"\x00") for f in frames):
            return self._result(False, "image is black", details)
        if all(f.data == frames[0].data for f in frames[1:]):
            return self._result(False, "image is frozen", details)
        return self._result(True, f"{len(frames)} frames {self.width}x{self.height}", details)

    # -- test control --------------------------------------------------------------------------
    def black(self) -> None:
        """Test control: the image goes black (all pixels zero)."""
        self._black = True

    def freeze(self) -> None:
        """Test control: the image freezes (same data in every frame from now on)."""
        if self._frozen_at is None:
            self._frozen_at = self._seq + 1

    def unplug(self) -> None:
        """Test control: the camera is unplugged; ``grab()`` raises ``DeviceError``."""
        self.fail("camera unplugged")

    def normal(self) -> None:
        """Test control: back to a working camera (undoes black, freeze, unplug and fail)."""
        self._black = False
        self._frozen_at = None
        if self.failed:
            self.recover()

    # -- pattern -------------------------------------------------------------------------------
    def _pattern(self, index: int) -> bytes:
        w = self.width
        row = bytearray(32 + (x * 160) // w for x in range(w))
        bar_width = max(2, w // 8)
        start = (index * max(1, w // 32)) % w
        for i in range(bar_width):
            row[(start + i) % w] = 240
        factor = 2.0 * (self._controls.brightness if self._controls.brightness is not None else 0.5)
        table = bytes(min(255, round(v * factor)) for v in range(256))
        return bytes(row).translate(table) * self.height
