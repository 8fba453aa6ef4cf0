"""`candor dsr|retention|erasures|ropa` and `candor contacts forget`: the rights on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from candor.cli import contacts_cmd
from candor.cli.base import console, domain_errors, open_candor
from candor.rights import records, requests
from candor.rights.erasure import erase_contact
from candor.rights.requests_view import list_requests, read_request
from candor.rights.ropa import build_ropa, ropa_markdown
from candor.rights.sweep import sweep_pending
from candor.store.engine import reading

dsr = typer.Typer(help="Data subject requests.", no_args_is_help=True)
retention = typer.Typer(
    help="Retention rules: delete what no rule requires any more.", no_args_is_help=True
)
erasures = typer.Typer(help="Erasures: the substring sweep of free text.", no_args_is_help=True)


@dsr.command("list")
def dsr_list(
    ctx: typer.Context,
    overdue: bool = typer.Option(False, "--overdue", help="Only open requests past their due date"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """List requests (newest first), or the overdue ones (oldest due first)."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        items = list_requests(conn, cx.clock.now(), overdue=overdue)
    cx.dispose()
    if as_json:
        console.print_json(json.dumps(items))
        return
    if not items:
        console.print("no overdue requests" if overdue else "no requests")
        return
    for r in items:
        flag = " OVERDUE" if r["overdue"] else ""
        console.print(
            f"#{r['id']} {r['type']:<13} {r['status']:<11} contact {r['contact'] or '-'} "
            f"received {r['received_at'][:10]} due {r['due_at'][:10]}{flag}",
            highlight=False,
        )


@dsr.command("show")
def dsr_show(ctx: typer.Context, request_id: int = typer.Argument(...)) -> None:
    """One request with its status history and result summary (no personal data)."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        view = read_request(conn, request_id, cx.clock.now())
    cx.dispose()
    console.print_json(json.dumps(view))


@dsr.command("open")
def dsr_open(
    ctx: typer.Context,
    kind: str = typer.Argument(
        ..., help="access|portability|rectification|erasure|restriction|objection"
    ),
    contact: int = typer.Option(..., "--contact", help="Contact id"),
    channel: str = typer.Option("letter", "--channel", help="How the request reached us"),
) -> None:
    """Open and carry out a request as the DPO (the opener is the reviewer)."""
    cx = open_candor(ctx)
    new = requests.NewRequest(kind, contact, channel=channel)
    with domain_errors(), cx.engine.begin() as conn:
        view = requests.open_request(
            conn, cx.vault, new, role="dpo", actor="cli", at=cx.clock.now()
        )
    cx.dispose()
    console.print(f"request #{view['id']} {view['type']}: {view['status']}", highlight=False)


@dsr.command("extend")
def dsr_extend(
    ctx: typer.Context,
    request_id: int = typer.Argument(...),
    months: int = typer.Option(..., "--months", min=1, max=2),
    reason: str = typer.Option(..., "--reason", help="Sent to the person"),
) -> None:
    """Extend the deadline by one or two months with a reason."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        view = requests.extend_request(
            conn, request_id, months=months, reason=reason, actor="cli", at=cx.clock.now()
        )
    cx.dispose()
    console.print(f"request #{request_id} now due {view['due_at']}", highlight=False)


@dsr.command("approve")
def dsr_approve(ctx: typer.Context, request_id: int = typer.Argument(...)) -> None:
    """Approve a verified erasure waiting for DPO review; it is carried out at once."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        view = requests.approve_request(conn, cx.vault, request_id, actor="cli", at=cx.clock.now())
    cx.dispose()
    console.print(f"request #{request_id}: {view['status']}", highlight=False)


@retention.command("run")
def retention_run(ctx: typer.Context) -> None:
    """Delete kept business records whose retention ended (suppression entries stay)."""
    cx = open_candor(ctx)
    with cx.engine.begin() as conn:
        result = records.run_retention(conn, cx.vault, actor="cli", at=cx.clock.now())
    cx.dispose()
    console.print(
        f"deleted {result['deleted']}, still required {result['extended']}, "
        f"keys destroyed {result['keys_destroyed']}"
    )


@erasures.command("sweep")
def erasures_sweep(ctx: typer.Context) -> None:
    """Search free text for every pending erasure's identifiers now; results go on certificates."""
    cx = open_candor(ctx)
    report = sweep_pending(cx, actor="cli")
    cx.dispose()
    console.print(
        f"swept {report.erasures} erasures: {report.rows} rows in {report.tables} tables "
        f"({report.columns} columns), {report.not_clean} not clean",
        highlight=False,
    )
    if report.not_clean:
        raise typer.Exit(1)


def ropa(
    ctx: typer.Context,
    fmt: str = typer.Option("md", "--format", help="md or json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to a file"),
) -> None:
    """The record of processing activities (Art. 30) from purposes, journeys, connectors, rules."""
    if fmt not in ("md", "json"):
        raise typer.BadParameter("must be md or json", param_hint="--format")
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        record = build_ropa(conn, cx.clock.now())
    cx.dispose()
    text = ropa_markdown(record) if fmt == "md" else json.dumps(record, indent=2) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def forget(
    ctx: typer.Context,
    contact_id: int = typer.Argument(...),
    reason: str = typer.Option(
        "cli", "--reason", help="Why (a code or request reference, no personal data)"
    ),
) -> None:
    """Erase a contact everywhere and print the erasure certificate."""
    cx = open_candor(ctx)
    with domain_errors():
        certificate = erase_contact(cx, contact_id, actor="cli", reason=reason)
    cx.dispose()
    console.print_json(json.dumps(certificate))


def register(app: typer.Typer) -> None:
    """Add the rights commands to the `candor` command."""
    app.add_typer(dsr, name="dsr")
    app.add_typer(retention, name="retention")
    app.add_typer(erasures, name="erasures")
    app.command("ropa")(ropa)
    contacts_cmd.app.command("forget")(forget)
