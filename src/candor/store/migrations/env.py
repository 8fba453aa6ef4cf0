"""Alembic environment: runs against the connection handed over by candor.store.migrate."""

from __future__ import annotations

from alembic import context

from candor.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is None:
        from candor.store.engine import database_url, make_engine

        engine = make_engine(database_url())
        with engine.begin() as conn:
            _configure(conn)
        return
    _configure(connection)


def _configure(conn: object) -> None:
    context.configure(
        connection=conn,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
