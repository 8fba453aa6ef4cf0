"""GET /download/{token}: the person fetches their access copy through the emailed link.

No API key: the signed, expiring token (purpose `dl`) is the capability, bound to the person
and to one request. The copy is served as HTML in the person's language (`?lang=` overrides)
or, with `?format=json`, as the machine-readable export; every download is recorded on the
request. A forged, expired or foreign token gets a plain page without details.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from candor.channels.links import read_download
from candor.core import tokens
from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.ledger import audit
from candor.rights.fulfil import history
from candor.rights.render import render_copy
from candor.rights.requests_view import request_result, request_row
from candor.web.pages.render import render

router = APIRouter(tags=["subject pages"], include_in_schema=False)

COPY_TYPES = ("access", "portability")
_INLINE_STYLE = re.compile(r"<style>.*?</style>", re.DOTALL)
_STYLESHEET = '<link rel="stylesheet" href="/static/candor.css">'
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _refused(request: Request, status: int) -> HTMLResponse:
    """The pages' plain "link not valid" page (no details, CSP-clean)."""
    return render(request, "message.html", status, title_key="bad_link", text_key="bad_link_help")


def _request_id(ref: str) -> int | None:
    kind, _, ident = ref.partition(":")
    return int(ident) if kind == "dsr" and ident.isdigit() else None


def fetch_copy(cx: Candor, token: str, fmt: str) -> tuple[dict[str, Any] | None, int]:
    """The copy a download token names, recording the download; (None, status) if refused."""
    now = cx.clock.now()
    try:
        contact_id, ref = read_download(cx.vault.signing_key, token, now)
    except tokens.TokenError:
        return None, 400
    request_id = _request_id(ref)
    if request_id is None:
        return None, 404
    with cx.engine.begin() as conn:
        try:
            row = request_row(conn, request_id)
            if row["contact_id"] != contact_id or row["type"] not in COPY_TYPES:
                return None, 404
            data = request_result(conn, cx.vault, request_id)["data"]
        except NotFound:
            return None, 404
        if not isinstance(data, dict):  # erased since: the key is gone, so is the copy
            return None, 404
        history(conn, request_id, "downloaded", "subject", now, f"format:{fmt}")
        audit.record(
            conn,
            actor="subject",
            action="dsr.download",
            object_type="dsr",
            object_id=request_id,
            at=now,
            format=fmt,
        )
    return data, 200


@router.get("/download/{token}", response_model=None)
def download(
    request: Request, token: str, format: str = "html", lang: str | None = None
) -> Response:
    """The copy as a readable page in the person's language, or as JSON (Art. 15, Art. 20)."""
    cx: Candor = request.app.state.cx
    fmt = "json" if format == "json" else "html"
    copy, status = fetch_copy(cx, token, fmt)
    if copy is None:
        return _refused(request, status)
    if fmt == "json":
        name = f"candor-data-copy-{copy.get('contact', {}).get('id', 'me')}.json"
        return JSONResponse(
            copy,
            headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )
    # The standalone copy carries its own <style>; served here, the site stylesheet replaces
    # it so the page obeys the content security policy (no inline styles or scripts).
    html = _INLINE_STYLE.sub(_STYLESHEET, render_copy(copy, lang), count=1)
    return HTMLResponse(html, headers=_HEADERS)
