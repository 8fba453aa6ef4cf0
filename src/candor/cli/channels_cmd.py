"""`candor mailsink` (a local SMTP sink) and `candor template put|list|show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from candor.channels.template_store import (
    get_template,
    list_templates,
    load_templates_file,
    put_template,
)
from candor.cli.base import console, domain_errors, fail, open_candor
from candor.core.errors import InvalidInput
from candor.store.engine import reading

app = typer.Typer(help="Message templates (Jinja2, per channel).", no_args_is_help=True)


def mailsink(
    directory: Path = typer.Option(
        Path("mail"), "--dir", help="Where received mail is stored (.eml)."
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(2525, "--port"),
) -> None:
    """Run a local SMTP server that stores every message it receives (Ctrl-C stops it)."""
    import logging

    from candor.channels.mailsink import run_forever

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_forever(directory, host, port)  # logs its start line once it listens


def _parts_from_file(template_id: str, file: Path) -> dict[str, Any]:
    """A file holds either channel -> parts for this id, or id -> channel -> parts."""
    loaded = load_templates_file(file)
    if template_id in loaded and isinstance(loaded[template_id], dict):
        return dict(loaded[template_id])
    if set(loaded) <= {"email", "sms", "whatsapp"}:
        return loaded
    raise InvalidInput(str(file), f"has no template {template_id!r}")


@app.command("put")
def put(
    ctx: typer.Context,
    template_id: str = typer.Argument(..., metavar="ID"),
    file: Path | None = typer.Argument(
        None, help="YAML: channel -> parts, or ID -> channel -> parts."
    ),
    email_subject: str | None = typer.Option(None, "--email-subject"),
    email_html: str | None = typer.Option(None, "--email-html", help="HTML source (or @file)."),
    email_text: str | None = typer.Option(None, "--email-text", help="Text source (or @file)."),
    sms_text: str | None = typer.Option(None, "--sms-text"),
    whatsapp_text: str | None = typer.Option(None, "--whatsapp-text"),
) -> None:
    """Create or replace a template; every part is compiled first (errors name part and line)."""
    with domain_errors():
        if file is not None:
            parts = _parts_from_file(template_id, file)
        else:
            parts = _parts_from_options(
                email_subject, email_html, email_text, sms_text, whatsapp_text
            )
        if not parts:
            fail("give a FILE or --email-subject/--email-text, --sms-text or --whatsapp-text")
        cx = open_candor(ctx)
        try:
            with cx.engine.begin() as conn:
                result = put_template(conn, template_id, parts, actor="cli", at=cx.clock.now())
        finally:
            cx.dispose()
    console.print(f"template {result['id']}: {', '.join(result['channels'])}", highlight=False)


def _source(value: str | None) -> str | None:
    """Option text, or the contents of a file given as @path."""
    if value is not None and value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value


def _parts_from_options(
    subject: str | None, html: str | None, text: str | None, sms: str | None, whatsapp: str | None
) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    email = {"subject": _source(subject), "html": _source(html), "text": _source(text)}
    if any(v is not None for v in email.values()):
        parts["email"] = {k: v for k, v in email.items() if v is not None}
    if sms is not None:
        parts["sms"] = {"text": _source(sms)}
    if whatsapp is not None:
        parts["whatsapp"] = {"text": _source(whatsapp)}
    return parts


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every stored template: channels, fields read, and whether each channel has a way out."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        rows = list_templates(conn)
    cx.dispose()
    for row in rows:
        ways = ", ".join(
            f"{ch}{'' if ok else ' (no unsubscribe)'}" for ch, ok in row["unsubscribe"].items()
        )
        console.print(
            f"{row['id']}: {ways}; fields: {', '.join(row['fields']) or '-'}", highlight=False
        )


@app.command("show")
def show(ctx: typer.Context, template_id: str = typer.Argument(..., metavar="ID")) -> None:
    """A stored template's parts as JSON."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        found = get_template(conn, template_id)
    cx.dispose()
    console.print_json(json.dumps(found))
