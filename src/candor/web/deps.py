"""Shared dependencies: the product container, the caller (API key and role), field types."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from candor.accounts.api_keys import Principal, authenticate
from candor.core.context import Candor
from candor.core.text_checks import Ident as Ident
from candor.core.text_checks import Language as Language
from candor.core.text_checks import Name as Name
from candor.core.text_checks import NoNul
from candor.core.text_checks import TimeZone as TimeZone
from candor.figures.mission_control import FiguresCache
from candor.journeys.validate import stored_flow_order
from candor.store.engine import reading
from candor.sync.status import sync_figures

# Largest id any backend stores (BIGINT); larger path or body ids are refused, not crashed on.
MAX_ID = 2**63 - 1


Source = Annotated[str, StringConstraints(min_length=1, max_length=32), NoNul]
Note = Annotated[str, StringConstraints(max_length=2000), NoNul]
AddressValue = Annotated[str, StringConstraints(min_length=1, max_length=320), NoNul]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128), NoNul]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class Body(BaseModel):
    """Request bodies: unknown fields are errors, never silently dropped; the error says
    which fields the body takes (and `hints` for names people try first)."""

    model_config = ConfigDict(extra="forbid")
    hints: ClassVar[dict[str, str]] = {}

    @classmethod
    def unknown_field(cls, name: str) -> str:
        """The problem reported for an unknown top-level field `name`."""
        known = ", ".join(info.alias or key for key, info in cls.model_fields.items())
        hint = cls.hints.get(name)
        return f"unknown field; this body takes {known}" + (f". {hint}" if hint else "")


def get_cx(request: Request) -> Candor:
    cx: Candor = request.app.state.cx
    return cx


Cx = Annotated[Candor, Depends(get_cx)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cnd_...`")


def _unauthorized(problem: str) -> HTTPException:
    return HTTPException(401, problem, headers={"WWW-Authenticate": "Bearer"})


def current_principal(
    cx: Cx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller behind the bearer key; 401 when it is missing, unknown or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer API key is required")
    with reading(cx.engine) as conn:
        principal = authenticate(conn, credentials.credentials)
    if principal is None:
        raise _unauthorized("unknown or revoked API key")
    return principal


def writing_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A caller allowed to change data (every role but auditor)."""
    if not principal.may_write:
        raise HTTPException(403, f"the {principal.role} role is read-only")
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A caller allowed to change the registry (admin only)."""
    if principal.role != "admin":
        raise HTTPException(403, "needs the admin role")
    return principal


Reader = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(writing_principal)]
Admin = Annotated[Principal, Depends(admin_principal)]

Channel = Literal["email", "sms", "whatsapp", "post"]


def _requires_key(dependant: Any) -> bool:
    return any(d.call is current_principal or _requires_key(d) for d in dependant.dependencies)


def refused_caller(request: Request) -> HTTPException | None:
    """The 401 for a keyed route called without a valid key, checked outside dependencies.

    FastAPI parses a JSON body before it resolves dependencies, so a malformed body would
    otherwise answer 422 to a caller who has no key at all.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not _requires_key(dependant):
        return None
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _unauthorized("a bearer API key is required")
    cx = get_cx(request)
    with reading(cx.engine) as conn:
        known = authenticate(conn, key.strip()) is not None
    return None if known else _unauthorized("unknown or revoked API key")


def figures_cache(app_state: Any) -> FiguresCache:
    """The app's one Mission Control snapshot cache, shared by the API and the team pages."""
    cache = getattr(app_state, "figures_cache", None)
    if cache is None:
        cache = app_state.figures_cache = FiguresCache(sync_figures, order=stored_flow_order)
    assert isinstance(cache, FiguresCache)
    return cache
