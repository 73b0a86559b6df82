"""PAdES B-T / B-LT / B-LTA against a certomancer PKI (TSA, OCSP, CRL) on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from signing_helpers import HAVE_PDFSIG, PkiUnderTest, nss_db, pdfsig

from booth.signing.pdf import SignOptions, load_signer, sign_pdf
from booth.signing.verify import load_certs, verify_pdf
from sim.sign_demo import simulated_record


def _sign(pki: PkiUnderTest, doc: bytes, bio_pub, **kw) -> bytes:
    signer = load_signer(pki.signer_key, pki.signer_cert)
    roots = load_certs(pki.root_pem.read_bytes())
    opts = SignOptions(tsa_url=pki.tsa_url, trust_roots=roots, **kw)
    return sign_pdf(doc, signer, simulated_record(), bio_pub, opts).pdf


def _pdfsig_ok(pki: PkiUnderTest, pdf: bytes, tmp_path: Path) -> str:
    if not HAVE_PDFSIG:
        pytest.skip("pdfsig missing")
    f = tmp_path / "f.pdf"
    f.write_bytes(pdf)
    out = pdfsig(f, nss_db(tmp_path / "nss", pki.root_pem))
    first = out.signatures()[0]
    assert "Signature is Valid." in first, out.output
    # pdfsig checks revocation online (OCSP from the AIA) — the animator answers
    assert "Certificate is Trusted." in first, out.output
    return out.output


def test_b_t(pki: PkiUnderTest, doc10: bytes, bio_pub, tmp_path: Path) -> None:
    pdf = _sign(pki, doc10, bio_pub)
    rep = verify_pdf(pdf, load_certs(pki.root_pem.read_bytes()))
    assert rep.ok, rep.to_dict()
    (s,) = rep.signatures
    assert s.level == "B-T" and s.timestamp_time and s.timestamp_valid
    assert s.biometrics.hash_matches
    out = _pdfsig_ok(pki, pdf, tmp_path)
    assert "Total document signed" in out


def test_b_lt_validates_offline_from_the_dss(
    pki: PkiUnderTest, doc10: bytes, bio_pub, tmp_path: Path
) -> None:
    pdf = _sign(pki, doc10, bio_pub, embed_revocation=True)
    roots = load_certs(pki.root_pem.read_bytes())
    rep = verify_pdf(pdf, roots, allow_fetching=False)
    assert rep.ok, rep.to_dict()
    (s,) = rep.signatures
    assert s.level == "B-LT" and s.dss and s.trusted
    assert not s.modified_after_signing  # the DSS update is allowed
    _pdfsig_ok(pki, pdf, tmp_path)


def test_b_lta(pki: PkiUnderTest, doc10: bytes, bio_pub) -> None:
    pdf = _sign(pki, doc10, bio_pub, embed_revocation=True, document_timestamp=True)
    rep = verify_pdf(pdf, load_certs(pki.root_pem.read_bytes()))
    assert rep.ok, rep.to_dict()
    assert rep.signatures[0].level == "B-LTA" and rep.document_timestamps == 1
