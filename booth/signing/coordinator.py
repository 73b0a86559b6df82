"""The signature in the call: the agent's document in, the booth's states, the result out.

The agent sends the PDF over the call's ``lisa`` data channel (``doc.begin``, chunks,
``doc.end``: docs/media.md); :class:`SigningCoordinator` hands it to the
:class:`~booth.signing.flow.SigningFlow`, moves the booth into ``in_call.signing`` (the screens
show the document and the sign area), and when the citizen confirms or declines on the touch
display sends ``doc.result`` with the signed PDF back to that agent and returns the booth to
``in_call.talking``. The agent may withdraw the request (``doc.cancel``) until the citizen
confirms. Leaving the signing state any other way (the call ended, the citizen left, an
emergency) voids the document: nothing half-signed remains. While the call lasts, the agent
is told how the hand-over to the document system goes (``doc.handover``: delivered, or
retrying while the DMS cannot be reached — the outbox keeps the document and goes on trying).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from booth.handover.outbox import AuditEntry
from booth.machine import Trigger
from booth.signing.flow import SigningFlow, SigningRefused, SignOutcome, SignRequest

log = logging.getLogger("lisa.booth.signing")


class SigningCoordinator:
    def __init__(self, flow: SigningFlow, controller: Any, endpoint: Any) -> None:
        self.flow = flow
        self.controller = controller
        self.endpoint = endpoint
        self.peer: str | None = None
        self.listeners: list[Callable[[], None]] = []
        #: hand-overs of this visit still to report: handover id -> (peer, request id)
        self.handovers: dict[str, tuple[str, str]] = {}
        flow.on_change = self._changed
        endpoint.on_document = self.on_document
        endpoint.on_document_cancel = self.on_cancel
        controller.state_listeners.append(self._on_state)
        if flow.handover is not None:
            flow.handover.subscribe(self._on_handover)

    # ------------------------------------------------------------------ from the agent
    def on_document(self, peer: str, meta: dict[str, Any], pdf: bytes) -> None:
        self.endpoint.spawn(self._request(peer, meta, pdf))

    async def _request(self, peer: str, meta: dict[str, Any], pdf: bytes) -> None:
        rid = str(meta.get("id", ""))[:64] or "doc"
        state = str(self.controller.state)
        if state != "in_call.talking":
            code = "busy" if state == "in_call.signing" else "not_talking"
            self._result(peer, rid, "refused", f"the booth is not talking ({state})", code)
            return
        box: Any = meta.get("box")
        request = SignRequest(
            id=rid,
            title=str(meta.get("title") or "Dokument")[:120],
            pdf=pdf,
            requested_by=self._name(peer),
            field_name=str(meta.get("field") or "")[:64],
            page=meta["page"] if type(meta.get("page")) is int else None,
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])) if _is_box(box) else None,
        )
        try:
            await self.flow.request(request)
        except SigningRefused as exc:
            self._result(peer, rid, "refused", str(exc), exc.code)
            return
        self.peer = peer
        self.endpoint.send_control(peer, {"type": "doc.shown", "id": rid})
        self.controller.post(Trigger.SIGNATURE_REQUESTED)

    # ------------------------------------------------------------------ from the citizen
    async def confirm(self) -> SignOutcome:
        outcome = await self.flow.confirm()  # raises SigningRefused without ink
        self._done(outcome)
        return outcome

    async def decline(self) -> SignOutcome:
        outcome = await self.flow.decline()
        self._done(outcome)
        return outcome

    async def clear(self) -> None:
        await self.flow.clear()

    # ------------------------------------------------------------------ the agent withdraws
    def on_cancel(self, peer: str, request: str) -> None:
        self.endpoint.spawn(self._withdraw(peer, request))

    async def _withdraw(self, peer: str, request: str) -> None:
        if peer != self.peer:
            return  # only the agent who asked may withdraw; anything else: nothing to do
        outcome = await self.flow.withdraw(request)
        if outcome is not None:
            self._done(outcome)

    # ------------------------------------------------------------------ inside
    def _done(self, outcome: SignOutcome) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            item = {
                "type": "doc.result",
                "id": outcome.id,
                "state": outcome.state,
                "reason": outcome.reason,
                "code": outcome.code,
                "level": outcome.level,
                "document_sha256": outcome.document_sha256,
                "handover": outcome.handover_id,
            }
            self.endpoint.send_document(peer, item, outcome.pdf)
            if outcome.handover_id is not None:
                self.handovers[outcome.handover_id] = (peer, outcome.id)
        log.info(
            "signature finished",
            extra={"request": outcome.id, "state": outcome.state, "sign_ms": outcome.sign_ms},
        )
        if str(self.controller.state) == "in_call.signing":
            self.controller.post(Trigger.SIGNATURE_FINISHED)

    def _on_handover(self, entry: AuditEntry) -> None:
        """The outbox's audit: tell the agent who asked while the call lasts."""
        target = self.handovers.get(entry.document_id)
        if target is None or entry.event == "queued":
            return
        peer, request = target
        if entry.event in ("delivered", "already-present"):
            del self.handovers[entry.document_id]
            state = "delivered"
        elif entry.event == "attempt-failed":
            state = "retrying"
        else:
            return
        item = {"type": "doc.handover", "id": request, "handover": entry.document_id}
        self.endpoint.send_control(peer, {**item, "state": state, "attempt": entry.attempt})

    def _on_state(self, state: str) -> None:
        if not state.startswith("in_call"):
            self.handovers.clear()  # the outbox goes on; the call's agent is gone
        if not state.startswith("in_call") and self.flow.last is not None:
            self.flow.last = None  # the next visit sees nothing of this one's signature
            self._changed()
        if self.flow.current is not None and state != "in_call.signing":
            if state.startswith("in_call.talking") and self.peer is None:
                return
            self.endpoint.spawn(self._void(f"left signing ({state})"))

    async def _void(self, reason: str) -> None:
        outcome = await self.flow.void(reason)
        if outcome is not None:
            peer, self.peer = self.peer, None
            if peer is not None:
                self._result(peer, outcome.id, "voided", reason, "left")
        if not str(self.controller.state).startswith("in_call"):
            self.flow.last = None  # the visit is over: nothing of it stays on the screens
            self._changed()

    def _result(self, peer: str, rid: str, state: str, reason: str, code: str) -> None:
        item = {"type": "doc.result", "id": rid, "state": state, "reason": reason, "code": code}
        self.endpoint.send_document(peer, item, None)

    def _name(self, peer: str) -> str:
        p = self.endpoint.peers.get(peer)
        return str(getattr(p, "name", "") or peer)

    def _changed(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                log.exception("signing listener failed")


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 4
        and all(isinstance(v, int | float) for v in value)
    )
