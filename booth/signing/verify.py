"""Verify every signature in a PDF: integrity, signer, time, PAdES level, modifications after
signing, and the binding of the embedded biometric blob to the signed document."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from asn1crypto import pem  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from booth.signing.biometrics import BiometricError, BiometricRecord, read_header, unseal
from booth.signing.pdf import BIO_KEY

PADES = "/ETSI.CAdES.detached"


@dataclass
class BiometricCheck:
    present: bool
    document_sha256: str | None = None
    document_length: int | None = None
    hash_matches: bool | None = None  # SHA-256 of the first document_length bytes
    within_signed_range: bool | None = None
    decrypted: bool | None = None  # None: no key given
    sample_count: int | None = None
    error: str | None = None


@dataclass
class SignatureReport:
    field: str
    intact: bool
    valid: bool
    trusted: bool
    signer: str | None
    signer_dn: str
    issuer: str
    signing_time: str | None
    timestamp_time: str | None
    timestamp_valid: bool | None
    level: str
    dss: bool
    vri: bool
    coverage: str
    modification_level: str | None
    diff_verdict: str
    modified_after_signing: bool
    biometrics: BiometricCheck
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass
class VerifyReport:
    file: str
    signatures: list[SignatureReport]
    document_timestamps: int
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.signatures) and not self.problems and all(s.ok for s in self.signatures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "document_timestamps": self.document_timestamps,
            "signatures": [s.to_dict() for s in self.signatures],
            "problems": self.problems,
        }


def load_certs(data: bytes) -> list[asn1_x509.Certificate]:
    """Certificates from PEM (one or more) or DER."""
    if pem.detect(data):
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [asn1_x509.Certificate.load(data)]


def _vri_present(reader: PdfFileReader, sig: EmbeddedPdfSignature) -> bool:
    try:
        vri = reader.root["/DSS"]["/VRI"]
    except KeyError:
        return False
    key = "/" + hashlib.sha1(sig.pkcs7_content).hexdigest().upper()
    return key in vri


def _check_biometrics(
    data: bytes,
    sig: EmbeddedPdfSignature,
    key: rsa.RSAPrivateKey | None,
    records: dict[str, BiometricRecord] | None,
) -> BiometricCheck:
    raw = sig.sig_field.get(BIO_KEY)
    if raw is None:
        return BiometricCheck(present=False)
    blob = bytes(raw) if isinstance(raw, generic.ByteStringObject | bytes) else raw.original_bytes
    try:
        head = read_header(blob)
    except BiometricError as exc:
        return BiometricCheck(present=True, error=str(exc))
    actual = hashlib.sha256(data[: head.document_length]).digest()
    check = BiometricCheck(
        present=True,
        document_sha256=head.document_sha256.hex(),
        document_length=head.document_length,
        hash_matches=actual == head.document_sha256,
        within_signed_range=head.document_length <= int(sig.byte_range[1]),
    )
    if key is not None:
        try:
            record = unseal(blob, key, expected_sha256=actual)
            check.decrypted = True
            check.sample_count = record.sample_count
            if records is not None:
                records[sig.field_name] = record
        except BiometricError as exc:
            check.decrypted = False
            check.error = str(exc)
    return check


def _modified(reader: PdfFileReader, coverage: Any, diff: Any) -> tuple[bool, str]:
    """(modified after signing?, verdict). Allowed after a signature: nothing (ENTIRE_FILE),
    or further signatures, document timestamps and DSS updates."""
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return False, "covers the entire file"
    if coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return True, f"coverage {getattr(coverage, 'name', coverage)}"
    if not isinstance(diff, DiffResult):
        return True, f"suspicious modification: {diff}"
    if diff.modification_level == ModificationLevel.LTA_UPDATES:
        return False, "later updates: validation data / document timestamps only"
    if diff.modification_level == ModificationLevel.FORM_FILLING:
        sig_fields = {s.field_name for s in reader.embedded_signatures}
        others = sorted(set(diff.changed_form_fields) - sig_fields)
        if not others:
            return False, "later updates: further signatures only"
        return True, f"form fields changed after signing: {', '.join(others)}"
    if diff.modification_level == ModificationLevel.NONE:
        return False, "no changes after signing"
    return True, f"modification level {diff.modification_level.name}"


def _level(
    reader: PdfFileReader,
    sig: EmbeddedPdfSignature,
    has_ts: bool,
    dss: DocumentSecurityStore | None,
    vri: bool,
) -> str:
    if sig.sig_object.get("/SubFilter") != PADES:
        return "non-PAdES (" + str(sig.sig_object.get("/SubFilter")) + ")"
    if not has_ts:
        return "B-B"
    if dss is None or not (dss.ocsps or dss.crls or vri):
        return "B-T"
    later_doc_ts = [
        t for t in reader.embedded_timestamp_signatures if t.signed_revision > sig.signed_revision
    ]
    return "B-LTA" if later_doc_ts else "B-LT"


def verify_pdf(
    data: bytes,
    trust_roots: Sequence[asn1_x509.Certificate] = (),
    *,
    allow_fetching: bool = False,
    biometric_key: rsa.RSAPrivateKey | None = None,
    records: dict[str, BiometricRecord] | None = None,
    name: str = "<pdf>",
) -> VerifyReport:
    """Check every signature; ``trust_roots`` empty means trust is not evaluated (reported as
    untrusted, not a problem). With a DSS its certificates/OCSP/CRLs are used offline."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    try:
        dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
    except (KeyError, ValueError, TypeError):
        dss = None
    kwargs: dict[str, Any] = {
        "trust_roots": list(trust_roots),
        "allow_fetching": allow_fetching,
        "revocation_mode": "soft-fail",
    }
    reports: list[SignatureReport] = []
    problems: list[str] = []
    sigs = reader.embedded_regular_signatures
    if not sigs:
        problems.append("no signatures")
    for sig in sigs:
        vc = dss.as_validation_context(kwargs) if dss is not None else ValidationContext(**kwargs)
        try:
            st = validate_pdf_signature(sig, signer_validation_context=vc)
        except Exception as exc:  # a broken signature must not hide the others
            logging.getLogger(__name__).debug("validation failed", exc_info=True)
            problems.append(f"{sig.field_name}: cannot be validated: {exc}")
            continue
        cert = st.signing_cert
        ts = st.timestamp_validity
        vri = _vri_present(reader, sig)
        modified, verdict = _modified(reader, st.coverage, st.diff_result)
        bio = _check_biometrics(data, sig, biometric_key, records)
        rep = SignatureReport(
            field=sig.field_name,
            intact=st.intact,
            valid=st.valid,
            trusted=st.trusted,
            signer=cert.subject.native.get("common_name"),
            signer_dn=cert.subject.human_friendly,
            issuer=cert.issuer.human_friendly,
            signing_time=st.signer_reported_dt.isoformat() if st.signer_reported_dt else None,
            timestamp_time=ts.timestamp.isoformat() if ts is not None else None,
            timestamp_valid=(ts.intact and ts.valid) if ts is not None else None,
            level=_level(reader, sig, ts is not None, dss, vri),
            dss=dss is not None,
            vri=vri,
            coverage=st.coverage.name if st.coverage is not None else "UNKNOWN",
            modification_level=st.modification_level.name if st.modification_level else None,
            diff_verdict=verdict,
            modified_after_signing=modified,
            biometrics=bio,
        )
        if not st.intact:
            rep.problems.append("the signed bytes were changed (hash mismatch)")
        if not st.valid:
            rep.problems.append("the signature value is invalid")
        if trust_roots and not st.trusted:
            rep.problems.append("the signer certificate is not trusted")
        if ts is not None and not (ts.intact and ts.valid):
            rep.problems.append("the signature timestamp is invalid")
        if modified:
            rep.problems.append(f"modified after signing ({verdict})")
        if bio.present:
            if bio.error and bio.decrypted is not False:
                rep.problems.append(f"biometric data: {bio.error}")
            if bio.hash_matches is False or bio.within_signed_range is False:
                rep.problems.append("biometric data belong to a different document")
            if bio.decrypted is False:
                rep.problems.append(f"biometric data cannot be decrypted: {bio.error}")
        reports.append(rep)
    return VerifyReport(name, reports, len(reader.embedded_timestamp_signatures), problems)


def describe(report: VerifyReport) -> str:
    """Plain-English text report."""
    lines = [f"{report.file}: {len(report.signatures)} signature(s)"]
    for s in report.signatures:
        lines.append(f"- {s.field}: {'OK' if s.ok else 'NOT OK'}")
        lines.append(f"  signer: {s.signer} ({s.signer_dn}); issuer: {s.issuer}")
        lines.append(
            f"  intact: {s.intact}, valid: {s.valid}, trusted: {s.trusted}, level: {s.level}"
        )
        lines.append(f"  signing time (claimed): {s.signing_time}")
        if s.timestamp_time:
            lines.append(f"  timestamp: {s.timestamp_time} (valid: {s.timestamp_valid})")
        lines.append(f"  coverage: {s.coverage}; {s.diff_verdict}")
        b = s.biometrics
        if b.present:
            lines.append(
                f"  biometrics: bound to sha256 {b.document_sha256} ({b.document_length} bytes); "
                f"matches: {b.hash_matches}"
                + ("" if b.decrypted is None else f"; decrypted: {b.decrypted}")
            )
        else:
            lines.append("  biometrics: none")
        for p in s.problems:
            lines.append(f"  PROBLEM: {p}")
    for p in report.problems:
        lines.append(f"PROBLEM: {p}")
    lines.append("result: " + ("all signatures intact and unmodified" if report.ok else "FAILED"))
    return "\n".join(lines)
