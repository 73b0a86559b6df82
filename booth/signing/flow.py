"""One signature at the booth: the agent's document shown, the pad's ink collected, the
citizen's confirmation, the signed PDF — in memory, one document at a time.

The agent sends a PDF (over the call's ``lisa`` data channel, docs/media.md) with the field to
sign (an existing signature field, or a page and a box). :class:`SigningFlow`:

1. checks it (a PDF, not too large, not too many pages, the field or place exists:
   :mod:`booth.signing.placement`) and renders its pages for the booth monitor (JPEG, in
   memory; pypdfium2);
2. turns the pad on; every :class:`~hal.events.PenSamples` batch is kept as ink (the touch
   display draws it live); ``clear()`` starts over;
3. on the citizen's ``confirm()`` — never without it — builds the biometric record (x, y,
   pressure, time), seals it to the authority's biometric public key bound to the document's
   hash, signs (PAdES B-B; B-T with a timestamp authority) as an incremental update, checks
   the result, hands it over to the document system (the booth's durable hand-over outbox)
   and returns it for the agent;
4. ``decline()`` (the citizen says no), ``withdraw()`` (the agent takes the request back) and
   ``void(reason)`` (the call or the visit ended) drop everything: nothing half-signed exists.
   A pad unplugged mid-signature clears the ink and asks the citizen to sign again.

States: ``idle`` → ``shown`` (document on screen, pad on) → ``signed`` | ``declined`` |
``withdrawn`` | ``voided`` | ``failed``. Every refusal and outcome carries a stable ``code``
(the portal words it for the agent; the English ``reason`` is for the log). Nothing of the
document or the ink is logged or written, except the signed PDF into the hand-over outbox
(which deletes it once the DMS confirms).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booth.signing.config import SigningConfig
from booth.signing.placement import Placement, PlacementRefused, resolve
from hal.events import PenSample, PenSamples, SignatureInterrupted

log = logging.getLogger("lisa.booth.signing")

RENDER_WIDTH = 1400  # px of a rendered page (readable on the 43" monitor, zoomable)


class SigningRefused(ValueError):
    """The request cannot be signed (not a PDF, too large, no pad, another one running).
    ``code``: stable, for the portal's wording."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SignRequest:
    id: str
    title: str
    pdf: bytes
    requested_by: str  # the agent's display name (for the audit: who asked)
    field_name: str = ""  # an existing empty field; "": see booth.signing.placement
    page: int | None = None  # 0-based, for a new field; None: the last page
    box: tuple[int, int, int, int] | None = None  # PDF points, for a new field


@dataclass
class SignOutcome:
    id: str
    state: str  # signed | declined | withdrawn | voided | failed
    pdf: bytes | None = None
    reason: str = ""
    code: str = ""
    document_sha256: str = ""
    level: str = ""
    samples: int = 0
    handover_id: str | None = None
    sign_ms: float = 0.0


@dataclass
class _Current:
    request: SignRequest
    pages: list[bytes]
    placement: Placement
    ink: list[PenSample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def render_pages(
    pdf: bytes, max_pages: int, width: int = RENDER_WIDTH
) -> tuple[list[bytes], list[tuple[float, float]]]:
    """Every page as a JPEG (in memory) and its size in PDF points. Raises
    :class:`SigningRefused` for a broken PDF."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    from booth.media.display import JpegEncoder

    try:
        doc = pdfium.PdfDocument(pdf)
    except Exception as exc:  # pdfium raises its own error types
        raise SigningRefused(f"not a readable PDF: {exc}", "not_pdf") from None
    try:
        if len(doc) == 0:
            raise SigningRefused("the PDF has no pages", "no_pages")
        if len(doc) > max_pages:
            raise SigningRefused(
                f"the PDF has {len(doc)} pages (at most {max_pages})", "too_many_pages"
            )
        import av

        out = []
        sizes = []
        encoder = JpegEncoder()
        for page in doc:
            w_pt = page.get_width()
            sizes.append((float(w_pt), float(page.get_height())))
            bitmap = page.render(scale=width / max(1.0, w_pt))
            rgb = bitmap.to_numpy()[:, :, :3]
            h, w = rgb.shape[:2]
            rgb = rgb[: h - h % 2, : w - w % 2]
            fmt = "bgr24" if bitmap.mode == "BGR" else "rgb24"
            out.append(encoder.encode(av.VideoFrame.from_ndarray(rgb.copy(), format=fmt)))
        return out, sizes
    finally:
        doc.close()


class SigningFlow:
    """See the module docstring. ``pad``: the booth's :class:`~hal.devices.SignaturePad`;
    ``handover``: a :class:`booth.handover.service.HandoverService` or None; ``on_change``:
    tells the screens."""

    def __init__(
        self,
        config: SigningConfig,
        state_dir: Path,
        pad: Any,
        handover: Any | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.pad = pad
        self.handover = handover
        self.on_change = on_change
        self.current: _Current | None = None
        self.last: SignOutcome | None = None
        self.interrupted: str = ""
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = asyncio.Lock()
        self._keys: tuple[Any, Any] | None = None

    # ------------------------------------------------------------------ the agent asks
    async def request(self, req: SignRequest) -> None:
        if self.pad is None:
            raise SigningRefused("this booth has no signature pad", "no_pad")
        if self.current is not None:
            raise SigningRefused("another document is being signed", "busy")
        if len(req.pdf) > self.config.max_document_bytes:
            raise SigningRefused(
                f"the PDF is larger than {self.config.max_document_bytes} bytes", "too_large"
            )
        if not req.pdf.startswith(b"%PDF-"):
            raise SigningRefused("not a PDF", "not_pdf")
        pages, sizes = await asyncio.to_thread(render_pages, req.pdf, self.config.max_pages)
        try:
            placement = await asyncio.to_thread(
                resolve, req.pdf, sizes, req.field_name, req.page, req.box
            )
        except PlacementRefused as exc:
            raise SigningRefused(str(exc), exc.code) from None
        if self.current is not None:  # a second request arrived while this one was read
            raise SigningRefused("another document is being signed", "busy")
        self.current = _Current(req, pages, placement)
        self.last = None
        self.interrupted = ""
        self._unsubscribe = self.pad.subscribe(self._on_pad)
        await self.pad.clear()
        await self.pad.enable()
        log.info("signature requested", extra={"request": req.id, "pages": len(pages)})
        self._changed()

    # ------------------------------------------------------------------ the citizen
    async def clear(self) -> None:
        if self.current is None:
            return
        self.current.ink.clear()
        self.interrupted = ""
        await self.pad.clear()
        await self.pad.enable()
        self._changed()

    async def confirm(self) -> SignOutcome:
        """Sign with the ink collected; raises :class:`SigningRefused` without ink."""
        async with self._lock:
            cur = self.current
            if cur is None:
                raise SigningRefused("nothing to sign", "nothing")
            if self.interrupted:
                raise SigningRefused("the signature was interrupted: please sign again", "pad")
            samples = [s for s in cur.ink if s.pressure > 0]
            if len(samples) < 10:
                raise SigningRefused("no signature on the pad yet", "no_ink")
            await self.pad.disable()
            t0 = time.perf_counter()
            try:
                outcome = await asyncio.to_thread(self._sign, cur)
            except Exception as exc:
                log.error("signing failed", extra={"request": cur.request.id, "error": str(exc)})
                outcome = SignOutcome(cur.request.id, "failed", reason=str(exc), code="failed")
            outcome.sign_ms = round((time.perf_counter() - t0) * 1000, 1)
            if outcome.state == "signed" and self.handover is not None and outcome.pdf:
                doc = self.handover.submit(
                    f"sig-{outcome.document_sha256[:16]}-{cur.request.id[:12]}",
                    outcome.pdf,
                    "application/pdf",
                    cur.request.requested_by,
                )
                outcome.handover_id = doc.id
            self._finish(outcome)
            return outcome

    async def decline(self) -> SignOutcome:
        cur = self.current
        outcome = SignOutcome(
            cur.request.id if cur else "", "declined", reason="citizen declined", code="declined"
        )
        if cur is not None:
            await self.pad.disable()
            self._finish(outcome)
        return outcome

    async def withdraw(self, request_id: str) -> SignOutcome | None:
        """The agent takes the request back (before the citizen confirmed): nothing is
        signed. None when ``request_id`` is not the document on screen."""
        cur = self.current
        if cur is None or cur.request.id != request_id or self._lock.locked():
            return None  # signing already under way: the result follows
        outcome = SignOutcome(
            cur.request.id, "withdrawn", reason="the agent withdrew the request", code="withdrawn"
        )
        try:
            await self.pad.disable()
        except Exception:  # an unplugged pad cannot be disabled
            pass
        self._finish(outcome)
        log.info("signature withdrawn", extra={"request": cur.request.id})
        return outcome

    async def void(self, reason: str) -> SignOutcome | None:
        """The visit, the call or the pad ended: nothing is signed."""
        cur = self.current
        if cur is None:
            return None
        outcome = SignOutcome(cur.request.id, "voided", reason=reason, code="left")
        try:
            await self.pad.disable()
        except Exception:  # an unplugged pad cannot be disabled
            pass
        self._finish(outcome)
        log.info("signature voided", extra={"request": cur.request.id, "reason": reason})
        return outcome

    # ------------------------------------------------------------------ screens
    def view(self) -> dict[str, Any]:
        cur = self.current
        if cur is None:
            last = self.last
            return {
                "active": False,
                "last": None if last is None else {"state": last.state, "reason": last.reason},
            }
        pts = [s for s in cur.ink if s.pressure > 0]
        return {
            "active": True,
            "id": cur.request.id,
            "title": cur.request.title,
            "pages": [f"/signing/page/{i}.jpg" for i in range(len(cur.pages))],
            "sign_page": cur.placement.page,
            "has_ink": len(pts) >= 10,
            "ink_samples": len(pts),
            "interrupted": self.interrupted,
            "pad": {
                "width": getattr(self.pad, "width", 0),
                "height": getattr(self.pad, "height", 0),
            },
        }

    def page(self, index: int) -> bytes | None:
        cur = self.current
        if cur is None or not 0 <= index < len(cur.pages):
            return None
        return cur.pages[index]

    def ink_strokes(self, max_points: int = 4000) -> list[list[tuple[int, int]]]:
        """The ink as strokes of (x, y) pad units, thinned to ``max_points`` (the touch
        display draws them)."""
        cur = self.current
        if cur is None:
            return []
        from booth.signing.biometrics import strokes_from_samples

        strokes = strokes_from_samples(cur.ink, getattr(self.pad, "sample_rate_hz", 500))
        total = sum(len(s) for s in strokes) or 1
        step = max(1, total // max_points)
        return [[(p.x, p.y) for p in s[::step]] for s in strokes]

    # ------------------------------------------------------------------ inside
    def _on_pad(self, event: Any) -> None:
        cur = self.current
        if cur is None:
            return
        if isinstance(event, PenSamples):
            cur.ink.extend(event.samples)
            self._changed()
        elif isinstance(event, SignatureInterrupted):
            cur.ink.clear()
            self.interrupted = event.reason or "pad lost"
            log.warning("signature interrupted", extra={"reason": event.reason})
            self._changed()

    def _finish(self, outcome: SignOutcome) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.current = None
        self.last = outcome
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("signing change listener failed")

    def _signer(self) -> tuple[Any, Any]:
        if self._keys is not None:
            return self._keys
        from booth.signing.biometrics import load_public_key
        from booth.signing.pdf import load_pkcs12_signer, load_signer

        cfg = self.config
        if cfg.demo_keys:
            from booth.signing.demo_pki import ensure_demo_keys

            keys, _ = ensure_demo_keys(self.state_dir / "demo-pki")
            signer = load_signer(keys.signer_key, keys.signer_cert)
            public = load_public_key(keys.bio_public.read_bytes())
        else:
            if cfg.seal_p12 is not None:
                phrase = (
                    cfg.seal_p12_passphrase_file.read_bytes().strip()
                    if cfg.seal_p12_passphrase_file
                    else None
                )
                signer = load_pkcs12_signer(cfg.seal_p12, phrase)
            else:
                assert cfg.seal_key is not None and cfg.seal_cert is not None
                signer = load_signer(cfg.seal_key, cfg.seal_cert)
            assert cfg.biometric_public_key is not None
            public = load_public_key(cfg.biometric_public_key.read_bytes())
        self._keys = (signer, public)
        return self._keys

    def _sign(self, cur: _Current) -> SignOutcome:
        from booth.signing.biometrics import BiometricRecord, DeviceInfo, strokes_from_samples
        from booth.signing.pdf import SignOptions, sign_pdf
        from booth.signing.verify import verify_pdf

        signer, public = self._signer()
        pad = self.pad
        rate = int(getattr(pad, "sample_rate_hz", 500))
        device = DeviceInfo(
            vendor=str(getattr(pad, "vendor", "LISA")),
            model=type(pad).__name__,
            sample_rate_hz=rate,
            pressure_levels=1024,
            width=int(getattr(pad, "width", 10000)),
            height=int(getattr(pad, "height", 6000)),
        )
        strokes = strokes_from_samples(cur.ink, rate)
        record = BiometricRecord(device, strokes, b"\0" * 32)
        req, place = cur.request, cur.placement
        options = SignOptions(
            field_name=place.field_name,
            page=place.page,
            box=place.box,
            reason=self.config.reason,
            location=self.config.location or None,
            tsa_url=self.config.tsa_url,
        )
        result = sign_pdf(req.pdf, signer, record, public, options)
        report = verify_pdf(result.pdf)
        if not report.ok:
            raise RuntimeError("the signed document does not verify")
        return SignOutcome(
            req.id,
            "signed",
            pdf=result.pdf,
            document_sha256=hashlib.sha256(req.pdf).hexdigest(),
            level=result.level,
            samples=record.sample_count,
        )


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]
