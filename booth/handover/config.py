"""The ``[handover]`` section: where signed documents go (the document management system).

Designed to become ``BoothConfig.handover: HandoverConfig | None`` in booth/config.py (not wired
there yet). Example::

    [handover]
    outbox = "/var/lib/lisa/handover.sqlite"   # default: <state_dir>/handover.sqlite

    [handover.exporter]
    kind = "webdav"                            # or "directory" / "http"
    url = "https://dms.example.org/dav"
    collection = "/inbox/lisa"
    username = "booth-0042"
    password_file = "/etc/lisa/dms-password"

    [handover.retry]
    initial = 5.0
    maximum = 900.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _secret(value: SecretStr | None, path: Path | None, what: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if path is not None:
        try:
            return path.read_text("utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read the {what} file {path}: {exc}") from exc
    return None


class DirectoryDropConfig(_Model):
    kind: Literal["directory"] = "directory"
    path: Path = Field(description="Target directory (e.g. the DMS's mounted import share).")
    checksum_files: bool = Field(
        True, description="Also write NAME.sha256 (sha256sum format) next to each document."
    )


class WebDavConfig(_Model):
    kind: Literal["webdav"] = "webdav"
    url: str = Field(
        description="WebDAV server root, e.g. https://dms.example.org/dav",
        pattern=r"^https?://[^\s/]+(/\S*)?$",
    )
    collection: str = Field("/", description="Collection (folder) the documents go into.")
    username: str = Field(description="Basic auth user.")
    password: SecretStr | None = Field(None, description="Basic auth password.")
    password_file: Path | None = Field(None, description="File holding the password.")
    verify_tls: bool | Path = Field(True, description="Verify the server (True, False, CA file).")
    timeout: float = Field(60.0, gt=0, description="Seconds per HTTP request.")

    @model_validator(mode="after")
    def _one_password(self) -> WebDavConfig:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("give exactly one of password / password_file")
        return self

    def secret(self) -> str:
        value = _secret(self.password, self.password_file, "password")
        assert value is not None
        return value


class HttpUploadConfig(_Model):
    kind: Literal["http"] = "http"
    url: str = Field(
        description="Upload URL; may contain {document_id} and {name}, e.g. "
        "https://dms.example.org/api/documents/{name} for PUT.",
        pattern=r"^https?://\S+$",
    )
    method: Literal["POST", "PUT"] = Field(
        "POST", description="POST: multipart/form-data (file, document_id, sha256); PUT: the body."
    )
    field_name: str = Field("file", description="Multipart field of the file (POST).")
    token: SecretStr | None = Field(None, description="Bearer token.")
    token_file: Path | None = Field(None, description="File holding the bearer token.")
    verify_tls: bool | Path = Field(True, description="Verify the server (True, False, CA file).")
    timeout: float = Field(60.0, gt=0, description="Seconds per HTTP request.")

    @model_validator(mode="after")
    def _one_token(self) -> HttpUploadConfig:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("give exactly one of token / token_file")
        return self

    def secret(self) -> str:
        value = _secret(self.token, self.token_file, "token")
        assert value is not None
        return value


ExporterConfig = Annotated[
    DirectoryDropConfig | WebDavConfig | HttpUploadConfig, Field(discriminator="kind")
]


class RetryConfig(_Model):
    initial: float = Field(5.0, gt=0, description="First retry delay (s).")
    maximum: float = Field(900.0, gt=0, description="Longest retry delay (s).")
    factor: float = Field(2.0, ge=1.0, description="Growth of the delay per failed attempt.")
    jitter: float = Field(
        0.5, ge=0.0, le=1.0, description="Fraction of each delay that is random (0: none)."
    )


class HandoverConfig(_Model):
    exporter: ExporterConfig
    outbox: Path | None = Field(
        None, description="SQLite outbox; default <state_dir>/handover.sqlite."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)

    def outbox_path(self, state_dir: Path) -> Path:
        return self.outbox if self.outbox is not None else state_dir / "handover.sqlite"
