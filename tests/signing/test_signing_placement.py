"""Where the signature goes (booth/signing/placement.py), decided when the request arrives: an
existing empty field, a new field at the agent's place, or the document's default; whatever
does not exist is refused with a code and a message naming it. And the flow with it: a new
field appears on the chosen page, a second signature never touches the first, the agent can
withdraw a request until the citizen confirms."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from booth.signing.config import SigningConfig
from booth.signing.flow import SigningFlow, SigningRefused, SignRequest
from booth.signing.pdf import blank_pdf
from booth.signing.placement import (
    DEFAULT_NEW_BOX,
    PlacementRefused,
    resolve,
    signature_fields,
)
from booth.signing.verify import verify_pdf
from hal.base import DriverContext
from hal.clock import LoopClock
from sim.devices.signature import SimSignaturePad, SimSignaturePadOptions

A4 = (595.0, 842.0)


def _sizes(n: int) -> list[tuple[float, float]]:
    return [A4] * n


def test_an_existing_empty_field_is_used_on_its_page() -> None:
    pdf = blank_pdf(3)  # Signature1 on the last page
    assert [(f.name, f.filled, f.page) for f in signature_fields(pdf)] == [("Signature1", False, 2)]
    named = resolve(pdf, _sizes(3), field_name="Signature1")
    assert (named.field_name, named.page, named.new) == ("Signature1", 2, False)
    default = resolve(pdf, _sizes(3))  # nothing chosen: the first empty field
    assert (default.field_name, default.page, default.new) == ("Signature1", 2, False)


def test_a_place_makes_a_new_field_even_when_the_document_has_one() -> None:
    pdf = blank_pdf(3)
    place = resolve(pdf, _sizes(3), page=0, box=(60, 60, 300, 130))
    assert (place.field_name, place.page, place.box, place.new) == (
        "Unterschrift",
        0,
        (60, 60, 300, 130),
        True,
    )
    on_page = resolve(pdf, _sizes(3), page=1)  # a page without a box: the default corner
    assert on_page.page == 1 and on_page.box == DEFAULT_NEW_BOX and on_page.new
    bare = resolve(blank_pdf(2, field_name=None), _sizes(2))  # no field at all: the last page
    assert bare.page == 1 and bare.new and bare.field_name == "Unterschrift"


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"field_name": "Unterschrift Antragsteller"}, "no_field", "its fields: Signature1"),
        ({"page": 3}, "bad_page", "page 4 does not exist (the PDF has 3 pages)"),
        ({"page": -2}, "bad_page", "page -1 does not exist"),
        ({"page": 0, "box": (500, 60, 700, 130)}, "bad_box", "not inside page 1 (595 × 842"),
        ({"page": 0, "box": (60, 60, 70, 130)}, "bad_box", "too small"),
        ({"page": 0, "box": (300, 60, 60, 130)}, "bad_box", "x1 < x2"),
    ],
)
def test_what_does_not_exist_is_refused_by_name(kwargs: dict, code: str, words: str) -> None:
    with pytest.raises(PlacementRefused) as caught:
        resolve(blank_pdf(3), _sizes(3), **kwargs)
    assert caught.value.code == code
    assert words in str(caught.value)


# ---------------------------------------------------------------- with the flow


def _flow(tmp_path: Path) -> tuple[SigningFlow, SimSignaturePad]:
    pad = SimSignaturePad("signature", SimSignaturePadOptions(), DriverContext(clock=LoopClock()))
    return SigningFlow(SigningConfig(demo_keys=True), tmp_path, pad), pad


async def _sign(flow: SigningFlow, pad: SimSignaturePad, req: SignRequest) -> bytes:
    await flow.request(req)
    await pad.draw_stroke([(1000, 1000), (4000, 3000), (6000, 1500)], 0.3, pressure=600)
    outcome = await flow.confirm()
    assert outcome.state == "signed" and outcome.pdf is not None, outcome.reason
    return outcome.pdf


def _field_pages(pdf: bytes) -> dict[str, tuple[bool, int | None]]:
    return {f.name: (f.filled, f.page) for f in signature_fields(pdf)}


@pytest.mark.realtime
async def test_signatures_go_where_asked_and_never_over_an_earlier_one(tmp_path: Path) -> None:
    flow, pad = _flow(tmp_path)
    pdf = blank_pdf(3)  # with an empty Signature1 on page 3
    first = await _sign(flow, pad, SignRequest("a", "Antrag", pdf, "Empfang", page=0))
    assert flow.last is not None
    assert _field_pages(first) == {"Signature1": (False, 2), "Unterschrift": (True, 0)}
    second = await _sign(flow, pad, SignRequest("b", "Antrag", first, "Empfang", page=0))
    assert _field_pages(second)["Unterschrift 2"] == (True, 0)
    # the default, the form's empty field: once the document is signed, a new field is laid
    # over it (pyHanko would count our entry in the older field as a change after signing)
    third = await _sign(flow, pad, SignRequest("c", "Antrag", second, "Empfang"))
    fields = {f.name: f for f in signature_fields(third)}
    assert fields["Unterschrift 3"].filled and fields["Unterschrift 3"].page == 2
    assert fields["Unterschrift 3"].rect == fields["Signature1"].rect
    report = await asyncio.to_thread(verify_pdf, third)
    assert report.ok and len(report.signatures) == 3, report.problems
    # the original pages are untouched: the signed file is the earlier one plus updates
    assert third.startswith(second) and second.startswith(first)
    assert len(PdfFileReader(io.BytesIO(third), strict=False).embedded_signatures) == 3
    # a field signed already cannot be asked for again; the booth says so before showing it
    with pytest.raises(SigningRefused) as caught:
        await flow.request(SignRequest("d", "Antrag", third, "Empfang", field_name="Unterschrift"))
    assert caught.value.code == "field_signed" and flow.current is None


@pytest.mark.realtime
async def test_the_agent_withdraws_until_the_citizen_confirms(tmp_path: Path) -> None:
    flow, pad = _flow(tmp_path)
    pdf = blank_pdf(1)
    await flow.request(SignRequest("w1", "Vollmacht", pdf, "Empfang"))
    await pad.draw_stroke([(1000, 1000), (4000, 3000)], 0.2, pressure=600)
    assert await flow.withdraw("other") is None  # not the document on screen
    outcome = await flow.withdraw("w1")
    assert outcome is not None and (outcome.state, outcome.code) == ("withdrawn", "withdrawn")
    assert outcome.pdf is None and flow.current is None
    assert flow.view() == {
        "active": False,
        "last": {"state": "withdrawn", "reason": outcome.reason},
    }
    with pytest.raises(SigningRefused) as caught:
        await flow.confirm()  # nothing left to confirm
    assert caught.value.code == "nothing"
