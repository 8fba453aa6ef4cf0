"""The FastAPI application: the admin API over the domain operations.

Handlers are thin: parse, authorise, call domain verbs in one transaction, shape the answer.
Request bodies are never logged; errors never echo submitted values.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from candor.runtime import Candor
from candor.web import (
    api_blocks,
    api_communications,
    api_consents,
    api_contacts,
    api_decide,
    api_journeys,
    api_registry,
    api_rights,
    api_sync,
    hooks,
    subject_download,
    subject_unsubscribe,
)
from candor.web.errors import install_error_handlers
from candor.web.pages import install_pages

health = APIRouter(prefix="/api/v1", tags=["health"])


@health.get("/health")
def get_health() -> dict[str, str]:
    """Liveness, without authentication."""
    return {"status": "ok"}


# Routers of the admin API; journeys, rights and subject pages add theirs here.
ROUTERS: tuple[APIRouter, ...] = (
    health,
    api_contacts.router,
    api_consents.router,
    api_blocks.router,
    api_communications.router,
    api_registry.router,
    api_decide.router,
)


def create_app(cx: Candor) -> FastAPI:
    """The admin API bound to one opened product (kept on app.state.cx)."""
    app = FastAPI(
        title="Candor admin API",
        version="1",
        description="Consent CRM: contacts, consents, blocks, communications, decisions.",
    )
    app.state.cx = cx
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(subject_unsubscribe.router)
    app.include_router(subject_download.router)
    app.include_router(hooks.router)
    app.include_router(api_rights.router)
    app.include_router(api_journeys.router)
    app.include_router(api_sync.router)
    install_pages(app)
    return app
