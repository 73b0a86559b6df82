"""Sign a PDF (PAdES baseline) with a visible, stroke-drawn appearance and the sealed biometric
data embedded, using pyHanko. See docs/signature.md.

Per signature, one incremental update holds:

- the sealed biometric blob (``booth.signing.biometrics``) as an embedded file stream with a file
  specification (``/AFRelationship /Supplement``) referenced from the signature field's ``/AF``
  (an associated file of the field, PDF 2.0 § 14.13); its envelope binds it to the SHA-256 of the
  document *as it was before this update* (the first ``document_length`` bytes of the file);
- the signature field (created at ``box`` on ``page`` unless a field of that name exists) with a
  vector appearance stream drawn from the strokes (line width following the pressure) and a
  caption (signer, time);
- the CMS signature (``/SubFilter /ETSI.CAdES.detached``): PAdES B-B; B-T with a timestamp
  authority URL; B-LT when revocation info is embedded (DSS); B-LTA with a document timestamp.

Several signatures are several incremental updates; earlier ones stay valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from booth.signing.biometrics import BiometricRecord, DeviceInfo, Point, seal

DEFAULT_BOX = (56, 56, 256, 136)  # x1, y1, x2, y2 in PDF points (bottom left of the page)
BIO_KEY = "/LISA_Biometrics"  # the sealed blob, a byte string in the signature field dict


class SigningError(RuntimeError):
    pass


@dataclass(frozen=True)
class SignOptions:
    field_name: str = "Signature1"
    page: int = 0  # 0-based; only used when the field is created
    box: tuple[int, int, int, int] | None = None  # only used when the field is created
    reason: str | None = None
    location: str | None = None
    name: str | None = None  # display name; default: the certificate's subject
    tsa_url: str | None = None  # -> B-T
    embed_revocation: bool = False  # -> B-LT (needs trust_roots, fetches OCSP/CRL)
    document_timestamp: bool = False  # -> B-LTA (needs tsa_url and embed_revocation)
    trust_roots: Sequence[asn1_x509.Certificate] = field(default_factory=tuple)
    caption: str = "%(signer)s\n%(ts)s"


@dataclass(frozen=True)
class SignResult:
    pdf: bytes
    field_name: str
    document_sha256: str
    document_length: int
    blob_size: int
    level: str


# --- signers ----------------------------------------------------------------------------------


def load_signer(
    key: Path, cert: Path, chain: Sequence[Path] = (), passphrase: bytes | None = None
) -> Signer:
    """A signer from a PEM/DER private key and certificate (+ intermediate certificates)."""
    s: Signer | None = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
        str(key), str(cert), ca_chain_files=[str(c) for c in chain], key_passphrase=passphrase
    )
    if s is None:
        raise SigningError(f"could not load the key {key} / certificate {cert}")
    return s


def load_pkcs12_signer(path: Path, passphrase: bytes | None = None) -> Signer:
    s: Signer | None = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
        str(path), passphrase=passphrase
    )
    if s is None:
        raise SigningError(f"could not load the PKCS#12 file {path}")
    return s


@contextlib.contextmanager
def pkcs11_signer(
    lib: str,
    *,
    token_label: str | None = None,
    pin: str | None = None,
    key_label: str | None = None,
    cert_label: str | None = None,
    cert: Path | None = None,
    slot: int | None = None,
) -> Iterator[Signer]:
    """A signer whose key stays on a PKCS#11 token (smart card, HSM; SoftHSM for tests). The
    certificate comes from the token (``cert_label``) or from the file ``cert``."""
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign import pkcs11

    session = pkcs11.open_pkcs11_session(
        lib,
        slot_no=slot,
        token_criteria=TokenCriteria(label=token_label) if token_label else None,
        user_pin=pin,
    )
    signing_cert = None
    if cert is not None:
        signing_cert = load_cert_from_pemder(str(cert))  # type: ignore[no-untyped-call]
    try:
        yield pkcs11.PKCS11Signer(
            session,
            cert_label=cert_label if cert is None else None,
            signing_cert=signing_cert,
            key_label=key_label,
        )
    finally:
        session.close()


# --- appearance -------------------------------------------------------------------------------


def strokes_appearance(
    strokes: Sequence[Sequence[Point]], device: DeviceInfo, width: float = 300.0
) -> RawContent:
    """A vector drawing of the strokes (pad y axis points down, PDF's up), line width 0.4..2.4
    following the pressure; ``width`` × proportional height, scaled into the field by pyHanko."""
    scale = width / device.width
    height = device.height * scale
    levels = max(1, device.pressure_levels - 1)
    ops: list[str] = ["0 0 0.55 RG 1 J 1 j"]
    current_w = -1.0
    for stroke in strokes:
        if len(stroke) == 1:
            p = stroke[0]
            x, y = p.x * scale, height - p.y * scale
            ops.append(f"2 w {x:.2f} {y:.2f} m {x:.2f} {y:.2f} l S")
            current_w = 2.0
            continue
        for a, b in itertools.pairwise(stroke):
            w = round(0.4 + 2.0 * ((a.pressure + b.pressure) / 2) / levels, 1)
            if w != current_w:
                ops.append(f"{w} w")
                current_w = w
            ops.append(
                f"{a.x * scale:.2f} {height - a.y * scale:.2f} m "
                f"{b.x * scale:.2f} {height - b.y * scale:.2f} l S"
            )
    return RawContent(
        "\n".join(ops).encode(), box=layout.BoxConstraints(width=width, height=height)
    )


def stamp_style(strokes: Sequence[Sequence[Point]], device: DeviceInfo, caption: str) -> Any:
    return TextStampStyle(
        stamp_text=caption,
        text_box_style=TextBoxStyle(font_size=6),
        background=strokes_appearance(strokes, device),
        background_opacity=1.0,
        border_width=0,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MIN
        ),
    )


# --- signing ----------------------------------------------------------------------------------


def _find_field(writer: IncrementalPdfFileWriter, name: str) -> generic.DictionaryObject | None:
    for fq_name, _value, ref in fields.enumerate_sig_fields(writer, filled_status=None):
        if fq_name == name:
            obj = ref.get_object()
            assert isinstance(obj, generic.DictionaryObject)
            return obj
    return None


def _attach_blob(
    writer: IncrementalPdfFileWriter, field_dict: generic.DictionaryObject, blob: bytes
) -> None:
    """The blob goes into the signature field dictionary as a direct byte string (key
    ``/LISA_Biometrics``): new indirect objects (an embedded file stream + file specification)
    would be "unexplained xrefs" to pyHanko's difference analysis of *earlier* signatures."""
    field_dict[pdf_name(BIO_KEY)] = generic.ByteStringObject(blob)
    if field_dict.container_ref is not None:
        writer.update_container(field_dict)


def sign_pdf(
    data: bytes,
    signer: Signer,
    record: BiometricRecord | None,
    bio_public_key: rsa.RSAPublicKey | None,
    options: SignOptions | None = None,
    strokes_for_appearance: Sequence[Sequence[Point]] | None = None,
) -> SignResult:
    """Sign ``data`` (a PDF) as one incremental update. ``record`` (its ``document_sha256`` is
    replaced by the hash of ``data``) is sealed to ``bio_public_key`` and embedded; its strokes
    draw the visible signature. Without a record the signature is visible text only."""
    opts = options or SignOptions()
    doc_sha = hashlib.sha256(data).digest()
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)

    field_dict = _find_field(writer, opts.field_name)
    if field_dict is None:
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(
                sig_field_name=opts.field_name, on_page=opts.page, box=opts.box or DEFAULT_BOX
            ),
        )
        field_dict = _find_field(writer, opts.field_name)
        assert field_dict is not None
    elif "/V" in field_dict:
        raise SigningError(f"the field {opts.field_name!r} is already signed")

    blob = b""
    device = DeviceInfo()
    strokes: Sequence[Sequence[Point]] = strokes_for_appearance or ()
    if record is not None:
        if bio_public_key is None:
            raise SigningError("biometric data needs the authority's biometric public key")
        record = BiometricRecord(record.device, record.strokes, doc_sha, record.captured_at)
        blob = seal(record, bio_public_key, len(data))
        _attach_blob(writer, field_dict, blob)
        device = record.device
        strokes = strokes or record.strokes

    level = "B-B"
    timestamper = None
    if opts.tsa_url:
        timestamper = timestamps.HTTPTimeStamper(opts.tsa_url)
        level = "B-T"
    vc = None
    if opts.embed_revocation and not opts.tsa_url:
        raise SigningError("B-LT needs a signature timestamp: set tsa_url")
    if opts.document_timestamp and not opts.embed_revocation:
        raise SigningError("B-LTA needs B-LT: set embed_revocation (and tsa_url)")
    if opts.embed_revocation:
        if not opts.trust_roots:
            raise SigningError("B-LT needs the trust roots to build the validation path")
        vc = ValidationContext(trust_roots=list(opts.trust_roots), allow_fetching=True)
        level = "B-LT"
    lta = opts.document_timestamp
    if lta:
        level = "B-LTA"
    meta = signers.PdfSignatureMetadata(
        field_name=opts.field_name,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=opts.reason,
        location=opts.location,
        name=opts.name,
        embed_validation_info=vc is not None,
        validation_context=vc,
        use_pades_lta=lta,
    )
    style = stamp_style(strokes, device, opts.caption) if strokes else None
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=style)
    subject = opts.name or signer.subject_name or "?"
    out = pdf_signer.sign_pdf(
        writer,
        output=io.BytesIO(),
        appearance_text_params={"signer": subject},
    )
    return SignResult(
        pdf=out.getvalue(),
        field_name=opts.field_name,
        document_sha256=doc_sha.hex(),
        document_length=len(data),
        blob_size=len(blob),
        level=level,
    )


def blank_pdf(
    pages: int = 10, field_name: str | None = "Signature1", title: str = "Antrag"
) -> bytes:
    """A simple A4 PDF written with pyHanko (text per page), optionally with an empty signature
    field on the last page: the test and demo document."""
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    g: Any = generic  # pyHanko's object constructors are untyped

    w: Any = PdfFileWriter()  # type: ignore[no-untyped-call]
    font = g.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    font_ref = w.add_object(font)
    for i in range(pages):
        text = f"BT /F1 18 Tf 72 770 Td ({title} - Seite {i + 1} von {pages}) Tj ET\n"
        text += "".join(
            f"BT /F1 10 Tf 72 {740 - 14 * k} Td (Zeile {k + 1}: Angaben zum Antrag) Tj ET\n"
            for k in range(30)
        )
        stream = g.StreamObject(stream_data=text.encode("latin-1"))
        resources = g.DictionaryObject(
            {pdf_name("/Font"): g.DictionaryObject({pdf_name("/F1"): font_ref})}
        )
        page: Any = PageObject  # untyped
        w.insert_page(page(w.add_object(stream), (0, 0, 595, 842), resources))
    if field_name:
        fields.append_signature_field(
            w, fields.SigFieldSpec(sig_field_name=field_name, on_page=pages - 1, box=DEFAULT_BOX)
        )
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()
