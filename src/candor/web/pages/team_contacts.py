"""Team pages about people: the contacts list (filters, paging; pseudonymous for marketers),
the search by address, a contact's record with its actions, and an erased contact's certificate."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select

from candor.accounts.members import member_by_id
from candor.channels.report_review import reports_of
from candor.core.context import Candor
from candor.core.errors import CandorError, InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.blocks import list_blocks
from candor.ledger.communications import list_communications
from candor.ledger.consents import consent_history
from candor.ledger.contact_list import ContactFilter, list_contacts
from candor.ledger.contacts import find_by_address, read_contact
from candor.ledger.registry import facts_from_row, list_purposes, list_themes
from candor.policy.load import decide_for
from candor.rights.certificates import certificate_of
from candor.rights.requests_view import requests_of
from candor.store.engine import reading
from candor.store.tables import purposes
from candor.web.deps import PathId
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, form_text

router = APIRouter(tags=["team pages"], include_in_schema=False)
Listing = Annotated[Session, Depends(team("contact_list"))]
People = Annotated[Session, Depends(team("contacts"))]
DONE = {
    "consent": "Consent event recorded.",
    "block": "Block recorded.",
    "lift": "Block lifted.",
    "rectify": "Record rectified.",
    "restrict": "Processing restricted.",
    "unrestrict": "Restriction lifted.",
    "object": "Objection recorded.",
    "request": "Request opened and carried out.",
}


def _filter(request: Request) -> ContactFilter:
    q = request.query_params
    status = q.get("status", "any")
    return ContactFilter(
        status=status if status in ("active", "restricted", "objected") else "any",  # type: ignore[arg-type]
        attribute=q.get("attribute") or None,
        value=(q.get("value") or "")[:200],
        purpose=q.get("purpose") or None,
        channel=q.get("channel") if q.get("channel") in ("email", "sms", "whatsapp") else None,
        allowed=q.get("decision", "allowed") != "denied",
    )


def _after(request: Request) -> int | None:
    text = request.query_params.get("after", "")
    return int(text) if text.isdigit() and len(text) < 19 else None


@router.get("/team/contacts", response_class=HTMLResponse)
def contact_list(request: Request, session: Listing) -> HTMLResponse:
    """Contacts by filter, 50 a page; names and the record only for roles that see identity."""
    cx = cx_of(request)
    wanted = _filter(request)
    identifying = session.principal.sees_identity
    problem, page = None, None
    try:
        with cx.engine.begin() as conn:
            page = list_contacts(
                conn,
                wanted,
                at=cx.clock.now(),
                vault=cx.vault if identifying else None,
                after=_after(request),
            )
            purpose_list = list_purposes(conn)
            if identifying:
                audit.record(
                    conn,
                    actor=session.principal.actor,
                    action="contact.list",
                    object_type="contact",
                    object_id="-",
                    at=cx.clock.now(),
                    shown=len(page.rows),
                )
    except CandorError as exc:
        problem = str(exc)
        with reading(cx.engine) as conn:
            purpose_list = list_purposes(conn)
    query = {k: v for k, v in request.query_params.items() if k != "after" and v}
    next_href = None
    if page is not None and page.next_after is not None:
        next_href = "/team/contacts?" + urlencode({**query, "after": page.next_after})
    return render(
        request,
        "contacts.html",
        422 if problem else 200,
        may=may,
        page=page,
        wanted=wanted,
        identifying=identifying,
        problem=problem,
        next_href=next_href,
        first_href=("/team/contacts?" + urlencode(query)) if _after(request) else None,
        purposes=purpose_list,
    )


@router.post("/team/contacts", response_class=HTMLResponse)
async def contact_find(request: Request, session: People) -> Response:
    """Search by e-mail or phone: a POST form, so the address never appears in a URL."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    channel = "sms" if form.get("kind") == "phone" else "email"
    value = form_text(form, "address", 320)
    try:
        with cx.engine.begin() as conn:
            found = find_by_address(conn, cx.vault, channel, value)
            audit.record(
                conn,
                actor=session.principal.actor,
                action="contact.search",
                object_type="contact",
                object_id=found or "-",
                at=cx.clock.now(),
            )
    except InvalidInput as exc:
        return render(
            request, "team_message.html", 422, title="Not a valid address", text=exc.problem
        )
    if found is None:
        return render(request, "team_message.html", 404, title="No contact holds it", text="")
    return RedirectResponse(f"/team/contacts/{found}", status_code=303)


def why(conn: Any, contact_id: int, channels: list[str | None], at: Any) -> list[dict[str, Any]]:
    """decide() now per purpose and channel: allowed or not, and the reason code."""
    out = []
    for row in conn.execute(select(purposes).order_by(purposes.c.id)).mappings():
        facts = facts_from_row(row)
        for channel in channels or [None]:
            decision = decide_for(conn, contact_id, facts, channel, None, None, at)
            out.append(
                {"purpose": facts.id, "kind": facts.kind, "channel": channel, **decision.as_dict()}
            )
    return out


def record_data(cx: Candor, conn: Connection, contact_id: int) -> dict[str, Any]:
    """Everything the record page shows, and the choices its forms offer."""
    now = cx.clock.now()
    contact = read_contact(conn, cx.vault, contact_id)
    channels: list[str | None] = sorted({a["channel"] for a in contact["addresses"]})
    return {
        "contact": contact,
        "history": consent_history(conn, cx.vault, contact_id),
        "blocks": list_blocks(conn, contact_id, cx.vault),
        "communications": list_communications(conn, contact_id),
        "reports": reports_of(conn, cx.vault, contact_id),  # bounces, complaints, callbacks
        "why": why(conn, contact_id, channels, now),
        "requests": requests_of(conn, contact_id),
        "purposes": list_purposes(conn),
        "themes": list_themes(conn),
    }


def record_page(
    request: Request, session: Session, contact_id: int, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The record (audited as a view), or the erasure certificate when the person was erased."""
    cx = cx_of(request)
    try:
        with cx.engine.begin() as conn:
            data = record_data(cx, conn, contact_id)
            audit.record(
                conn,
                actor=session.principal.actor,
                action="contact.view",
                object_type="contact",
                object_id=contact_id,
                at=cx.clock.now(),
            )
    except NotFound:
        return certificate_page(request, contact_id)
    notice = DONE.get(request.query_params.get("done", ""))
    local = cx.clock.now().astimezone(ZoneInfo(session.time_zone))
    return render(
        request,
        "contact.html",
        status,
        may=may,
        notice=notice,
        now_local=local.strftime("%Y-%m-%dT%H:%M"),
        **data,
        **extra,
    )


@router.get("/team/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(request: Request, contact_id: PathId, session: People) -> HTMLResponse:
    """Consent history with evidence, blocks, communications with their decision records,
    why this person may or may not be contacted now, and (dpo, admin) what can be done."""
    return record_page(request, session, contact_id)


def certificate_page(request: Request, contact_id: int) -> HTMLResponse:
    """410 with the erasure certificate, or 404 when there never was such a contact."""
    with reading(cx_of(request).engine) as conn:
        try:
            certificate = certificate_of(conn, contact_id)
        except NotFound:
            return render(request, "team_message.html", 404, title="Contact not found", text="")
        by = actor_name(conn, certificate["actor"])
    return render(
        request, "certificate.html", 410, certificate=certificate, contact_id=contact_id, by=by
    )


def actor_name(conn: Connection, actor: str) -> str:
    """A member's name for an audit actor `member:N` (with the actor), else the actor as is."""
    kind, _, number = actor.partition(":")
    if kind != "member" or not number.isdigit():
        return actor
    try:
        return f"{member_by_id(conn, int(number)).name} ({actor})"
    except NotFound:
        return actor
