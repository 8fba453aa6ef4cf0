"""Hosted sign-up forms: GET /f/{id} shows the form, POST /f/{id} (form-encoded) takes it.

Works without JavaScript and without cookies, so the embeddable snippet (`candor form
snippet ID`, from the same form_fields.html) can post here from the company's own site. The
POST answers the same page for every address with the same work: what tells addresses apart
happens in the worker (candor.forms.process). Throttling lives here, in one place: the
pages' RateLimiter per client address and per submitted address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.forms.intake import (
    BOXES,
    looks_automated,
    queue_submission,
    read_submission,
    stamp,
)
from candor.forms.view import FormView, form_view
from candor.ledger.form_specs import FormSpec, load_form
from candor.store.engine import reading
from candor.web.pages.i18n import LANGUAGES, choose_language, translator
from candor.web.pages.render import cx_of, env, render
from candor.web.pages.security import RateLimiter, client_ip

router = APIRouter(tags=["sign-up forms"], include_in_schema=False)

MAX_BODY: Final = 16_384  # bytes: a sign-up form is a few fields, never a file
FORM_ENCODED: Final = "application/x-www-form-urlencoded"


@dataclass
class Throttle:
    """Per client address (POSTs) and per submitted address: token buckets."""

    clients: RateLimiter
    addresses: RateLimiter


def _limiter(variable: str, default: str) -> RateLimiter:
    """A RateLimiter from "burst/per_second" in the environment (or the default)."""
    burst, _, rate = os.environ.get(variable, default).partition("/")
    try:
        return RateLimiter(float(burst), float(rate or 1))
    except ValueError:
        burst, _, rate = default.partition("/")
        return RateLimiter(float(burst), float(rate))


def throttle(request: Request) -> Throttle:
    """The app's form throttle: CANDOR_FORM_RATE per client (default 20 at once, one more
    every 5 s), CANDOR_FORM_ADDRESS_RATE per address (default 3, one more every 10 min)."""
    found = getattr(request.app.state, "form_throttle", None)
    if not isinstance(found, Throttle):
        found = Throttle(
            _limiter("CANDOR_FORM_RATE", "20/0.2"),
            _limiter("CANDOR_FORM_ADDRESS_RATE", "3/0.00167"),
        )
        request.app.state.form_throttle = found
    return found


def _language(request: Request, form: FormSpec) -> str:
    """The visitor's language among the form's (the page strings exist in English, German)."""
    chosen = choose_language(request)
    return chosen if chosen in form.languages else form.languages[0]


def _load(cx: Candor, form_id: str) -> FormView | None:
    with reading(cx.engine) as conn:
        form = load_form(conn, form_id)
        return form_view(conn, form) if form is not None else None


def _message(request: Request, status: int, text_key: str) -> HTMLResponse:
    return render(
        request, "message.html", status, cookies=False, title_key="error", text_key=text_key
    )


def _page(
    request: Request,
    view: FormView,
    status: int = 200,
    problem: tuple[str, str] | None = None,
    values: dict[str, list[str]] | None = None,
) -> HTMLResponse:
    cx = cx_of(request)
    language = _language(request, view.form)
    tf = translator(language)
    shown = (problem_label(tf, problem[0]), problem[1]) if problem else None
    return render(
        request,
        "form.html",
        status,
        cookies=False,
        view=view,
        action=f"/f/{view.form.id}",
        stamp=stamp(cx.vault.signing_key, view.form.id, cx.clock.now()),
        problem=shown,
        values=values or {},
        tf=tf,
        form_lang=language,
    )


@router.get("/f/{form_id}", response_class=HTMLResponse)
def form_page(request: Request, form_id: str) -> HTMLResponse:
    """The form: every box unticked, each purpose in its current wording."""
    view = _load(cx_of(request), form_id)
    if view is None:
        return _message(request, 404, "form_unknown")
    return _page(request, view)


@router.post("/f/{form_id}", response_class=HTMLResponse)
async def form_post(request: Request, form_id: str) -> Response:
    """Take a submission: refuse bad input naming the field; otherwise the same thank-you."""
    if not throttle(request).clients.allow(client_ip(request) or "unknown"):
        text = "Too many requests; please try again in a minute.\n"
        return Response(text, 429, {"Retry-After": "60"}, media_type="text/plain")
    fields = await _fields(request)
    if isinstance(fields, Response):
        return fields
    return await run_in_threadpool(_take, request, form_id, fields)  # the database blocks


def _take(request: Request, form_id: str, fields: dict[str, list[str]]) -> Response:
    cx = cx_of(request)
    view = _load(cx, form_id)
    if view is None:
        return _message(request, 404, "form_unknown")
    form, now = view.form, cx.clock.now()
    language = _language(request, form)
    if looks_automated(form, fields, cx.vault.signing_key, now):
        return _done(request, form, language)  # the same answer; nothing kept
    proof = _evidence(request, form, fields, now)
    try:
        with reading(cx.engine) as conn:
            submission = read_submission(conn, form, fields, language, proof)
    except InvalidInput as exc:
        return _page(request, view, 422, (exc.field, exc.problem), fields)
    first = next(iter(submission.addresses.items()))
    if throttle(request).addresses.allow(cx.vault.blind_index(*first)):
        with cx.engine.begin() as conn:
            queue_submission(conn, cx.vault, submission, now)
    return _done(request, form, language)


async def _fields(request: Request) -> dict[str, list[str]] | Response:
    """The posted fields (a bounded, form-encoded body), or the 4xx page saying why not."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_ENCODED:
        return _message(request, 415, "form_encoding")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _message(request, 413, "form_too_big")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _message(request, 413, "form_too_big")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return _message(request, 400, "form_encoding")


def _evidence(
    request: Request, form: FormSpec, fields: dict[str, list[str]], now: Any
) -> dict[str, Any]:
    """Where, when and how the person signed up (sealed with the submission)."""
    hosted = bool(fields.get("started"))
    page = request.headers.get("referer") or str(request.url_for("form_page", form_id=form.id))
    return {
        "page": page[:500],
        "time": now.isoformat(),
        "ip": client_ip(request),
        "user_agent": (request.headers.get("user-agent") or "")[:400],
        "via": "hosted" if hosted else "snippet",
    }


def _done(request: Request, form: FormSpec, language: str) -> Response:
    """The thank-you: the form's redirect (303), its text, or ours."""
    if form.thank_you.redirect:
        return RedirectResponse(form.thank_you.redirect, status_code=303)
    text = form.thank_you.text_for(language) or translator(language)("form_thanks")
    heading = translator(language)("form_thanks_title")
    return render(
        request, "form_done.html", cookies=False, title=form.name, heading=heading, text=text
    )


def snippet_html(view: FormView, public_url: str, language: str = "en") -> str:
    """The embeddable HTML: the hosted page's fields, posting to the hosted endpoint; no
    script, no stylesheet of ours, every box unticked."""
    html = env.get_template("form_fields.html").render(
        view=view,
        action=f"{public_url.rstrip('/')}/f/{view.form.id}",
        stamp=None,
        problem=None,
        values={},
        tf=translator(language if language in LANGUAGES else "en"),
        form_lang=language,
        snippet=True,
    )
    return html.strip() + "\n"


def problem_label(tf: Any, field: str) -> str:
    """The words a problem names its field by (the field's label on the page)."""
    if field in ("email", "phone", "first_name", "last_name"):
        return str(tf(f"form_{field}"))
    if field == BOXES:
        return str(tf("consent"))
    return field.replace("_", " ")
