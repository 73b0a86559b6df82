"""Demo keys for ``lisa sim sign`` and the tests: a self-made root CA, a signer certificate with
KeyUsage digitalSignature + contentCommitment (non-repudiation), and the authority's biometric
RSA key pair. NOT for production: there the seal/signing certificate comes from the authority's
CA or a trust service provider, and the biometric private key never leaves the trusted third
party."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class DemoKeys:
    directory: Path
    root_cert: Path
    signer_key: Path
    signer_cert: Path
    bio_public: Path
    bio_private: Path

    @property
    def all(self) -> dict[str, Path]:
        return {
            "root certificate": self.root_cert,
            "signer key": self.signer_key,
            "signer certificate": self.signer_cert,
            "biometric public key": self.bio_public,
            "biometric private key (trusted third party!)": self.bio_private,
        }


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LISA Demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(cn: str = "LISA Demo Root CA") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_signer(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, cn: str = "Erika Mustermann"
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def ensure_demo_keys(directory: Path, signer_cn: str = "Erika Mustermann") -> tuple[DemoKeys, bool]:
    """Create the demo keys in ``directory`` unless they exist; returns (keys, created)."""
    keys = DemoKeys(
        directory=directory,
        root_cert=directory / "root.pem",
        signer_key=directory / "signer.key.pem",
        signer_cert=directory / "signer.pem",
        bio_public=directory / "biometric.pub.pem",
        bio_private=directory / "biometric.key.pem",
    )
    if all(p.exists() for p in keys.all.values()):
        return keys, False
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = make_ca()
    key, cert = make_signer(ca_key, ca_cert, signer_cn)
    bio = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    keys.root_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    keys.signer_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, data in ((keys.signer_key, _pem_key(key)), (keys.bio_private, _pem_key(bio))):
        path.touch(mode=0o600)
        path.write_bytes(data)
    keys.bio_public.write_bytes(
        bio.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return keys, True
