"""Signing with the key on a PKCS#11 token: SoftHSM2 (Debian ``softhsm2``) stands in for the
smart card / HSM. Skipped when SoftHSM or python-pkcs11 is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from booth.signing.pdf import SignOptions, pkcs11_signer, sign_pdf
from booth.signing.verify import verify_pdf
from sim.sign_demo import simulated_record

LIB = next(
    (
        p
        for p in (
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        )
        if os.path.exists(p)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    LIB is None or shutil.which("softhsm2-util") is None, reason="apt-get install -y softhsm2"
)
pytest.importorskip("pkcs11", reason="pip install python-pkcs11")


def test_pkcs11_signature_validates(
    demo, doc10: bytes, bio_pub, roots, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "lisa",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        [
            "softhsm2-util",
            "--import",
            str(demo.signer_key),
            "--token",
            "lisa",
            "--label",
            "signer",
            "--id",
            "01",
            "--pin",
            "1234",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    assert LIB is not None
    with pkcs11_signer(
        LIB, token_label="lisa", pin="1234", key_label="signer", cert=demo.signer_cert
    ) as signer:
        pdf = sign_pdf(doc10, signer, simulated_record(), bio_pub, SignOptions()).pdf
    rep = verify_pdf(pdf, roots)
    assert rep.ok, rep.to_dict()
    assert rep.signatures[0].signer == "Erika Mustermann"
