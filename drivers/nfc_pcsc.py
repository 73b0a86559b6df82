"""NFC reader through PC/SC (pcscd + pyscard): any CCID contactless reader (ACR122U, ACR1252U,
Omnikey 5022, SCM SCL3711, ...).

Needs the Python package ``pyscard`` (``pip install 'lisa[hardware]'``; it is built from source
against the Debian package ``libpcsclite-dev`` with gcc) and a running ``pcscd`` (Debian package
``pcscd``). pyscard is imported in ``start()``, so a simulated booth never needs it.

A watcher thread waits in ``SCardGetStatusChange`` for the reader's card state. When a card comes,
it connects and reads the UID with the PC/SC pseudo-APDU GET DATA ``FF CA 00 00 00`` (PC/SC part
3, answered by the reader for any contactless card), hashes it at once with the booth's salt and
emits ``CardPresented(uid_hash, atr)``; ``CardRemoved`` when the card leaves. A card that does not
answer GET DATA (a contact card, a reader without the pseudo-APDU) is logged and not announced:
hashing anything else (the ATR is the same for every card of a type) would let any card of the
same type pass as a technician badge.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from drivers.nfc_common import ThreadedNfcReader
from hal.base import DriverContext, DriverOptions
from hal.health import HealthStatus

log = logging.getLogger("lisa.drivers.nfc_pcsc")

#: PC/SC return codes (``winscard.h``) the driver tells apart.
SCARD_S_SUCCESS = 0x00000000
SCARD_E_CANCELLED = 0x80100002
SCARD_E_INVALID_HANDLE = 0x80100003
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_READER_UNAVAILABLE = 0x80100017
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_SERVICE_STOPPED = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E

NO_PCSCD = "pcscd is not running (Debian package pcscd)"
MISSING_PYSCARD = (
    "pyscard is not installed: pip install 'lisa[hardware]' "
    "(it builds against the Debian package libpcsclite-dev, with gcc)"
)

#: PC/SC part 3 GET DATA: UID of the contactless card (Le 00: all of it).
GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]

#: How long one ``SCardGetStatusChange`` waits before the thread looks at its stop flag again
#: (``stop()`` also cancels the wait with ``SCardCancel``).
STATUS_WAIT_MS = 500

_SERVICE_GONE = {SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, SCARD_E_INVALID_HANDLE}
_READER_GONE = {SCARD_E_UNKNOWN_READER, SCARD_E_READER_UNAVAILABLE}


def _code(rv: int) -> int:
    return rv & 0xFFFFFFFF


class PcscReaderOptions(DriverOptions):
    reader: str = Field(
        "",
        description="Part of the PC/SC reader name (case-insensitive), e.g. 'ACR122'; "
        "empty: the first reader pcscd lists.",
    )
    retry_interval: float = Field(
        2.0, gt=0, description="Seconds between attempts to reach pcscd or find the reader."
    )


class PcscReader(ThreadedNfcReader):
    """NFC reader on pcscd. Only the salted hash of a card's UID leaves the driver."""

    Options = PcscReaderOptions
    missing_library_hint = MISSING_PYSCARD

    def __init__(self, name: str, options: PcscReaderOptions, context: DriverContext) -> None:
        super().__init__(name, options, context)
        self.options: PcscReaderOptions = options
        self._context_handle: Any = None
        self._reader_name: str | None = None

    def reader_name(self) -> str | None:
        """The PC/SC reader in use (``None``: none found yet)."""
        return self._reader_name

    # -- library --------------------------------------------------------------------------------
    def _import_library(self) -> Any:
        from smartcard import scard

        return scard

    def _error(self, rv: int) -> str:
        try:
            text = str(self._lib.SCardGetErrorMessage(rv))
        except Exception:
            text = "PC/SC error"
        return f"{text} (0x{_code(rv):08X})"

    def _service_reason(self, rv: int) -> str:
        if _code(rv) in (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED):
            return NO_PCSCD
        return f"cannot reach pcscd: {self._error(rv)}"

    def _matching_readers(self, names: list[str]) -> list[str]:
        wanted = self.options.reader.lower()
        return [name for name in names if wanted in name.lower()]

    def _no_reader_reason(self, names: list[str]) -> str:
        what = f"matching {self.options.reader!r} " if self.options.reader else ""
        listed = ", ".join(repr(n) for n in names) or "none"
        return f"no PC/SC reader {what}found (readers: {listed})"

    # -- watcher thread ---------------------------------------------------------------------------
    def _watch(self) -> None:
        scard = self._lib
        while not self._stopping.is_set():
            rv, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if _code(rv) != SCARD_S_SUCCESS:
                self._report_health(HealthStatus.UNAVAILABLE, self._service_reason(rv))
                if self._wait(self.options.retry_interval):
                    return
                continue
            self._context_handle = handle
            try:
                self._watch_context(handle)
            finally:
                self._context_handle = None
                scard.SCardReleaseContext(handle)
                self._reader_name = None
                self._report_removed()

    def _watch_context(self, handle: Any) -> None:
        """Find the reader and watch it while pcscd stays reachable."""
        scard = self._lib
        while not self._stopping.is_set():
            rv, names = scard.SCardListReaders(handle, [])
            code = _code(rv)
            if code in _SERVICE_GONE:
                self._report_health(HealthStatus.UNAVAILABLE, self._service_reason(rv))
                return
            if code not in (SCARD_S_SUCCESS, SCARD_E_NO_READERS_AVAILABLE):
                self._report_health(HealthStatus.UNAVAILABLE, f"pcscd: {self._error(rv)}")
                return
            listed = list(names) if code == SCARD_S_SUCCESS else []
            matching = self._matching_readers(listed)
            if not matching:
                self._report_health(HealthStatus.UNAVAILABLE, self._no_reader_reason(listed))
                if self._wait(self.options.retry_interval):
                    return
                continue
            self._reader_name = matching[0]
            log.info("%s: using PC/SC reader %r", self.name, matching[0])
            self._report_health(HealthStatus.OK)
            if not self._watch_reader(handle, matching[0]):
                return
            self._reader_name = None
            self._report_removed()

    def _watch_reader(self, handle: Any, reader: str) -> bool:
        """Follow the card state of ``reader``. Returns True when the reader went away (look for
        it again), False when pcscd went away or the driver stops."""
        scard = self._lib
        state = scard.SCARD_STATE_UNAWARE
        card_in_field = False
        while not self._stopping.is_set():
            rv, states = scard.SCardGetStatusChange(handle, STATUS_WAIT_MS, [(reader, state)])
            code = _code(rv)
            if code == SCARD_E_TIMEOUT:
                continue
            if code == SCARD_E_CANCELLED:
                return False
            if code in _READER_GONE:
                return True
            if code != SCARD_S_SUCCESS:
                self._report_health(HealthStatus.UNAVAILABLE, self._service_reason(rv))
                return False
            _, event_state, atr = states[0]
            state = event_state & ~scard.SCARD_STATE_CHANGED
            if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                return True
            present = bool(event_state & scard.SCARD_STATE_PRESENT) and not (
                event_state & scard.SCARD_STATE_MUTE
            )
            if present and not card_in_field:
                card_in_field = True
                self._card_arrived(handle, reader, bytes(atr).hex().upper())
            elif not present and card_in_field:
                card_in_field = False
                self._report_removed()
            self._ready.set()
        return False

    def _card_arrived(self, handle: Any, reader: str, atr: str) -> None:
        uid = self._read_uid(handle, reader)
        if uid is None:
            return
        self._report_card(uid, atr)

    def _read_uid(self, handle: Any, reader: str) -> bytes | None:
        """The card's UID through GET DATA (FF CA); ``None`` if the card or reader does not
        answer it. The UID only lives in this frame and the caller's, never in a log line."""
        scard = self._lib
        rv, card, protocol = scard.SCardConnect(
            handle,
            reader,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if _code(rv) != SCARD_S_SUCCESS:
            log.warning("%s: cannot connect to the card: %s", self.name, self._error(rv))
            return None
        try:
            command = list(GET_UID)
            for _ in range(2):
                rv, response = scard.SCardTransmit(card, protocol, command)
                if _code(rv) != SCARD_S_SUCCESS:
                    log.warning("%s: GET DATA (UID) failed: %s", self.name, self._error(rv))
                    return None
                if len(response) == 2 and response[0] == 0x6C:  # wrong Le: retry with the right one
                    command[4] = response[1]
                    continue
                break
            if len(response) < 2 or response[-2:] != [0x90, 0x00]:
                sw = "".join(f"{b:02X}" for b in response[-2:])
                log.warning(
                    "%s: card does not answer GET DATA (FF CA 00 00 00) with its UID (SW %s): "
                    "not announced",
                    self.name,
                    sw or "none",
                )
                return None
            if not 4 <= len(response) - 2 <= 10:
                log.warning(
                    "%s: GET DATA returned a %d-byte UID: not announced",
                    self.name,
                    len(response) - 2,
                )
                return None
            return bytes(response[:-2])
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)

    def _wake(self) -> None:
        handle = self._context_handle
        if handle is not None and self._lib is not None:
            self._lib.SCardCancel(handle)

    # -- self-test ------------------------------------------------------------------------------
    def _probe(self) -> tuple[bool, str, dict[str, Any]]:
        scard = self._lib
        rv, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if _code(rv) != SCARD_S_SUCCESS:
            return False, self._service_reason(rv), {}
        try:
            rv, names = scard.SCardListReaders(handle, [])
            code = _code(rv)
            if code not in (SCARD_S_SUCCESS, SCARD_E_NO_READERS_AVAILABLE):
                return False, f"pcscd: {self._error(rv)}", {}
            listed = list(names) if code == SCARD_S_SUCCESS else []
            matching = self._matching_readers(listed)
            if not matching:
                return False, self._no_reader_reason(listed), {"readers": listed}
            return True, f"PC/SC reader {matching[0]!r} responding", {"reader": matching[0]}
        finally:
            scard.SCardReleaseContext(handle)
