"""Mission Control figures are read through the API as well: the web fixtures apply here."""

from tests.web.conftest import Api, api

__all__ = ["Api", "api"]
