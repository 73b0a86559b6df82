"""Contract rigs of the real camera and audio drivers.

``opencv`` camera: the driver reads a real video file through OpenCV's FFmpeg backend, the same
``VideoCapture`` path a V4L2 camera takes from ``read()`` on. The rig writes the file with
``cv2.VideoWriter`` (MJPG in AVI, 160x120, a bar that moves every frame over a colour ramp) and
points ``device`` at it. There is no V4L2 device here (no ``v4l2loopback`` in a container), so
the controls stay ``None``: the contract's control round trip has nothing to set and the
out-of-range refusal is checked without a device behind it (tests/unit covers the mapping).

``sounddevice`` audio: PortAudio → ALSA → a private PulseAudio server whose only sink is a
``module-null-sink``; its monitor is the default source. So what the driver plays comes back,
paced in real time, on what it records: the booth's loudspeaker→microphone path, with a real
sound server in the middle. A bare ALSA ``null`` PCM (the recipe for machines without a sound
card) cannot carry this contract: it discards what is played, its capture returns whatever is in
the buffer (not silence, and never the tone), and it runs unpaced. tests/unit uses it for the
code paths. The rig

- writes a test-only ``$HOME/.asoundrc`` (``pcm.!default`` → the ``pulse`` plugin) into a
  temporary HOME, points ``PULSE_SERVER`` at the private server's socket and restores both
  afterwards; PortAudio is re-initialised on both sides so it reads that configuration;
- starts ``pulseaudio --daemonize`` (it returns once the server is up) and stops it after;
- creates the null sink with ``norewinds=1``: a null sink that rewinds when a new stream
  connects renders the rewound span again faster than real time, and now and then a whole
  0.5 s tone ran through in 50 ms, unheard by a recording that started 50 ms later;
- keeps a ``parec`` (the "room") listening on the monitor with 10 ms latency: a null sink
  with no low-latency client renders in 2 s blocks, which would make the first recording after
  an idle spell take seconds; once parec's stream exists the rig suspends and resumes the sink
  (which restarts its clock at 10 ms) and waits for parec's first bytes;
- gives the driver a simulated PLC (``context.devices["plc"]``) with an ``induction_loop``
  output, the wiring of a booth whose loop amplifier the PLC switches.

Debian packages: ``libportaudio2``, ``pulseaudio``, ``pulseaudio-utils`` (parec) and
``libasound2-plugins`` (the ALSA ``pulse`` plugin); without them the audio rig skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import select
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import CameraRole, DeviceKind
from hal.registry import load_driver_class
from sim.devices.plc import SimPlc, SimPlcOptions

#: Upper bounds for the sound server to come up / deliver its first samples (waited, not slept).
PULSE_START_TIMEOUT = 15.0
PULSE_STOP_TIMEOUT = 10.0
ROOM_SINK = "lisa_room"
LOOP_OUTPUT = "induction_loop"

ASOUNDRC = """\
# test-only: ALSA's default device is the private PulseAudio server (PULSE_SERVER)
pcm.!default { type pulse }
ctl.!default { type pulse }
"""


@dataclass
class Rig:
    """What the contract fixtures use of a rig (same fields as ``conftest.Rig``)."""

    device: Any
    peer: Any
    params: dict[str, Any] = field(default_factory=dict)


# --- camera ----------------------------------------------------------------------------------


def write_pattern_video(
    path: Path, frames: int = 120, width: int = 160, height: int = 120, fps: float = 30.0
) -> None:
    """An MJPG/AVI video of a colour ramp with a bright bar that moves every frame."""
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        pytest.fail(f"cv2.VideoWriter cannot write MJPG/AVI to {path}")
    ramp = np.linspace(30, 200, width, dtype=np.uint8)
    base = np.zeros((height, width, 3), dtype=np.uint8)
    base[:, :, 0] = ramp
    base[:, :, 1] = ramp[::-1]
    base[:, :, 2] = 90
    bar = max(4, width // 10)
    try:
        for index in range(frames):
            image = base.copy()
            x = (index * 3) % (width - bar)
            image[:, x : x + bar] = 250
            writer.write(image)
    finally:
        writer.release()


@dataclass
class VideoSource:
    """The camera rig's peer: the video file the camera reads."""

    path: Path


@asynccontextmanager
async def opencv_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    try:
        import cv2  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"OpenCV is not installed ({exc}): pip install -e '.[hardware]'")
    cls = load_driver_class(kind, "opencv")
    with tempfile.TemporaryDirectory(prefix="lisa-camera-") as tmp:
        path = Path(tmp) / "pattern.avi"
        write_pattern_video(path)
        options = cls.Options(device=str(path), role=CameraRole.DOCUMENT)
        device = cls("camera-opencv", options, DriverContext(clock=LoopClock()))
        await device.start()
        try:
            yield Rig(device=device, peer=VideoSource(path), params={"source": str(path)})
        finally:
            await device.stop()


# --- audio -----------------------------------------------------------------------------------


def _audio_missing() -> str | None:
    missing = [
        package
        for package, present in (
            ("pulseaudio", shutil.which("pulseaudio") is not None),
            ("pulseaudio-utils", shutil.which("parec") is not None),
            (
                "libasound2-plugins",
                bool(glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so")),
            ),
        )
        if not present
    ]
    if not missing:
        return None
    return (
        "the audio loopback rig needs Debian packages "
        + " ".join(missing)
        + " (apt-get install libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins)"
    )


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block; restore (or remove) them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reinit_portaudio(sd: Any) -> None:
    """Make PortAudio (and ALSA under it) read the device configuration again."""
    sd._terminate()
    sd._initialize()


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait until process ``pid`` (not our child: pulseaudio daemonizes) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


@dataclass
class Room:
    """The audio rig's peer: the private sound server (a null sink whose monitor is the
    microphone) and the PLC that switches the induction loop."""

    server: str
    plc: SimPlc

    def induction_loop_output(self) -> bool:
        return self.plc.output(LOOP_OUTPUT)


@asynccontextmanager
async def sounddevice_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    missing = _audio_missing()
    if missing is not None:
        pytest.skip(missing)
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        pytest.fail(
            f"sounddevice is not usable ({exc}): pip install -e '.[hardware]' and "
            "apt-get install libportaudio2"
        )
    cls = load_driver_class(kind, "sounddevice")
    try:
        with tempfile.TemporaryDirectory(prefix="lisa-audio-") as tmp_name:
            tmp = Path(tmp_name)
            home, runtime, state = tmp / "home", tmp / "run", tmp / "state"
            for directory in (home, runtime, state):
                directory.mkdir(mode=0o700)
            (home / ".asoundrc").write_text(ASOUNDRC)
            socket_path = runtime / "native"
            script = tmp / "room.pa"
            script.write_text(
                f"load-module module-native-protocol-unix socket={socket_path} auth-anonymous=1\n"
                # norewinds: a null sink that rewinds for a new stream renders the rewound span
                # again faster than real time, and a tone can then run through unheard
                f"load-module module-null-sink sink_name={ROOM_SINK} rate=48000 channels=1 "
                "norewinds=1\n"
                f"set-default-sink {ROOM_SINK}\n"
                f"set-default-source {ROOM_SINK}.monitor\n"
            )
            server = f"unix:{socket_path}"
            with _environment(
                HOME=str(home),
                PULSE_SERVER=server,
                PULSE_RUNTIME_PATH=str(runtime),
                PULSE_STATE_PATH=str(state),
            ):
                log_path = tmp / "pulseaudio.log"
                # with --daemonize=yes the command returns once the server is ready
                daemon = await asyncio.create_subprocess_exec(
                    "pulseaudio",
                    "-n",
                    "-F",
                    str(script),
                    "--daemonize=yes",
                    "--use-pid-file=yes",
                    "--exit-idle-time=-1",
                    f"--log-target=file:{log_path}",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                code = await asyncio.wait_for(daemon.wait(), PULSE_START_TIMEOUT)
                if code != 0:
                    log = log_path.read_text()[-2000:] if log_path.exists() else "no log"
                    pytest.fail(f"pulseaudio did not start ({code}): {log}")
                pid = int((runtime / "pid").read_text().split()[0])
                room: asyncio.subprocess.Process | None = None
                drain: asyncio.Task[None] | None = None
                try:
                    room = await asyncio.create_subprocess_exec(
                        "parec",
                        "--verbose",
                        "--raw",
                        "--latency-msec=10",
                        f"--device={ROOM_SINK}.monitor",
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                    )
                    assert room.stdout is not None and room.stderr is not None
                    await asyncio.wait_for(_stream_created(room.stderr), PULSE_START_TIMEOUT)
                    # the sink's clock still runs in 2 s blocks from before parec connected: a
                    # suspend/resume restarts it at parec's 10 ms
                    for suspend in ("1", "0"):
                        await _run("pactl", "suspend-sink", ROOM_SINK, suspend)
                    first = await asyncio.wait_for(room.stdout.read(4096), PULSE_START_TIMEOUT)
                    if not first:
                        pytest.fail("parec got no samples from the room sink")
                    drain = asyncio.ensure_future(_drain(room.stdout, room.stderr))
                    _reinit_portaudio(sd)
                    plc = SimPlc(
                        "plc",
                        SimPlcOptions(outputs={LOOP_OUTPUT: False}, safe_outputs={}),
                        DriverContext(clock=LoopClock()),
                    )
                    context = DriverContext(clock=LoopClock(), devices={"plc": plc})
                    options = cls.Options(
                        input_device="pulse",
                        output_device="pulse",
                        induction_loop_output=LOOP_OUTPUT,
                    )
                    device = cls("audio-sounddevice", options, context)
                    await plc.start()
                    await device.start()
                    try:
                        yield Rig(
                            device=device,
                            peer=Room(server, plc),
                            params={"loopback": "pulseaudio null sink monitor"},
                        )
                    finally:
                        await device.stop()
                        await plc.stop()
                finally:
                    if room is not None and room.returncode is None:
                        room.terminate()
                        await room.wait()
                    if drain is not None:
                        drain.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await drain
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                    if not await asyncio.to_thread(_wait_exit, pid, PULSE_STOP_TIMEOUT):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
    finally:
        _reinit_portaudio(sd)  # back to the configuration of the restored HOME


async def _stream_created(stderr: asyncio.StreamReader) -> None:
    """Wait until ``parec --verbose`` says its stream exists."""
    lines: list[str] = []
    while line := await stderr.readline():
        lines.append(line.decode(errors="replace").strip())
        if "Stream successfully created" in lines[-1]:
            return
    pytest.fail("parec ended before its stream existed: " + " | ".join(lines[-10:]))


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), PULSE_START_TIMEOUT)
    if process.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({process.returncode}): {out.decode()}")


async def _drain(*streams: asyncio.StreamReader) -> None:
    async def drain(stream: asyncio.StreamReader) -> None:
        while await stream.read(65536):
            pass

    await asyncio.gather(*(drain(stream) for stream in streams))


def register_rigs(register: Callable[[DeviceKind, str, Any], None]) -> None:
    register(DeviceKind.CAMERA, "opencv", opencv_rig)
    register(DeviceKind.AUDIO, "sounddevice", sounddevice_rig)
