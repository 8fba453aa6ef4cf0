"""One JSON shape for every error: {"errors": [{"field": ..., "problem": ...}]}.

Messages name the field and the problem, never the submitted value (it may be personal
data). Unexpected failures answer 500 with no detail and are logged without their message
(database errors carry statement parameters).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor.core.errors import Conflict, Erased, InvalidInput, NotFound
from candor.web.deps import Body, refused_caller

log = logging.getLogger("candor.web")

SOURCES = ("body", "query", "path", "header", "cookie")


def error_response(
    status: int,
    problems: Sequence[tuple[str, str]],
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """{"errors": [{"field", "problem"}]}, with `extra` keys beside it where a status has them."""
    body = {"errors": [{"field": field, "problem": problem} for field, problem in problems]}
    return JSONResponse({**body, **(extra or {})}, status_code=status, headers=headers)


def readable_loc(loc: Sequence[Any]) -> str:
    """("body", "addresses", 0, "value") -> "addresses[0].value"; a bare source stays."""
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in SOURCES else "body"
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or source


def split_message(message: str, default_field: str = "") -> tuple[str, str]:
    """Domain messages of the form "field: problem" -> (field, problem)."""
    field, sep, problem = message.partition(": ")
    if sep and field and " " not in field:
        return field, problem
    return default_field, message


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return error_response(422, [(exc.field, exc.problem)])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return error_response(404, [(str(exc.kind), "not found")])


async def _erased(_: Request, exc: Exception) -> JSONResponse:
    """410 Gone: when the contact was erased, and where its erasure certificate is."""
    assert isinstance(exc, Erased)
    erased_at = exc.erased_at.isoformat()
    certificate = f"/api/v1/certificates/{exc.ident}"
    problem = f"erased at {erased_at}; the erasure certificate is at {certificate}"
    extra = {"erased_at": erased_at, "certificate": certificate}
    return error_response(410, [(str(exc.kind), problem)], extra=extra)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, [split_message(str(exc))])


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        refused = await run_in_threadpool(refused_caller, request)
        if refused is not None:
            return await _http(request, refused)
    problems: list[tuple[str, str]] = []
    body = _body_model(request)
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            problems.append(("body", "is not valid JSON"))
        elif err.get("type") == "extra_forbidden" and len(loc) == 2 and body is not None:
            problems.append((str(loc[1]), body.unknown_field(str(loc[1]))))
        else:
            msg = str(err.get("msg", "is invalid"))
            problems.append((readable_loc(loc), msg.removeprefix("Value error, ")))
    return error_response(422, problems or [("body", "is invalid")])


def _body_model(request: Request) -> type[Body] | None:
    """The route's request body model, when it is one of ours."""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    return model if isinstance(model, type) and issubclass(model, Body) else None


_HTTP_FIELDS = {401: "authorization", 403: "authorization", 404: "path", 405: "method"}


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    field = _HTTP_FIELDS.get(exc.status_code, "")
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, [(field, detail)], headers=exc.headers)


class ShieldErrors:
    """Answer unexpected errors with a bare 500, logging the error type and stack only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # No str(exc): SQL errors carry their parameters (blind indexes, ids, values).
            log.error(
                "unhandled %s on %s %s\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not started:
                response = error_response(500, [("", "internal error")])
                await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Erased, _erased)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_middleware(ShieldErrors)
