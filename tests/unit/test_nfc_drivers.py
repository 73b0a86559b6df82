"""Real NFC drivers (``pcsc``, ``libnfc``) without their hardware: UID privacy, health reasons
for a missing daemon, device or library. Their contract against real peers (pcscd + vicc, libnfc
+ an emulated PN532) is in tests/contract (rigs_nfc.py)."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drivers.nfc_common import pcsc_atr_iso14443a
from drivers.nfc_libnfc import LibnfcReader, LibnfcReaderOptions
from drivers.nfc_pcsc import NO_PCSCD, PcscReader, PcscReaderOptions
from hal.base import DriverContext, hash_uid
from hal.clock import LoopClock
from hal.events import CardPresented, CardRemoved, DeviceEvent
from hal.health import HealthStatus, SelftestOutcome

ROOT = Path(__file__).parents[2]
SALT = b"unit-salt"
UID = bytes.fromhex("04A2243B5C6180")
MIFARE_1K_ATR = "3B8F8001804F0CA000000306030001000000006A"


def _context() -> DriverContext:
    return DriverContext(clock=LoopClock(), uid_salt=SALT)


def _uid_leaks(text: str) -> bool:
    return UID.hex() in text.lower() or repr(UID) in text


def _attributes_leak(device: Any) -> list[str]:
    """Attributes of the driver that hold the raw UID (the fake library, the test's peer,
    is left out)."""
    leaks = []
    for name, value in vars(device).items():
        if name == "_lib":
            continue
        if (isinstance(value, bytes | bytearray) and UID in value) or _uid_leaks(repr(value)):
            leaks.append(name)
    return leaks


async def _until(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if condition():
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not within {within} s")
        await asyncio.sleep(0.01)


async def _wait_for(events: list[DeviceEvent], kind: type, within: float = 5.0) -> Any:
    """The first event of ``kind`` (polled with a deadline)."""
    await _until(lambda: any(isinstance(e, kind) for e in events), kind.__name__, within)
    return next(e for e in events if isinstance(e, kind))


# -- a fake PC/SC library (pyscard's smartcard.scard) -------------------------------------------
class FakeScard:
    """Just enough of ``smartcard.scard``: one reader, a card in it or not, GET DATA answered
    with ``uid_answer``. ``service`` False: pcscd is not running."""

    SCARD_S_SUCCESS = 0
    SCARD_SCOPE_USER = 0
    SCARD_SHARE_SHARED = 2
    SCARD_PROTOCOL_T0 = 1
    SCARD_PROTOCOL_T1 = 2
    SCARD_LEAVE_CARD = 0
    SCARD_STATE_UNAWARE = 0x0000
    SCARD_STATE_IGNORE = 0x0001
    SCARD_STATE_CHANGED = 0x0002
    SCARD_STATE_UNKNOWN = 0x0004
    SCARD_STATE_UNAVAILABLE = 0x0008
    SCARD_STATE_EMPTY = 0x0010
    SCARD_STATE_PRESENT = 0x0020
    SCARD_STATE_MUTE = 0x0200

    def __init__(self, uid_answer: list[int], service: bool = True) -> None:
        self.uid_answer = uid_answer
        self.service = service
        self.reader = "ACS ACR122U PICC Interface 00 00"
        self.card = True
        self._changed = threading.Event()
        self._cancelled = threading.Event()

    def set_card(self, present: bool) -> None:
        self.card = present
        self._changed.set()

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        return (0, 1) if self.service else (0x8010001D, 0)

    def SCardReleaseContext(self, handle: int) -> int:
        return 0

    def SCardCancel(self, handle: int) -> int:
        self._cancelled.set()
        self._changed.set()
        return 0

    def SCardGetErrorMessage(self, rv: int) -> str:
        return "Service not available." if rv == 0x8010001D else "error"

    def SCardListReaders(self, handle: int, groups: list[str]) -> tuple[int, list[str]]:
        return 0, [self.reader]

    def _state(self) -> tuple[int, list[int]]:
        if self.card:
            return self.SCARD_STATE_PRESENT, [int(b) for b in bytes.fromhex(MIFARE_1K_ATR)]
        return self.SCARD_STATE_EMPTY, []

    def SCardGetStatusChange(
        self, handle: int, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[Any]]:
        reader, known = states[0]
        state, atr = self._state()
        if known != self.SCARD_STATE_UNAWARE and known == state:
            self._changed.clear()
            if not self._cancelled.is_set():
                self._changed.wait(timeout_ms / 1000)
            if self._cancelled.is_set():
                self._cancelled.clear()
                return 0x80100002, states  # SCARD_E_CANCELLED
            state, atr = self._state()
            if known == state:
                return 0x8010000A, states  # SCARD_E_TIMEOUT
        return 0, [(reader, state | self.SCARD_STATE_CHANGED, atr)]

    def SCardConnect(self, handle: int, reader: str, share: int, protocols: int) -> Any:
        return 0, 7, self.SCARD_PROTOCOL_T1

    def SCardTransmit(self, card: int, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        assert apdu[:4] == [0xFF, 0xCA, 0x00, 0x00]
        return 0, list(self.uid_answer)

    def SCardDisconnect(self, card: int, disposition: int) -> int:
        return 0


def _pcsc_reader(fake: FakeScard, monkeypatch: pytest.MonkeyPatch) -> PcscReader:
    reader = PcscReader("nfc", PcscReaderOptions(retry_interval=0.05), _context())
    monkeypatch.setattr(reader, "_import_library", lambda: fake)
    return reader


@pytest.mark.realtime
async def test_pcsc_emits_only_the_salted_uid_hash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeScard(uid_answer=[*UID, 0x90, 0x00])
    reader = _pcsc_reader(fake, monkeypatch)
    events: list[DeviceEvent] = []
    reader.subscribe(events.append)
    await reader.start()
    try:
        assert reader.health().status is HealthStatus.OK
        presented = await _wait_for(events, CardPresented)
        assert presented.uid_hash == hash_uid(UID, SALT)
        assert presented.atr == MIFARE_1K_ATR
        assert reader.card_present()
        fake.set_card(False)
        await _wait_for(events, CardRemoved)
        assert not reader.card_present()
        result = await reader.selftest()
        assert result.outcome is SelftestOutcome.PASS, result.message
    finally:
        await reader.stop()
    for event in events:
        assert not _uid_leaks(repr(event)), event
    assert not _uid_leaks(repr(reader))
    assert not _attributes_leak(reader)
    assert not _uid_leaks(caplog.text)


@pytest.mark.realtime
async def test_pcsc_card_without_uid_is_not_announced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeScard(uid_answer=[0x6A, 0x81])  # "function not supported": a contact card
    reader = _pcsc_reader(fake, monkeypatch)
    events: list[DeviceEvent] = []
    reader.subscribe(events.append)
    with caplog.at_level(logging.WARNING, logger="lisa.drivers.nfc_pcsc"):
        await reader.start()
        try:
            await _until(lambda: "not announced" in caplog.text, "the warning")
        finally:
            await reader.stop()
    assert "SW 6A81" in caplog.text
    assert not [e for e in events if isinstance(e, CardPresented | CardRemoved)]


@pytest.mark.realtime
async def test_pcsc_without_pcscd_is_unavailable_and_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeScard(uid_answer=[*UID, 0x90, 0x00], service=False)
    fake.card = False
    reader = _pcsc_reader(fake, monkeypatch)
    await reader.start()
    try:
        health = reader.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert health.reason == NO_PCSCD == "pcscd is not running (Debian package pcscd)"
        result = await reader.selftest()
        assert result.outcome is SelftestOutcome.FAIL
        assert result.message == NO_PCSCD
        fake.service = True  # pcscd started: the driver finds it on its next attempt
        await _until(lambda: reader.health().status is HealthStatus.OK, "health OK")
    finally:
        await reader.stop()


_NO_PCSCD_SCRIPT = """
import asyncio, json
from drivers.nfc_pcsc import PcscReader, PcscReaderOptions
from hal.base import DriverContext
from hal.clock import LoopClock

async def main():
    reader = PcscReader("nfc", PcscReaderOptions(), DriverContext(clock=LoopClock()))
    await reader.start()
    health = reader.health()
    result = await reader.selftest()
    await reader.stop()
    print(json.dumps([health.status.value, health.reason, result.outcome.value, result.message]))

asyncio.run(main())
"""


def test_pcsc_without_pcscd_real_libpcsclite(tmp_path: Path) -> None:
    """The real pyscard + libpcsclite with no pcscd behind the socket they use (0x8010001D)."""
    pytest.importorskip("smartcard.scard", reason="pyscard is not installed (lisa[hardware])")
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    out = subprocess.run(
        [sys.executable, "-c", _NO_PCSCD_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, reason, outcome, message = json.loads(out.stdout.strip().splitlines()[-1])
    assert (status, reason) == ("unavailable", NO_PCSCD)
    assert (outcome, message) == ("fail", NO_PCSCD)


async def test_pcsc_missing_pyscard_is_not_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smartcard", None)
    monkeypatch.setitem(sys.modules, "smartcard.scard", None)
    reader = PcscReader("nfc", PcscReaderOptions(), _context())
    await reader.start()
    health = reader.health()
    assert health.status is HealthStatus.UNAVAILABLE
    result = await reader.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    for text in (health.reason, result.message):
        assert "pip install 'lisa[hardware]'" in text
        assert "libpcsclite-dev" in text
    await reader.stop()


# -- libnfc -------------------------------------------------------------------------------------
async def test_libnfc_missing_pynfc_is_not_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynfc", None)
    reader = LibnfcReader("nfc", LibnfcReaderOptions(), _context())
    await reader.start()
    health = reader.health()
    assert health.status is HealthStatus.UNAVAILABLE
    result = await reader.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    for text in (health.reason, result.message):
        assert "pip install 'lisa[hardware]'" in text
        assert "libnfc6" in text and "libfreefare-dev" in text
    await reader.stop()


@pytest.mark.realtime
async def test_libnfc_missing_device_is_unavailable() -> None:
    """The real pynfc + libnfc, asked for a PN532 on a serial port that does not exist."""
    pytest.importorskip("pynfc", reason="pynfc is not installed (lisa[hardware])")
    device = "pn532_uart:/dev/lisa-no-such-reader"
    reader = LibnfcReader("nfc", LibnfcReaderOptions(device=device), _context())
    before_start = await reader.selftest()  # opens the reader once itself
    assert before_start.outcome is SelftestOutcome.FAIL
    assert before_start.message == f"no libnfc reader at {device!r}"
    await reader.start()
    try:
        health = reader.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert health.reason == f"no libnfc reader at {device!r}"
        result = await reader.selftest()
        assert result.outcome is SelftestOutcome.FAIL
        assert result.message == health.reason
    finally:
        await reader.stop()


def _iso14443a_target(uid: bytes, sak: int, ats: bytes = b"") -> Any:
    """What the driver reads of a libnfc ``nfc_target`` (``nti.nai``)."""
    info = SimpleNamespace(
        szUidLen=len(uid),
        abtUid=(ctypes.c_ubyte * 10)(*uid),
        btSak=sak,
        szAtsLen=len(ats),
        abtAts=(ctypes.c_ubyte * 254)(*ats),
    )
    return SimpleNamespace(nti=SimpleNamespace(nai=info))


@pytest.mark.realtime
async def test_libnfc_hashes_the_uid_in_the_driver(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reader = LibnfcReader("nfc", LibnfcReaderOptions(), _context())
    events: list[DeviceEvent] = []
    reader.subscribe(events.append)
    # what the watcher thread does with a selected target, without a reader
    reader._loop = asyncio.get_running_loop()
    reader._thread = threading.current_thread()
    try:
        reader._card_arrived(_iso14443a_target(UID, 0x08))
        presented = await _wait_for(events, CardPresented)
    finally:
        reader._thread = None
    assert presented.uid_hash == hash_uid(UID, SALT)
    assert presented.atr == MIFARE_1K_ATR
    assert not _uid_leaks(repr(presented))
    assert not _uid_leaks(repr(reader))
    assert not _attributes_leak(reader)
    assert not _uid_leaks(caplog.text)


def test_atr_of_iso14443a_cards_matches_pcsc_readers() -> None:
    assert pcsc_atr_iso14443a(0x08) == MIFARE_1K_ATR  # MIFARE Classic 1K
    assert pcsc_atr_iso14443a(0x18) == "3B8F8001804F0CA0000003060300020000000069"  # 4K
    # ISO 14443-4 (DESFire EV1): 3B 81 80 01 + historical bytes of the ATS + TCK
    assert pcsc_atr_iso14443a(0x20, bytes.fromhex("7577810280")) == "3B8180018080"
