"""`candor serve` (the HTTP API and pages) and `candor demo` (the main job on SQLite)."""

from __future__ import annotations

from pathlib import Path

import typer

from candor.cli.base import console, init, open_candor


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
    config: Path = typer.Option(
        Path("candor.yaml"), "--config", help="Configuration to apply first."
    ),
    contacts: int = typer.Option(2000, "--contacts", help="How many synthetic contacts to seed."),
    journey: Path | None = typer.Option(
        None, "--journey", help="A journey to run against a local mail sink afterwards."
    ),
) -> None:
    """Initialise a database here, seed a synthetic population and show the gate at work."""
    from candor.demo.population import run_demo
    from candor.demo.team import create_demo_admin

    init(ctx)
    cx = open_candor(ctx)
    run_demo(cx, config, contacts, console, journey)
    create_demo_admin(cx, console)
    cx.dispose()
