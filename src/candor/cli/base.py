"""Options shared by every command, and `candor init`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine

from candor.core.context import Candor, default_key_file
from candor.core.errors import CandorError
from candor.store.engine import database_url, keystore_url, make_engine
from candor.store.keystore import init_keystore
from candor.store.migrate import schema_problem, upgrade
from candor.store.vault import MasterKeyError, write_master_key

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class Options:
    database: str | None = None
    keystore: str | None = None


def root(
    ctx: typer.Context,
    database: str | None = typer.Option(
        None, "--database", help="Data database URL (or CANDOR_DATABASE_URL)."
    ),
    keystore: str | None = typer.Option(
        None, "--keystore", help="Key store URL (or CANDOR_KEYSTORE_URL)."
    ),
) -> None:
    """Candor: privacy-by-design consent CRM and journey studio."""
    ctx.obj = Options(database, keystore)


def options(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def open_candor(ctx: typer.Context) -> Candor:
    """Open the product, or exit 2 with a clear message when it is not initialised."""
    opts = options(ctx)
    engine = data_engine(ctx)
    engine.dispose()
    try:
        return Candor.open(opts.database, opts.keystore)
    except MasterKeyError as exc:
        fail(str(exc))
        raise


def data_engine(ctx: typer.Context) -> Engine:
    """The data database's engine, once it exists with the current schema (else exit 2)."""
    url = database_url(options(ctx).database)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        fail("no Candor database here: run `candor init` first")
    engine = make_engine(url)
    problem = schema_problem(engine)
    if problem is not None:
        engine.dispose()
        fail(problem)
    return engine


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain error into a one-line message and exit code 2."""
    try:
        yield
    except CandorError as exc:
        fail(str(exc))


def init(ctx: typer.Context) -> None:
    """Create or upgrade the database, the key store and the master key file."""
    opts = options(ctx)
    url = database_url(opts.database)
    key_file = default_key_file(url)
    if write_master_key(key_file):
        console.print(
            f"wrote master key {key_file} (mode 0600): back it up, it unlocks every contact key"
        )
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    keys_url = keystore_url(url, opts.keystore)
    keys = make_engine(keys_url)
    init_keystore(keys)
    keys.dispose()
    console.print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    console.print(f"key store ready: {keys.url.render_as_string(hide_password=True)}")
