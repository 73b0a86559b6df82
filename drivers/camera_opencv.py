"""Camera through OpenCV (``cv2.VideoCapture``): V4L2 devices by path, index or name, or any
file or URL OpenCV opens (FFmpeg backend).

``device`` may be

- a device node (``/dev/video2``, or a udev symlink such as ``/dev/lisa-camera-main``),
- an index (``"2"`` → ``/dev/video2``),
- a camera name as the kernel reports it in ``/sys/class/video4linux/*/name`` (exact match
  first, then a case-insensitive substring; only capture nodes, ``index`` 0, are considered),
- a URL (``rtsp://…``) or a video file (anything else that contains a ``/``).

OpenCV blocks while it waits for a frame, so every capture call runs in a worker thread, one at
a time. Controls (zoom, focus, brightness) are normalised to 0..1 over the device's own range,
which the driver asks the V4L2 device for (``VIDIOC_QUERYCTRL``) or takes from the
``control_ranges`` option; a control the device lacks is ``None`` in :class:`CameraControls`.

It stays one module (slightly over 500 lines): it is one driver, and the source resolution and
V4L2 control-range queries above its class exist only for it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import math
import os
import re
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from hal.base import DeviceBase, DriverContext, DriverOptions
from hal.devices import DeviceError
from hal.events import CameraControls, CameraRole, DeviceKind, Frame
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

log = logging.getLogger("lisa.drivers.camera")

MISSING_LIBRARY_HINT = (
    "OpenCV is not installed: pip install 'lisa[hardware]' (package opencv-python-headless)"
)
SYSFS_V4L = Path("/sys/class/video4linux")

ControlName = Literal["zoom", "focus", "brightness"]
CONTROL_NAMES: tuple[ControlName, ...] = ("zoom", "focus", "brightness")

#: OpenCV property ids (``cv2.CAP_PROP_*``; stable numbers of the videoio API).
CAP_PROP: dict[ControlName, int] = {"zoom": 27, "focus": 28, "brightness": 10}
CAP_PROP_AUTOFOCUS = 39
#: V4L2 control ids (linux/v4l2-controls.h).
V4L2_CID: dict[ControlName, int] = {
    "zoom": 0x009A090D,  # V4L2_CID_ZOOM_ABSOLUTE
    "focus": 0x009A090A,  # V4L2_CID_FOCUS_ABSOLUTE
    "brightness": 0x00980900,  # V4L2_CID_BRIGHTNESS
}
#: ``_IOWR('V', 36, struct v4l2_queryctrl)``; the struct is 68 bytes.
VIDIOC_QUERYCTRL = 0xC0445624
_QUERYCTRL = struct.Struct("=II32siiiiI8x")
V4L2_CTRL_FLAG_DISABLED = 0x0001


class OpenCvCameraOptions(DriverOptions):
    device: str = Field(
        "/dev/video0",
        description="Device node, index, camera name (sysfs), video file or URL.",
    )
    role: CameraRole = Field(CameraRole.MAIN, description="Main (face) or document camera.")
    width: int | None = Field(
        None, ge=8, le=8192, description="Requested frame width (None: the device's default)."
    )
    height: int | None = Field(
        None, ge=8, le=8192, description="Requested frame height (None: the device's default)."
    )
    fps: float | None = Field(
        None, gt=0.0, le=240.0, description="Requested frame rate (None: the device's default)."
    )
    fourcc: str | None = Field(
        None,
        min_length=4,
        max_length=4,
        description="Requested capture format, e.g. MJPG for high resolutions over USB 2.",
    )
    pixel_format: Literal["bgr24", "gray8"] = Field(
        "bgr24", description="Pixel format of the frames the driver delivers."
    )
    zoom: float | None = Field(None, ge=0.0, le=1.0, description="Zoom applied at start, 0..1.")
    focus: float | None = Field(
        None, ge=0.0, le=1.0, description="Focus applied at start, 0..1 (manual focus)."
    )
    brightness: float | None = Field(
        None, ge=0.0, le=1.0, description="Brightness applied at start, 0..1."
    )
    control_ranges: dict[ControlName, tuple[float, float]] = Field(
        default_factory=dict,
        description=(
            "Device range (min, max) per control; overrides what the V4L2 device reports. "
            "Needed for controls of sources that are not V4L2 devices."
        ),
    )
    grab_timeout: float = Field(
        5.0, gt=0.0, description="Seconds grab() waits for a frame before it gives up."
    )
    selftest_frames: int = Field(
        3, ge=2, le=100, description="Frames the self-test grabs and compares."
    )
    selftest_warmup_frames: int = Field(
        0,
        ge=0,
        le=100,
        description="Frames the self-test drops first (cameras that start dark).",
    )
    black_threshold: float = Field(
        8.0,
        ge=0.0,
        le=255.0,
        description="Mean pixel value (0..255) below which the self-test calls an image black.",
    )


# --- device resolution ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureSource:
    """What to hand ``cv2.VideoCapture``: ``target`` (index or string), whether to use the V4L2
    backend, and the device node (for V4L2 control queries), if any."""

    target: int | str
    v4l2: bool
    node: str | None
    label: str


def v4l2_cameras(sysfs: Path = SYSFS_V4L) -> list[tuple[str, str]]:
    """``(node, name)`` of the capture nodes the kernel lists (``index`` 0 only: a camera's other
    nodes carry metadata), sorted by node number."""
    found: list[tuple[int, str, str]] = []
    if not sysfs.is_dir():
        return []
    for entry in sysfs.iterdir():
        match = re.fullmatch(r"video(\d+)", entry.name)
        if match is None:
            continue
        try:
            name = (entry / "name").read_text().strip()
        except OSError:
            continue
        try:
            index = int((entry / "index").read_text().strip())
        except (OSError, ValueError):
            index = 0
        if index == 0:
            found.append((int(match.group(1)), f"/dev/{entry.name}", name))
    return [(node, name) for _, node, name in sorted(found)]


def resolve_source(device: str, sysfs: Path = SYSFS_V4L) -> CaptureSource:
    """Turn the ``device`` option into a :class:`CaptureSource`; raises ``DeviceError`` when a
    device node, file or camera name does not exist (with the cameras the kernel lists)."""
    device = device.strip()
    if not device:
        raise DeviceError("no camera device configured")
    if device.isdigit():
        node = f"/dev/video{int(device)}"
        return CaptureSource(int(device), True, node, node)
    if "://" in device:
        return CaptureSource(device, False, None, device)
    if device.startswith("/dev/"):
        if not os.path.exists(device):
            raise DeviceError(f"camera {device} not found{_available(sysfs)}")
        real = os.path.realpath(device)
        match = re.fullmatch(r"/dev/video(\d+)", real)
        if match is not None:
            return CaptureSource(int(match.group(1)), True, real, device)
        return CaptureSource(real, True, real, device)
    if "/" in device or os.path.exists(device):
        if not os.path.exists(device):
            raise DeviceError(f"video source {device} not found")
        return CaptureSource(device, False, None, device)
    cameras = v4l2_cameras(sysfs)
    exact = [node for node, name in cameras if name == device]
    partial = [node for node, name in cameras if device.lower() in name.lower()]
    matches = exact or partial
    if not matches:
        raise DeviceError(f"no camera named {device!r}{_available(sysfs)}")
    if len(matches) > 1:
        listed = ", ".join(f"{node} ({name})" for node, name in cameras if node in matches)
        raise DeviceError(f"camera name {device!r} is ambiguous: {listed}")
    node = matches[0]
    index = int(node.removeprefix("/dev/video"))
    return CaptureSource(index, True, node, f"{node} ({device})")


def _available(sysfs: Path) -> str:
    cameras = v4l2_cameras(sysfs)
    if not cameras:
        return " (no V4L2 cameras present)"
    return " (cameras present: " + ", ".join(f"{node} {name!r}" for node, name in cameras) + ")"


# --- controls ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlRange:
    """Device range of one control; maps 0..1 to ``minimum..maximum`` (rounded to ``step``)."""

    minimum: float
    maximum: float
    step: float = 0.0

    def to_device(self, value: float) -> float:
        raw = self.minimum + value * (self.maximum - self.minimum)
        if self.step > 0:
            raw = self.minimum + round((raw - self.minimum) / self.step) * self.step
        return min(self.maximum, max(self.minimum, raw))

    def from_device(self, raw: float) -> float:
        span = self.maximum - self.minimum
        if span <= 0:
            return 0.0
        return min(1.0, max(0.0, (raw - self.minimum) / span))


IoctlFn = Callable[[int, int, bytearray], Any]


def query_v4l2_ranges(node: str, ioctl: IoctlFn | None = None) -> dict[ControlName, ControlRange]:
    """Ranges of zoom/focus/brightness the V4L2 device ``node`` has (``VIDIOC_QUERYCTRL``);
    controls it lacks, or reports disabled, are left out."""
    do_ioctl: IoctlFn = ioctl if ioctl is not None else fcntl.ioctl
    ranges: dict[ControlName, ControlRange] = {}
    try:
        fd = os.open(node, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        log.debug("cannot open %s for control queries: %s", node, exc)
        return ranges
    try:
        for name, cid in V4L2_CID.items():
            buf = bytearray(_QUERYCTRL.pack(cid, 0, b"", 0, 0, 0, 0, 0))
            try:
                do_ioctl(fd, VIDIOC_QUERYCTRL, buf)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTTY):
                    log.debug("VIDIOC_QUERYCTRL %s on %s: %s", name, node, exc)
                continue
            _, _, _, minimum, maximum, step, _, flags = _QUERYCTRL.unpack(bytes(buf))
            if flags & V4L2_CTRL_FLAG_DISABLED or maximum <= minimum:
                continue
            ranges[name] = ControlRange(float(minimum), float(maximum), float(max(step, 0)))
    finally:
        os.close(fd)
    return ranges


# --- the driver ----------------------------------------------------------------------------------


class OpenCvCamera(DeviceBase):
    """A camera read through OpenCV. ``start()`` opens it (a missing camera or OpenCV shows as
    health ``unavailable``, never as an exception); ``grab()`` reopens a camera that was missing
    or lost, so a re-plugged camera comes back by itself."""

    kind = DeviceKind.CAMERA
    Options = OpenCvCameraOptions

    def __init__(self, name: str, options: OpenCvCameraOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.role = options.role
        self._cv2: Any = None
        self._missing: str | None = None
        self._cap: Any = None
        self._source: CaptureSource | None = None
        self._ranges: dict[ControlName, ControlRange] = {}
        self._controls = CameraControls()
        self._seq = 0
        self._io = threading.Lock()  # one capture call at a time (held in the worker thread)
        self._sysfs = SYSFS_V4L

    def __repr__(self) -> str:
        return f"OpenCvCamera(name={self.name!r}, device={self.options.device!r})"

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._cap is not None:
            return
        if not self._import():
            return
        try:
            await self._open()
        except DeviceError as exc:
            self._unavailable(str(exc))

    async def stop(self) -> None:
        cap = self._cap
        self._cap = None
        if cap is not None:
            try:
                await asyncio.to_thread(self._locked, cap.release)
            except DeviceError as exc:
                log.error("%s: %s", self.name, exc, extra={"device": self.name})

    # -- Camera protocol ------------------------------------------------------------------------
    async def grab(self) -> Frame:
        if self._cv2 is None and not self._import():
            raise DeviceError(f"{self.name}: {self._missing}")
        if self._cap is None:
            try:
                await self._open()
            except DeviceError as exc:
                self._unavailable(str(exc))
                raise
        cap = self._cap
        try:
            image = await asyncio.wait_for(
                asyncio.to_thread(self._locked, self._read, cap), self.options.grab_timeout
            )
        except TimeoutError:
            reason = f"no frame within {self.options.grab_timeout:g} s from {self._label()}"
            await self._lost(cap, reason)
            raise DeviceError(f"{self.name}: {reason}") from None
        except DeviceError as exc:  # OpenCV raised, or an earlier call still blocks
            reason = f"{self._label()}: {exc}"
            await self._lost(cap, reason)
            raise DeviceError(f"{self.name}: {reason}") from None
        if image is None:
            reason = f"no frame from {self._label()} (camera unplugged or stream ended)"
            await self._lost(cap, reason)
            raise DeviceError(f"{self.name}: {reason}")
        frame = self._to_frame(image)
        if not self._health.ok:
            self.set_health(HealthStatus.OK, "")
        return frame

    async def set_controls(self, controls: CameraControls) -> CameraControls:
        wanted: dict[ControlName, float] = {}
        for name in CONTROL_NAMES:
            value = getattr(controls, name)
            if value is None:
                continue
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must be within 0..1, got {value!r}")
            wanted[name] = float(value)
        applicable = {name: value for name, value in wanted.items() if name in self._ranges}
        if not applicable:
            return self._controls
        cap = self._cap
        if cap is None:
            raise DeviceError(f"{self.name}: camera not open ({self._health.reason})")
        refused = await asyncio.to_thread(self._locked, self._apply, cap, applicable)
        await asyncio.to_thread(self._locked, self._read_controls, cap)
        if refused:
            raise DeviceError(f"{self.name}: the camera refused {', '.join(refused)}")
        return self._controls

    def controls(self) -> CameraControls:
        return self._controls

    async def selftest(self) -> SelftestResult:
        if self._cv2 is None and not self._import():
            return SelftestResult(self.name, SelftestOutcome.NOT_PRESENT, str(self._missing))
        opts = self.options
        frames: list[Frame] = []
        details: dict[str, Any] = {"device": opts.device}
        try:
            for _ in range(opts.selftest_warmup_frames):
                await self.grab()
            for _ in range(opts.selftest_frames):
                frames.append(await self.grab())
        except DeviceError as exc:
            details["frames"] = len(frames)
            return self._fail(f"no image: {exc}", details)
        first = frames[0]
        details.update(
            frames=len(frames),
            width=first.width,
            height=first.height,
            pixel_format=first.pixel_format,
        )
        if opts.width is not None and opts.height is not None:
            details["requested"] = f"{opts.width}x{opts.height}"
        means = [_mean(f.data) for f in frames]
        details["mean_level"] = round(max(means), 1)
        if all(m < opts.black_threshold for m in means):
            return self._fail(
                f"image is black (mean level {max(means):.1f} < {opts.black_threshold:g} in "
                f"{len(frames)} frames: lens covered, no light or a dead sensor)",
                details,
            )
        if all(f.data == first.data for f in frames[1:]):
            return self._fail(
                f"image is frozen ({len(frames)} identical frames from {self._label()})",
                details,
            )
        return SelftestResult(
            self.name,
            SelftestOutcome.PASS,
            f"{len(frames)} frames {first.width}x{first.height} {first.pixel_format} "
            f"from {self._label()}",
            details,
        )

    # -- internals (event loop side) --------------------------------------------------------------
    def _import(self) -> bool:
        try:
            import cv2
        except ImportError as exc:
            self._missing = f"{MISSING_LIBRARY_HINT} ({exc})"
            self._unavailable(self._missing)
            return False
        self._cv2 = cv2
        self._missing = None
        return True

    async def _open(self) -> None:
        source = resolve_source(self.options.device, self._sysfs)
        cap = await asyncio.to_thread(self._locked, self._open_capture, source)
        self._source = source
        self._cap = cap
        self._ranges = {}
        if source.node is not None:
            self._ranges.update(await asyncio.to_thread(query_v4l2_ranges, source.node))
        for name, (low, high) in self.options.control_ranges.items():
            self._ranges[name] = ControlRange(float(low), float(high))
        initial = {
            name: value
            for name in CONTROL_NAMES
            if (value := getattr(self.options, name)) is not None and name in self._ranges
        }
        if initial:
            await asyncio.to_thread(self._locked, self._apply, cap, initial)
        await asyncio.to_thread(self._locked, self._read_controls, cap)
        self.set_health(HealthStatus.OK, "")

    async def _lost(self, cap: Any, reason: str) -> None:
        """The camera stopped delivering: release it (``grab()`` reopens) and say why."""
        if self._cap is cap:
            self._cap = None
            self._ranges = {}
            self._controls = CameraControls()
        self._unavailable(reason)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._locked, cap.release), self.options.grab_timeout
            )
        except TimeoutError:
            log.error("%s: could not release the camera", self.name, extra={"device": self.name})

    def _unavailable(self, reason: str) -> None:
        log.warning("%s: %s", self.name, reason, extra={"device": self.name})
        self.set_health(HealthStatus.UNAVAILABLE, reason)

    def _fail(self, message: str, details: dict[str, Any]) -> SelftestResult:
        return SelftestResult(self.name, SelftestOutcome.FAIL, message, details)

    def _label(self) -> str:
        return self._source.label if self._source is not None else self.options.device

    def _to_frame(self, image: Any) -> Frame:
        cv2 = self._cv2
        if self.options.pixel_format == "gray8":
            if image.ndim == 3:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        elif image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        height, width = int(image.shape[0]), int(image.shape[1])
        self._seq += 1
        return Frame(
            width, height, self.options.pixel_format, image.tobytes(), self.clock.now(), self._seq
        )

    # -- internals (worker thread side) ---------------------------------------------------------
    def _locked(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` holding the capture lock (a grab that timed out may still hold it)."""
        if not self._io.acquire(timeout=self.options.grab_timeout):
            raise DeviceError(f"{self.name}: camera busy (an earlier call is still blocked)")
        try:
            return fn(*args)
        finally:
            self._io.release()

    def _open_capture(self, source: CaptureSource) -> Any:
        """Open ``source`` (thread side). Overridable for tests."""
        cv2 = self._cv2
        backend = cv2.CAP_V4L2 if source.v4l2 else cv2.CAP_ANY
        cap = cv2.VideoCapture(source.target, backend)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"cannot open camera {source.label}")
        opts = self.options
        if opts.fourcc is not None:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*opts.fourcc))
        if opts.width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(opts.width))
        if opts.height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(opts.height))
        if opts.fps is not None:
            cap.set(cv2.CAP_PROP_FPS, float(opts.fps))
        return cap

    @staticmethod
    def _read(cap: Any) -> Any:
        try:
            ok, image = cap.read()
        except Exception as exc:  # cv2.error from a backend
            raise DeviceError(f"read failed: {exc}") from exc
        if not ok or image is None or image.size == 0:
            return None
        return image

    def _apply(self, cap: Any, values: dict[ControlName, float]) -> list[str]:
        """Set the controls (thread side); returns the names the device refused."""
        refused: list[str] = []
        for name, value in values.items():
            if name == "focus":
                cap.set(CAP_PROP_AUTOFOCUS, 0.0)  # a manual focus value needs autofocus off
            raw = self._ranges[name].to_device(value)
            if not cap.set(CAP_PROP[name], raw):
                refused.append(name)
        return refused

    def _read_controls(self, cap: Any) -> None:
        """Read back the controls in effect (thread side); ``None`` for controls the device
        lacks."""
        values: dict[str, float | None] = {}
        for name in CONTROL_NAMES:
            span = self._ranges.get(name)
            if span is None:
                values[name] = None
                continue
            raw = float(cap.get(CAP_PROP[name]))
            values[name] = round(span.from_device(raw), 4) if math.isfinite(raw) else None
        self._controls = CameraControls(**values)


def _mean(data: bytes) -> float:
    """Mean byte value of a frame (numpy is there whenever OpenCV is)."""
    import numpy as np

    if not data:
        return 0.0
    return float(np.frombuffer(data, dtype=np.uint8).mean())
