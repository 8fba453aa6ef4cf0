"""The content library: templates shared by journeys, written per language and channel,
previewed for a pseudonymous sample at desktop and phone width, test-sent, linted as written.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from candor.channels.content import ContentSource
from candor.core.errors import CandorError, InvalidInput
from candor.journeys.runtime.template_library import content_findings, load_content, save_content
from candor.journeys.runtime.template_preview import preview, sample_attributes, send_test
from candor.store.engine import reading
from candor.store.journey_tables import templates
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, form_text
from candor.web.pages.studio_support import (
    REFUSALS,
    actor,
    data_block,
    error_json,
    json_body,
    refusal,
)

router = APIRouter(tags=["studio pages"], include_in_schema=False)
Studio = Annotated[Session, Depends(team("studio"))]
# The e-mail preview frame: the message's own inline styles, nothing that runs or loads.
PREVIEW_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


def _summaries(request: Request) -> list[dict[str, Any]]:
    with reading(cx_of(request).engine) as conn:
        rows = conn.execute(
            select(
                templates.c.id, templates.c.parts, templates.c.variants, templates.c.updated_at
            ).order_by(templates.c.id)
        ).all()
    return [
        {
            "id": r.id,
            "channels": sorted(r.parts or {}),
            "languages": ["(default)", *sorted(r.variants or {})],
            "updated_at": r.updated_at,
        }
        for r in rows
    ]


@router.get("/team/content", response_class=HTMLResponse)
def library(request: Request, session: Studio) -> HTMLResponse:
    """Every template with its channels and languages."""
    return render(request, "content.html", items=_summaries(request), may=may)


def _editor(request: Request, source: ContentSource | None) -> HTMLResponse:
    current = source.model_dump(mode="json", exclude_none=True) if source else None
    return render(
        request,
        "content_edit.html",
        source=source,
        may=may,
        data=data_block("content-data", {"source": current}),
    )


@router.get("/team/content/new", response_class=HTMLResponse)
def new_template(request: Request, session: Studio) -> HTMLResponse:
    return _editor(request, None)


@router.get("/team/content/{template_id}", response_class=HTMLResponse)
def edit_template(request: Request, template_id: str, session: Studio) -> HTMLResponse:
    try:
        with reading(cx_of(request).engine) as conn:
            source = load_content(conn, template_id[:64])
    except CandorError:
        return render(request, "team_message.html", 404, title="Template not found", text="")
    return _editor(request, source)


def _source(body: Any) -> ContentSource:
    data = body.get("source") if isinstance(body, dict) else None
    return ContentSource.model_validate(data)


@router.post("/team/studio/content/check")
async def check(request: Request, session: Studio) -> Response:
    """Lint findings and, per language, the SMS's encoding and segments for the sample."""
    body = await json_body(request)
    try:
        source = _source(body)
    except ValidationError as exc:
        return error_json(exc)
    with reading(cx_of(request).engine) as conn:
        findings = [asdict(f) for f in content_findings(conn, source)]
        sample = sample_attributes(conn)
    counts: dict[str, Any] = {}
    for lang, language in source.languages.items():
        for channel in ("sms", "whatsapp"):
            if getattr(language, channel) is None:
                continue
            try:
                counted = preview(source, lang, channel, sample).sms
            except InvalidInput:
                continue
            counts.setdefault(lang, {})[channel] = asdict(counted) if counted else None
    return JSONResponse({"findings": findings, "counts": counts})


@router.post("/team/studio/content/preview")
async def preview_json(request: Request, session: Studio) -> Response:
    """One language and channel rendered for a pseudonymous sample (subject, text, SMS count)."""
    body = await json_body(request)
    try:
        source = _source(body)
        with reading(cx_of(request).engine) as conn:
            sample = sample_attributes(conn)
        shown = preview(source, str(body.get("language")), str(body.get("channel")), sample)
    except REFUSALS as exc:
        return refusal(exc)
    result = asdict(shown)
    result.pop("html")
    return JSONResponse(result)


@router.post("/team/content/preview-frame", response_class=HTMLResponse)
async def preview_frame(request: Request, session: Studio) -> Response:
    """The e-mail's HTML for the sample, posted into the preview frames (its own strict CSP:
    the message's inline styles apply, nothing in it runs or loads)."""
    form = await request.form()
    check_csrf(cx_of(request), request, form)
    try:
        source = ContentSource.model_validate(json.loads(form_text(form, "source", 600_000)))
        with reading(cx_of(request).engine) as conn:
            sample = sample_attributes(conn)
        shown = preview(source, form_text(form, "language", 8), "email", sample)
        html = shown.html or f"<pre>{_escape(shown.text)}</pre>"
    except (ValueError, CandorError) as exc:
        html = f"<p>The preview cannot be shown: {_escape(str(exc))}</p>"
    headers = {"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(html, headers={**headers, "Cache-Control": "no-store"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@router.post("/team/studio/content/send-test")
async def send_test_json(request: Request, session: Studio) -> Response:
    """Send the sample rendering to the address the member typed (recorded in the audit)."""
    body = await json_body(request)
    try:
        source = _source(body)
        language, channel = str(body.get("language")), str(body.get("channel"))
        address = str(body.get("address") or "")[:300]
        await run_in_threadpool(
            send_test, cx_of(request), source, language, channel, address, actor=actor(session)
        )
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse({"sent": True, "channel": channel})


@router.post("/team/studio/content/save")
async def save(request: Request, session: Studio) -> Response:
    """Compile and store the template with all its languages."""
    body = await json_body(request)
    cx = cx_of(request)
    try:
        source = _source(body)
        with cx.engine.begin() as conn:
            stored = save_content(conn, source, actor=actor(session), at=cx.clock.now())
    except REFUSALS as exc:
        return refusal(exc)
    return JSONResponse({"id": stored["id"], "channels": stored["channels"]})
