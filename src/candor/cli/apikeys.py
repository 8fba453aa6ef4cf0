"""`candor api-key create --role ROLE`: prints a key once; only its hash is kept."""

from __future__ import annotations

import typer

from candor.accounts.api_keys import create_api_key
from candor.cli.base import console, domain_errors, open_candor

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="admin, marketer, dpo or auditor"),
    name: str = typer.Option("", "--name", help="A label for the key"),
) -> None:
    """Create an API key and print it (shown once)."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        key = create_api_key(conn, role, name or role, actor="cli", at=cx.clock.now())
    console.print(key, highlight=False, soft_wrap=True)
    cx.dispose()
