"""The biometric record and its sealed envelope."""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.signing.biometrics import (
    FORMAT_ID,
    BiometricError,
    BiometricRecord,
    DeviceInfo,
    decode_record,
    encode_record,
    read_header,
    seal,
    strokes_from_samples,
    unseal,
)
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import PenSample
from sim.devices.signature import SimSignaturePad, SimSignaturePadOptions
from sim.sign_demo import SIM_DEVICE, simulated_record, synthetic_signature

DOC = hashlib.sha256(b"the document").digest()


def test_synthetic_signature_is_500_hz_with_1024_levels() -> None:
    samples = synthetic_signature()
    dts = {round(b.t - a.t, 6) for a, b in itertools.pairwise(samples)}
    assert 0.002 in dts
    assert all(1 <= s.pressure <= 1023 for s in samples)
    assert len({s.pressure for s in samples}) > 100
    strokes = strokes_from_samples(samples)
    assert len(strokes) == 3
    assert sum(len(s) for s in strokes) == len(samples)


def test_strokes_split_on_pen_up_and_gaps() -> None:
    s = [
        PenSample(1, 1, 10, 0.0),
        PenSample(2, 2, 10, 0.002),
        PenSample(3, 3, 0, 0.004),
        PenSample(4, 4, 10, 0.006),
        PenSample(5, 5, 10, 0.5),
    ]
    strokes = strokes_from_samples(s)
    assert [len(x) for x in strokes] == [2, 1, 1]
    assert strokes[0][0].t == 0.0 and strokes[2][0].t == pytest.approx(0.5)


async def test_samples_from_the_simulated_pad() -> None:
    pad = SimSignaturePad("pad", SimSignaturePadOptions(), DriverContext(clock=LoopClock()))
    await pad.enable()
    await pad.draw_stroke([(1000, 1000), (4000, 3000)], 0.4, pressure=600)
    await asyncio.sleep(0.15)  # pen lifted
    await pad.draw_stroke([(5000, 1000), (5200, 4000)], 0.2, pressure=300)
    record = BiometricRecord(SIM_DEVICE, strokes_from_samples(pad.ink(), 500), DOC)
    assert [len(s) for s in record.strokes] == [201, 101]
    again = decode_record(encode_record(record))
    assert again.strokes == record.strokes
    assert again.device == SIM_DEVICE


def test_record_round_trip_and_header() -> None:
    record = simulated_record()
    record = BiometricRecord(record.device, record.strokes, DOC, record.captured_at)
    raw = encode_record(record)
    assert raw[:4] == FORMAT_ID
    back = decode_record(raw)
    assert back.document_sha256 == DOC
    assert back.sample_count == record.sample_count
    assert back.device.sample_rate_hz == 500 and back.device.pressure_levels == 1024
    assert abs((back.captured_at - record.captured_at).total_seconds()) < 0.002
    with pytest.raises(BiometricError):
        decode_record(raw[:-3])


def test_seal_unseal_binds_key_and_document() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = simulated_record()
    record = BiometricRecord(r.device, r.strokes, DOC, r.captured_at)
    blob = seal(record, key.public_key(), 1234)
    head = read_header(blob)
    assert head.document_sha256 == DOC and head.document_length == 1234
    assert unseal(blob, key, DOC).strokes == record.strokes
    with pytest.raises(BiometricError, match="different key"):
        unseal(blob, other)
    with pytest.raises(BiometricError, match="different document"):
        unseal(blob, key, hashlib.sha256(b"another").digest())
    # swap the document hash in the clear header: authenticated data -> decryption fails
    tampered = bytearray(blob)
    tampered[9] ^= 1
    with pytest.raises(BiometricError):
        unseal(bytes(tampered), key)
    # a flipped ciphertext byte
    tampered = bytearray(blob)
    tampered[-20] ^= 1
    with pytest.raises(BiometricError, match="decryption failed"):
        unseal(bytes(tampered), key)


def test_device_info_defaults_describe_the_pad() -> None:
    d = DeviceInfo()
    assert (d.sample_rate_hz, d.pressure_levels) == (500, 1024)
