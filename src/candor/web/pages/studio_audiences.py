"""The audience builder: saved target groups and their live count through the SQL twin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.journeys.runtime.audiences import (
    Audience,
    count_audience,
    delete_audience,
    get_audience,
    list_audiences,
    save_audience,
)
from candor.store.engine import reading
from candor.web.api_journeys import JourneyId
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session
from candor.web.pages.studio_support import (
    REFUSALS,
    actor,
    data_block,
    json_body,
    refusal,
    registry_data,
)

router = APIRouter(tags=["studio pages"], include_in_schema=False)
Studio = Annotated[Session, Depends(team("studio"))]


def _page(request: Request, audience: Audience | None) -> HTMLResponse:
    with reading(cx_of(request).engine) as conn:
        saved = list_audiences(conn)
    current = (
        audience.model_dump(mode="json", by_alias=True, exclude_none=True) if audience else None
    )
    return render(
        request,
        "audiences.html",
        audiences=saved,
        audience=audience,
        may=may,
        data=data_block("audience-data", {"audience": current}),
        registry=data_block("studio-registry", registry_data(request)),
    )


@router.get("/team/audiences", response_class=HTMLResponse)
def audiences_page(request: Request, session: Studio) -> HTMLResponse:
    """Saved audiences and the builder on a new one."""
    return _page(request, None)


@router.get("/team/audiences/{audience_id}", response_class=HTMLResponse)
def audience_page(request: Request, audience_id: JourneyId, session: Studio) -> HTMLResponse:
    """The builder on a saved audience."""
    try:
        with reading(cx_of(request).engine) as conn:
            audience = get_audience(conn, audience_id)
    except CandorError:
        return render(request, "team_message.html", 404, title="Audience not found", text="")
    return _page(request, audience)


def _count(cx: Candor, audience: Audience) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        counted = count_audience(conn, audience, cx.clock.now())
    return {
        "total": counted.total,
        "reachable": counted.reachable,
        "not_reachable": counted.total - counted.reachable,
        "by_reason": counted.by_reason,
    }


@router.post("/team/studio/audiences/count")
async def count(request: Request, session: Studio) -> Response:
    """The live count: how many of the group may be reached now, and why the rest may not."""
    body = await json_body(request)
    try:
        audience = Audience.model_validate(body)
        return JSONResponse(await run_in_threadpool(_count, cx_of(request), audience))
    except REFUSALS as exc:
        return refusal(exc)


@router.post("/team/studio/audiences/save")
async def save(request: Request, session: Studio) -> Response:
    """Create or replace a saved audience (journeys then name it as `{audience: id}`)."""
    body = await json_body(request)
    cx = cx_of(request)
    try:
        audience = Audience.model_validate(body)
        with cx.engine.begin() as conn:
            created = save_audience(conn, audience, actor=actor(session), at=cx.clock.now())
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse({"id": audience.id, "created": created})


@router.post("/team/studio/audiences/{audience_id}/delete")
async def delete(request: Request, audience_id: JourneyId, session: Studio) -> Response:
    """Remove a saved audience."""
    await json_body(request)
    cx = cx_of(request)
    try:
        with cx.engine.begin() as conn:
            delete_audience(conn, audience_id, actor=actor(session), at=cx.clock.now())
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse({"id": audience_id, "deleted": True})
