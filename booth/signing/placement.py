"""Where on the document the citizen's signature goes — decided, and checked, when the agent's
request arrives (not when the citizen has already signed).

The agent names an existing signature field, or a place (a page and/or a box in PDF points),
or nothing:

* a field: it must exist and be empty; the monitor frames the page it is on;
* a place: a new field is created there, named ``Unterschrift`` (``Unterschrift 2``, … when
  that name is taken, so that an earlier signature is never touched); the page must exist and
  the box must lie inside it;
* nothing: the document's first empty signature field, else a new field at the bottom right
  of the last page.

:class:`PlacementRefused` carries a stable ``code`` (the portal words it for the agent) and a
message naming what is wrong.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

#: a new signature field: bottom right of an A4 page (PDF points)
DEFAULT_NEW_BOX = (330, 60, 540, 130)
NEW_FIELD_NAME = "Unterschrift"
MIN_BOX_PT = 20  # a box narrower or lower than this holds no readable signature


class PlacementRefused(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    filled: bool
    page: int | None  # 0-based; None: the field has no widget on any page
    rect: tuple[int, int, int, int] | None = None  # its widget's box (PDF points)


@dataclass(frozen=True, slots=True)
class Placement:
    field_name: str
    page: int  # 0-based: the page the signature appears on
    box: tuple[int, int, int, int] | None  # for a new field; None: the existing field's own
    new: bool


def signature_fields(pdf: bytes) -> list[FieldInfo]:
    """The document's signature fields, in document order, with the page each is on."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    reader: Any = PdfFileReader(io.BytesIO(pdf), strict=False)  # partly untyped
    count = int(reader.root["/Pages"]["/Count"])
    page_of: dict[int, int] = {}
    for index in range(count):
        ref, _ = reader.find_page_for_modification(index)
        page_of[ref.idnum] = index
    out = []
    for name, value, ref in enumerate_sig_fields(reader, filled_status=None):
        field: Any = ref.get_object()
        widgets = [field] if "/Rect" in field else [k.get_object() for k in field.get("/Kids", [])]
        page = None
        rect = None
        for widget in widgets:
            if rect is None and "/Rect" in widget:
                x1, y1, x2, y2 = (int(float(v)) for v in widget["/Rect"])
                rect = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        for widget in widgets:
            p = widget.raw_get("/P") if "/P" in widget else None
            if p is not None and getattr(p, "idnum", None) in page_of:
                page = page_of[p.idnum]
                break
        if page is None:  # no /P: look for the widget in the pages' annotations
            page = _page_by_annotation(reader, count, {w.container_ref for w in widgets})
        out.append(FieldInfo(str(name), value is not None, page, rect))
    return out


def _page_by_annotation(reader: Any, count: int, refs: set[Any]) -> int | None:
    ids = {getattr(r, "idnum", None) for r in refs} - {None}
    for index in range(count):
        ref, _ = reader.find_page_for_modification(index)
        for annot in ref.get_object().get("/Annots", []) or []:
            if getattr(annot, "idnum", None) in ids:
                return index
    return None


def resolve(
    pdf: bytes,
    page_sizes: list[tuple[float, float]],
    field_name: str = "",
    page: int | None = None,
    box: tuple[int, int, int, int] | None = None,
) -> Placement:
    """The placement for a request (see the module docstring); ``page_sizes`` in PDF points,
    one per page. Raises :class:`PlacementRefused`."""
    pages = len(page_sizes)
    try:
        fields = signature_fields(pdf)
    except Exception as exc:  # pyHanko cannot read the document's structure
        raise PlacementRefused(f"the PDF's form fields cannot be read: {exc}", "not_pdf") from None
    if field_name:
        found = next((f for f in fields if f.name == field_name), None)
        if found is None:
            names = ", ".join(f.name for f in fields) or "none"
            raise PlacementRefused(
                f"the PDF has no signature field {field_name!r} (its fields: {names})",
                "no_field",
            )
        if found.filled:
            raise PlacementRefused(f"the field {field_name!r} is already signed", "field_signed")
        return _existing(found, fields, pages)
    if page is None and box is None:
        empty = next((f for f in fields if not f.filled), None)
        if empty is not None:
            return _existing(empty, fields, pages)
    index = pages - 1 if page is None else page
    if not 0 <= index < pages:
        raise PlacementRefused(
            f"page {index + 1} does not exist (the PDF has {pages} pages)", "bad_page"
        )
    width, height = page_sizes[index]
    chosen = box or _default_box(width, height)
    x1, y1, x2, y2 = chosen
    if x2 - x1 < MIN_BOX_PT or y2 - y1 < MIN_BOX_PT:
        raise PlacementRefused(
            f"the signature box {list(chosen)} is too small (at least {MIN_BOX_PT} points "
            "each way, x1 < x2 and y1 < y2)",
            "bad_box",
        )
    if x1 < 0 or y1 < 0 or x2 > width + 0.5 or y2 > height + 0.5:
        raise PlacementRefused(
            f"the signature box {list(chosen)} is not inside page {index + 1} "
            f"({width:.0f} × {height:.0f} points)",
            "bad_box",
        )
    return Placement(_free_name({f.name for f in fields}), index, chosen, True)


def _existing(found: FieldInfo, fields: list[FieldInfo], pages: int) -> Placement:
    """An empty field of the document. Once the document carries a signature, our biometric
    entry in that older field's dictionary would count as a change after signing to pyHanko's
    difference analysis of the earlier signature: then a new field is laid over it instead
    (same page, same box; the form's own field stays empty — docs/signature.md)."""
    where = found.page if found.page is not None else pages - 1
    if any(f.filled for f in fields) and found.rect is not None and found.page is not None:
        return Placement(_free_name({f.name for f in fields}), where, found.rect, True)
    return Placement(found.name, where, None, False)


def _default_box(width: float, height: float) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = DEFAULT_NEW_BOX
    if x2 <= width and y2 <= height:
        return DEFAULT_NEW_BOX
    w, h = x2 - x1, y2 - y1  # a page smaller than A4: the same size, bottom right
    return (max(0, int(width) - w - 55), y1, max(w, int(width) - 55), y1 + h)


def _free_name(taken: set[str]) -> str:
    if NEW_FIELD_NAME not in taken:
        return NEW_FIELD_NAME
    n = 2
    while f"{NEW_FIELD_NAME} {n}" in taken:
        n += 1
    return f"{NEW_FIELD_NAME} {n}"
