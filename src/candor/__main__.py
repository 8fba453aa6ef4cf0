"""`python -m candor` runs the CLI."""

from __future__ import annotations

from candor.cli import main

main()
