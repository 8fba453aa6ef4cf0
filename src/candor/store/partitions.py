"""Journey partitions on PostgreSQL: each journey's working rows in tables of its own.

journey_contacts and journey_transitions are LIST-partitioned by journey_id on PostgreSQL
(migration 0021), with a default partition for journeys without their own. A launch
creates the journey's partitions; archiving drops them, where deleting row by row cost as
much as writing them. SQLite keeps plain tables: these functions do nothing there.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, literal, text

PARTITIONED = ("journey_contacts", "journey_transitions")


def partition_name(table: str, journey_id: str) -> str:
    """The partition of one journey's rows (a digest of its id: any id, at most 63 bytes)."""
    return f"{table}_j{hashlib.sha256(journey_id.encode()).hexdigest()[:20]}"


def _on_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def create_journey_partitions(conn: Connection, journey_id: str) -> None:
    """Give the journey its own partitions (PostgreSQL; a no-op where they exist)."""
    if not _on_postgres(conn):
        return
    value = literal(journey_id).compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True}
    )
    for table in PARTITIONED:
        conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{partition_name(table, journey_id)}" '
                f"PARTITION OF {table} FOR VALUES IN ({value})"
            )
        )


def drop_journey_partitions(conn: Connection, journey_id: str) -> int | None:
    """Drop the journey's partitions; returns the rows they held (counted: one read of each,
    no write), or None where the journey has none (SQLite, a journey launched before
    partitions: its rows are in the default partition)."""
    if not _on_postgres(conn):
        return None
    names = [partition_name(table, journey_id) for table in PARTITIONED]
    present = set(
        conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relname = ANY(:names) "
                "AND relnamespace = current_schema()::regnamespace"
            ),
            {"names": names},
        ).scalars()
    )
    if not present:
        return None
    rows = 0
    for name in names:
        if name in present:
            rows += int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            conn.execute(text(f'DROP TABLE "{name}"'))
    return rows
