"""The journey designer: pages to draw and edit a journey, and the JSON calls its script makes.

Every call goes through the same domain verbs as the API: build_journey, validate and lint
(journeys.check), save_draft, simulate, launch and stop_journey. YAML stays the exchange
format: download and upload round-trip the journey exactly.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from candor.core.errors import CandorError
from candor.journeys import JourneyError, build_journey, check, journey_json_schema, load_journey
from candor.journeys.definition import Problem
from candor.journeys.runtime import launch, save_draft, simulate, stop_journey
from candor.journeys.runtime.model import journey_row
from candor.journeys.runtime.reference_data import DbRegistry
from candor.journeys.runtime.report import people_in
from candor.journeys.runtime.versions import list_versions, version_definition
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
    problem_items,
    problems_json,
    refusal,
    registry_data,
)

router = APIRouter(tags=["studio pages"], include_in_schema=False)
Studio = Annotated[Session, Depends(team("studio"))]
YAML_TYPE = "application/yaml"


def to_yaml(definition: dict[str, Any]) -> str:
    """A journey in file layout as YAML (keys in file order, Unicode kept)."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


def _definition(body: Any) -> Any:
    """The journey from a studio call's body ({"definition": {...}}), built and checked."""
    data = body.get("definition") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise JourneyError([_problem("body", "send {definition: {...}}")])
    return build_journey(data)


def _problem(path: str, message: str) -> Problem:
    return Problem(path, None, message)


def _designer(request: Request, journey: dict[str, Any] | None, state: str) -> HTMLResponse:
    journey_id = journey["id"] if journey else None
    versions: list[Any] = []
    people = 0
    if journey_id:
        with reading(cx_of(request).engine) as conn:
            versions = list_versions(conn, journey_id)
            people = people_in(conn, journey_id)
    data = {"journey": journey, "state": state, "people": people}
    return render(
        request,
        "designer.html",
        journey=journey,
        state=state,
        versions=versions,
        may=may,
        data=data_block("designer-data", data),
        registry=data_block("studio-registry", registry_data(request)),
        schema=data_block("journey-schema", journey_json_schema()),
    )


@router.get("/team/journeys/new", response_class=HTMLResponse)
def new_journey(request: Request, session: Studio) -> HTMLResponse:
    """The designer on an empty journey."""
    return _designer(request, None, "new")


@router.get("/team/journeys/{journey_id}/edit", response_class=HTMLResponse)
def edit_journey(request: Request, journey_id: JourneyId, session: Studio) -> HTMLResponse:
    """The designer on a stored journey (read-only unless it is a draft)."""
    try:
        with reading(cx_of(request).engine) as conn:
            row = journey_row(conn, journey_id)
    except CandorError:
        return render(request, "team_message.html", 404, title="Journey not found", text="")
    return _designer(request, row["definition"], row["state"])


@router.post("/team/studio/journeys/check")
async def check_journey(request: Request, session: Studio) -> Response:
    """Validation and privacy lint of the journey as edited (nothing is stored)."""
    body = await json_body(request)
    try:
        defn = _definition(body)
    except JourneyError as exc:
        return problems_json(exc.problems, 200)
    with reading(cx_of(request).engine) as conn:
        problems = check(defn, DbRegistry(conn))
    return problems_json(problems, 200)


@router.post("/team/studio/journeys/save")
async def save_journey(request: Request, session: Studio) -> Response:
    """Save the journey as a new draft version (refused with every error if it is invalid)."""
    body = await json_body(request)
    cx = cx_of(request)
    try:
        defn = _definition(body)
        with cx.engine.begin() as conn:
            warnings = save_draft(conn, defn, actor=actor(session), at=cx.clock.now())
            version = journey_row(conn, defn.id)["version"]
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse({"id": defn.id, "version": version, "warnings": problem_items(warnings)})


@router.post("/team/studio/journeys/simulate")
async def simulate_journey(request: Request, session: Studio) -> Response:
    """Who would enter now and, for the rest, how many per gate reason (nothing changes)."""
    body = await json_body(request)
    cx = cx_of(request)
    try:
        defn = _definition(body)
        with reading(cx.engine) as conn:
            return JSONResponse(simulate(conn, defn, cx.clock.now()))
    except REFUSALS as exc:
        return refusal(exc)


@router.post("/team/studio/journeys/launch")
async def launch_journey(request: Request, session: Studio) -> Response:
    """Save the journey as edited and launch it (the runtime checks and enrolls)."""
    body = await json_body(request)
    cx = cx_of(request)
    try:
        defn = _definition(body)
        report = await run_in_threadpool(launch, cx, defn, actor=actor(session))
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse(
        {"id": report.journey_id, "entered": report.entered, "by_reason": report.by_reason}
    )


@router.post("/team/studio/journeys/{journey_id}/stop")
async def stop(request: Request, journey_id: JourneyId, session: Studio) -> Response:
    """Stop a running journey: queued messages cancelled, journey data purged, figures kept."""
    await json_body(request)
    try:
        return JSONResponse(stop_journey(cx_of(request), journey_id, actor=actor(session)))
    except REFUSALS as exc:
        return refusal(exc)


@router.post("/team/studio/journeys/yaml")
async def journey_yaml(request: Request, session: Studio) -> Response:
    """The journey as edited, as a YAML file (refused with its problems if it does not load)."""
    body = await json_body(request)
    try:
        defn = _definition(body)
    except JourneyError as exc:
        return problems_json(exc.problems)
    return _yaml_file(defn.id, to_yaml(defn.dump()))


@router.post("/team/studio/journeys/parse")
async def parse_yaml(request: Request, session: Studio) -> Response:
    """An uploaded YAML (or JSON) journey file, read into the designer's layout."""
    body = await json_body(request)
    text = body.get("text") if isinstance(body, dict) else None
    name = str(body.get("filename") or "journey.yaml") if isinstance(body, dict) else ""
    if not isinstance(text, str):
        return problems_json([_problem("text", "send {text: the file's content}")])
    try:
        return JSONResponse({"definition": load_journey(text, name).dump()})
    except JourneyError as exc:
        return problems_json(exc.problems)


@router.get("/team/studio/journeys/{journey_id}/versions/{version}.yaml")
def version_yaml(
    request: Request, journey_id: JourneyId, version: int, session: Studio
) -> Response:
    """A saved version as its YAML file."""
    try:
        with reading(cx_of(request).engine) as conn:
            definition = version_definition(conn, journey_id, version)
    except REFUSALS as exc:
        return refusal(exc)
    return _yaml_file(f"{journey_id}-v{version}", to_yaml(definition))


def _yaml_file(name: str, text: str) -> Response:
    return Response(
        text,
        media_type=YAML_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.yaml"'},
    )
