"""The web layer: the FastAPI admin API (later: subject pages and Mission Control)."""

from candor.web.app import create_app

__all__ = ["create_app"]
