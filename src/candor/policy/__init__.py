"""The one decision rule (decide and its SQL twin), retention rules and the privacy lint."""
