"""The booth's signing flow (booth/signing/flow.py) with the simulated pad, demo keys and a real
directory-drop hand-over: shown → ink → confirm → a signed PDF that verifies, bound to the
document, in the DMS folder; declined and interrupted signatures leave nothing signed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from booth.handover.config import DirectoryDropConfig
from booth.handover.exporters import build_exporter
from booth.handover.outbox import HandoverOutbox
from booth.handover.service import HandoverService
from booth.signing.biometrics import load_private_key
from booth.signing.config import SigningConfig
from booth.signing.demo_pki import ensure_demo_keys
from booth.signing.flow import SigningFlow, SigningRefused, SignRequest
from booth.signing.pdf import blank_pdf
from booth.signing.verify import verify_pdf
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import SignatureInterrupted
from sim.devices.signature import SimSignaturePad, SimSignaturePadOptions

pytestmark = pytest.mark.realtime


def _pad() -> SimSignaturePad:
    return SimSignaturePad("signature", SimSignaturePadOptions(), DriverContext(clock=LoopClock()))


def _flow(
    tmp_path: Path, pad: SimSignaturePad, handover: HandoverService | None = None
) -> SigningFlow:
    return SigningFlow(SigningConfig(demo_keys=True), tmp_path, pad, handover)


async def _sign_on(pad: SimSignaturePad) -> None:
    await pad.draw_stroke([(1000, 1000), (4000, 3000), (6000, 1500)], 0.4, pressure=600)
    await asyncio.sleep(0.05)
    await pad.draw_stroke([(6500, 1000), (7000, 4000)], 0.2, pressure=400)


async def test_confirmed_signature_is_signed_bound_and_handed_over(tmp_path: Path) -> None:
    pad = _pad()
    drop = tmp_path / "dms"
    drop.mkdir()
    outbox = HandoverOutbox(tmp_path / "handover.sqlite")
    service = HandoverService(outbox, build_exporter(DirectoryDropConfig(path=drop)), LoopClock())
    runner = asyncio.create_task(service.run())
    try:
        flow = _flow(tmp_path, pad, service)
        pdf = blank_pdf(3, field_name=None, title="Antrag auf Wohngeld")
        await flow.request(SignRequest("r1", "Antrag auf Wohngeld", pdf, "Wohngeldstelle"))
        view = flow.view()
        assert view["active"] and len(view["pages"]) == 3
        assert flow.page(0) is not None and flow.page(0)[:2] == b"\xff\xd8"  # type: ignore[index]
        with pytest.raises(SigningRefused):
            await flow.confirm()  # no ink yet: nothing is signed without a signature
        await _sign_on(pad)
        assert flow.view()["has_ink"]
        assert flow.ink_strokes()
        outcome = await flow.confirm()
        assert outcome.state == "signed" and outcome.pdf is not None
        assert outcome.samples > 200
        report = await asyncio.to_thread(verify_pdf, outcome.pdf)  # it runs its own loop
        assert report.ok, report.problems
        keys, _ = ensure_demo_keys(tmp_path / "demo-pki")
        private = load_private_key(keys.bio_private.read_bytes())
        bound = await asyncio.to_thread(verify_pdf, outcome.pdf, biometric_key=private)
        assert bound.ok and bound.signatures[0].to_dict().get("biometrics")
        try:
            await service.wait_empty(within=10)
        except TimeoutError:
            raise AssertionError(f"not delivered: {outbox.audit_trail()}") from None
        delivered = [p for p in drop.iterdir() if p.suffix == ".pdf"]
        assert len(delivered) == 1 and delivered[0].read_bytes() == outcome.pdf
        assert flow.view()["active"] is False
    finally:
        runner.cancel()


async def test_declined_and_interrupted_sign_nothing(tmp_path: Path) -> None:
    pad = _pad()
    flow = _flow(tmp_path, pad)
    pdf = blank_pdf(1)
    await flow.request(SignRequest("r2", "Vollmacht", pdf, "Empfang", field_name="Signature1"))
    await _sign_on(pad)
    outcome = await flow.decline()
    assert outcome.state == "declined" and outcome.pdf is None
    assert flow.current is None
    # interrupted mid-signature: the ink is void, confirming is refused until signed again
    await flow.request(SignRequest("r3", "Vollmacht", pdf, "Empfang", field_name="Signature1"))
    await _sign_on(pad)
    flow._on_pad(
        SignatureInterrupted("signature", 0.0, reason="pad unplugged", samples_discarded=5)
    )
    with pytest.raises(SigningRefused, match="interrupted"):
        await flow.confirm()
    await flow.clear()
    await _sign_on(pad)
    assert (await flow.confirm()).state == "signed"
    # the visit ends while a document is shown: voided
    await flow.request(SignRequest("r4", "Vollmacht", pdf, "Empfang", field_name="Signature1"))
    voided = await flow.void("the visit ended")
    assert voided is not None and voided.state == "voided" and flow.current is None


async def test_bad_documents_are_refused(tmp_path: Path) -> None:
    flow = _flow(tmp_path, _pad())
    with pytest.raises(SigningRefused, match="not a PDF"):
        await flow.request(SignRequest("x", "x", b"hello", "a"))
    with pytest.raises(SigningRefused, match="readable"):
        await flow.request(SignRequest("x", "x", b"%PDF-1.7 broken", "a"))
