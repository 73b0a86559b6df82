"""NFC reader through libnfc (pynfc, ctypes): PN532 (UART, I2C, SPI), PN533 / ACR122U on USB.

Needs the Python package ``pynfc`` (``pip install 'lisa[hardware]'``) and the Debian packages
``libnfc6``, ``libfreefare0`` and ``libfreefare-dev`` (pynfc loads the unversioned
``libfreefare.so``, which only the -dev package provides). pynfc is imported in ``start()``, so a
simulated booth never needs it. Keep the kernel's ``pn533_usb`` driver away from USB readers
(see docs/hardware.md).

A watcher thread opens the libnfc device (``device`` option: a libnfc connstring such as
``pn532_uart:/dev/ttyUSB0`` or ``acr122_usb``; empty: libnfc's default device) and looks for an
ISO 14443-A target every ``poll_interval`` seconds (one non-blocking select: infinite select is
switched off). A selected target's UID is hashed at once with the booth's salt and only the hash
is emitted, with the ATR a PC/SC reader would report for the card (so both NFC drivers describe a
card the same way). While a card is selected the thread checks every ``poll_interval`` that it
is still there (``nfc_initiator_target_is_present``) and emits ``CardRemoved`` when it is gone.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from pydantic import Field

from drivers.nfc_common import ThreadedNfcReader, pcsc_atr_iso14443a
from hal.base import DriverContext, DriverOptions
from hal.health import HealthStatus

log = logging.getLogger("lisa.drivers.nfc_libnfc")

MISSING_PYNFC = (
    "pynfc is not usable: pip install 'lisa[hardware]' and the Debian packages libnfc6, "
    "libfreefare0 and libfreefare-dev (pynfc loads the unversioned libfreefare.so)"
)

#: libnfc error codes (``nfc.h``) the driver tells apart.
NFC_SUCCESS = 0
NFC_EIO = -1
NFC_ENOTSUCHDEV = -5
NFC_ETGRELEASED = -10
NFC_ERFTRANS = -20

#: Errors after which the device is closed and opened again (the reader went away).
_DEVICE_GONE = {NFC_EIO, NFC_ENOTSUCHDEV}


class LibnfcReaderOptions(DriverOptions):
    device: str = Field(
        "",
        description="libnfc connstring, e.g. 'pn532_uart:/dev/ttyUSB0' or 'acr122_usb'; "
        "empty: libnfc's default device (LIBNFC_DEFAULT_DEVICE, /etc/nfc/libnfc.conf, "
        "else the first one found).",
    )
    poll_interval: float = Field(
        0.2, gt=0, description="Seconds between looks for a card and checks that it is still there."
    )
    retry_interval: float = Field(
        2.0, gt=0, description="Seconds between attempts to open the reader."
    )


class LibnfcReader(ThreadedNfcReader):
    """NFC reader on libnfc. Only the salted hash of a card's UID leaves the driver."""

    Options = LibnfcReaderOptions
    missing_library_hint = MISSING_PYNFC

    def __init__(self, name: str, options: LibnfcReaderOptions, context: DriverContext) -> None:
        super().__init__(name, options, context)
        self.options: LibnfcReaderOptions = options
        self._device_name: str | None = None

    def device_name(self) -> str | None:
        """libnfc's name of the open reader (``None``: not open)."""
        return self._device_name

    # -- library --------------------------------------------------------------------------------
    def _import_library(self) -> Any:
        from pynfc import nfc

        # pynfc declares the connstring as a char[1024] array; a plain char* also takes NULL
        nfc.nfc_open.argtypes = [ctypes.POINTER(nfc.struct_nfc_context), ctypes.c_char_p]
        return nfc

    def _where(self) -> str:
        return repr(self.options.device) if self.options.device else "libnfc's default device"

    def _strerror(self, device: Any) -> str:
        try:
            return str(ctypes.string_at(self._lib.nfc_strerror(device)).decode(errors="replace"))
        except Exception:
            return "libnfc error"

    def _open(self, context: Any) -> Any:
        connstring = self.options.device.encode() if self.options.device else None
        device = self._lib.nfc_open(context, connstring)
        return device if device else None

    # -- watcher thread ---------------------------------------------------------------------------
    def _watch(self) -> None:
        nfc = self._lib
        context = ctypes.POINTER(nfc.struct_nfc_context)()
        nfc.nfc_init(ctypes.byref(context))
        if not context:
            self._report_health(HealthStatus.UNAVAILABLE, "libnfc could not initialise (nfc_init)")
            return
        try:
            while not self._stopping.is_set():
                device = self._open(context)
                if device is None:
                    self._report_health(
                        HealthStatus.UNAVAILABLE, f"no libnfc reader at {self._where()}"
                    )
                    if self._wait(self.options.retry_interval):
                        return
                    continue
                try:
                    self._watch_device(device)
                finally:
                    self._device_name = None
                    nfc.nfc_close(device)
                    self._report_removed()
        finally:
            nfc.nfc_exit(context)

    def _watch_device(self, device: Any) -> None:
        nfc = self._lib
        name = ctypes.string_at(nfc.nfc_device_get_name(device)).decode(errors="replace")
        if nfc.nfc_initiator_init(device) < 0:
            self._report_health(
                HealthStatus.UNAVAILABLE,
                f"libnfc reader {name!r}: initiator mode failed: {self._strerror(device)}",
            )
            self._wait(self.options.retry_interval)
            return
        # one select attempt per call instead of waiting in the reader for a card
        if nfc.nfc_device_set_property_bool(device, nfc.NP_INFINITE_SELECT, False) < 0:
            log.warning("%s: cannot switch off infinite select", self.name)
        self._device_name = name
        log.info("%s: using libnfc reader %r", self.name, name)
        self._report_health(HealthStatus.OK)
        modulation = nfc.nfc_modulation()
        modulation.nmt = nfc.NMT_ISO14443A
        modulation.nbr = nfc.NBR_106
        while not self._stopping.is_set():
            target = nfc.nfc_target()
            found = nfc.nfc_initiator_select_passive_target(
                device, modulation, None, 0, ctypes.byref(target)
            )
            self._ready.set()
            if found < 0 and found in _DEVICE_GONE:
                self._report_health(
                    HealthStatus.UNAVAILABLE,
                    f"libnfc reader {name!r} stopped answering: {self._strerror(device)}",
                )
                return
            if found <= 0:
                if self._wait(self.options.poll_interval):
                    return
                continue
            self._card_arrived(target)
            del target  # the UID is in there: drop it now
            gone = self._wait_until_removed(device)
            nfc.nfc_initiator_deselect_target(device)
            self._report_removed()
            if gone is None:  # stopping
                return

    def _card_arrived(self, target: Any) -> None:
        info = target.nti.nai
        length = min(int(info.szUidLen), len(info.abtUid))
        if not 4 <= length <= 10:
            log.warning("%s: target with a %d-byte UID: not announced", self.name, length)
            return
        ats = bytes(info.abtAts[: min(int(info.szAtsLen), len(info.abtAts))])
        atr = pcsc_atr_iso14443a(int(info.btSak), ats)
        self._report_card(bytes(info.abtUid[:length]), atr)

    def _wait_until_removed(self, device: Any) -> bool | None:
        """Poll until the selected card leaves (True) or the driver stops (None)."""
        while not self._wait(self.options.poll_interval):
            if self._lib.nfc_initiator_target_is_present(device, None) != NFC_SUCCESS:
                return True
        return None

    # -- self-test ------------------------------------------------------------------------------
    def _probe(self) -> tuple[bool, str, dict[str, Any]]:
        name = self._device_name
        if name is not None:  # the watcher holds the device open: it cannot be opened twice
            return True, f"libnfc reader {name!r} responding", {"device": name}
        if self._thread is not None:  # started, but the watcher has no reader
            return False, self.health().reason or f"no libnfc reader at {self._where()}", {}
        nfc = self._lib  # not started: open the reader once
        context = ctypes.POINTER(nfc.struct_nfc_context)()
        nfc.nfc_init(ctypes.byref(context))
        if not context:
            return False, "libnfc could not initialise (nfc_init)", {}
        try:
            device = self._open(context)
            if device is None:
                return False, f"no libnfc reader at {self._where()}", {}
            name = ctypes.string_at(nfc.nfc_device_get_name(device)).decode(errors="replace")
            nfc.nfc_close(device)
            return True, f"libnfc reader {name!r} responding", {"device": name}
        finally:
            nfc.nfc_exit(context)
