"""Journeys over the API: store a draft (YAML or JSON), list, read, launch, stop, simulate.

Validation problems answer 422 as {"errors": [{"field", "step", "problem"}]}. Marketers and
admins may write; every role may read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from candor.accounts.api_keys import Principal
from candor.core.context import Candor
from candor.journeys import JourneyError, Problem, build_journey, load_journey
from candor.journeys.runtime import (
    JourneyRefused,
    journey_status,
    launch,
    save_draft,
    simulate,
    stop_journey,
)
from candor.journeys.runtime.model import journey_row
from candor.store.engine import reading
from candor.store.journey_tables import journeys
from candor.web.deps import Cx, Reader

router = APIRouter(prefix="/api/v1", tags=["journeys"])

JourneyId = Annotated[str, PathParam(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=100)]
MAX_BODY = 1_000_000
WRITERS = ("admin", "marketer")


def journey_writer(principal: Reader) -> Principal:
    """Marketers and admins design and run journeys; DPOs and auditors read them."""
    if principal.role not in WRITERS:
        raise HTTPException(403, "needs the marketer or admin role")
    return principal


Writer = Annotated[Principal, Depends(journey_writer)]


def problems_response(problems: list[Problem]) -> JSONResponse:
    """422 with every problem: key path, step id and what is wrong."""
    errors = [
        {"field": p.path or "body", "step": p.step, "problem": p.message}
        for p in problems
        if p.severity == "error"
    ]
    return JSONResponse({"errors": errors}, status_code=422)


@router.post("/journeys", status_code=201, response_model=None)
async def post_journey(request: Request, cx: Cx, principal: Writer) -> Any:
    """Store a journey as a draft; the body is YAML, or JSON with a JSON content type."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse(
            {"errors": [{"field": "body", "step": None, "problem": "too large"}]}, status_code=413
        )
    is_json = "json" in request.headers.get("content-type", "")
    try:
        defn = load_journey(raw.decode("utf-8", "replace"), "body.json" if is_json else "body.yaml")
    except JourneyError as exc:
        return problems_response(exc.problems)
    return await run_in_threadpool(_store, cx, defn, principal)


def _store(cx: Candor, defn: Any, principal: Principal) -> Any:
    try:
        with cx.engine.begin() as conn:
            problems = save_draft(conn, defn, actor=principal.actor, at=cx.clock.now())
    except JourneyRefused as exc:
        return problems_response(exc.problems)
    warnings = [{"field": p.path, "step": p.step, "problem": p.message} for p in problems]
    return JSONResponse({"id": defn.id, "state": "draft", "warnings": warnings}, status_code=201)


@router.get("/journeys")
def get_journeys(cx: Cx, principal: Reader) -> dict[str, Any]:
    """Every journey with its state and entry count."""
    j = journeys
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(
                j.c.id,
                j.c.name,
                j.c.purpose_id,
                j.c.state,
                j.c.version,
                j.c.entered,
                j.c.launched_at,
                j.c.ends_at,
            ).order_by(j.c.id)
        ).mappings()
        items = [
            {
                "id": r["id"],
                "name": r["name"],
                "purpose": r["purpose_id"],
                "state": r["state"],
                "version": r["version"],
                "entered": r["entered"],
                "launched_at": r["launched_at"].isoformat() if r["launched_at"] else None,
                "ends_at": r["ends_at"].isoformat() if r["ends_at"] else None,
            }
            for r in rows
        ]
    return {"items": items}


@router.get("/journeys/{journey_id}")
def get_journey(journey_id: JourneyId, cx: Cx, principal: Reader) -> dict[str, Any]:
    """Definition, state, counts per step and outcome, and who is at which step now."""
    with reading(cx.engine) as conn:
        status = journey_status(conn, journey_id)
        status["definition"] = journey_row(conn, journey_id)["definition"]
    return status


@router.post("/journeys/{journey_id}/launch", response_model=None)
def post_launch(journey_id: JourneyId, cx: Cx, principal: Writer) -> Any:
    """Launch a stored draft: checks (validation and lint), then set-based enrollment."""
    try:
        report = launch(cx, journey_id=journey_id, actor=principal.actor)
    except JourneyRefused as exc:
        return problems_response(exc.problems)
    return {
        "id": report.journey_id,
        "state": "running",
        "entered": report.entered,
        "by_reason": report.by_reason,
        "warnings": [
            {"field": p.path, "step": p.step, "problem": p.message} for p in report.warnings
        ],
    }


@router.post("/journeys/{journey_id}/stop")
def post_stop(journey_id: JourneyId, cx: Cx, principal: Writer) -> dict[str, Any]:
    """Stop now: queued messages cancelled, journey-scoped data purged, figures kept."""
    return stop_journey(cx, journey_id, actor=principal.actor)


@router.get("/journeys/{journey_id}/simulate", response_model=None)
def get_simulate(journey_id: JourneyId, cx: Cx, principal: Reader) -> Any:
    """What a launch would do now, by reason code, without writing anything."""
    with reading(cx.engine) as conn:
        defn = build_journey(journey_row(conn, journey_id)["definition"])
        try:
            return simulate(conn, defn, cx.clock.now())
        except JourneyRefused as exc:
            return problems_response(exc.problems)
