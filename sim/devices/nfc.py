"""Simulated NFC reader. Only the salted hash of a card UID ever leaves (or stays in) it."""

from __future__ import annotations

import re

from pydantic import Field

from hal.base import DriverContext, DriverOptions, hash_uid
from hal.events import CardPresented, CardRemoved, DeviceKind
from hal.health import SelftestResult
from sim.devices._base import SimDevice

#: ATR a PC/SC reader reports for a MIFARE Classic 1K card.
DEFAULT_ATR = "3B8F8001804F0CA000000306030001000000006A"

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _uid_bytes(uid: str | bytes) -> bytes:
    if isinstance(uid, bytes):
        raw = uid
    else:
        text = re.sub(r"[\s:\-]", "", uid)
        if not text or len(text) % 2 or not _HEX.match(text):
            raise ValueError("card UID must be hex digits (e.g. '04A2243B5C6180')")
        raw = bytes.fromhex(text)
    if not 4 <= len(raw) <= 10:
        raise ValueError(f"card UID must be 4 to 10 bytes, got {len(raw)}")
    return raw


class SimNfcReaderOptions(DriverOptions):
    atr: str = Field(
        DEFAULT_ATR, description="ATR (hex) reported for presented cards unless one is given."
    )


class SimNfcReader(SimDevice):
    """An NFC reader.

    Test control:

    - ``present(uid, atr=None)``: a card (UID as hex string or bytes) is put on the reader:
      emits ``CardPresented`` with ``hash_uid(uid, context.uid_salt)``; a card already on the
      reader is removed first. The raw UID is hashed at once and never stored;
    - ``remove()``: the card is taken away (``CardRemoved``), no-op without a card;
    - ``fail(reason)`` / ``recover()``: a failed reader detects no cards (``present`` is ignored).
    """

    kind = DeviceKind.NFC
    Options = SimNfcReaderOptions

    def __init__(self, name: str, options: SimNfcReaderOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self._card_hash: str | None = None

    def card_present(self) -> bool:
        return self._card_hash is not None

    def card_hash(self) -> str | None:
        """Test helper: the salted UID hash of the card on the reader (``None``: no card)."""
        return self._card_hash

    async def selftest(self) -> SelftestResult:
        failed = self._failed_result()
        if failed is not None:
            return failed
        return self._result(True, "reader responding", {"card_present": self.card_present()})

    # -- test control --------------------------------------------------------------------------
    def present(self, uid: str | bytes, atr: str | None = None) -> str | None:
        """Test control: put a card on the reader. Returns the emitted ``uid_hash`` (``None``
        if the reader is failed and therefore saw nothing)."""
        uid_hash = hash_uid(_uid_bytes(uid), self.context.uid_salt)
        if self.failed:
            return None
        if self._card_hash is not None:
            self.remove()
        self._card_hash = uid_hash
        self.emit(CardPresented(self.name, self.clock.now(), uid_hash, atr or self.options.atr))
        return uid_hash

    def remove(self) -> None:
        """Test control: take the card away (emits ``CardRemoved``)."""
        if self._card_hash is None:
            return
        self._card_hash = None
        self.emit(CardRemoved(self.name, self.clock.now()))

    def _on_fail(self) -> None:
        self.remove()
