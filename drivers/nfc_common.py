"""Plumbing shared by the real NFC reader drivers (``nfc_pcsc``, ``nfc_libnfc``).

A reader library blocks (PC/SC waits in ``SCardGetStatusChange``, libnfc in its select/poll
calls), so each driver watches its reader in one background thread and hands results to the
event loop with ``call_soon_threadsafe``. The watcher thread reads a card's UID, hashes it at
once with the booth's salt (:func:`hal.base.hash_uid`) and passes on only the hash: the raw UID
is a local variable of the thread for the few microseconds between reading and hashing. It is
never stored on the driver, logged or emitted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, ClassVar

from hal.base import DeviceBase, DriverContext, DriverOptions, hash_uid
from hal.events import CardPresented, CardRemoved, DeviceKind
from hal.health import HealthStatus, SelftestOutcome, SelftestResult

log = logging.getLogger("lisa.drivers.nfc")

#: How long ``start()`` waits for the watcher's first verdict (reader found or not).
READY_TIMEOUT = 10.0
#: How long ``stop()`` waits for the watcher thread to end.
JOIN_TIMEOUT = 10.0

#: PC/SC (PC/SC part 3) ATR for an ISO 14443-A storage card: ``3B 8F 80 01 80 4F 0C`` + RID of
#: PC/SC workgroup ``A0 00 00 03 06`` + standard + card name (2 bytes) + ``00 00 00 00`` + TCK.
_PCSC_STORAGE_ATR_HEAD = bytes.fromhex("3B8F8001804F0CA000000306")
#: SAK of ISO 14443-A storage cards → PC/SC part 3 card name.
_SAK_CARD_NAME: dict[int, int] = {
    0x08: 0x0001,  # MIFARE Classic 1K
    0x18: 0x0002,  # MIFARE Classic 4K
    0x00: 0x0003,  # MIFARE Ultralight (and NTAG)
    0x09: 0x0026,  # MIFARE Mini
}


def _tck(body: bytes) -> int:
    """ATR check byte: XOR of every byte after TS."""
    value = 0
    for byte in body[1:]:
        value ^= byte
    return value


def pcsc_atr_iso14443a(sak: int, ats: bytes = b"") -> str:
    """The ATR (hex, upper case) a PC/SC reader reports for an ISO 14443-A card, so that both
    NFC drivers describe the same card the same way.

    ISO 14443-4 cards (SAK bit 6) get ``3B 8n 80 01`` + the historical bytes of their ATS;
    storage cards get the PC/SC part 3 ATR with the card name derived from the SAK.
    """
    if sak & 0x20:
        historical = _ats_historical_bytes(ats)[:15]
        body = bytes([0x3B, 0x80 | len(historical), 0x80, 0x01]) + historical
    else:
        name = _SAK_CARD_NAME.get(sak, 0x0000)
        body = _PCSC_STORAGE_ATR_HEAD + bytes([0x03, name >> 8, name & 0xFF, 0, 0, 0, 0])
    return (body + bytes([_tck(body)])).hex().upper()


def _ats_historical_bytes(ats: bytes) -> bytes:
    """Historical bytes of an ATS given without its length byte TL (as libnfc stores it)."""
    if not ats:
        return b""
    t0 = ats[0]
    index = 1 + bin(t0 & 0x70).count("1")  # skip TA(1), TB(1), TC(1) when present
    return ats[index:]


class ThreadedNfcReader(DeviceBase):
    """Base of the real NFC readers: lifecycle, the watcher thread, thread → loop hand-over.

    Subclasses implement :meth:`_import_library` (the lazy import; ``ImportError`` means the
    library is missing), :meth:`_watch` (the thread body), :meth:`_wake` (unblock the thread for
    ``stop()``) and :meth:`_probe` (the self-test, run in a worker thread).
    """

    kind = DeviceKind.NFC
    #: Text of the ``not-present`` self-test when the library cannot be imported.
    missing_library_hint: ClassVar[str] = ""

    def __init__(self, name: str, options: DriverOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._lib: Any = None
        self._missing: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._card_present = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, health={self._health.status.value})"

    # -- NfcReader ------------------------------------------------------------------------------
    def card_present(self) -> bool:
        return self._card_present

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._loop = asyncio.get_running_loop()
        try:
            self._lib = self._import_library()
        except (ImportError, OSError) as exc:  # OSError: a ctypes library that is not there
            self._missing = f"{self.missing_library_hint} ({exc})"
            log.warning("%s: %s", self.name, self._missing, extra={"device": self.name})
            self.set_health(HealthStatus.UNAVAILABLE, self._missing)
            return
        self._missing = None
        self._stopping.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name=f"nfc-{self.name}")
        self._thread.daemon = True
        self._thread.start()
        # the watcher reports its first verdict (reader found or why not) before ``ready``
        await asyncio.to_thread(self._ready.wait, READY_TIMEOUT)
        await asyncio.sleep(0)  # let the health update it scheduled run first

    async def stop(self) -> None:
        thread = self._thread
        self._thread = None
        if thread is not None:
            self._stopping.set()
            self._wake()
            await asyncio.to_thread(thread.join, JOIN_TIMEOUT)
            if thread.is_alive():
                log.error("%s: reader thread did not stop", self.name, extra={"device": self.name})
        self._card_present = False

    async def selftest(self) -> SelftestResult:
        if self._missing is not None or self._lib is None:
            try:
                self._lib = self._import_library()
            except (ImportError, OSError) as exc:
                return SelftestResult(
                    self.name, SelftestOutcome.NOT_PRESENT, f"{self.missing_library_hint} ({exc})"
                )
        passed, message, details = await asyncio.to_thread(self._probe)
        details.setdefault("card_present", self._card_present)
        outcome = SelftestOutcome.PASS if passed else SelftestOutcome.FAIL
        return SelftestResult(self.name, outcome, message, details)

    # -- subclass hooks ---------------------------------------------------------------------
    def _import_library(self) -> Any:
        raise NotImplementedError

    def _watch(self) -> None:
        """Thread body: watch the reader until ``self._stopping`` is set."""
        raise NotImplementedError

    def _wake(self) -> None:
        """Called by ``stop()`` (loop thread) to unblock a waiting watcher."""

    def _probe(self) -> tuple[bool, str, dict[str, Any]]:
        """Self-test in a worker thread: (passed, message, details)."""
        raise NotImplementedError

    # -- thread side: hand results to the loop -------------------------------------------------
    def _thread_main(self) -> None:
        try:
            self._watch()
        except Exception as exc:  # a bug or a library failure must show as health, not vanish
            log.exception("%s: reader thread failed", self.name, extra={"device": self.name})
            self._report_health(HealthStatus.UNAVAILABLE, f"reader thread failed: {exc}")
        finally:
            self._ready.set()

    def _call(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # loop closed meanwhile
            pass

    def _report_health(self, status: HealthStatus, reason: str = "") -> None:
        """Schedule a health update. A problem also ends ``start()``'s wait (``_ready``); after
        an OK the watcher sets ``_ready`` itself once it has seen the reader's card state."""
        if status is not HealthStatus.OK:
            log.warning("%s: %s", self.name, reason, extra={"device": self.name})
        self._call(self.set_health, status, reason)
        if status is not HealthStatus.OK:
            self._ready.set()

    def _report_card(self, uid: bytes, atr: str) -> None:
        """A card was identified: hash its UID here, in the thread; only the hash goes on."""
        uid_hash = hash_uid(uid, self.context.uid_salt)
        self._call(self._presented, uid_hash, atr)

    def _report_removed(self) -> None:
        self._call(self._removed)

    def _presented(self, uid_hash: str, atr: str) -> None:
        if self._thread is None:  # stopped meanwhile
            return
        if self._card_present:
            self._removed()
        self._card_present = True
        self.emit(CardPresented(self.name, self.clock.now(), uid_hash, atr))

    def _removed(self) -> None:
        if not self._card_present:
            return
        self._card_present = False
        self.emit(CardRemoved(self.name, self.clock.now()))

    def _wait(self, seconds: float) -> bool:
        """Thread side: wait ``seconds`` or until stopped; True when stopping."""
        return self._stopping.wait(seconds)
