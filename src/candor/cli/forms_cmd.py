"""`candor form list|snippet`: the declared sign-up forms and their embeddable HTML."""

from __future__ import annotations

import typer

from candor.cli.base import console, fail, open_candor
from candor.forms.view import form_view
from candor.ledger.form_specs import declared_forms, load_form
from candor.ledger.registry import setting
from candor.store.engine import reading
from candor.web.pages.forms import snippet_html

app = typer.Typer(help="Sign-up forms: list them, print the embeddable snippet.")


@app.command("list")
def list_forms(ctx: typer.Context) -> None:
    """The forms candor.yaml declares, with their hosted addresses."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        forms = declared_forms(conn)
        base = str(setting(conn, "public_url") or "").rstrip("/")
    cx.dispose()
    for form in forms.values():
        console.print(f"{form.id}\t{base}/f/{form.id}\t{form.name}", highlight=False, markup=False)


@app.command("snippet")
def snippet(
    ctx: typer.Context,
    form_id: str = typer.Argument(..., help="the form's id in candor.yaml"),
    language: str = typer.Option("en", "--language", help="en or de"),
) -> None:
    """HTML to paste into a web page: works without JavaScript, posts to the hosted form."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        form = load_form(conn, form_id)
        view = form_view(conn, form) if form is not None else None
        base = setting(conn, "public_url")
    cx.dispose()
    if view is None:
        fail(f"form: no form {form_id!r} is declared (candor.yaml, forms)")
        return
    if not base:
        fail("public_url: declare it in candor.yaml; the snippet posts to <public_url>/f/ID")
        return
    typer.echo(snippet_html(view, str(base), language), nl=False)
