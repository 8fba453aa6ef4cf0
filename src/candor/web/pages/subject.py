"""Customer pages (no login; signed, expiring, single-purpose tokens): preferences, double
opt-in confirmation, requests about one's data, Global Privacy Control."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from candor.channels.links import read_preferences
from candor.core import tokens
from candor.core.errors import CandorError, Conflict, InvalidInput, NotFound
from candor.ledger.consents import DOI_TOKEN_PURPOSE, confirm_doi, doi_token_ids
from candor.ledger.form_specs import load_form
from candor.store.engine import reading
from candor.store.tables import doi_tokens
from candor.web.pages import preferences as prefs
from candor.web.pages import subject_rights as rights
from candor.web.pages.i18n import choose_language, translator
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import check_csrf, evidence, form_text

router = APIRouter(tags=["subject pages"], include_in_schema=False)

GPC_POLICY: Final = {"gpc": True, "lastUpdate": "2026-11-29"}


def _bad_link(request: Request, status: int = 400) -> HTMLResponse:
    return render(request, "message.html", status, title_key="bad_link", text_key="bad_link_help")


def _contact_of(request: Request, token: str) -> int | None:
    """The contact a preferences token names, or None for any other kind of token."""
    cx = cx_of(request)
    try:
        return read_preferences(cx.vault.signing_key, token, cx.clock.now())
    except tokens.TokenError:
        return None


@router.get("/.well-known/gpc.json")
def gpc_policy() -> JSONResponse:
    """We honour Global Privacy Control (https://privacycg.github.io/gpc-spec/)."""
    return JSONResponse(GPC_POLICY, headers={"Cache-Control": "max-age=3600"})


def gpc_signal(request: Request, contact_id: int, page: str = "preferences") -> str | None:
    """Record a Sec-GPC: 1 signal once; 'recorded' the first time, 'known' afterwards."""
    cx = cx_of(request)
    if request.headers.get("sec-gpc", "").strip() != "1":
        with reading(cx.engine) as conn:
            return "known" if rights.gpc_on_record(conn, contact_id) else None
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        if rights.gpc_on_record(conn, contact_id):
            return "known"
        recorded = rights.record_gpc_objection(
            conn, cx.vault, contact_id, evidence(request, page, now), at=now
        )
    return "recorded" if recorded else None


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preference_center(request: Request, token: str) -> HTMLResponse:
    """Every theme by channel for every marketing purpose; ticked only where decide() allows."""
    contact_id = _contact_of(request, token)
    if contact_id is None:
        return _bad_link(request)
    cx = cx_of(request)
    try:
        gpc = gpc_signal(request, contact_id)
        with reading(cx.engine) as conn:
            model = prefs.load_preferences(conn, contact_id, cx.clock.now())
    except NotFound:
        return _bad_link(request, 404)
    notice = request.query_params.get("done")
    return render(
        request,
        "preferences.html",
        prefs=model,
        token=token,
        gpc=gpc,
        notice=notice
        if notice in ("saved", "unchanged", "blocked", "unblocked", "request")
        else None,
    )


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save_preferences(request: Request, token: str) -> Response:
    """Save the boxes (one ledger event per change), or set or lift a complete block."""
    contact_id = _contact_of(request, token)
    if contact_id is None:
        return _bad_link(request)
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    action = form.get("action", "save")
    now = cx.clock.now()
    proof = evidence(request, "preferences", now)
    done = "unchanged"
    try:
        with cx.engine.begin() as conn:
            if action == "block":
                proof = prefs.block_evidence(proof, choose_language(request), "block")
                blocked = prefs.set_complete_block(
                    conn, cx.vault, contact_id, evidence=proof, at=now
                )
                done = "blocked" if blocked else done
            elif action == "unblock":
                proof = prefs.block_evidence(proof, choose_language(request), "unblock")
                lifted = prefs.lift_complete_block(
                    conn, cx.vault, contact_id, evidence=proof, at=now
                )
                done = "unblocked" if lifted else done
            else:
                ticked = {str(v) for v in form.getlist("box")[:500]}
                events = prefs.save_preferences(conn, cx.vault, contact_id, ticked, proof, at=now)
                done = "saved" if events else done
    except NotFound:
        return _bad_link(request, 404)
    return RedirectResponse(f"/preferences/{token}?done={done}", status_code=303)


@router.post("/preferences/{token}/request", response_class=HTMLResponse)
async def request_from_preferences(request: Request, token: str) -> Response:
    """Open a request about one's data; it starts once confirmed from the person's address."""
    contact_id = _contact_of(request, token)
    if contact_id is None:
        return _bad_link(request)
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    kind = form_text(form, "type", 32)
    details = form_text(form, "details", 2000)
    now = cx.clock.now()
    try:
        with cx.engine.begin() as conn:
            rights.open_for_contact(conn, cx.vault, contact_id, kind, details, at=now)
    except InvalidInput:
        return render(request, "message.html", 422, title_key="error", text_key="req_type")
    except NotFound:
        return _bad_link(request, 404)
    return render(request, "message.html", title_key="req_title", text_key="req_sent")


@router.get("/requests", response_class=HTMLResponse)
def request_form(request: Request) -> HTMLResponse:
    """The public form: which right, and the address we know the person by."""
    return render(request, "request_form.html", types=rights.SUBJECT_TYPES)


@router.post("/requests", response_class=HTMLResponse)
async def submit_request(request: Request) -> HTMLResponse:
    """Same answer whether or not the address is known (no way to probe who is a customer)."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    kind = form_text(form, "type", 32)
    if kind not in rights.SUBJECT_TYPES:
        return render(
            request, "request_form.html", 422, types=rights.SUBJECT_TYPES, problem="req_type"
        )
    email = form_text(form, "email", 320)
    details = form_text(form, "details", 2000)
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        rights.open_by_email(conn, cx.vault, kind, email, details, at=now)
    return render(request, "message.html", title_key="req_title", text_key="req_sent")


@router.get("/requests/verify/{token}", response_class=HTMLResponse)
def verify_page(request: Request, token: str) -> HTMLResponse:
    """One button; opening the link alone verifies nothing (mail scanners prefetch links)."""
    cx = cx_of(request)
    try:
        with reading(cx.engine) as conn:
            row = rights.request_for_token(conn, cx.vault, token, cx.clock.now())
    except (InvalidInput, NotFound):
        return _bad_link(request)
    if row["status"] != "verifying" or row["verification_token"] != token:
        return render(request, "message.html", title_key="verify_title", text_key="used")
    return render(
        request,
        "confirm.html",
        title_key="verify_title",
        text_key="verify_text",
        button_key="verify_button",
        action=f"/requests/verify/{token}",
    )


@router.post("/requests/verify/{token}", response_class=HTMLResponse)
async def verify_request(request: Request, token: str) -> HTMLResponse:
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    now = cx.clock.now()
    try:
        with cx.engine.begin() as conn:
            view = rights.verify_by_link(conn, cx.vault, token, at=now)
    except (InvalidInput, NotFound):
        return _bad_link(request)
    except Conflict:
        return render(request, "message.html", title_key="verify_title", text_key="used")
    due = str(view["due_at"])[:10]
    return render(
        request, "message.html", title_key="verify_title", text_key="verified", values={"due": due}
    )


def _doi_state(request: Request, token: str) -> str:
    """'ok', 'used' or 'bad' for a double opt-in token, without changing anything."""
    cx = cx_of(request)
    try:
        claims = tokens.verify(cx.vault.signing_key, token, DOI_TOKEN_PURPOSE, cx.clock.now())
    except tokens.TokenError:
        return "bad"
    with reading(cx.engine) as conn:
        used = conn.execute(
            select(doi_tokens.c.used_at).where(doi_tokens.c.id.in_(doi_token_ids(claims)))
        ).all()
    if not used:
        return "bad"
    return "ok" if any(row.used_at is None for row in used) else "used"


def _confirmed_page(request: Request, token: str, gpc: str | None) -> Response:
    """The page after confirming: a sign-up form's own text or redirect, else ours."""
    cx = cx_of(request)
    claims = tokens.verify(cx.vault.signing_key, token, DOI_TOKEN_PURPOSE, cx.clock.now())
    form = None
    if isinstance(claims.get("f"), str):
        with reading(cx.engine) as conn:
            form = load_form(conn, claims["f"])
    if form is not None and form.confirmed.redirect:
        return RedirectResponse(form.confirmed.redirect, status_code=303)
    text = form.confirmed.text_for(choose_language(request)) if form is not None else None
    if form is None or not text:
        return render(
            request, "message.html", title_key="confirm_title", text_key="confirmed", gpc=gpc
        )
    heading = translator(choose_language(request))("confirm_title")
    return render(request, "form_done.html", title=form.name, heading=heading, text=text, gpc=gpc)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def doi_page(request: Request, token: str) -> HTMLResponse:
    """The double opt-in page: one button; a GET (a link scanner's prefetch) confirms nothing."""
    state = _doi_state(request, token)
    if state == "bad":
        return _bad_link(request)
    if state == "used":
        return render(request, "message.html", title_key="confirm_title", text_key="used")
    return render(
        request,
        "confirm.html",
        title_key="confirm_title",
        text_key="confirm_text",
        button_key="confirm_button",
        action=f"/confirm/{token}",
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def doi_confirm(request: Request, token: str) -> Response:
    """Confirm the pending grant: a `confirmed` ledger event with this request as evidence."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    now = cx.clock.now()
    proof: dict[str, Any] = evidence(request, "confirm", now, confirmed_at=now.isoformat())
    try:
        with cx.engine.begin() as conn:
            event = confirm_doi(conn, cx.vault, token, proof, actor="subject", at=now)
    except Conflict:
        return render(request, "message.html", title_key="confirm_title", text_key="used")
    except CandorError:
        return _bad_link(request)
    # The person's own click (not a scanner's prefetch): their browser's GPC signal counts.
    gpc = gpc_signal(request, int(event["contact_id"]), page="confirm")
    return _confirmed_page(request, token, gpc)
