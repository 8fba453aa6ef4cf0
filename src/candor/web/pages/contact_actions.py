"""What the DPO (or an admin) does on a contact's record: each form calls one domain verb in
one transaction (ledger.consents, ledger.blocks, ledger.rectification, rights.restriction,
rights.erasure, rights.requests), acting and audited in the member's name.

Evidence of a declaration taken by the team (a phone call, a letter) names the member who
took it, when it was made and its wording, and is sealed with the contact's key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from candor.core.context import Candor
from candor.core.errors import CandorError, InvalidInput
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.rectification import rectify_contact
from candor.rights import requests as dsr
from candor.rights import restriction
from candor.rights.erasure import erase_contact
from candor.web.deps import PathId
from candor.web.pages.access import team
from candor.web.pages.render import cx_of
from candor.web.pages.security import Session, check_csrf, form_text
from candor.web.pages.team_contacts import record_page
from candor.web.pages.team_requests import REQUEST_TYPES

router = APIRouter(tags=["team pages"], include_in_schema=False)
Actor = Annotated[Session, Depends(team("contact_actions"))]

HOW: Final = {
    "phone": "phone call",
    "letter": "letter",
    "email": "e-mail",
    "in_person": "in person",
}
ERASE_REASONS: Final = ("requested", "consent_withdrawn", "no_longer_needed", "unlawful")
FUTURE_TOLERANCE: Final = timedelta(minutes=5)


def _optional(form: Any, name: str, limit: int = 64) -> str | None:
    return form_text(form, name, limit).strip() or None


def declared_at(form: Any, session: Session, now: datetime) -> datetime:
    """The form's `declared_at` (datetime-local, in the member's time zone), else now."""
    text = form_text(form, "declared_at", 32).strip()
    if not text:
        return now
    try:
        moment = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(session.time_zone))
    except ValueError:
        raise InvalidInput("declared_at", "not a date and time") from None
    if moment > now + FUTURE_TOLERANCE:
        raise InvalidInput("declared_at", "lies in the future")
    return moment


def declaration(form: Any, session: Session, at: datetime) -> tuple[str, dict[str, Any]]:
    """The source code and the evidence of a declaration the member took (how, when, wording)."""
    how = form_text(form, "how", 16)
    if how not in HOW:
        raise InvalidInput("how", f"must be one of {', '.join(HOW)}")
    wording = form_text(form, "wording", 2000).strip()
    if not wording:
        raise InvalidInput("wording", "say what the person declared, in their words")
    return how, {
        "how": HOW[how],
        "declared_at": at.isoformat(),
        "wording": wording,
        "note": form_text(form, "note", 2000).strip(),
        "recorded_by": session.principal.name,
        "recorded_by_member": session.principal.actor,
    }


def _consent(conn: Connection, cx: Candor, cid: int, form: Any, s: Session, now: datetime) -> None:
    at = declared_at(form, s, now)
    source, evidence = declaration(form, s, at)
    data = ConsentInput(
        purpose=form_text(form, "purpose", 64),
        status=form_text(form, "status", 16),
        source=source,
        theme=_optional(form, "theme"),
        channel=_optional(form, "channel", 16),
        address=_optional(form, "address", 320),
        evidence=evidence,
        occurred_at=at,
    )
    record_consent(conn, cx.vault, cid, data, actor=s.principal.actor, at=now)


def _block(conn: Connection, cx: Candor, cid: int, form: Any, s: Session, now: datetime) -> None:
    source, evidence = declaration(form, s, declared_at(form, s, now))
    set_block(
        conn,
        cx.vault,
        cid,
        reason=form_text(form, "reason", 2000).strip(),
        source=source,
        channel=_optional(form, "channel", 16),
        address=_optional(form, "address", 320),
        theme=_optional(form, "theme"),
        evidence=evidence,
        actor=s.principal.actor,
        at=now,
    )


def _rectify(conn: Connection, cx: Candor, cid: int, form: Any, s: Session, now: datetime) -> None:
    changes: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        if name in form:
            changes[name] = form_text(form, name, 200).strip() or None
    fixed = _optional(form, "correct_value", 320)
    if fixed is not None:
        address = form_text(form, "correct_address", 20)
        if not address.isdigit():
            raise InvalidInput("correct_address", "choose the address to correct")
        channel = form_text(form, "correct_channel", 16)
        changes["corrections"] = [{"address": int(address), "value": fixed, "channel": channel}]
    added = _optional(form, "add_value", 320)
    if added is not None:
        changes["addresses"] = [{"channel": form_text(form, "add_channel", 16), "value": added}]
    rectify_contact(conn, cx.vault, cid, changes, actor=s.principal.actor, at=now)


def _request(conn: Connection, cx: Candor, cid: int, form: Any, s: Session, now: datetime) -> None:
    kind = form_text(form, "type", 16)
    if kind not in REQUEST_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(REQUEST_TYPES)}")
    how = form_text(form, "how", 16)
    channel = how if how in ("phone", "letter", "email") else "web"
    new = dsr.NewRequest(kind, cid, None, None, {}, channel)
    dsr.open_request(conn, cx.vault, new, role=s.principal.role, actor=s.principal.actor, at=now)


def _restriction(action: str) -> Any:
    verbs: dict[str, Any] = {
        "restrict": restriction.restrict_contact,
        "unrestrict": restriction.lift_restriction,
        "object": restriction.object_contact,
    }

    def act(conn: Connection, cx: Candor, cid: int, form: Any, s: Session, now: datetime) -> None:
        verbs[action](conn, cid, actor=s.principal.actor, at=now)

    return act


ACTIONS: Final = {
    "consent": _consent,
    "block": _block,
    "rectify": _rectify,
    "request": _request,
    "restrict": _restriction("restrict"),
    "unrestrict": _restriction("unrestrict"),
    "object": _restriction("object"),
}


@router.post("/team/contacts/{contact_id}/erase", response_class=HTMLResponse)
async def erase(request: Request, contact_id: PathId, session: Actor) -> Response:
    """Erase the person everywhere (confirmed on the form); then the certificate is shown."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    reason = form_text(form, "reason", 32)
    if form.get("confirm") != "yes" or reason not in ERASE_REASONS:
        problem = "confirm the erasure and choose a reason"
        return record_page(request, session, contact_id, 422, problem=problem, failed="erase")
    try:
        erase_contact(cx, contact_id, actor=session.principal.actor, reason=f"team:{reason}")
    except CandorError as exc:
        return record_page(request, session, contact_id, 409, problem=str(exc))
    return RedirectResponse(f"/team/contacts/{contact_id}", status_code=303)


@router.post("/team/blocks/{block_id}/lift", response_class=HTMLResponse)
async def lift(request: Request, block_id: PathId, session: Actor) -> Response:
    """Lift a block: a new recorded act with its own evidence, the block itself stays."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    now = cx.clock.now()
    contact_id = (
        int(form_text(form, "contact", 20) or 0) if form_text(form, "contact", 20).isdigit() else 0
    )
    try:
        with cx.engine.begin() as conn:
            source, evidence = declaration(form, session, declared_at(form, session, now))
            lifted = lift_block(
                conn,
                cx.vault,
                block_id,
                reason=form_text(form, "reason", 2000).strip(),
                source=source,
                evidence=evidence,
                actor=session.principal.actor,
                at=now,
            )
    except CandorError as exc:
        return record_page(request, session, contact_id, 422, problem=str(exc))
    return RedirectResponse(f"/team/contacts/{lifted['contact']}?done=lift", status_code=303)


@router.post("/team/contacts/{contact_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, contact_id: PathId, action: str, session: Actor) -> Response:
    """consent, block, rectify, restrict, unrestrict, object, request: one verb each."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    verb = ACTIONS.get(action)
    if verb is None:
        return record_page(request, session, contact_id, 404, problem="unknown action")
    try:
        with cx.engine.begin() as conn:
            verb(conn, cx, contact_id, form, session, cx.clock.now())
    except CandorError as exc:
        return record_page(request, session, contact_id, 422, problem=str(exc), failed=action)
    return RedirectResponse(f"/team/contacts/{contact_id}?done={action}", status_code=303)
