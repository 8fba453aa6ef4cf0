"""`candor ledger verify` and `candor decide`."""

from __future__ import annotations

import json

import typer

from candor.cli.base import console, domain_errors, err_console, open_candor
from candor.ledger.chain import verify_ledger
from candor.ledger.contacts import address_id_for
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.engine import reading

app = typer.Typer(help="The consent ledger.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check every contact's hash chain; exit 1 naming the first bad event."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        problems = list(verify_ledger(conn))
    cx.dispose()
    if not problems:
        console.print("ledger verified: every chain is intact")
        return
    first = problems[0]
    err_console.print(
        f"ledger broken: first bad event {first.event_id} "
        f"(contact {first.contact_id}): {first.problem}",
        highlight=False,
    )
    if len(problems) > 1:
        err_console.print(f"{len(problems) - 1} more problem(s)")
    raise typer.Exit(1)


def decide_cmd(
    ctx: typer.Context,
    contact: int = typer.Option(..., "--contact"),
    purpose: str = typer.Option(..., "--purpose"),
    channel: str | None = typer.Option(None, "--channel"),
    theme: str | None = typer.Option(None, "--theme"),
    address: str | None = typer.Option(None, "--address"),
) -> None:
    """Ask the gate about one contact; prints the decision as JSON."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        facts = purpose_facts(conn, purpose)
        ref = theme_ref(conn, theme)
        address_id = address_id_for(conn, cx.vault, contact, channel, address)
        decision = decide_for(conn, contact, facts, channel, address_id, ref, cx.clock.now())
    console.print_json(json.dumps(decision.as_dict()))
    cx.dispose()
