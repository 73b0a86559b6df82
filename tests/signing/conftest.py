from __future__ import annotations

from collections.abc import Iterator

import pytest
from signing_helpers import HAVE_PDFSIG, PkiUnderTest, animated_pki, nss_db

from booth.signing.biometrics import load_private_key, load_public_key
from booth.signing.demo_pki import DemoKeys, ensure_demo_keys, make_signer
from booth.signing.pdf import blank_pdf, load_signer
from booth.signing.verify import load_certs


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    keys, created = ensure_demo_keys(tmp_path_factory.mktemp("demo-keys"))
    assert created
    return keys


@pytest.fixture(scope="session")
def signer(demo: DemoKeys):
    return load_signer(demo.signer_key, demo.signer_cert)


@pytest.fixture(scope="session")
def roots(demo: DemoKeys):
    return load_certs(demo.root_cert.read_bytes())


@pytest.fixture(scope="session")
def bio_pub(demo: DemoKeys):
    return load_public_key(demo.bio_public.read_bytes())


@pytest.fixture(scope="session")
def bio_priv(demo: DemoKeys):
    return load_private_key(demo.bio_private.read_bytes())


@pytest.fixture(scope="session")
def doc10() -> bytes:
    return blank_pdf(10)


@pytest.fixture(scope="session")
def nss(demo: DemoKeys, tmp_path_factory: pytest.TempPathFactory) -> str:
    if not HAVE_PDFSIG:
        pytest.skip("pdfsig/certutil missing: apt-get install -y poppler-utils libnss3-tools")
    return nss_db(tmp_path_factory.mktemp("nss"), demo.root_cert)


@pytest.fixture(scope="session")
def clerk(demo: DemoKeys, tmp_path_factory: pytest.TempPathFactory):
    """A second signer (the clerk) under the demo root: needs the root's key, so a separate
    little PKI is made from scratch and trusted next to the demo root."""
    from cryptography.hazmat.primitives import serialization

    from booth.signing.demo_pki import make_ca

    d = tmp_path_factory.mktemp("clerk")
    ca_key, ca = make_ca("LISA Clerk CA")
    key, cert = make_signer(ca_key, ca, "Clerk Beispiel")
    (d / "root.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return d


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PkiUnderTest]:
    with animated_pki(tmp_path_factory.mktemp("pki")) as p:
        yield p
