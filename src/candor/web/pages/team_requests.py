"""The DSR queue: open requests by deadline, opening one for a person (by e-mail or phone),
verify, extend with a reason, approve or fulfil, deny, and download the result."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from candor.core.errors import CandorError, InvalidInput, NotFound
from candor.ledger import audit
from candor.rights import requests as dsr
from candor.rights.requests_view import OPEN, list_requests, open_requests, request_result
from candor.store.engine import reading
from candor.web.deps import PathId
from candor.web.pages import subject_rights
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, form_text

router = APIRouter(tags=["team pages"], include_in_schema=False)
Queue = Annotated[Session, Depends(team("requests"))]
Acting = Annotated[Session, Depends(team("request_actions"))]
OPENED_BY: Final = ("email", "phone", "letter", "web")
REQUEST_TYPES: Final = ("access", "portability", "erasure", "restriction", "objection")
DONE: Final = {
    "verified": "Request verified and carried out.",
    "extended": "Deadline extended; the person is told why.",
    "fulfilled": "Request fulfilled.",
    "denied": "Request denied.",
    "opened": "Request opened and carried out.",
}


@router.get("/team/requests", response_class=HTMLResponse)
def request_queue(request: Request, session: Queue) -> HTMLResponse:
    """Open requests by due date (days left, overdue highlighted), then the latest closed."""
    return _queue(request)


def _queue(request: Request, status: int = 200, problem: str | None = None) -> HTMLResponse:
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
        status,
        open_items=open_items,
        closed=closed,
        may=may,
        notice=DONE.get(notice or ""),
        problem=problem,
        types=REQUEST_TYPES,
    )


@router.post("/team/requests", response_class=HTMLResponse)
async def request_open(request: Request, session: Acting) -> Response:
    """Open a request for a person found by e-mail or phone (in the body, never the URL);
    opened by the team, it is carried out at once (the opener is the reviewer)."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    kind = form_text(form, "type", 16)
    value = form_text(form, "address", 320).strip()
    by_phone = form.get("kind") == "phone"
    how = form_text(form, "how", 16)
    new = dsr.NewRequest(
        kind,
        None,
        None if by_phone else value,
        value if by_phone else None,
        {},
        how if how in OPENED_BY else "web",
    )
    try:
        if kind not in REQUEST_TYPES:
            raise InvalidInput("type", f"must be one of {', '.join(REQUEST_TYPES)}")
        with cx.engine.begin() as conn:
            dsr.open_request(
                conn,
                cx.vault,
                new,
                role=session.principal.role,
                actor=session.principal.actor,
                at=cx.clock.now(),
            )
    except CandorError as exc:
        return _queue(request, 422, str(exc))
    return RedirectResponse("/team/requests?done=opened", status_code=303)


@router.post("/team/requests/{request_id}/{action}", response_class=HTMLResponse)
async def request_action(
    request: Request, request_id: PathId, action: str, session: Acting
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
