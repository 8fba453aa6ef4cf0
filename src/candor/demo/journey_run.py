"""The journey part of `candor demo`: a real journey sent through SMTP to a local mail sink.

Time is simulated (a manual clock) so the journey's 3-day wait passes in a moment; every
message still goes through the gate, the outbox and a real SMTP conversation on 127.0.0.1.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.table import Table

from candor.channels.dispatch import dispatch_due
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import journey_status, launch, run_until_idle
from candor.store.engine import reading


def run_demo_journey(cx: Candor, path: Path, console: Console) -> None:
    """Launch the journey, run it to the end against a mail sink, and show what happened."""
    defn = load_journey(path.read_text(encoding="utf-8"), str(path))
    clock = ManualClock(cx.clock.now())
    cx.clock = clock
    mail_dir = Path(
        os.environ.get("CANDOR_DEMO_MAIL_DIR") or tempfile.mkdtemp(prefix="candor-mail-")
    )
    with MailSink(mail_dir, port=0) as sink:
        os.environ["CANDOR_SMTP_URL"] = f"smtp://127.0.0.1:{sink.port}"
        report = launch(cx, defn, actor="demo")
        console.print(f"launched journey {defn.id!r}: {report.summary()}", highlight=False)
        first = run_until_idle(cx, dispatch=dispatch_due)
        console.print(f"day 0: {first.dispatched} e-mails delivered to the local mail sink")
        clock.advance(timedelta(days=3, minutes=1))
        second = run_until_idle(cx, dispatch=dispatch_due)
        console.print(f"day 3: {second.dispatched} more e-mails delivered")
        messages = sink.messages()
    _show_status(cx, defn.id, console)
    if messages:
        _show_message(messages[0], console)
    console.print(f"{len(messages)} messages are in {mail_dir} (one .eml file each)")


def _show_status(cx: Candor, journey_id: str, console: Console) -> None:
    with reading(cx.engine) as conn:
        status = journey_status(conn, journey_id)
    table = Table(title=f"Journey {journey_id}: outcomes per step")
    table.add_column("step")
    table.add_column("outcomes")
    for step, outcomes in status["outcomes"].items():
        summary = ", ".join(
            f"{name} {n}" for name, n in sorted(outcomes.items(), key=lambda kv: -kv[1])
        )
        table.add_row(step, summary)
    console.print(table)


def _show_message(message: EmailMessage, console: Console) -> None:
    console.print("one delivered message, as the receiver sees its headers:")
    for header in ("Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        console.print(f"  {header}: {message.get(header, '')}", highlight=False, markup=False)
