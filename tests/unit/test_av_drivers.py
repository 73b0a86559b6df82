"""Unit tests of the real camera (``opencv``) and audio (``sounddevice``) drivers.

Camera: crafted video files read through OpenCV (a moving pattern, a black and a still video, a
path that does not exist, a video that ends), control normalisation against a capture that has
some controls, V4L2 control queries and sysfs name lookup against fakes.

Audio: PortAudio on ALSA without a sound card, through a test-only ``$HOME/.asoundrc`` whose
default device plays into ALSA's ``null`` PCM and records zeros (``/dev/zero`` through the
``file`` plugin; a bare ``null`` capture returns stale buffer contents, not silence). That
device is unpaced and hears nothing of what is played, so only the code paths are real here:
device lookup by name, levels, tone timing floor, and a self-test that honestly fails. The
loopback (a tone raises the level) is tested by the contract rig (tests/contract/rigs_av.py).

Everything here runs on real time: the drivers wait on worker threads and PortAudio callbacks.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.abc
import os
import struct
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.audio_sounddevice import (
    SILENCE_DBFS,
    SoundDeviceAudio,
    SoundDeviceAudioOptions,
    rms_dbfs,
    select_device,
)
from drivers.camera_opencv import (
    CAP_PROP,
    V4L2_CID,
    VIDIOC_QUERYCTRL,
    CaptureSource,
    ControlRange,
    OpenCvCamera,
    OpenCvCameraOptions,
    query_v4l2_ranges,
    resolve_source,
    v4l2_cameras,
)
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import AudioIO, Camera, DeviceError
from hal.events import CameraControls
from hal.health import HealthStatus, SelftestOutcome
from sim.devices.plc import SimPlc, SimPlcOptions

pytestmark = pytest.mark.realtime


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        pytest.fail(f"OpenCV is not installed ({exc}): pip install -e '.[hardware]'")
    return cv2


def write_video(path: Path, frames: list[Any], fps: float = 30.0) -> Path:
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def pattern(count: int, width: int = 64, height: int = 48) -> list[Any]:
    import numpy as np

    frames = []
    for index in range(count):
        image = np.full((height, width, 3), 60, dtype=np.uint8)
        x = (index * 4) % (width - 8)
        image[:, x : x + 8] = 240
        frames.append(image)
    return frames


def camera(device: str, **options: Any) -> OpenCvCamera:
    return OpenCvCamera(
        "camera", OpenCvCameraOptions(device=device, **options), DriverContext(clock=LoopClock())
    )


@pytest.fixture
async def cameras() -> AsyncIterator[list[OpenCvCamera]]:
    """Cameras a test creates; stopped afterwards."""
    made: list[OpenCvCamera] = []
    yield made
    for cam in made:
        await cam.stop()


# --- camera: crafted videos ------------------------------------------------------------------


async def test_pattern_video_passes_selftest_and_grabs_frames(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    path = write_video(tmp_path / "pattern.avi", pattern(30))
    cam = camera(str(path))
    cameras.append(cam)
    await cam.start()
    assert isinstance(cam, Camera)
    assert cam.health().status is HealthStatus.OK
    frame = await cam.grab()
    assert (frame.width, frame.height, frame.pixel_format) == (64, 48, "bgr24")
    assert len(frame.data) == 64 * 48 * 3
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.PASS, result.message
    assert "64x48" in result.message
    # a file has no controls: all None, and asking for one is no error
    assert cam.controls() == CameraControls()
    assert await cam.set_controls(CameraControls(zoom=0.5)) == CameraControls()


async def test_gray8_frames(cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]) -> None:
    path = write_video(tmp_path / "pattern.avi", pattern(5))
    cam = camera(str(path), pixel_format="gray8")
    cameras.append(cam)
    await cam.start()
    frames = [await cam.grab() for _ in range(3)]
    assert [f.seq for f in frames] == [1, 2, 3]
    assert all(f.pixel_format == "gray8" and len(f.data) == 64 * 48 for f in frames)


async def test_black_video_fails_selftest(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    import numpy as np

    # a dark but noisy image: not frozen, only black
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 4, (48, 64, 3), dtype=np.uint8) for _ in range(10)]
    cam = camera(str(write_video(tmp_path / "black.avi", frames)))
    cameras.append(cam)
    await cam.start()
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert "image is black" in result.message, result.message
    assert result.details["mean_level"] < 8


async def test_still_video_fails_selftest_as_frozen(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    still = pattern(1)[0]
    cam = camera(str(write_video(tmp_path / "still.avi", [still] * 10)))
    cameras.append(cam)
    await cam.start()
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert "image is frozen" in result.message, result.message


async def test_missing_file_is_unavailable_not_an_exception(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    missing = tmp_path / "nope.avi"
    cam = camera(str(missing))
    cameras.append(cam)
    await cam.start()  # must not raise
    health = cam.health()
    assert health.status is HealthStatus.UNAVAILABLE
    assert "not found" in health.reason and str(missing) in health.reason
    with pytest.raises(DeviceError, match="not found"):
        await cam.grab()
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert result.message.startswith("no image:") and "not found" in result.message


async def test_missing_device_node_names_the_cameras_present(
    cv2: Any, cameras: list[OpenCvCamera]
) -> None:
    cam = camera("/dev/video-lisa-does-not-exist")
    cameras.append(cam)
    await cam.start()
    assert cam.health().status is HealthStatus.UNAVAILABLE
    assert "/dev/video-lisa-does-not-exist not found" in cam.health().reason
    assert "cameras present" in cam.health().reason or "no V4L2 cameras" in cam.health().reason


async def test_stream_that_ends_goes_unavailable_and_comes_back(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    path = write_video(tmp_path / "short.avi", pattern(2))
    cam = camera(str(path))
    cameras.append(cam)
    await cam.start()
    await cam.grab()
    await cam.grab()
    with pytest.raises(DeviceError, match="stream ended"):
        await cam.grab()
    assert cam.health().status is HealthStatus.UNAVAILABLE
    # the driver reopens a lost source on the next grab (a re-plugged camera)
    frame = await cam.grab()
    assert frame.seq == 3
    assert cam.health().status is HealthStatus.OK


async def test_missing_opencv_is_not_present(
    monkeypatch: pytest.MonkeyPatch, cameras: list[OpenCvCamera]
) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 → ImportError
    cam = camera("/dev/video0")
    cameras.append(cam)
    await cam.start()
    assert cam.health().status is HealthStatus.UNAVAILABLE
    result = await cam.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    assert "pip install 'lisa[hardware]'" in result.message
    assert "opencv-python-headless" in result.message
    with pytest.raises(DeviceError, match="OpenCV is not installed"):
        await cam.grab()


# --- camera: controls ------------------------------------------------------------------------


def test_control_range_maps_both_ways() -> None:
    zoom = ControlRange(100.0, 500.0)
    assert zoom.to_device(0.0) == 100.0
    assert zoom.to_device(0.25) == 200.0
    assert zoom.to_device(1.0) == 500.0
    assert zoom.from_device(300.0) == 0.5
    assert zoom.from_device(50.0) == 0.0  # clamped
    assert zoom.from_device(900.0) == 1.0
    brightness = ControlRange(-64.0, 64.0, step=1.0)
    assert brightness.to_device(0.5) == 0.0
    assert brightness.to_device(0.333) == -21.0  # rounded to the step
    focus = ControlRange(0.0, 250.0, step=5.0)
    assert focus.to_device(0.508) == 125.0  # 127 → nearest step
    assert focus.from_device(125.0) == 0.5
    assert ControlRange(3.0, 3.0).from_device(3.0) == 0.0


class FakeCapture:
    """Wraps a real capture; has zoom and brightness (raw values), no focus."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.values = {CAP_PROP["zoom"]: 100.0, CAP_PROP["brightness"]: 0.0}
        self.sets: list[tuple[int, float]] = []

    def read(self) -> Any:
        return self.real.read()

    def release(self) -> None:
        self.real.release()

    def isOpened(self) -> bool:
        return bool(self.real.isOpened())

    def get(self, prop: int) -> float:
        return self.values.get(prop, -1.0)

    def set(self, prop: int, value: float) -> bool:
        if prop not in self.values:
            return False
        self.sets.append((prop, value))
        self.values[prop] = float(value)
        return True


class FakeControlCamera(OpenCvCamera):
    fake: FakeCapture | None = None

    def _open_capture(self, source: CaptureSource) -> Any:
        self.fake = FakeCapture(super()._open_capture(source))
        return self.fake


async def test_controls_are_normalised_to_the_device_range(
    cv2: Any, tmp_path: Path, cameras: list[OpenCvCamera]
) -> None:
    path = write_video(tmp_path / "pattern.avi", pattern(5))
    options = OpenCvCameraOptions(
        device=str(path),
        control_ranges={"zoom": (100.0, 500.0), "brightness": (-64.0, 64.0)},
        zoom=0.5,
    )
    cam = FakeControlCamera("camera", options, DriverContext(clock=LoopClock()))
    cameras.append(cam)
    await cam.start()
    assert cam.fake is not None
    # the initial zoom was applied in device units; focus is a control the device lacks
    assert (CAP_PROP["zoom"], 300.0) in cam.fake.sets
    assert cam.controls() == CameraControls(zoom=0.5, focus=None, brightness=0.5)

    applied = await cam.set_controls(CameraControls(brightness=0.75, focus=0.3))
    assert cam.fake.values[CAP_PROP["brightness"]] == 32.0
    assert applied == CameraControls(zoom=0.5, focus=None, brightness=0.75)
    assert cam.controls() == applied

    with pytest.raises(ValueError, match=r"zoom must be within 0\.\.1"):
        await cam.set_controls(CameraControls(zoom=1.5, brightness=0.1))
    assert cam.controls() == applied  # nothing applied
    assert cam.fake.values[CAP_PROP["brightness"]] == 32.0


def _queryctrl_ioctl(table: dict[int, tuple[int, int, int, int] | int]) -> Any:
    """A fake ``fcntl.ioctl`` for VIDIOC_QUERYCTRL: ``table[cid]`` is (min, max, step, flags)
    or an errno."""

    def ioctl(fd: int, request: int, buf: bytearray) -> int:
        assert request == VIDIOC_QUERYCTRL and len(buf) == 68
        cid = struct.unpack_from("=I", buf)[0]
        entry = table.get(cid, errno.EINVAL)
        if isinstance(entry, int):
            raise OSError(entry, os.strerror(entry))
        minimum, maximum, step, flags = entry
        struct.pack_into("=II32siiiiI", buf, 0, cid, 1, b"ctrl", minimum, maximum, step, 0, flags)
        return 0

    return ioctl


def test_v4l2_control_query_keeps_present_enabled_controls() -> None:
    ioctl = _queryctrl_ioctl(
        {
            V4L2_CID["brightness"]: (-64, 64, 1, 0),
            V4L2_CID["focus"]: (0, 250, 5, 0x0001),  # disabled (autofocus owns it)
            # zoom: EINVAL (the camera has no zoom)
        }
    )
    ranges = query_v4l2_ranges("/dev/null", ioctl=ioctl)
    assert ranges == {"brightness": ControlRange(-64.0, 64.0, 1.0)}
    assert query_v4l2_ranges("/nonexistent/video9", ioctl=ioctl) == {}


# --- camera: sources -------------------------------------------------------------------------


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "video4linux"
    for node, name, index in (
        ("video0", "HD Pro Webcam C920", 0),
        ("video1", "HD Pro Webcam C920", 1),  # metadata node of the same camera
        ("video2", "IPEVO V4K: IPEVO V4K", 0),
    ):
        (root / node).mkdir(parents=True)
        (root / node / "name").write_text(name + "\n")
        (root / node / "index").write_text(f"{index}\n")
    return root


def test_sysfs_lists_capture_nodes_only(sysfs: Path) -> None:
    assert v4l2_cameras(sysfs) == [
        ("/dev/video0", "HD Pro Webcam C920"),
        ("/dev/video2", "IPEVO V4K: IPEVO V4K"),
    ]


def test_resolve_source_by_name_index_url_and_file(sysfs: Path, tmp_path: Path) -> None:
    assert resolve_source("ipevo", sysfs) == CaptureSource(
        2, True, "/dev/video2", "/dev/video2 (ipevo)"
    )
    assert resolve_source("HD Pro Webcam C920", sysfs).target == 0
    assert resolve_source("2", sysfs) == CaptureSource(2, True, "/dev/video2", "/dev/video2")
    url = "rtsp://127.0.0.1:8554/cam"
    assert resolve_source(url, sysfs) == CaptureSource(url, False, None, url)
    video = tmp_path / "clip.avi"
    video.write_bytes(b"")
    assert resolve_source(str(video), sysfs).v4l2 is False


def test_resolve_source_errors_name_what_exists(sysfs: Path) -> None:
    with pytest.raises(DeviceError) as unknown:
        resolve_source("Logitech Brio", sysfs)
    message = str(unknown.value)
    assert "no camera named 'Logitech Brio'" in message
    assert "/dev/video0 'HD Pro Webcam C920'" in message and "IPEVO" in message
    (sysfs / "video3").mkdir()
    (sysfs / "video3" / "name").write_text("HD Pro Webcam C920\n")
    with pytest.raises(DeviceError, match="ambiguous"):
        resolve_source("webcam", sysfs)
    with pytest.raises(DeviceError, match="no V4L2 cameras present"):
        resolve_source("anything", sysfs / "missing")


# --- audio -----------------------------------------------------------------------------------

NULL_ASOUNDRC = """\
# test-only: play into ALSA's null PCM, record zeros (no sound card on this machine)
pcm.!default {
    type asym
    playback.pcm "null"
    capture.pcm "lisazeros"
}
pcm.lisazeros {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "/dev/zero"
    format "raw"
}
"""


@pytest.fixture
def sd() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        pytest.fail(
            f"sounddevice is not usable ({exc}): pip install -e '.[hardware]' and "
            "apt-get install libportaudio2"
        )
    return sounddevice


@pytest.fixture
def null_alsa(sd: Any, tmp_path: Path) -> Iterator[Path]:
    """A temporary HOME whose ``.asoundrc`` makes ALSA's default device the null/zero pair;
    PortAudio re-reads the configuration on entry and again after HOME is restored."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NULL_ASOUNDRC)
    saved = {name: os.environ.get(name) for name in ("HOME", "PULSE_SERVER")}
    os.environ["HOME"] = str(home)
    os.environ.pop("PULSE_SERVER", None)
    sd._terminate()
    sd._initialize()
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        sd._terminate()
        sd._initialize()


def audio(plc: SimPlc | None = None, **options: Any) -> SoundDeviceAudio:
    devices: dict[str, Any] = {} if plc is None else {"plc": plc}
    return SoundDeviceAudio(
        "audio",
        SoundDeviceAudioOptions(**options),
        DriverContext(clock=LoopClock(), devices=devices),
    )


DEVICES = [
    {
        "name": "HDA Intel PCH: ALC892 Analog (hw:0,0)",
        "max_input_channels": 2,
        "max_output_channels": 2,
    },
    {"name": "USB Audio Device: - (hw:1,0)", "max_input_channels": 1, "max_output_channels": 2},
    {"name": "HDMI 0 (hw:0,3)", "max_input_channels": 0, "max_output_channels": 8},
    {"name": "default", "max_input_channels": 32, "max_output_channels": 32},
]


def test_select_device_by_name_index_and_default() -> None:
    assert select_device(DEVICES, None, "input") is None
    assert select_device(DEVICES, "usb audio", "input") == 1
    assert select_device(DEVICES, "HDMI", "output") == 2
    assert select_device(DEVICES, "default", "output") == 3  # exact beats substring
    assert select_device(DEVICES, "1", "input") == 1


def test_select_device_errors_list_the_devices() -> None:
    with pytest.raises(DeviceError) as wrong_direction:
        select_device(DEVICES, "HDMI", "input")  # an output only
    message = str(wrong_direction.value)
    assert "no audio input device matching 'HDMI'" in message
    assert "'USB Audio Device: - (hw:1,0)'" in message and "HDMI 0" not in message
    with pytest.raises(DeviceError, match=r"ambiguous: 'HDA Intel .*', 'USB Audio Device"):
        select_device(DEVICES, "hw:", "input")
    with pytest.raises(DeviceError, match="no audio output device #7"):
        select_device(DEVICES, "7", "output")


def test_rms_dbfs() -> None:
    assert rms_dbfs(0.0, 100) == SILENCE_DBFS
    assert rms_dbfs(1.0, 0) == SILENCE_DBFS
    assert rms_dbfs(100.0, 100) == 0.0  # full-scale square wave
    assert rms_dbfs(50.0, 100) == pytest.approx(-3.01, abs=0.01)  # full-scale sine
    assert rms_dbfs(1e-30, 1) == SILENCE_DBFS


async def test_unknown_device_name_is_unavailable_with_the_list(null_alsa: Path) -> None:
    mic = audio(input_device="Studio Mic")
    await mic.start()  # must not raise
    health = mic.health()
    assert health.status is HealthStatus.UNAVAILABLE
    assert "no audio input device matching 'Studio Mic'" in health.reason
    assert "'lisazeros'" in health.reason and "'default'" in health.reason
    with pytest.raises(DeviceError, match="Studio Mic"):
        await mic.input_level(0.05)
    result = await mic.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "Studio Mic" in result.message


async def test_null_device_levels_and_tone_timing(null_alsa: Path) -> None:
    dev = audio(input_device="lisazeros", output_device="default")
    await dev.start()
    assert isinstance(dev, AudioIO)
    assert dev.health().status is HealthStatus.OK, dev.health()
    assert await dev.input_level(0.1) == SILENCE_DBFS
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await dev.play_test_tone(440.0, 0.2)
    # the null device takes the samples at once; the tone still lasts its duration
    assert loop.time() - t0 >= 0.2
    with pytest.raises(ValueError, match="frequency"):
        await dev.play_test_tone(5.0, 0.1)
    with pytest.raises(ValueError, match="duration"):
        await dev.input_level(0.0)


async def test_selftest_on_the_null_device_fails_honestly(null_alsa: Path) -> None:
    dev = audio()
    await dev.start()
    result = await dev.selftest()
    assert result.outcome is SelftestOutcome.FAIL
    assert "raised the input level by only 0.0 dB" in result.message
    assert "-120.0 dBFS without, -120.0 dBFS with the tone" in result.message
    assert "not a real-time device" in result.message
    assert result.details["real_time"] is False


class _RaiseOnImport(importlib.abc.MetaPathFinder):
    """``import sounddevice`` fails as it does without libportaudio2."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


async def test_missing_portaudio_is_not_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_RaiseOnImport(), *sys.meta_path])
    dev = audio()
    await dev.start()
    assert dev.health().status is HealthStatus.UNAVAILABLE
    assert "libportaudio2" in dev.health().reason
    result = await dev.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    assert "apt-get install libportaudio2" in result.message
    assert "PortAudio library not found" in result.message
    with pytest.raises(DeviceError, match="libportaudio2"):
        await dev.input_level(0.1)


async def test_induction_loop_through_a_plc_output() -> None:
    options = SimPlcOptions(outputs={"loop_amp": False}, safe_outputs={})
    plc = SimPlc("plc", options, DriverContext(clock=LoopClock()))
    dev = audio(plc, induction_loop_output="loop_amp")
    await dev.set_induction_loop(True)
    assert dev.induction_loop() is True and plc.output("loop_amp") is True
    await dev.set_induction_loop(False)
    assert dev.induction_loop() is False and plc.output("loop_amp") is False
    plc.fail("PLC offline")
    with pytest.raises(DeviceError, match="PLC offline"):
        await dev.set_induction_loop(True)
    assert dev.induction_loop() is False  # not switched, not claimed


async def test_induction_loop_without_plc_or_output() -> None:
    no_plc = audio(induction_loop_output="loop_amp")
    with pytest.raises(DeviceError, match="no device 'plc'"):
        await no_plc.set_induction_loop(True)
    unswitched = audio()  # no output configured: the state is only remembered
    await unswitched.set_induction_loop(True)
    assert unswitched.induction_loop() is True
