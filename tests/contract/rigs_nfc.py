"""Contract rigs of the real NFC readers.

``pcsc``: the driver against a real ``pcscd`` with the virtual reader of vsmartcard (``vpcd``,
Debian ``vsmartcard-vpcd``, reader "Virtual PCD 00 00" on TCP port 35963) and vsmartcard's card
emulator (``vicc``, Debian ``vsmartcard-vpicc``) as the card. The rig uses a running pcscd if there
is one, else it starts ``pcscd --foreground`` (needs root) and stops it afterwards.

Two things about vicc as Debian packages it (0.8):

- it does not start: it imports ``Crypto`` (PyCrypto) but Debian ships that API as
  ``Cryptodome`` (``python3-pycryptodome``), and its package lives in
  ``/usr/lib/python3/site-packages/virtualsmartcard`` (not on ``sys.path``). The rig runs it with
  ``PYTHONPATH`` = a temp dir holding ``Crypto -> Cryptodome`` + that directory;
- none of its card types answers the PC/SC pseudo-APDU GET DATA ``FF CA 00 00 00`` (the UID a
  contactless reader reports): the ``iso7816`` card treats CLA ``FF`` as proprietary secure
  messaging and the process dies on it; and there is no option to choose a UID. A real PC/SC
  contactless reader answers ``FF CA`` itself, for the card in its field; vpcd passes every APDU
  to the emulator, so the rig runs vicc's own ``VirtualICC`` (its ``iso7816`` card on vpcd) from
  a small launcher that plays the reader's part: it answers ``FF CA 00 00`` with the chosen UID
  (``6C xx`` for a wrong Le, ``6A 81`` / ``6E 00`` for other pseudo-APDUs) and reports a chosen
  ATR (default: the PC/SC part 3 ATR of a MIFARE Classic 1K). Everything else goes to vicc's
  card. ``present(uid)`` starts that process (the card enters the field), ``remove()`` stops it.

``libnfc``: the driver with libnfc's real ``pn532_uart`` driver over a pseudo-terminal; the other
end is an emulated PN532 (:class:`Pn532Emulator`) with a card in its field or not. No libnfc
device emulator exists as a package, and libnfc as Debian builds it has no PC/SC driver (so it
cannot use vpcd/vicc); the PN532's serial protocol is small and documented (NXP UM0701-02).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind
from hal.health import HealthStatus
from hal.registry import load_driver_class

UID_SALT = b"contract-test-salt"

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VICC_LIB = Path("/usr/lib/python3/site-packages/virtualsmartcard")
VICC_BIN = Path("/usr/bin/vicc")
CRYPTODOME = Path("/usr/lib/python3/dist-packages/Cryptodome")
SYSTEM_PYTHON = "/usr/bin/python3"
VIRTUAL_READER = "Virtual PCD 00 00"
#: PC/SC part 3 ATR of a MIFARE Classic 1K on a contactless reader.
DEFAULT_ATR = "3B8F8001804F0CA000000306030001000000006A"
#: Upper bound for pcscd to come up and list the virtual reader (polled, not slept).
PCSCD_START_TIMEOUT = 15.0

VICC_LAUNCHER = '''\
"""vicc (vsmartcard's VirtualICC, iso7816 card) with a chosen UID and ATR: answers the PC/SC
pseudo-APDU GET DATA (FF CA 00 00) as a contactless reader would. argv: UID ATR PORT."""
import logging
import sys

from virtualsmartcard.VirtualSmartcard import VirtualICC

uid = bytes.fromhex(sys.argv[1])
atr = bytes.fromhex(sys.argv[2])
port = int(sys.argv[3])

card = VirtualICC(None, "iso7816", "localhost", port, logginglevel=logging.CRITICAL)
iso7816_execute = card.os.execute


def execute(apdu):
    if apdu[:1] != b"\\xff":
        return iso7816_execute(apdu)
    if apdu[1:4] == b"\\xca\\x00\\x00":
        le = apdu[4] if len(apdu) > 4 else 0
        if le and le != len(uid):
            return bytes([0x6C, len(uid)])
        return uid + b"\\x90\\x00"
    if apdu[1:2] == b"\\xca":
        return b"\\x6a\\x81"
    return b"\\x6e\\x00"


card.os.execute = execute
card.os.getATR = lambda: atr
card.run()
'''


@dataclass
class Rig:
    """What the contract fixtures use of a rig (same fields as ``conftest.Rig``)."""

    device: Any
    peer: Any
    params: dict[str, Any] = field(default_factory=dict)


def _uid_hex(uid: str | bytes) -> str:
    if isinstance(uid, bytes):
        return uid.hex()
    return re.sub(r"[\s:\-]", "", uid)


def _stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# -- pcsc ---------------------------------------------------------------------------------------
def _pcsc_missing() -> str | None:
    """Why the pcsc rig cannot run here (a Debian package is missing), or None."""
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return "pcscd is not installed (Debian package pcscd; `make deps` installs it)"
    if not VPCD_DRIVER.exists() or not VPCD_CONF.exists():
        return (
            "the virtual PC/SC reader is not installed (Debian package vsmartcard-vpcd; "
            "`make deps` installs it)"
        )
    if not VICC_LIB.is_dir() or not VICC_BIN.exists():
        return (
            "the card emulator vicc is not installed (Debian package vsmartcard-vpicc; "
            "`make deps` installs it)"
        )
    if not CRYPTODOME.is_dir():
        return (
            "vicc needs PyCryptodome (Debian package python3-pycryptodome; `make deps` installs it)"
        )
    return None


def _vpcd_port() -> int:
    match = re.search(r"^\s*CHANNELID\s+(\S+)", VPCD_CONF.read_text(), re.MULTILINE)
    return int(match.group(1), 0) if match else 0x8C7B


def _pcscd_running() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def _list_readers() -> list[str]:
    from smartcard import scard

    rv, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rv != scard.SCARD_S_SUCCESS:
        return []
    try:
        rv, readers = scard.SCardListReaders(handle, [])
        return list(readers) if rv == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(handle)


class VirtualCardPeer:
    """A card in the field of the virtual reader: ``present`` starts vicc with the UID,
    ``remove`` stops it (the card leaves)."""

    def __init__(self, workdir: Path, port: int) -> None:
        self._launcher = workdir / "vicc_uid.py"
        self._launcher.write_text(VICC_LAUNCHER)
        shim = workdir / "shim"
        shim.mkdir()
        (shim / "Crypto").symlink_to(CRYPTODOME)
        self._env = dict(os.environ)
        self._env["PYTHONPATH"] = f"{shim}{os.pathsep}{VICC_LIB}"
        self._env["PYTHONDONTWRITEBYTECODE"] = "1"
        self._env.pop("PYTHONHOME", None)
        self._port = port
        self._log: IO[bytes] = open(workdir / "vicc.log", "wb")
        self._proc: subprocess.Popen[bytes] | None = None

    def present(self, uid: str | bytes, atr: str | None = None) -> None:
        self.remove()
        self._proc = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(self._launcher),
                _uid_hex(uid),
                atr or DEFAULT_ATR,
                str(self._port),
            ],
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def remove(self) -> None:
        proc, self._proc = self._proc, None
        _stop_process(proc)

    def close(self) -> None:
        self.remove()
        self._log.close()


@contextlib.contextmanager
def _pcscd(workdir: Path) -> Any:
    """A pcscd that lists the virtual reader: the running one, else one started here."""
    started: subprocess.Popen[bytes] | None = None
    log_path = workdir / "pcscd.log"
    if not _pcscd_running():
        if os.geteuid() != 0:
            pytest.skip("no pcscd is running and starting one (pcscd --foreground) needs root")
        with open(log_path, "wb") as log:
            started = subprocess.Popen(
                ["pcscd", "--foreground"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    try:
        deadline = time.monotonic() + PCSCD_START_TIMEOUT
        while VIRTUAL_READER not in _list_readers():
            if started is not None and started.poll() is not None:
                pytest.fail(f"pcscd exited ({started.returncode}): {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                where = "the running pcscd" if started is None else "pcscd"
                pytest.fail(
                    f"{where} does not list {VIRTUAL_READER!r} after {PCSCD_START_TIMEOUT} s "
                    f"(readers: {_list_readers()}); is vsmartcard-vpcd installed and pcscd "
                    "restarted since?"
                )
            time.sleep(0.05)
        yield
    finally:
        _stop_process(started)


@asynccontextmanager
async def pcsc_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    missing = _pcsc_missing()
    if missing is not None:
        pytest.skip(missing)
    try:
        import smartcard  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"pyscard is not installed ({exc}): pip install -e '.[hardware]'")
    cls = load_driver_class(kind, "pcsc")
    options = cls.Options(reader=VIRTUAL_READER, retry_interval=0.5)
    context = DriverContext(clock=LoopClock(), uid_salt=UID_SALT)
    with tempfile.TemporaryDirectory(prefix="lisa-nfc-pcsc-") as tmp:
        workdir = Path(tmp)
        with _pcscd(workdir):
            peer = VirtualCardPeer(workdir, _vpcd_port())
            device = cls("nfc-pcsc", options, context)
            await device.start()
            try:
                assert device.health().status is HealthStatus.OK, device.health()
                yield Rig(device=device, peer=peer, params={"uid_salt": UID_SALT})
            finally:
                peer.close()
                await device.stop()


# -- libnfc -------------------------------------------------------------------------------------
ACK_FRAME = b"\x00\x00\xff\x00\xff\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
#: The emulated card: a MIFARE Classic 1K (ATQA 00 04, SAK 08): libnfc checks its presence by
#: selecting it again by UID, and the driver reports the PC/SC ATR of that card type.
CARD_ATQA = b"\x00\x04"
CARD_SAK = 0x08


def _pn532_frame(payload: bytes) -> bytes:
    """A PN532 normal information frame: preamble, start code, LEN, LCS, payload, DCS, postamble."""
    n = len(payload)
    return bytes([0x00, 0x00, 0xFF, n, -n & 0xFF]) + payload + bytes([-sum(payload) & 0xFF, 0x00])


def _strip_cascade_tags(uid: bytes) -> bytes:
    if len(uid) == 8 and uid[0] == 0x88:
        return uid[1:]
    if len(uid) == 12 and uid[0] == 0x88 and uid[4] == 0x88:
        return uid[1:4] + uid[5:]
    return uid


class Pn532Emulator:
    """An NXP PN532 on the HSU (UART) interface, on the master side of a pseudo-terminal.

    libnfc's own ``pn532_uart`` driver opens the slave side (``pn532_uart:/dev/pts/N``) and talks
    the PN532 frame protocol to it: wake-up preamble, SAMConfiguration, Diagnose (communication
    test), GetFirmwareVersion (PN532 v1.6), Read/WriteRegister, RFConfiguration, SetParameters,
    InListPassiveTarget (106 kbps type A: the card in the field, also when selected again by its
    cascade-tagged UID, which is how libnfc checks a MIFARE Classic is still there),
    InDataExchange / InCommunicateThru, InDeselect, InRelease, PowerDown. Every command is
    ACKed, then answered; an unknown one gets the PN532 application-level error frame and is
    recorded in ``unknown``. The field holds at most one ISO 14443-A card (``present`` /
    ``remove``); the raw UID only exists in this emulator, the test's stimulus.
    """

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._card: bytes | None = None
        self._lock = threading.Lock()
        self._registers: dict[int, int] = {}
        self.unknown: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pn532-emulator", daemon=True)
        self._thread.start()

    # -- peer API -------------------------------------------------------------------------------
    def present(self, uid: str | bytes, atr: str | None = None) -> None:
        """Put a MIFARE Classic 1K with ``uid`` in the field (``atr`` is ignored: a libnfc reader
        reports what the card's SAK/ATS say)."""
        with self._lock:
            self._card = bytes.fromhex(_uid_hex(uid))

    def remove(self) -> None:
        with self._lock:
            self._card = None

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    # -- the chip -------------------------------------------------------------------------------
    def _serve(self) -> None:
        buffer = b""
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._master], [], [], 0.05)
            if not readable:
                continue
            try:
                buffer += os.read(self._master, 4096)
            except OSError:
                continue
            buffer = self._handle_frames(buffer)

    def _handle_frames(self, buffer: bytes) -> bytes:
        """Answer every complete frame in ``buffer``; returns what is left (an incomplete one)."""
        while True:
            start = buffer.find(b"\x00\x00\xff")
            if start < 0:
                return buffer[-2:]
            rest = buffer[start + 3 :]
            if len(rest) < 2:
                return buffer[start:]
            length, checksum = rest[0], rest[1]
            if length == 0x00 and checksum == 0xFF:  # the host's ACK (abort): nothing to answer
                buffer = rest[3:]
                continue
            if (length + checksum) & 0xFF:  # not a frame start
                buffer = rest
                continue
            if len(rest) < 2 + length + 2:
                return buffer[start:]
            payload = rest[2 : 2 + length]
            buffer = rest[2 + length + 2 :]
            if len(payload) < 2 or payload[0] != 0xD4:
                continue
            answer = self._command(payload[1], payload[2:])
            if answer is None:
                reply = ERROR_FRAME
            else:
                reply = _pn532_frame(bytes([0xD5, payload[1] + 1]) + answer)
            os.write(self._master, ACK_FRAME + reply)

    def _command(self, command: int, params: bytes) -> bytes | None:
        with self._lock:
            uid = self._card
        if command == 0x00:  # Diagnose
            if params[:1] == b"\x00":  # communication test: echo
                return params
            if params[:1] == b"\x06":  # card presence
                return b"\x00" if uid else None
        elif command == 0x02:  # GetFirmwareVersion: PN532 v1.6, ISO A/B and ISO 18092
            return b"\x32\x01\x06\x07"
        elif command == 0x06:  # ReadRegister
            addresses = [(params[i] << 8) | params[i + 1] for i in range(0, len(params) - 1, 2)]
            return bytes(self._registers.get(address, 0) for address in addresses)
        elif command == 0x08:  # WriteRegister
            for i in range(0, len(params) - 2, 3):
                self._registers[(params[i] << 8) | params[i + 1]] = params[i + 2]
            return b""
        elif command in (0x12, 0x14, 0x32):  # SetParameters, SAMConfiguration, RFConfiguration
            return b""
        elif command in (0x16, 0x44, 0x52):  # PowerDown, InDeselect, InRelease: status OK
            return b"\x00"
        elif command == 0x4A:  # InListPassiveTarget
            return self._list_passive_target(uid, params)
        elif command in (0x40, 0x42):  # InDataExchange, InCommunicateThru
            return b"\x00" + bytes(16) if uid else b"\x01"  # 0x01: target timeout
        self.unknown.append(f"{command:02X} {params.hex()}")
        return None

    @staticmethod
    def _list_passive_target(uid: bytes | None, params: bytes) -> bytes:
        baud_rate, wanted = params[1], _strip_cascade_tags(params[2:])
        if uid is None or baud_rate != 0x00 or (wanted and wanted != uid):
            return b"\x00"  # no target
        return b"\x01\x01" + CARD_ATQA + bytes([CARD_SAK, len(uid)]) + uid


def _libnfc_missing() -> str | None:
    for library in ("libnfc.so.6", "libfreefare.so"):
        try:
            ctypes.CDLL(library)
        except OSError:
            return (
                f"{library} is not installed (Debian packages libnfc6, libfreefare0, "
                "libfreefare-dev; `make deps` installs them)"
            )
    return None


@asynccontextmanager
async def libnfc_rig(kind: DeviceKind) -> AsyncIterator[Rig]:
    """The libnfc driver with libnfc's real ``pn532_uart`` driver on a pseudo-terminal whose other
    end is :class:`Pn532Emulator` (the emulated chip is the peer)."""
    missing = _libnfc_missing()
    if missing is not None:
        pytest.skip(missing)
    try:
        import pynfc  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"pynfc is not installed ({exc}): pip install -e '.[hardware]'")
    emulator = Pn532Emulator()
    try:
        cls = load_driver_class(kind, "libnfc")
        options = cls.Options(
            device=f"pn532_uart:{emulator.path}", poll_interval=0.1, retry_interval=0.5
        )
        context = DriverContext(clock=LoopClock(), uid_salt=UID_SALT)
        device = cls("nfc-libnfc", options, context)
        await device.start()
        try:
            assert device.health().status is HealthStatus.OK, device.health()
            yield Rig(device=device, peer=emulator, params={"uid_salt": UID_SALT})
        finally:
            emulator.remove()
            await device.stop()
        assert not emulator.unknown, (
            f"libnfc sent commands the emulator does not know: {emulator.unknown}"
        )
    finally:
        emulator.close()


def register_rigs(register: Callable[[DeviceKind, str, Any], None]) -> None:
    register(DeviceKind.NFC, "pcsc", pcsc_rig)
    register(DeviceKind.NFC, "libnfc", libnfc_rig)
