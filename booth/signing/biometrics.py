"""Biometric signature data: the pen's time series in an ISO/IEC 19794-7-style record, sealed
for the authority's trusted third party (see docs/signature.md, "File formats").

Two layers:

- the *record* (plaintext): a binary structure modelled on ISO/IEC 19794-7 (signature/sign
  time series data, "full format"): a general header with the format identifier ``SDI\\0``, a
  (LISA) version, the record length, then the device description (sampling rate, pressure
  levels, pad size and resolution), the channel inclusion field (X, Y, T, F) and the strokes
  with their sample points; the document's SHA-256 is part of the record;
- the *envelope*: a clear header (magic, version, document SHA-256 and length, the recipient key
  id, the RSA-OAEP(SHA-256)-wrapped AES-256 key, the GCM nonce) followed by the AES-256-GCM
  ciphertext of the record. The whole clear header is the GCM associated data, so neither the
  document hash nor anything else in it can be swapped without the decryption failing.

The booth only ever holds the authority's *public* key; decryption needs the private key held by
the trusted third party.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hal.events import PenSample

FORMAT_ID = b"SDI\x00"  # ISO/IEC 19794-7 format identifier
RECORD_VERSION = b"L01\x00"  # LISA profile 1 (not an ISO version number)
ENVELOPE_MAGIC = b"LISABIO\x00"
ENVELOPE_VERSION = 1
MEDIA_TYPE = "application/vnd.lisa.biometric-signature"

# channel inclusion bits, in the order of ISO/IEC 19794-7's channel list (X, Y, Z, VX, VY, AX,
# AY, T, DT, F, S, …); bit 15 is the first channel. We carry X, Y, T and F (pressure).
CH_X = 1 << 15
CH_Y = 1 << 14
CH_T = 1 << 8
CH_F = 1 << 6
CHANNELS = CH_X | CH_Y | CH_T | CH_F

_OAEP = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)


class BiometricError(ValueError):
    """A malformed record/envelope, the wrong key, or a document hash that does not match."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The capture device, as in 19794-7's capture device fields (simplified)."""

    vendor: str = "LISA"
    model: str = "pad"
    sample_rate_hz: int = 500
    pressure_levels: int = 1024
    width: int = 10000
    height: int = 6000
    units_per_mm: float = 100.0  # pad units per millimetre (resolution)


@dataclass(frozen=True, slots=True)
class Point:
    """One sample point: pad units, seconds since the first sample, pressure level."""

    x: int
    y: int
    t: float
    pressure: int


@dataclass(frozen=True, slots=True)
class BiometricRecord:
    device: DeviceInfo
    strokes: tuple[tuple[Point, ...], ...]
    document_sha256: bytes
    captured_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def sample_count(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def duration(self) -> float:
        ts = [p.t for s in self.strokes for p in s]
        return max(ts) - min(ts) if ts else 0.0

    def to_dict(self) -> dict[str, object]:
        d = self.device
        return {
            "format": FORMAT_ID.rstrip(b"\x00").decode(),
            "version": RECORD_VERSION.rstrip(b"\x00").decode(),
            "document_sha256": self.document_sha256.hex(),
            "captured_at": self.captured_at.isoformat(),
            "device": {
                "vendor": d.vendor,
                "model": d.model,
                "sample_rate_hz": d.sample_rate_hz,
                "pressure_levels": d.pressure_levels,
                "width": d.width,
                "height": d.height,
                "units_per_mm": d.units_per_mm,
            },
            "channels": ["x", "y", "t", "pressure"],
            "strokes": [[[p.x, p.y, round(p.t, 6), p.pressure] for p in s] for s in self.strokes],
        }


def strokes_from_samples(
    samples: Iterable[PenSample], sample_rate_hz: int = 500
) -> tuple[tuple[Point, ...], ...]:
    """Split pad samples into strokes: a new stroke starts after a pressure-0 sample (pen up) or
    a gap of more than 3 sample intervals. Times become relative to the first sample."""
    gap = 3.0 / sample_rate_hz
    strokes: list[list[Point]] = []
    current: list[Point] = []
    t0: float | None = None
    last_t: float | None = None
    for s in samples:
        if t0 is None:
            t0 = s.t
        if s.pressure <= 0 or (last_t is not None and s.t - last_t > gap):
            if current:
                strokes.append(current)
            current = []
        if s.pressure > 0:
            current.append(Point(s.x, s.y, round(s.t - t0, 6), s.pressure))
        last_t = s.t
    if current:
        strokes.append(current)
    return tuple(tuple(s) for s in strokes)


# --- record (plaintext) -----------------------------------------------------------------------

_HEAD = struct.Struct(">4s4sI")  # format id, version, record length
_DEVICE = struct.Struct(">HHIII")  # sample rate, pressure levels, width, height, units/mm * 100
_POINT = struct.Struct(">IIIH")  # x, y, t (µs since the first sample), pressure


def _str(value: str) -> bytes:
    raw = value.encode()[:255]
    return bytes([len(raw)]) + raw


def encode_record(record: BiometricRecord) -> bytes:
    """The binary record (layout in docs/signature.md)."""
    if len(record.document_sha256) != 32:
        raise BiometricError("document_sha256 must be 32 bytes")
    d = record.device
    body = bytearray()
    body += record.document_sha256
    body += struct.pack(">q", int(record.captured_at.timestamp() * 1000))
    body += _str(d.vendor) + _str(d.model)
    body += _DEVICE.pack(
        d.sample_rate_hz, d.pressure_levels, d.width, d.height, round(d.units_per_mm * 100)
    )
    body += struct.pack(">H", CHANNELS)
    body += struct.pack(">H", len(record.strokes))
    for stroke in record.strokes:
        body += struct.pack(">I", len(stroke))
        for p in stroke:
            body += _POINT.pack(p.x, p.y, max(0, round(p.t * 1_000_000)), p.pressure)
    return _HEAD.pack(FORMAT_ID, RECORD_VERSION, _HEAD.size + len(body)) + bytes(body)


def decode_record(data: bytes) -> BiometricRecord:
    try:
        fmt, version, length = _HEAD.unpack_from(data, 0)
        if fmt != FORMAT_ID or version != RECORD_VERSION:
            raise BiometricError(f"not a LISA biometric record ({fmt!r} {version!r})")
        if length != len(data):
            raise BiometricError(f"record length {length} != {len(data)}")
        off = _HEAD.size
        doc = data[off : off + 32]
        off += 32
        (ms,) = struct.unpack_from(">q", data, off)
        off += 8
        strings = []
        for _ in range(2):
            n = data[off]
            strings.append(data[off + 1 : off + 1 + n].decode())
            off += 1 + n
        rate, levels, width, height, upm = _DEVICE.unpack_from(data, off)
        off += _DEVICE.size
        (channels,) = struct.unpack_from(">H", data, off)
        if channels != CHANNELS:
            raise BiometricError(f"unsupported channel set {channels:#06x}")
        (n_strokes,) = struct.unpack_from(">H", data, off + 2)
        off += 4
        strokes = []
        for _ in range(n_strokes):
            (n,) = struct.unpack_from(">I", data, off)
            off += 4
            pts = []
            for _ in range(n):
                x, y, t_us, f = _POINT.unpack_from(data, off)
                off += _POINT.size
                pts.append(Point(x, y, t_us / 1_000_000, f))
            strokes.append(tuple(pts))
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise BiometricError(f"malformed biometric record: {exc}") from None
    device = DeviceInfo(strings[0], strings[1], rate, levels, width, height, upm / 100)
    return BiometricRecord(device, tuple(strokes), doc, datetime.fromtimestamp(ms / 1000, UTC))


# --- envelope (encrypted) ---------------------------------------------------------------------

_ENV = struct.Struct(">8sB32sQ32sH")  # magic, version, doc sha256, doc length, key id, wrapped len
_NONCE = 12


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The clear part of a sealed blob (readable without the private key)."""

    document_sha256: bytes
    document_length: int
    key_id: bytes  # SHA-256 of the recipient public key (SubjectPublicKeyInfo, DER)
    header_length: int


def key_id(public_key: rsa.RSAPublicKey) -> bytes:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def seal(record: BiometricRecord, public_key: rsa.RSAPublicKey, document_length: int) -> bytes:
    """Encrypt the record to ``public_key`` (RSA-OAEP-SHA256 key wrap + AES-256-GCM); the clear
    header (incl. the document hash and length) is the GCM associated data."""
    cek = AESGCM.generate_key(bit_length=256)
    wrapped = public_key.encrypt(cek, _OAEP)
    nonce = os.urandom(_NONCE)
    header = (
        _ENV.pack(
            ENVELOPE_MAGIC,
            ENVELOPE_VERSION,
            record.document_sha256,
            document_length,
            key_id(public_key),
            len(wrapped),
        )
        + wrapped
        + nonce
    )
    return header + AESGCM(cek).encrypt(nonce, encode_record(record), header)


def read_header(blob: bytes) -> EnvelopeHeader:
    try:
        magic, version, doc, length, kid, wlen = _ENV.unpack_from(blob, 0)
    except struct.error:
        raise BiometricError("not a LISA biometric envelope (too short)") from None
    if magic != ENVELOPE_MAGIC or version != ENVELOPE_VERSION:
        raise BiometricError("not a LISA biometric envelope")
    header_length = _ENV.size + wlen + _NONCE
    if len(blob) < header_length + 16:
        raise BiometricError("truncated biometric envelope")
    return EnvelopeHeader(doc, length, kid, header_length)


def unseal(
    blob: bytes, private_key: rsa.RSAPrivateKey, expected_sha256: bytes | None = None
) -> BiometricRecord:
    """Decrypt a sealed blob; raises ``BiometricError`` for the wrong key, any manipulation, or
    a document hash (envelope or record) different from ``expected_sha256``."""
    head = read_header(blob)
    if head.key_id != key_id(private_key.public_key()):
        raise BiometricError("the blob is sealed for a different key")
    wlen = head.header_length - _ENV.size - _NONCE
    wrapped = blob[_ENV.size : _ENV.size + wlen]
    nonce = blob[_ENV.size + wlen : head.header_length]
    try:
        cek = private_key.decrypt(wrapped, _OAEP)
        plain = AESGCM(cek).decrypt(nonce, blob[head.header_length :], blob[: head.header_length])
    except (ValueError, InvalidTag):
        raise BiometricError("decryption failed (wrong key or manipulated blob)") from None
    record = decode_record(plain)
    if record.document_sha256 != head.document_sha256:
        raise BiometricError("document hash in the record differs from the envelope")
    if expected_sha256 is not None and record.document_sha256 != expected_sha256:
        raise BiometricError("the blob belongs to a different document")
    return record


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise BiometricError("the biometric key must be an RSA public key")
    return key


def load_private_key(pem: bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BiometricError("the biometric key must be an RSA private key")
    return key
