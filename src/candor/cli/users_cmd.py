"""`candor user add|list|role|link|disable`: team members from the shell (the first admin too)."""

from __future__ import annotations

import typer
from rich.table import Table

from candor.accounts import members
from candor.cli.base import console, domain_errors, fail, open_candor
from candor.core.context import Candor
from candor.ledger.registry import setting
from candor.store.engine import reading

app = typer.Typer(help="Team members (log in to the team pages).", no_args_is_help=True)
LOCAL: str = "http://127.0.0.1:8000"
BASE_HELP = "Where the link points: default public_url from candor.yaml, else " + LOCAL


def _base(cx: Candor, given: str | None) -> str:
    if given:
        return given
    with reading(cx.engine) as conn:
        return str(setting(conn, "public_url") or LOCAL)


def _member_id(cx: Candor, email: str) -> int:
    with reading(cx.engine) as conn:
        found = members.member_by_email(conn, email)
    if found is None:
        fail("email: no member with this e-mail")
    return found.id


def _print_link(link: members.PasswordLink, base: str) -> None:
    console.print(
        f"one-time link for {link.member.email} ({link.member.role}), valid until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC:",
        highlight=False,
    )
    console.print(link.url(base), highlight=False, soft_wrap=True)


@app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email", help="The member's e-mail (their login)"),
    role: str = typer.Option(..., "--role", help="admin, marketer, dpo or auditor"),
    name: str = typer.Option("", "--name", help="Shown on the pages and in lists"),
    base_url: str | None = typer.Option(None, "--base-url", help=BASE_HELP),
) -> None:
    """Add a member and print their one-time set-password link."""
    cx = open_candor(ctx)
    with domain_errors(), cx.engine.begin() as conn:
        link = members.add_member(conn, email, role, name=name, actor="cli", at=cx.clock.now())
    _print_link(link, _base(cx, base_url))
    cx.dispose()


@app.command("link")
def link(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email"),
    base_url: str | None = typer.Option(None, "--base-url", help=BASE_HELP),
) -> None:
    """Print a new one-time set-password link (a forgotten password; earlier links stop)."""
    cx = open_candor(ctx)
    member_id = _member_id(cx, email)
    with domain_errors(), cx.engine.begin() as conn:
        made = members.issue_password_link(conn, member_id, actor="cli", at=cx.clock.now())
    _print_link(made, _base(cx, base_url))
    cx.dispose()


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every member: e-mail, name, role, and whether active, disabled or without a password."""
    cx = open_candor(ctx)
    with reading(cx.engine) as conn:
        listed = members.list_members(conn)
    table = Table("id", "e-mail", "name", "role", "status", "added")
    for m in listed:
        status = "disabled" if not m.active else "active" if m.password_set else "no password yet"
        table.add_row(str(m.id), m.email, m.name, m.role, status, f"{m.created_at:%Y-%m-%d}")
    console.print(table if listed else "no members yet: candor user add --email E --role admin")
    cx.dispose()


@app.command("role")
def role(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email"),
    new_role: str = typer.Option(..., "--role", help="admin, marketer, dpo or auditor"),
) -> None:
    """Give a member another role; their open sessions end at once."""
    cx = open_candor(ctx)
    member_id = _member_id(cx, email)
    with domain_errors(), cx.engine.begin() as conn:
        changed = members.change_role(conn, member_id, new_role, actor="cli", at=cx.clock.now())
    console.print(f"{changed.email} is now {changed.role}", highlight=False)
    cx.dispose()


@app.command("disable")
def disable(ctx: typer.Context, email: str = typer.Option(..., "--email")) -> None:
    """Disable a member: no more logins, and their open sessions end at once."""
    cx = open_candor(ctx)
    member_id = _member_id(cx, email)
    with domain_errors(), cx.engine.begin() as conn:
        done = members.disable_member(conn, member_id, actor="cli", at=cx.clock.now())
    console.print(f"disabled {done.email}", highlight=False)
    cx.dispose()
