"""The team page (admins): members listed, added (with their one-time set-password link shown
once), given another role, a new link, or disabled. Each POST calls one member verb."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from candor.accounts import members
from candor.accounts.principal import ROLES
from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.ledger.registry import setting
from candor.store.engine import reading
from candor.web.deps import PathId
from candor.web.pages.access import team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, form_text

router = APIRouter(tags=["team pages"], include_in_schema=False)
Admin = Annotated[Session, Depends(team("members"))]
DONE = {"role": "Role changed; their sessions ended.", "disable": "Member disabled."}


def link_base(cx: Candor, request: Request) -> str:
    """Where links point: the configured public_url, else the address this page was served on."""
    with reading(cx.engine) as conn:
        configured = setting(conn, "public_url")
    return str(configured or request.base_url).rstrip("/")


def _page(request: Request, status: int = 200, **extra: Any) -> HTMLResponse:
    cx = cx_of(request)
    with reading(cx.engine) as conn:
        listed = members.list_members(conn)
    notice = DONE.get(request.query_params.get("done", ""))
    return render(
        request, "team_members.html", status, members=listed, roles=ROLES, notice=notice, **extra
    )


@router.get("/team/members", response_class=HTMLResponse)
def member_list(request: Request, session: Admin) -> HTMLResponse:
    return _page(request)


@router.post("/team/members", response_class=HTMLResponse)
async def member_add(request: Request, session: Admin) -> HTMLResponse:
    """Add a member; the page shows their one-time link (to hand over, not stored in clear)."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    try:
        with cx.engine.begin() as conn:
            link = members.add_member(
                conn,
                form_text(form, "email", 320),
                form_text(form, "role", 16),
                name=form_text(form, "name", 200),
                actor=session.principal.actor,
                at=cx.clock.now(),
            )
    except CandorError as exc:
        return _page(request, 422, problem=str(exc))
    return _page(request, 201, link=link, link_url=link.url(link_base(cx, request)))


@router.post("/team/members/{member_id}/{action}", response_class=HTMLResponse)
async def member_action(
    request: Request, member_id: PathId, action: str, session: Admin
) -> Response:
    """role (with `role`), link (a new one-time link), disable."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    actor, now = session.principal.actor, cx.clock.now()
    try:
        with cx.engine.begin() as conn:
            if action == "role":
                role = form_text(form, "role", 16)
                members.change_role(conn, member_id, role, actor=actor, at=now)
            elif action == "disable":
                members.disable_member(conn, member_id, actor=actor, at=now)
            elif action == "link":
                link = members.issue_password_link(conn, member_id, actor=actor, at=now)
            else:
                return render(request, "team_message.html", 404, title="Unknown action", text="")
    except CandorError as exc:
        return _page(request, 409, problem=str(exc))
    if action == "link":
        return _page(request, link=link, link_url=link.url(link_base(cx, request)))
    return RedirectResponse(f"/team/members?done={action}", status_code=303)
