"""`candor serve` (the HTTP API and pages) and `candor demo` (the main job on SQLite)."""

from __future__ import annotations

from pathlib import Path

import typer

from candor.cli.base import console, domain_errors, fail, init, open_candor
from candor.ledger.config import ConfigError


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Serve the admin API, subject pages and Mission Control."""
    import uvicorn

    from candor.web.app import create_app

    cx = open_candor(ctx)
    uvicorn.run(create_app(cx), host=host, port=port, log_level="info", access_log=False)


def demo(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        help="Configuration to apply first (default: ./candor.yaml, else the example).",
    ),
    contacts: int = typer.Option(2000, "--contacts", help="How many synthetic contacts to seed."),
    journey: Path | None = typer.Option(
        None, "--journey", help="A journey to run against a local mail sink afterwards."
    ),
) -> None:
    """Initialise a database here, seed a synthetic population and show the gate at work."""
    from candor.demo.examples import demo_files
    from candor.demo.next_steps import print_next_steps
    from candor.demo.population import run_demo

    config_file, journey_file = demo_files(config, journey)
    init(ctx)
    cx = open_candor(ctx)
    try:
        with domain_errors():
            run_demo(cx, config_file, contacts, console, journey_file)
    except ConfigError as exc:
        fail(str(exc))
    print_next_steps(cx, console)
    cx.dispose()
