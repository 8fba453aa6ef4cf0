"""`candor sync status|deliver|replay`: the connectors' outbox on the command line."""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType

import typer

from candor.cli.base import console, domain_errors, open_candor
from candor.store.engine import reading
from candor.sync.delivery import deliver_due, replay
from candor.sync.status import sync_status

app = typer.Typer(
    help="Connectors: delivery status, delivery, dead-letter replay.", no_args_is_help=True
)


@app.command("status")
def status(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON")
) -> None:
    """Pending, delivered and dead-lettered deliveries per connector, and the dead letters."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        view = sync_status(conn)
    cx.dispose()
    if as_json:
        console.print_json(json.dumps(view))
        return
    if not view["connectors"]:
        console.print("no connectors")
    for c in view["connectors"]:
        console.print(
            f"{c['connector']}: pending {c['pending']}, delivered {c['delivered']}, "
            f"dead {c['dead']}",
            highlight=False,
        )
    for d in view["dead_letters"]:
        console.print(
            f"dead letter {d['event_id']} {d['type']} -> {d['connector']}: "
            f"{d['attempts']} attempts, last {d['last_status'] or d['last_error']}",
            highlight=False,
        )


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit"),
    interval: float = typer.Option(1.0, "--interval", help="Seconds between rounds"),
) -> None:
    """Deliver due events to the connectors (forever, or --once); Ctrl-C stops cleanly."""
    cx = open_candor(ctx)
    if once:
        made = deliver_due(cx)
        cx.dispose()
        console.print(f"{made} delivery attempts")
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop.is_set():
        try:
            made = deliver_due(cx)
        except Exception as exc:  # keep delivering; the failed round is retried
            console.print(f"delivery round failed: {type(exc).__name__}", highlight=False)
            made = 0
        if made == 0:
            stop.wait(interval)
    cx.dispose()


@app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    event_id: str = typer.Argument(..., help="The event id of a dead letter"),
    connector: str | None = typer.Option(None, "--connector", help="Only this connector"),
) -> None:
    """Put a dead-lettered event back in line (attempts start again)."""
    cx = open_candor(ctx)
    with domain_errors():
        count = replay(cx, event_id, connector=connector, actor="cli")
    cx.dispose()
    console.print(f"requeued {count} deliveries of {event_id}", highlight=False)
