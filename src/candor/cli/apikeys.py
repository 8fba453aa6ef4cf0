"""`candor api-key create|list|revoke`: keys for machines; a key is printed once, only its hash
is kept."""

from __future__ import annotations

import typer
from rich.table import Table

from candor.accounts.api_keys import create_api_key, list_api_keys, revoke_api_key
from candor.cli.base import console, domain_errors, open_candor
from candor.store.engine import reading

app = typer.Typer(
    help="API keys (for machines; people log in as team members).", no_args_is_help=True
)


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


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every key (never the key itself): id, name, role, created, revoked."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        keys = list_api_keys(conn)
    table = Table("id", "name", "role", "created", "revoked")
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        table.add_row(str(k.id), k.name, k.role, f"{k.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table if keys else "no API keys")
    cx.dispose()


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: int = typer.Argument(..., help="The key's id")) -> None:
    """Revoke a key: it stops working at once."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        done = revoke_api_key(conn, key_id, actor="cli", at=cx.clock.now())
    console.print(f"revoked key {done.id} ({done.name}, {done.role})", highlight=False)
    cx.dispose()
