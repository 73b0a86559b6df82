"""Real peers for the signing tests: poppler's pdfsig with an NSS database, and a certomancer
PKI (root, TSA, OCSP responder, CRL, signer with CRL-DP + AIA-OCSP) served on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HAVE_PDFSIG = shutil.which("pdfsig") is not None and shutil.which("certutil") is not None


def nss_db(directory: Path, *roots: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    for i, root in enumerate(roots):
        subprocess.run(
            [
                "certutil",
                "-A",
                "-n",
                f"root{i}",
                "-t",
                "CT,C,C",
                "-i",
                str(root),
                "-d",
                f"sql:{directory}",
            ],
            check=True,
            capture_output=True,
        )
    return f"sql:{directory}"


@dataclass
class PdfSig:
    output: str
    returncode: int

    def signatures(self) -> list[str]:
        """The per-signature blocks of the output."""
        parts = self.output.split("Signature #")[1:]
        return parts

    @property
    def all_valid(self) -> bool:
        sigs = self.signatures()
        return bool(sigs) and all("Signature is Valid." in s for s in sigs)


def pdfsig(pdf: Path, db: str) -> PdfSig:
    p = subprocess.run(
        ["pdfsig", "-nssdir", db, str(pdf)], capture_output=True, text=True, timeout=60
    )
    return PdfSig(p.stdout + p.stderr, p.returncode)


# --- certomancer -----------------------------------------------------------------------------

VALIDITY = {"valid-from": "2020-01-01T00:00:00+0000", "valid-to": "2100-01-01T00:00:00+0000"}


def _ku(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def pki_config(port: int, keydir: Path) -> dict[str, Any]:
    names = ["root", "tsa", "ocsp", "signer"]
    keydir.mkdir(parents=True, exist_ok=True)
    for n in names:
        path = keydir / f"{n}.key.pem"
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
    return {
        "external-url-prefix": f"http://127.0.0.1:{port}",
        "keysets": {
            "lisa": {
                "path-prefix": str(keydir),
                "keys": {n: {"path": f"{n}.key.pem"} for n in names},
            }
        },
        "pki-architectures": {
            "lisa": {
                "keyset": "lisa",
                "entity-defaults": {"country-name": "DE", "organization-name": "LISA Test PKI"},
                "entities": {
                    "root": {"common-name": "LISA Test Root"},
                    "tsa": {"common-name": "LISA Test TSA"},
                    "ocsp": {"common-name": "LISA Test OCSP"},
                    "signer": {"common-name": "Max Mustermann"},
                },
                "certs": {
                    "root": {
                        "subject": "root",
                        "issuer": "root",
                        "validity": VALIDITY,
                        "extensions": [
                            {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                            _ku("digital_signature", "key_cert_sign", "crl_sign"),
                        ],
                    },
                    "tsa": {
                        "issuer": "root",
                        "validity": VALIDITY,
                        "extensions": [
                            _ku("digital_signature"),
                            {
                                "id": "extended_key_usage",
                                "critical": True,
                                "value": ["time_stamping"],
                            },
                            {
                                "id": "crl_distribution_points",
                                "smart-value": {
                                    "schema": "crl-dist-url",
                                    "params": {"crl-repo-names": ["root"]},
                                },
                            },
                        ],
                    },
                    "ocsp": {
                        "issuer": "root",
                        "validity": VALIDITY,
                        "extensions": [
                            _ku("digital_signature"),
                            {
                                "id": "extended_key_usage",
                                "critical": True,
                                "value": ["ocsp_signing"],
                            },
                            {"id": "ocsp_no_check"},
                        ],
                    },
                    "signer": {
                        "issuer": "root",
                        "validity": VALIDITY,
                        "extensions": [
                            _ku("digital_signature", "non_repudiation"),
                            {
                                "id": "crl_distribution_points",
                                "smart-value": {
                                    "schema": "crl-dist-url",
                                    "params": {"crl-repo-names": ["root"]},
                                },
                            },
                            {
                                "id": "authority_information_access",
                                "smart-value": {
                                    "schema": "aia-urls",
                                    "params": {"ocsp-responder-names": ["ocsp"]},
                                },
                            },
                        ],
                    },
                },
                "services": {
                    "ocsp": {
                        "ocsp": {
                            "for-issuer": "root",
                            "responder-cert": "ocsp",
                            "signing-key": "ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P1D",
                        }
                    },
                    "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True}},
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


@dataclass
class PkiUnderTest:
    port: int
    tsa_url: str
    root_pem: Path
    signer_key: Path
    signer_cert: Path


@contextmanager
def animated_pki(workdir: Path) -> Iterator[PkiUnderTest]:
    """Certomancer's Animator in-process under werkzeug on 127.0.0.1 (a free port), with the
    responder clock in whole seconds (NSS rejects OCSP times with microseconds)."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig
    from certomancer.registry.common import CertLabel
    from werkzeug.serving import make_server

    class WholeSecondAnimator(Animator):
        def at_time(self, request: Any) -> dt.datetime:
            return super().at_time(request).replace(microsecond=0)  # type: ignore[no-any-return]

    def placeholder(environ: Any, start_response: Any) -> list[bytes]:
        start_response("503 Service Unavailable", [])
        return [b""]

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, placeholder, threaded=True)
    port = server.server_port
    cfg = CertomancerConfig(pki_config(port, workdir / "keys"), key_search_dir=str(workdir))
    arch = cfg.pki_archs[next(iter(cfg.pki_archs))]
    server.app = WholeSecondAnimator(AnimatorArchStore(cfg.pki_archs), with_web_ui=False)
    root_pem = workdir / "root.pem"
    signer_cert = workdir / "signer.pem"
    root_pem.write_bytes(_pem(arch.get_cert(CertLabel("root")).dump()))
    signer_cert.write_bytes(_pem(arch.get_cert(CertLabel("signer")).dump()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PkiUnderTest(
            port=port,
            tsa_url=f"http://127.0.0.1:{port}/lisa/tsa/tsa",
            root_pem=root_pem,
            signer_key=workdir / "keys" / "signer.key.pem",
            signer_cert=signer_cert,
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _pem(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
