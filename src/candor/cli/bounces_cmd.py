"""`candor bounces serve|poll|review|show|discard`: bounces and complaints coming back."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import typer

from candor.channels.bounce_mailbox import MailboxError, poll_mailbox
from candor.channels.bounces import BounceServer
from candor.channels.email_settings import BounceSettings
from candor.channels.report_review import discard_held, held_reports, read_held
from candor.channels.settings import ChannelSettingsError, load_settings
from candor.cli.base import console, domain_errors, fail, open_candor
from candor.core.context import Candor
from candor.store.engine import reading

app = typer.Typer(
    help="Bounces and complaints: receive them (SMTP or IMAP) and review unreadable ones.",
    no_args_is_help=True,
)


def _bounce_settings(cx: Candor) -> BounceSettings:
    with reading(cx.engine) as conn:
        try:
            email = load_settings(conn).email
        except ChannelSettingsError as exc:
            cx.dispose()
            fail(str(exc))
            raise
    if email is None or email.bounces is None:
        cx.dispose()
        fail("channels.email.bounces: not set (the VERP domain bounces come back to)")
        raise typer.Exit(2)
    return email.bounces


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: int = typer.Option(2526, "--port", help="Port to listen on (0: any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
) -> None:
    """Receive bounces and complaints by SMTP for the bounce domain (Ctrl-C stops)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses at INFO
    cx = open_candor(ctx)
    bounces = _bounce_settings(cx)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with BounceServer(cx, bounces, host, port) as server:
        console.print(f"bounces for {bounces.domain} on {server.host}:{server.port}")
        sys.stdout.flush()
        stop.wait()
    cx.dispose()


@app.command("poll")
def poll(ctx: typer.Context) -> None:
    """Read bounces and complaints from the IMAP mailbox, apply them, delete what was stored."""
    cx = open_candor(ctx)
    bounces = _bounce_settings(cx)
    try:
        result = poll_mailbox(cx, bounces)
    except MailboxError as exc:
        cx.dispose()
        fail(str(exc))
        return
    cx.dispose()
    console.print(
        f"{result.messages} messages: {result.applied} reports applied, "
        f"{result.review} held for review, {result.undeliverable} addresses undeliverable, "
        f"{result.blocks} blocks",
        highlight=False,
    )


@app.command("review")
def review(ctx: typer.Context) -> None:
    """Reports held for review (matched no message, or could not be read)."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        held = held_reports(conn)
    cx.dispose()
    if not held:
        console.print("no reports held for review")
    for item in held:
        state = "" if item.readable else " (discarded)"
        console.print(
            f"#{item.id} {item.channel} {item.received_at:%Y-%m-%d %H:%M} {item.problem}{state}",
            highlight=False,
        )


@app.command("show")
def show(ctx: typer.Context, report_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Print a held report's message as it was received."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        raw = read_held(conn, cx.vault, report_id, actor="cli", at=cx.clock.now())
    cx.dispose()
    sys.stdout.write(raw.decode("utf-8", "replace"))


@app.command("discard")
def discard(ctx: typer.Context, report_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Destroy a held report's message (its key); the record that it came stays."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        discard_held(conn, cx.vault, report_id, actor="cli", at=cx.clock.now())
    cx.dispose()
    console.print(f"report {report_id} discarded")
