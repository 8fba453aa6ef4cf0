"""erasure sweeps, batched launch, erasure by contact on sync deliveries

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 01:30:00.000000

An erasure checks what indexes can answer inside its transaction and leaves the substring
sweep of free text to one pass per period: erasure_sweeps holds what each erasure searched
for (sealed under a key the sweep destroys), erasure_certificates the sweep's result. A
launch enrols its group in batches that workers start on while later batches go in
(journeys.enrol_until, enrolled_through). Erasure deletes a person's sync deliveries along
an index of their own instead of scanning the table. On PostgreSQL journey_contacts and
journey_transitions become LIST-partitioned by journey (store.partitions), so archiving a
journey drops its partitions instead of deleting its rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import candor.store.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The journey-scoped tables as they are since 0017: columns, then key and index statements.
STAMP = "TIMESTAMP WITHOUT TIME ZONE"
SHAPES = {
    "journey_contacts": (
        "journey_id VARCHAR(64) NOT NULL, contact_id BIGINT NOT NULL, "
        f"step_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, due_at {STAMP} NOT NULL, "
        f"entered_at {STAMP} NOT NULL, step_entered_at {STAMP} NOT NULL, expires_at {STAMP}, "
        f"checked_at {STAMP}, data JSON NOT NULL, "
        "CONSTRAINT pk_journey_contacts PRIMARY KEY (contact_id, journey_id)",
        [
            "CREATE INDEX ix_journey_contacts_due ON journey_contacts "
            "(journey_id, status, step_id, due_at, contact_id)"
        ],
    ),
    "journey_transitions": (
        "id BIGINT NOT NULL DEFAULT nextval('journey_transitions_id_seq'), "
        "journey_id VARCHAR(64) NOT NULL, contact_id BIGINT NOT NULL, "
        "from_step VARCHAR(64), to_step VARCHAR(64), outcome VARCHAR(48) NOT NULL, "
        f"at {STAMP} NOT NULL",
        [
            "CREATE INDEX ix_journey_transitions_contact ON journey_transitions "
            "(contact_id, journey_id)",
            "ALTER SEQUENCE journey_transitions_id_seq OWNED BY journey_transitions.id",
        ],
    ),
}


INDEXES = {
    "journey_contacts": "ix_journey_contacts_due",
    "journey_transitions": "ix_journey_transitions_contact",
}


def _rebuild(table: str, columns: str, after: list[str], partitioning: str) -> None:
    """Build the table anew (partitioned by journey, or plain) and move its rows over."""
    op.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
    index = INDEXES[table]
    op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")
    if table == "journey_contacts":
        op.execute(f"ALTER TABLE {table}_old RENAME CONSTRAINT pk_{table} TO pk_{table}_old")
    op.execute(f"CREATE TABLE {table} ({columns}) {partitioning}")
    for statement in after:
        op.execute(statement)
    if partitioning:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    names = "journey_id, contact_id, " + (
        "step_id, status, due_at, entered_at, step_entered_at, expires_at, checked_at, data"
        if table == "journey_contacts"
        else "id, from_step, to_step, outcome, at"
    )
    op.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {table}_old")
    op.execute(f"DROP TABLE {table}_old CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("swept_at", candor.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("sweep", sa.JSON(), nullable=True))
    op.create_table(
        "erasure_sweeps",
        sa.Column("certificate_id", Id, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("identifiers", sa.LargeBinary(), nullable=False),
        sa.Column("erased_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["erasure_certificates.id"],
            name=op.f("fk_erasure_sweeps_certificate_id_erasure_certificates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_erasure_sweeps")),
    )
    op.create_index("ix_erasure_sweeps_erased", "erasure_sweeps", ["erased_at"])
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enrol_until", Id, nullable=True))
        batch_op.add_column(sa.Column("enrolled_through", Id, nullable=True))
        batch_op.add_column(
            sa.Column("enrolled_at", candor.store.types.UTCDateTime(), nullable=True)
        )
    op.create_index("ix_sync_deliveries_contact", "sync_deliveries", ["contact_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table, (columns, keys) in SHAPES.items():
            _rebuild(table, columns, keys, "PARTITION BY LIST (journey_id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, (columns, keys) in SHAPES.items():
            _rebuild(table, columns, keys, "")
    op.drop_index("ix_sync_deliveries_contact", table_name="sync_deliveries")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_column("enrolled_at")
        batch_op.drop_column("enrolled_through")
        batch_op.drop_column("enrol_until")
    op.drop_index("ix_erasure_sweeps_erased", table_name="erasure_sweeps")
    op.drop_table("erasure_sweeps")
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.drop_column("sweep")
        batch_op.drop_column("swept_at")
