"""Signing PDFs (B-B), checked by our verifier (pyHanko) and by poppler's pdfsig."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from signing_helpers import nss_db, pdfsig
from typer.testing import CliRunner

from booth.signing.biometrics import BiometricError, read_header, unseal
from booth.signing.cli import app as signature_app
from booth.signing.pdf import BIO_KEY, SignOptions, load_signer, sign_pdf
from booth.signing.verify import load_certs, verify_pdf
from sim.sign_demo import simulated_record

runner = CliRunner()


@pytest.fixture(scope="module")
def signed(doc10: bytes, signer, bio_pub) -> bytes:
    return sign_pdf(doc10, signer, simulated_record(), bio_pub, SignOptions(reason="Antrag")).pdf


def _blob(pdf: bytes, field: str = "Signature1") -> bytes:
    r = PdfFileReader(io.BytesIO(pdf))
    sig = next(s for s in r.embedded_signatures if s.field_name == field)
    return bytes(sig.sig_field[BIO_KEY])


def test_b_b_validates_in_pyhanko_and_pdfsig(
    signed: bytes, roots, nss: str, tmp_path: Path
) -> None:
    # pyHanko directly
    r = PdfFileReader(io.BytesIO(signed))
    (sig,) = r.embedded_signatures
    st = validate_pdf_signature(sig, ValidationContext(trust_roots=roots))
    assert st.bottom_line and st.intact and st.valid and st.trusted
    # our report
    rep = verify_pdf(signed, roots)
    assert rep.ok, rep.to_dict()
    (s,) = rep.signatures
    assert s.level == "B-B" and s.coverage == "ENTIRE_FILE" and not s.modified_after_signing
    assert s.signer == "Erika Mustermann" and "LISA Demo Root CA" in s.issuer
    assert s.biometrics.present and s.biometrics.hash_matches and s.biometrics.within_signed_range
    # poppler
    f = tmp_path / "signed.pdf"
    f.write_bytes(signed)
    out = pdfsig(f, nss)
    assert out.all_valid, out.output
    assert "Certificate is Trusted" in out.output and "Total document signed" in out.output


def test_biometrics_decrypt_only_with_the_right_key(signed: bytes, doc10: bytes, bio_priv) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    blob = _blob(signed)
    head = read_header(blob)
    assert head.document_sha256 == hashlib.sha256(doc10).digest()
    assert head.document_length == len(doc10)
    assert signed[: head.document_length] == doc10
    record = unseal(blob, bio_priv, hashlib.sha256(doc10).digest())
    assert record.sample_count == simulated_record().sample_count
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(BiometricError):
        unseal(blob, wrong)
    rep = verify_pdf(signed, biometric_key=bio_priv)
    assert rep.signatures[0].biometrics.decrypted is True
    rep = verify_pdf(signed, biometric_key=wrong)
    assert rep.signatures[0].biometrics.decrypted is False and not rep.ok


def test_flipped_byte_in_signed_range_is_detected(
    signed: bytes, roots, nss: str, tmp_path: Path
) -> None:
    i = signed.index(b"Zeile 5:")
    bad = signed[:i] + b"Zeile 6:" + signed[i + 8 :]
    rep = verify_pdf(bad, roots)
    assert not rep.ok
    assert not rep.signatures[0].intact
    f = tmp_path / "flipped.pdf"
    f.write_bytes(bad)
    out = pdfsig(f, nss)
    assert "Signature is Valid." not in out.output, out.output


def _alter_page(pdf: bytes) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 30 Tf 72 400 Td (GEAENDERT) Tj ET")
    page[generic.pdf_name("/Contents")] = w.add_object(stream)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_page_changed_after_signing_is_reported(
    signed: bytes, roots, nss: str, tmp_path: Path
) -> None:
    altered = _alter_page(signed)
    rep = verify_pdf(altered, roots)
    assert not rep.ok
    (s,) = rep.signatures
    assert s.intact and s.valid  # the signed revision itself is fine …
    assert s.modified_after_signing  # … but something was appended
    assert s.coverage == "ENTIRE_REVISION"
    f = tmp_path / "altered.pdf"
    f.write_bytes(altered)
    out = pdfsig(f, nss)
    assert "Not total document signed" in out.output, out.output
    res = runner.invoke(signature_app, ["verify", str(f)])
    assert res.exit_code == 1 and "modified after signing" in res.output


def test_two_signatures_both_validate(
    signed: bytes, demo, bio_pub, bio_priv, roots, clerk: Path, nss: str, tmp_path: Path
) -> None:
    clerk_signer = load_signer(clerk / "key.pem", clerk / "cert.pem")
    second = sign_pdf(
        signed,
        clerk_signer,
        simulated_record(seed=3),
        bio_pub,
        SignOptions(field_name="Sachbearbeitung", page=0, box=(320, 56, 520, 136)),
    ).pdf
    all_roots = [*roots, *load_certs((clerk / "root.pem").read_bytes())]
    rep = verify_pdf(second, all_roots, biometric_key=bio_priv)
    assert rep.ok, rep.to_dict()
    first, snd = rep.signatures
    assert first.coverage == "ENTIRE_REVISION" and not first.modified_after_signing
    assert snd.coverage == "ENTIRE_FILE"
    assert first.biometrics.decrypted and snd.biometrics.decrypted
    # each blob is bound to the document as it was before its own signature
    assert first.biometrics.document_length < snd.biometrics.document_length == len(signed)
    f = tmp_path / "two.pdf"
    f.write_bytes(second)
    out = pdfsig(f, nss_db(tmp_path / "nss2", demo.root_cert, clerk / "root.pem"))
    assert len(out.signatures()) == 2 and out.all_valid, out.output
    # different signer certificates: with the *same* certificate in two signatures pdfsig 22.02
    # reports the second as "Unknown issue with Certificate" (an NSS temp-cert quirk)
    assert out.output.count("Certificate is Trusted.") == 2, out.output


def test_cli_verify_json_and_biometrics(signed: bytes, demo, tmp_path: Path) -> None:
    f = tmp_path / "s.pdf"
    f.write_bytes(signed)
    res = runner.invoke(signature_app, ["verify", "--json", "--root", str(demo.root_cert), str(f)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["ok"] and data["signatures"][0]["trusted"]
    assert data["signatures"][0]["biometrics"]["hash_matches"] is True
    res = runner.invoke(
        signature_app, ["biometrics", "--key", str(demo.bio_private), "--json", str(f)]
    )
    assert res.exit_code == 0, res.output
    series = json.loads(res.output)["Signature1"]
    assert series["device"]["sample_rate_hz"] == 500
    assert series["channels"] == ["x", "y", "t", "pressure"]
    assert len(series["strokes"]) == 3
    res = runner.invoke(signature_app, ["biometrics", "--key", str(demo.signer_key), str(f)])
    assert res.exit_code == 1
    res = runner.invoke(
        signature_app,
        ["biometrics", "--key", str(demo.bio_private), "--plot", str(tmp_path / "p.png"), str(f)],
    )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert res.exit_code == 3 and "matplotlib" in res.output
    else:
        assert res.exit_code == 0 and (tmp_path / "p.png").exists()


def test_unsigned_pdf_fails_verify(doc10: bytes, tmp_path: Path) -> None:
    f = tmp_path / "plain.pdf"
    f.write_bytes(doc10)
    res = runner.invoke(signature_app, ["verify", str(f)])
    assert res.exit_code == 1 and "no signatures" in res.output


def test_sim_sign_cli(doc10: bytes, tmp_path: Path, nss: str) -> None:
    from sim.cli import app as sim_app

    src, dst, state = tmp_path / "in.pdf", tmp_path / "out.pdf", tmp_path / "state"
    src.write_bytes(doc10)
    res = runner.invoke(sim_app, ["sign", str(src), str(dst), "--state-dir", str(state)])
    assert res.exit_code == 0, res.output
    assert "created" in res.output and str(state / "biometric.key.pem") in res.output
    res = runner.invoke(
        sim_app,
        [
            "sign",
            str(dst),
            str(tmp_path / "out2.pdf"),
            "--state-dir",
            str(state),
            "--field",
            "Zweite",
            "--box",
            "300,60,500,140",
        ],
    )
    assert res.exit_code == 0 and "reused" in res.output, res.output
    res = runner.invoke(
        signature_app,
        [
            "verify",
            "--root",
            str(state / "root.pem"),
            "--bio-key",
            str(state / "biometric.key.pem"),
            str(tmp_path / "out2.pdf"),
        ],
    )
    assert res.exit_code == 0, res.output
    out = pdfsig(dst, nss_db(tmp_path / "nss", state / "root.pem"))
    assert out.all_valid, out.output


def test_sign_rejects_a_signed_field(signed: bytes, signer, bio_pub) -> None:
    from booth.signing.pdf import SigningError

    with pytest.raises(SigningError, match="already signed"):
        sign_pdf(signed, signer, simulated_record(), bio_pub)


def test_inconsistent_levels_are_refused(doc10: bytes, signer, bio_pub, roots) -> None:
    from booth.signing.pdf import SigningError

    with pytest.raises(SigningError, match="timestamp"):
        sign_pdf(doc10, signer, None, None, SignOptions(embed_revocation=True, trust_roots=roots))
    with pytest.raises(SigningError, match="B-LTA"):
        sign_pdf(
            doc10, signer, None, None, SignOptions(tsa_url="http://x", document_timestamp=True)
        )
    with pytest.raises(SigningError, match="public key"):
        sign_pdf(doc10, signer, simulated_record(), None)


def test_visible_signature_without_biometrics(doc10: bytes, signer, roots) -> None:
    from booth.signing.biometrics import strokes_from_samples
    from sim.sign_demo import synthetic_signature

    pdf = sign_pdf(
        doc10,
        signer,
        None,
        None,
        strokes_for_appearance=strokes_from_samples(synthetic_signature()),
    ).pdf
    rep = verify_pdf(pdf, roots)
    assert rep.ok and not rep.signatures[0].biometrics.present
