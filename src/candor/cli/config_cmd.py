"""`candor config apply FILE`: declare attributes, themes, purposes and retention rules."""

from __future__ import annotations

from pathlib import Path

import typer

from candor.channels.settings import section_problems
from candor.cli.base import console, err_console, open_candor
from candor.ledger.config import ConfigError, apply_config, load_config_file

app = typer.Typer(help="Configuration as code.", no_args_is_help=True)


@app.command("apply")
def apply(ctx: typer.Context, file: Path = typer.Argument(..., help="candor.yaml")) -> None:
    """Validate the whole file, then apply it in one transaction (idempotent)."""
    try:
        config = load_config_file(file, checks=[section_problems])
    except ConfigError as exc:
        for path, problem in exc.problems:
            err_console.print(f"{exc.filename}: {path}: {problem}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    cx = open_candor(ctx)
    with cx.engine.begin() as conn:
        report = apply_config(conn, config, actor="cli", at=cx.clock.now())
    for kind, outcomes in report.changes.items():
        summary = ", ".join(f"{outcome} {len(ids)}" for outcome, ids in outcomes.items())
        console.print(f"{kind}: {summary}")
    cx.dispose()
