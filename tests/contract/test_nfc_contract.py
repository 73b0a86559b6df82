"""Contract of NFC readers: card presented/removed, only salted UID hashes leave the driver."""

from __future__ import annotations

from typing import Any

from hal.base import hash_uid
from hal.devices import NfcReader
from hal.events import CardPresented, CardRemoved

UID = "04A2243B5C6180"
OTHER_UID = "04B7112A9C6181"


async def test_is_an_nfc_reader(make_nfc: Any) -> None:
    reader = make_nfc.device
    assert isinstance(reader, NfcReader)
    assert reader.card_present() is False


async def test_card_presented_and_removed(make_nfc: Any, record: Any) -> None:
    reader, peer = make_nfc.device, make_nfc.peer
    salt: bytes = make_nfc.params["uid_salt"]
    rec = record(reader)

    peer.present(UID)
    event = await rec.wait_for(lambda e: isinstance(e, CardPresented), 1.0)
    assert event.device == reader.name
    assert event.uid_hash == hash_uid(bytes.fromhex(UID), salt)
    assert isinstance(event.atr, str) and event.atr
    assert UID.lower() not in repr(event).lower()
    assert reader.card_present() is True

    start = len(rec.events)
    peer.remove()
    await rec.wait_for(lambda e: isinstance(e, CardRemoved), 1.0, start)
    assert reader.card_present() is False


async def test_different_cards_different_hashes(make_nfc: Any, record: Any) -> None:
    reader, peer = make_nfc.device, make_nfc.peer
    rec = record(reader)
    hashes = []
    for uid in (UID, OTHER_UID, UID):
        start = len(rec.events)
        peer.present(uid)
        event = await rec.wait_for(lambda e: isinstance(e, CardPresented), 1.0, start)
        hashes.append(event.uid_hash)
        peer.remove()
        await rec.wait_for(lambda e: isinstance(e, CardRemoved), 1.0, start)
    assert hashes[0] == hashes[2]
    assert hashes[0] != hashes[1]
