"""Connectors: deliver domain events as signed webhooks, apply inbound events, feed journeys
from back-end systems (sources)."""
