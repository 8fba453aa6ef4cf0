"""What the studio's pages share: the caller (one place, so team accounts can replace API-key
sessions), JSON requests guarded by the session's CSRF token, problems as JSON, registry data.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select

from candor.core.errors import CandorError, InvalidInput, NotFound
from candor.journeys.definition import DECISION_REASONS, JourneyError, Problem, format_loc
from candor.journeys.runtime.enroll import JourneyRefused
from candor.journeys.runtime.reference_data import DbRegistry
from candor.store.engine import reading
from candor.store.journey_tables import templates
from candor.web.pages.render import cx_of
from candor.web.pages.security import PageRefused, Session, check_csrf

MAX_JSON: Final = 1_000_000
CHANNELS: Final = ("email", "sms", "whatsapp")


def actor(session: Session) -> str:
    """Who acts, as the audit names them (today the API key behind the session)."""
    return session.principal.actor


async def json_body(request: Request) -> Any:
    """The request's JSON after checking the session's CSRF token (X-CSRF-Token header)."""
    check_csrf(cx_of(request), request, {"csrf": request.headers.get("x-csrf-token")})
    raw = await request.body()
    if len(raw) > MAX_JSON:
        raise PageRefused(413, "body: too large")
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        raise PageRefused(422, f"body: not JSON ({exc.msg})") from None


def problem_items(problems: list[Problem]) -> list[dict[str, Any]]:
    """Every problem with its key path and step, as the studio shows them at their field."""
    return [
        {
            "field": p.path or "body",
            "step": p.step,
            "problem": p.message,
            "severity": p.severity,
            "code": p.code,
        }
        for p in problems
    ]


def problems_json(problems: list[Problem], status: int = 422) -> JSONResponse:
    """{"errors": problem_items(...)}: 422 when they refuse the call, 200 when only shown."""
    return JSONResponse({"errors": problem_items(problems)}, status_code=status)


def error_json(exc: CandorError | ValidationError) -> JSONResponse:
    """A domain or validation error as {"errors": [{field, problem}]} (404 for NotFound)."""
    if isinstance(exc, ValidationError):
        errors = [
            {
                "field": format_loc(e["loc"]) or "body",
                "problem": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"errors": errors}, status_code=422)
    if isinstance(exc, InvalidInput):
        return JSONResponse({"errors": [{"field": exc.field, "problem": exc.problem}]}, 422)
    status = 404 if isinstance(exc, NotFound) else 409
    return JSONResponse({"errors": [{"field": "body", "problem": str(exc)}]}, status_code=status)


REFUSALS: Final = (JourneyError, JourneyRefused, ValidationError, CandorError)


def refusal(exc: Exception) -> JSONResponse:
    """Any refusal of a studio call as JSON: journey problems with their step and field,
    anything else as {"errors": [{field, problem}]}."""
    if isinstance(exc, JourneyError | JourneyRefused):
        return problems_json(exc.problems)
    assert isinstance(exc, CandorError | ValidationError)
    return error_json(exc)


def registry_data(request: Request) -> dict[str, Any]:
    """What the builders offer: attributes and types, purposes, themes, templates, reasons."""
    with reading(cx_of(request).engine) as conn:
        reg = DbRegistry(conn)
        template_channels = {
            r.id: sorted(ch for ch, p in (r.parts or {}).items() if p)
            for r in conn.execute(select(templates.c.id, templates.c.parts))
        }
        return {
            # Conditions filter on the pseudonymous profile; a journey may also read names.
            "attributes": dict(sorted(reg.profile_types().items())),
            "fields": sorted(reg.attributes),
            # A journey's purpose sends or decides; an analytics purpose only names consent
            # to tracking (the journey's `tracking`), so the builders do not offer it.
            "purposes": {
                k: {"kind": v.kind}
                for k, v in sorted(reg.purposes.items())
                if v.kind != "analytics"
            },
            "themes": sorted(reg.themes),
            "channels": list(CHANNELS),
            "reasons": list(DECISION_REASONS),
            "templates": template_channels,
            "audiences": sorted(reg.audiences),
        }


def data_block(element_id: str, value: Any) -> Markup:
    """A <script type="application/json"> block the page's module reads (never executed,
    so the strict CSP holds); `</` is escaped so the data cannot end the element."""
    text = json.dumps(value, default=str).replace("</", "<\\/")
    return Markup(f'<script type="application/json" id="{element_id}">{text}</script>')
