"""Team pages: the way in (to Mission Control or the login), Mission Control and journeys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from candor.core.errors import CandorError
from candor.journeys.definition import JourneyError, build_journey
from candor.store.engine import reading
from candor.store.journey_tables import journeys
from candor.web.api_journeys import JourneyId
from candor.web.deps import figures_cache
from candor.web.pages import journey_actions
from candor.web.pages.access import current_session, may, team
from candor.web.pages.journey_svg import draw
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf

router = APIRouter(tags=["team pages"], include_in_schema=False)


@router.get("/team", response_class=HTMLResponse)
def team_home(request: Request) -> Response:
    target = "/team/mission-control" if current_session(request) else "/team/login"
    return RedirectResponse(target, status_code=303)


@router.get("/team/mission-control", response_class=HTMLResponse)
def mission_control(
    request: Request, session: Annotated[Session, Depends(team("mission_control"))]
) -> HTMLResponse:
    """The figures now; the page script keeps them live over server-sent events."""
    _, figures = figures_cache(request.app.state).get(cx_of(request))
    return render(request, "mission_control.html", figures=figures, may=may, live=True)


def _journey_rows(request: Request) -> list[Any]:
    with reading(cx_of(request).engine) as conn:
        return list(
            conn.execute(
                select(
                    journeys.c.id,
                    journeys.c.name,
                    journeys.c.state,
                    journeys.c.purpose_id,
                    journeys.c.entered,
                    journeys.c.launched_at,
                    journeys.c.version,
                ).order_by(journeys.c.state != "running", journeys.c.id)
            ).all()
        )


@router.get("/team/journeys", response_class=HTMLResponse)
def journey_list(
    request: Request, session: Annotated[Session, Depends(team("journeys"))]
) -> HTMLResponse:
    return render(request, "journeys.html", journeys=_journey_rows(request), may=may)


def _journey(request: Request, journey_id: str) -> tuple[Any, Any]:
    with reading(cx_of(request).engine) as conn:
        row = conn.execute(select(journeys).where(journeys.c.id == journey_id)).mappings().first()
    if row is None:
        return None, None
    try:
        return row, build_journey(row["definition"])
    except JourneyError:
        return row, None


@router.get("/team/journeys/{journey_id}", response_class=HTMLResponse)
def journey_page(
    request: Request, journey_id: JourneyId, session: Annotated[Session, Depends(team("journeys"))]
) -> HTMLResponse:
    """The drawing with live counts, and simulate / launch for roles that may act."""
    return _journey_view(request, journey_id)


def _journey_view(
    request: Request, journey_id: str, result: dict[str, Any] | None = None
) -> HTMLResponse:
    row, defn = _journey(request, journey_id)
    if row is None:
        return render(request, "team_message.html", 404, title="Journey not found", text="")
    _, figures = figures_cache(request.app.state).get(cx_of(request))
    live = next((j for j in figures["journeys"] if j["id"] == journey_id), None)
    drawing = draw(defn, live["steps"] if live else {}) if defn is not None else None
    return render(
        request,
        "journey.html",
        journey=row,
        drawing=drawing,
        live=live is not None,
        result=result,
        may=may,
        steps=live["steps"] if live else {},
    )


@router.post("/team/journeys/{journey_id}/{action}", response_class=HTMLResponse)
async def journey_action(
    request: Request,
    journey_id: JourneyId,
    action: str,
    session: Annotated[Session, Depends(team("journey_actions"))],
) -> HTMLResponse:
    """Simulate (who would enter, and why others would not) or launch a draft."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    if action not in ("simulate", "launch"):
        return render(request, "team_message.html", 404, title="Unknown action", text="")
    try:
        if action == "simulate":
            result = journey_actions.simulate(cx, journey_id)
        else:
            result = journey_actions.launch(cx, journey_id, actor=session.principal.actor)
            figures_cache(request.app.state).get(cx, fresh=True)
    except (CandorError, journey_actions.ActionRefused) as exc:
        result = {"action": action, "problem": str(exc)}
    return _journey_view(request, journey_id, result)
