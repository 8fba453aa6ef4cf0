"""The web layer: the admin API, the customer pages, the team pages and Mission Control."""

from candor.web.app import create_app

__all__ = ["create_app"]
