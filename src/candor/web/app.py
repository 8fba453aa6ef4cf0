"""The FastAPI application: the admin API, subject endpoints and pages over the domain.

Handlers are thin: parse, authorise, call domain verbs in one transaction, shape the answer.
Request bodies are never logged; errors never echo submitted values.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from candor.core.context import Candor
from candor.web import (
    api_blocks,
    api_communications,
    api_consents,
    api_contacts,
    api_decide,
    api_events,
    api_journeys,
    api_registry,
    api_rights,
    api_sync,
    hooks,
    hooks_providers,
)
from candor.web.api_docs import install_api_docs
from candor.web.errors import install_error_handlers
from candor.web.pages import download as subject_download
from candor.web.pages import install_pages
from candor.web.pages import unsubscribe as subject_unsubscribe

health = APIRouter(prefix="/api/v1", tags=["health"])


@health.get("/health")
def get_health() -> dict[str, str]:
    """Liveness, without authentication."""
    return {"status": "ok"}


ROUTERS: tuple[APIRouter, ...] = (
    health,
    api_contacts.router,
    api_consents.router,
    api_blocks.router,
    api_communications.router,
    api_registry.router,
    api_decide.router,
    api_rights.router,
    api_journeys.router,
    api_events.router,
    api_sync.router,
    subject_unsubscribe.router,
    subject_download.router,
    hooks.router,
    hooks_providers.router,
)


def create_app(cx: Candor) -> FastAPI:
    """The admin API bound to one opened product (kept on app.state.cx)."""
    app = FastAPI(
        title="Candor admin API",
        version="1",
        description="Consent CRM and journey studio: the admin API under /api/v1.",
        # FastAPI's own docs page loads scripts from a CDN and inline: /docs is ours instead
        # (web.api_docs), self-hosted under the strict CSP.
        docs_url=None,
        redoc_url=None,
    )
    app.state.cx = cx
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_pages(app)
    install_api_docs(app)
    return app
