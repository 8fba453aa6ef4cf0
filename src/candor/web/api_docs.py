"""The API's documentation: `/docs` (Swagger UI, self-hosted, CSP-clean) over an OpenAPI
document that lists every error status and media type an operation answers, and `GET /`.

Error statuses follow from each route's make-up (a key: 401; a role check: 403; path ids:
404; parameters or a body: 422; a state change: 409), plus what a few routes answer besides
(`EXTRA`); a schemathesis run (tests/web/test_schemathesis.py) holds the document to them.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from candor.web.deps import current_principal
from candor.web.pages.security import PUBLIC_PREFIXES

router = APIRouter(include_in_schema=False)

DOCS_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Candor API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/bundle/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/bundle/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""

JSON: Final = "application/json"
HTML: Final = "text/html"
ERRORS_REF: Final = {"$ref": "#/components/schemas/Errors"}
WHY: Final = {
    400: "The body could not be read (not the media type or encoding it claims)",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "Nothing with this id (or no such thing configured)",
    409: "The request clashes with the current state (e.g. a used token, a closed request)",
    410: "The contact was erased: when, and where its erasure certificate is",
    413: "The body is too large",
    422: "A field is missing or invalid: each error names the field and the problem",
    429: "Too many requests from this address; try again later (Retry-After)",
}
# What routes answer besides what their make-up says: status -> media types of the answer.
EXTRA: Final[dict[tuple[str, str], dict[int, tuple[str, ...]]]] = {
    ("GET", "/api/v1/ropa"): {200: (JSON, "text/markdown")},
    ("GET", "/api/v1/contacts/{contact_id}/copy"): {200: (JSON, HTML)},
    ("GET", "/api/v1/requests/{request_id}/result"): {200: (JSON, HTML)},
    ("GET", "/api/v1/decide"): {404: (JSON,), 410: (JSON,)},
    ("POST", "/api/v1/requests"): {404: (JSON,)},
    ("POST", "/api/v1/sync/events"): {401: (JSON,), 413: (JSON,)},
    ("POST", "/api/v1/journeys"): {400: (JSON,), 422: (JSON,)},  # YAML or JSON, read by hand
    ("POST", "/hooks/inbound/{channel}"): {401: (JSON,), 404: (JSON,), 413: (JSON,)},
    ("POST", "/hooks/delivery/{channel}"): {401: (JSON,), 404: (JSON,), 413: (JSON,)},
    ("GET", "/download/{token}"): {200: (HTML, JSON), 400: (HTML,), 404: (HTML,)},
    ("GET", "/u/{token}"): {400: (HTML,)},
    ("POST", "/u/{token}"): {400: (HTML,)},
    ("GET", "/c/{token}"): {302: (), 400: (HTML,)},
    ("GET", "/o/{token}.gif"): {200: ("image/gif",)},
    # Provider webhooks answer 404 where that provider is not configured, 401 or 403 for a
    # bad signature or verify token.
    ("POST", "/hooks/twilio/{channel}/status"): {401: (JSON,), 404: (JSON,), 413: (JSON,)},
    ("POST", "/hooks/twilio/{channel}/inbound"): {401: (JSON,), 404: (JSON,), 413: (JSON,)},
    ("GET", "/hooks/meta/whatsapp"): {403: (JSON,), 404: (JSON,)},
    ("POST", "/hooks/meta/whatsapp"): {401: (JSON,), 404: (JSON,), 413: (JSON,)},
}
SCHEMAS: Final[dict[str, Any]] = {
    "Errors": {
        "type": "object",
        "description": 'Every error: {"errors": [{"field", "problem"}]}, never the value sent.',
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "problem"],
                    "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                },
            },
            "erased_at": {"type": "string", "format": "date-time", "description": "410 only"},
            "certificate": {"type": "string", "description": "410 only: the certificate's path"},
        },
    }
}


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    """The team pages (their login when no one is logged in)."""
    return RedirectResponse("/team", status_code=303)


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """The interactive API documentation; its script is a static file (no inline script)."""
    return HTMLResponse(DOCS_PAGE)


def _role_checked(route: APIRoute | RouteContext) -> bool:
    """Whether a dependency between the handler and current_principal checks the role."""
    return any(d.call is not current_principal and _keyed(d) for d in route.dependant.dependencies)


def _keyed(dependant: Any) -> bool:
    return any(d.call is current_principal or _keyed(d) for d in dependant.dependencies)


def error_statuses(route: APIRoute | RouteContext, method: str) -> dict[int, tuple[str, ...]]:
    """The statuses a route answers besides success, with their media types (pages answer
    HTML only where EXTRA says so: validation and auth errors are JSON everywhere)."""
    d, path = route.dependant, route.path_format or ""
    found: set[int] = set()
    if _keyed(d):
        found |= {401, 409} if method != "GET" else {401}
    if _role_checked(route):
        found.add(403)
    if d.path_params and path.startswith("/api/"):
        found.add(404)
    if "{contact_id}" in path:
        found.add(410)
    if d.body_params:
        found |= {400, 422}
    if d.path_params or d.query_params or d.header_params:
        found.add(422)
    out = {status: (JSON,) for status in found}  # the error handlers answer JSON
    if path.startswith(PUBLIC_PREFIXES):
        out[429] = ("text/plain",)
    return {**out, **EXTRA.get((method, path), {})}


def _response(status: int, media: tuple[str, ...]) -> dict[str, Any]:
    content = {m: {"schema": ERRORS_REF} if m == JSON and status >= 400 else {} for m in media}
    return {"description": WHY.get(status, "Redirect" if status < 400 else ""), "content": content}


def document(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Add each operation's error statuses and media types to an OpenAPI document."""
    schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for route in iter_route_contexts(routes):  # routes of included routers, prefixes applied
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation["responses"]
            for status, media in sorted(error_statuses(route, method).items()):
                if str(status) in responses and status < 400:
                    for m in media:
                        responses[str(status)].setdefault("content", {}).setdefault(m, {})
                else:
                    responses[str(status)] = _response(status, media)
    return schema


def install_api_docs(app: FastAPI) -> None:
    """Serve `/docs` and `GET /`, and let `/openapi.json` document every error."""
    app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document(schema, list(app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
