"""Candor."""
