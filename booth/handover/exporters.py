"""Exporters: how a document reaches the DMS. Each is idempotent by document id: the name at the
DMS is ``<document id><suffix>``, and before sending, an exporter looks for an identical copy
already there (a previous attempt that completed but whose confirmation was lost, e.g. the booth
was killed) and then reports ``already-present`` instead of sending again.

- :class:`DirectoryDrop`: a temp name in the target directory, fsync, atomic rename, fsync of
  the directory; then ``NAME.sha256`` (``sha256sum`` format) the same way. An importer watching
  the directory never sees a partial file; the checksum file comes last.
- :class:`WebDavExporter`: httpx with basic auth. ``PUT`` to a hidden temp name, ``MOVE`` onto
  the final name (atomic at the server: a killed upload leaves no partial document under the
  final name), ``MKCOL`` for missing collections; verified by ``PROPFIND`` (size) afterwards.
- :class:`HttpUploadExporter`: ``POST`` multipart (file, document_id, sha256) or ``PUT`` of the
  body to a URL, bearer token, an ``Idempotency-Key`` header with the document id; success 2xx.

Errors raise :class:`ExportError` (the outbox retries); messages carry status codes and error
classes, never document content or credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from booth.handover.config import (
    DirectoryDropConfig,
    ExporterConfig,
    HttpUploadConfig,
    WebDavConfig,
)
from booth.handover.outbox import Document

DAV = "{DAV:}"


class ExportError(Exception):
    """The DMS did not take the document (this time); the outbox retries."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the DMS confirmed: ``delivered`` or ``already-present`` (an earlier attempt)."""

    outcome: str
    location: str
    detail: str = ""


class Exporter(Protocol):
    #: where documents go, for the audit (no credentials)
    target: str

    async def deliver(self, doc: Document) -> Delivery: ...

    async def aclose(self) -> None: ...


# --- directory drop ------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(directory: Path, name: str, data: bytes) -> None:
    tmp = directory / f".{name}.tmp-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    os.replace(tmp, directory / name)
    _fsync_dir(directory)


def _sha256_file(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


class DirectoryDrop:
    def __init__(self, config: DirectoryDropConfig) -> None:
        self.config = config
        self.directory = config.path
        self.target = f"directory:{config.path}"

    async def deliver(self, doc: Document) -> Delivery:
        try:
            return await asyncio.to_thread(self._deliver, doc)
        except OSError as exc:
            raise ExportError(f"directory drop failed: {type(exc).__name__} {exc.errno}") from exc

    def _deliver(self, doc: Document) -> Delivery:
        d = self.directory
        if not d.is_dir():
            raise ExportError(f"target directory {d} does not exist")
        for stale in d.iterdir():  # temp files of an attempt that was killed
            if stale.name.startswith(f".{doc.name}") and ".tmp-" in stale.name:
                with contextlib.suppress(OSError):
                    stale.unlink()
        final = d / doc.name
        present = _sha256_file(final) == doc.sha256
        if not present:
            _atomic_write(d, doc.name, doc.content)
            if _sha256_file(final) != doc.sha256:
                raise ExportError("directory drop: the written file does not verify")
        if self.config.checksum_files:
            check = f"{doc.sha256}  {doc.name}\n".encode("ascii")
            sums = d / f"{doc.name}.sha256"
            try:
                same = sums.read_bytes() == check
            except FileNotFoundError:
                same = False
            if not same:
                _atomic_write(d, sums.name, check)
        return Delivery("already-present" if present else "delivered", str(final))

    async def aclose(self) -> None:
        return None


# --- WebDAV --------------------------------------------------------------------------------------


def _join(base: str, *parts: str) -> str:
    scheme, netloc, path, _, _ = urlsplit(base)
    segments = [s for s in path.split("/") if s]
    for part in parts:
        segments += [s for s in part.split("/") if s]
    return urlunsplit((scheme, netloc, "/" + "/".join(quote(s) for s in segments), "", ""))


class WebDavExporter:
    def __init__(self, config: WebDavConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.collection_url = _join(config.url, config.collection).rstrip("/") + "/"
        self.target = f"webdav:{self.collection_url}"
        self._client = client or httpx.AsyncClient(
            auth=(config.username, config.secret()),
            timeout=config.timeout,
            verify=config.verify_tls
            if isinstance(config.verify_tls, bool)
            else str(config.verify_tls),
        )

    def _url(self, name: str) -> str:
        return _join(self.collection_url, name)

    async def _request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            return await self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise ExportError(f"WebDAV {method}: {type(exc).__name__}") from exc

    async def _size(self, url: str) -> int | None:
        """``getcontentlength`` of ``url`` by PROPFIND (None: not there)."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop>'
            "<getcontentlength/><getetag/></prop></propfind>"
        )
        r = await self._request(
            "PROPFIND",
            url,
            content=body,
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        if r.status_code == 404:
            return None
        if r.status_code != 207:
            raise ExportError(f"WebDAV PROPFIND: HTTP {r.status_code}")
        try:
            root = ET.fromstring(r.content)
        except ET.ParseError as exc:
            raise ExportError("WebDAV PROPFIND: unparseable answer") from exc
        length = root.find(f".//{DAV}getcontentlength")
        if length is None or not (length.text or "").strip().isdigit():
            return None
        return int((length.text or "0").strip())

    async def _identical(self, url: str, doc: Document) -> bool:
        if await self._size(url) != doc.size:
            return False
        r = await self._request("GET", url)
        if r.status_code != 200:
            return False
        return hashlib.sha256(r.content).hexdigest() == doc.sha256

    async def _mkcol(self) -> None:
        path = urlsplit(self.collection_url).path
        root_path = urlsplit(self.config.url).path.rstrip("/")
        segments = [s for s in path[len(root_path) :].split("/") if s]
        url = self.config.url.rstrip("/")
        for segment in segments:
            url = f"{url}/{quote(segment)}"
            r = await self._request("MKCOL", url + "/")
            if r.status_code not in (201, 405):  # 405: exists already
                raise ExportError(f"WebDAV MKCOL: HTTP {r.status_code}")

    async def deliver(self, doc: Document) -> Delivery:
        final = self._url(doc.name)
        if await self._identical(final, doc):
            return Delivery("already-present", final)
        temp = self._url(f".{doc.name}.part")
        headers = {"Content-Type": doc.content_type}
        r = await self._request("PUT", temp, content=doc.content, headers=headers)
        if r.status_code in (404, 409):  # the collection is missing
            await self._mkcol()
            r = await self._request("PUT", temp, content=doc.content, headers=headers)
        if r.status_code not in (201, 204):
            raise ExportError(f"WebDAV PUT: HTTP {r.status_code}")
        r = await self._request("MOVE", temp, headers={"Destination": final, "Overwrite": "T"})
        if r.status_code not in (201, 204):
            raise ExportError(f"WebDAV MOVE: HTTP {r.status_code}")
        size = await self._size(final)
        if size != doc.size:
            raise ExportError(f"WebDAV verify: size {size} at the server, {doc.size} sent")
        return Delivery("delivered", final)

    async def aclose(self) -> None:
        await self._client.aclose()


# --- HTTP upload ---------------------------------------------------------------------------------


class HttpUploadExporter:
    def __init__(self, config: HttpUploadConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        parts = urlsplit(config.url)
        self.target = f"http:{config.method} {urlunsplit((parts[0], parts[1], parts[2], '', ''))}"
        self._client = client or httpx.AsyncClient(
            timeout=config.timeout,
            verify=config.verify_tls
            if isinstance(config.verify_tls, bool)
            else str(config.verify_tls),
        )
        self._token = config.secret()

    async def deliver(self, doc: Document) -> Delivery:
        url = self.config.url.format(document_id=quote(doc.id), name=quote(doc.name))
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Idempotency-Key": doc.id,
            "X-Content-SHA256": doc.sha256,
        }
        try:
            if self.config.method == "PUT":
                headers["Content-Type"] = doc.content_type
                r = await self._client.put(url, content=doc.content, headers=headers)
            else:
                files = {self.config.field_name: (doc.name, doc.content, doc.content_type)}
                data = {"document_id": doc.id, "sha256": doc.sha256}
                r = await self._client.post(url, files=files, data=data, headers=headers)
        except httpx.HTTPError as exc:
            raise ExportError(f"HTTP {self.config.method}: {type(exc).__name__}") from exc
        if not 200 <= r.status_code < 300:
            raise ExportError(f"HTTP {self.config.method}: HTTP {r.status_code}")
        return Delivery("delivered", url, f"HTTP {r.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()


def build_exporter(config: ExporterConfig) -> Exporter:
    if isinstance(config, DirectoryDropConfig):
        return DirectoryDrop(config)
    if isinstance(config, WebDavConfig):
        return WebDavExporter(config)
    return HttpUploadExporter(config)
