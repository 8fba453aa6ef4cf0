"""Team pages about people: contact search and record (dpo, admin) and the DSR queue."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from candor.channels.report_review import reports_of
from candor.core.errors import CandorError, InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.blocks import list_blocks
from candor.ledger.communications import list_communications
from candor.ledger.consents import consent_history
from candor.ledger.contacts import find_by_address, read_contact
from candor.ledger.registry import facts_from_row
from candor.policy.load import decide_for
from candor.rights import requests as dsr
from candor.rights.requests_view import (
    OPEN,
    list_requests,
    open_requests,
    request_result,
    requests_of,
)
from candor.store.engine import reading
from candor.store.tables import purposes
from candor.web.deps import PathId
from candor.web.pages import subject_rights
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, form_text

router = APIRouter(tags=["team pages"], include_in_schema=False)
People = Annotated[Session, Depends(team("contacts"))]
Queue = Annotated[Session, Depends(team("requests"))]


@router.get("/team/contacts", response_class=HTMLResponse)
def contact_search(request: Request, session: People) -> HTMLResponse:
    """Search by e-mail or phone: a POST form, so the address never appears in a URL."""
    return render(request, "contacts.html", may=may)


@router.post("/team/contacts", response_class=HTMLResponse)
async def contact_find(request: Request, session: People) -> Response:
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
        return render(request, "contacts.html", 422, may=may, problem=exc.problem)
    if found is None:
        return render(request, "contacts.html", 404, may=may, problem="No contact holds it.")
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


@router.get("/team/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(request: Request, contact_id: PathId, session: People) -> HTMLResponse:
    """Consent history with evidence, blocks, communications with their decision records and
    delivery state, delivery reports (bounces, complaints), and why this person may or may
    not be contacted now."""
    cx = cx_of(request)
    now = cx.clock.now()
    try:
        with cx.engine.begin() as conn:
            contact = read_contact(conn, cx.vault, contact_id)
            channels: list[str | None] = sorted({a["channel"] for a in contact["addresses"]})
            data: dict[str, Any] = {
                "contact": contact,
                "history": consent_history(conn, cx.vault, contact_id),
                "blocks": list_blocks(conn, contact_id, cx.vault),
                "communications": list_communications(conn, contact_id),
                "reports": reports_of(conn, cx.vault, contact_id),
                "why": why(conn, contact_id, channels, now),
                "requests": requests_of(conn, contact_id),
            }
            audit.record(
                conn,
                actor=session.principal.actor,
                action="contact.view",
                object_type="contact",
                object_id=contact_id,
                at=now,
            )
    except NotFound:
        return render(request, "team_message.html", 404, title="Contact not found", text="")
    return render(request, "contact.html", may=may, **data)


@router.get("/team/requests", response_class=HTMLResponse)
def request_queue(request: Request, session: Queue) -> HTMLResponse:
    """Open requests by due date (days left, overdue highlighted), then the latest closed."""
    cx = cx_of(request)
    now = cx.clock.now()
    with reading(cx.engine) as conn:
        # Read apart: the oldest open request must show however many newer ones there are.
        open_items = open_requests(conn, now, limit=200)
        closed = [r for r in list_requests(conn, now, limit=200) if r["status"] not in OPEN][:30]
    for item in open_items:
        item["days_left"] = (datetime.fromisoformat(item["due_at"]) - now).days
    notice = request.query_params.get("done")
    return render(
        request,
        "requests.html",
        open_items=open_items,
        closed=closed,
        may=may,
        notice=notice if notice in ("verified", "extended", "fulfilled", "denied") else None,
    )


@router.post("/team/requests/{request_id}/{action}", response_class=HTMLResponse)
async def request_action(
    request: Request, request_id: PathId, action: str, session: Queue
) -> Response:
    """verify (identity checked another way), extend (with reason), fulfil, deny."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    actor, now = session.principal.actor, cx.clock.now()
    note = form_text(form, "reason", 500)
    months_text = form_text(form, "months", 1, "1")
    try:
        with cx.engine.begin() as conn:
            if action == "verify":
                subject_rights.staff_verify(conn, cx.vault, request_id, note, actor=actor, at=now)
            elif action == "extend":
                months = int(months_text) if months_text in ("1", "2") else 0
                dsr.extend_request(
                    conn, request_id, months=months, reason=note, actor=actor, at=now
                )
            elif action == "fulfil":
                subject_rights.fulfil(conn, cx.vault, request_id, actor=actor, at=now)
            elif action == "deny":
                dsr.deny_request(conn, request_id, reason=note, actor=actor, at=now)
            else:
                raise NotFound("action", action)
    except CandorError as exc:
        return render(request, "team_message.html", 409, title="Not done", text=str(exc))
    done = {"verify": "verified", "extend": "extended", "fulfil": "fulfilled", "deny": "denied"}
    return RedirectResponse(f"/team/requests?done={done[action]}", status_code=303)


@router.get("/team/requests/{request_id}/result")
def request_download(request: Request, request_id: PathId, session: Queue) -> Response:
    """The fulfilled request's result as a JSON file (the access copy, certificate, changes)."""
    cx = cx_of(request)
    try:
        with cx.engine.begin() as conn:
            result = request_result(conn, cx.vault, request_id)
            audit.record(
                conn,
                actor=session.principal.actor,
                action="dsr.download",
                object_type="dsr",
                object_id=request_id,
                at=cx.clock.now(),
            )
    except NotFound:
        return render(request, "team_message.html", 404, title="No result", text="")
    return Response(
        json.dumps(result, indent=2, default=str, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="request-{request_id}.json"',
            "Cache-Control": "no-store",
        },
    )
