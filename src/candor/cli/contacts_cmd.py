"""`candor contacts import|show`: bulk intake and a look at one contact."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from candor.cli.base import console, domain_errors, err_console, open_candor
from candor.ledger.consents import consent_history
from candor.ledger.contacts import read_contact
from candor.ledger.imports.importer import ImportReport, import_csv
from candor.ledger.imports.shares import import_csv_in_processes
from candor.store.engine import reading

app = typer.Typer(help="Contacts.", no_args_is_help=True)


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a header row"),
    report: Path | None = typer.Option(None, "--report", help="Where to write rejected rows (CSV)"),
    batch_size: int = typer.Option(2000, "--batch-size", min=1, max=100_000),
    processes: int = typer.Option(
        1, "--processes", min=1, max=16, help="Importers at once, each a share (PostgreSQL)"
    ),
) -> None:
    """Import contacts set-based; valid rows go in, rejected rows go to the report."""
    cx = open_candor(ctx)
    if processes > 1:
        with domain_errors():
            result = import_csv_in_processes(
                cx, file, processes=processes, actor="cli", at=cx.clock.now(), batch_size=batch_size
            )
        _summary(result, report or file.with_name(file.stem + ".rejected.csv"))
        cx.dispose()
        return
    total = _count_rows(file)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress, domain_errors():
        task = progress.add_task("import", total=total)
        result = import_csv(
            cx.engine,
            cx.vault,
            file,
            actor="cli",
            at=cx.clock.now(),
            batch_size=batch_size,
            on_progress=lambda n: progress.advance(task, n),
        )
    _summary(result, report or file.with_name(file.stem + ".rejected.csv"))
    cx.dispose()


def _summary(result: ImportReport, report_path: Path) -> None:
    """Write the rejected rows' report and print the counts."""
    if result.rejections:
        with report_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "field", "problem"])
            writer.writerows((r.line, r.field, r.problem) for r in result.rejections)
    console.print(
        f"imported {result.imported}, already present {result.existing}, "
        f"rejected {result.rejected}, consent events {result.consent_events}"
    )
    if result.rejections:
        console.print(f"rejected rows: {report_path}")
        for r in result.rejections[:10]:
            console.print(f"  line {r.line}: {r.field}: {r.problem}", highlight=False)


@app.command("show")
def show(ctx: typer.Context, contact_id: int = typer.Argument(...)) -> None:
    """Print one contact with its consent history (decrypted: for admins and DPOs)."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        data = read_contact(conn, cx.vault, contact_id)
        data["consents"] = consent_history(conn, cx.vault, contact_id)
    console.print_json(json.dumps(data, default=str))
    cx.dispose()
