"""The booth's ``[signing]`` section: the seal key, the biometric public key, the levels."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SigningConfig(BaseModel):
    """Advanced electronic signatures on the pen pad (docs/signature.md)."""

    model_config = ConfigDict(extra="forbid")

    demo_keys: bool = Field(
        False,
        description="Use demo keys and a demo certificate created in `<state_dir>/demo-pki` "
        "(simulator and demo only: its biometric private key lies beside it).",
    )
    seal_key: Path | None = Field(None, description="The seal's private key (PEM).")
    seal_cert: Path | None = Field(None, description="The seal's certificate (PEM).")
    seal_p12: Path | None = Field(None, description="Or: key and certificate as PKCS#12.")
    seal_p12_passphrase_file: Path | None = Field(
        None, description="File holding the PKCS#12 passphrase (mode 0600)."
    )
    biometric_public_key: Path | None = Field(
        None,
        description="The authority's biometric public key (PEM, RSA); its private key is held "
        "by the trusted third party, never on the booth.",
    )
    tsa_url: str | None = Field(None, description="Timestamp authority (RFC 3161) → PAdES B-T.")
    reason: str = Field("Unterschrift im Digitalen Bürgerbüro", description="Signature reason.")
    location: str = Field("", description="Signature location (e.g. the booth's town).")
    max_document_bytes: int = Field(
        20 * 1024 * 1024, gt=0, description="Largest PDF accepted for signing."
    )
    max_pages: int = Field(60, gt=0, description="Most pages shown on the booth screen.")

    @model_validator(mode="after")
    def _keys(self) -> SigningConfig:
        if self.demo_keys:
            return self
        has_pem = self.seal_key is not None and self.seal_cert is not None
        if not has_pem and self.seal_p12 is None:
            raise ValueError("give seal_key + seal_cert, or seal_p12, or demo_keys = true")
        if self.biometric_public_key is None:
            raise ValueError("biometric_public_key is required (or demo_keys = true)")
        return self
