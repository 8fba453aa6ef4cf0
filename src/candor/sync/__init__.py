"""Connectors: domain events out (signed webhooks) and in, journeys fed from back-end systems.

Importing the package registers its tables with the rights registry (sync.places).
"""

from candor.sync import places as _places  # noqa: F401
