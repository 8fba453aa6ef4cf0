"""What an erasure takes out of Mission Control's counted figures, read before rows go.

Erasure deletes the person's blocks, sync deliveries and journey rows through the registry
walk (rights.erasure); the figures kept incrementally must lose exactly those rows: active
blocks by kind and deliveries by connector and status (figures.change_counts), and the journey
rows that counted "here" at a step of a running journey (figures.step_counts). Each is one
GROUP BY over the people's own rows, on indexes that start with the contact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection

from candor.figures import change_counts as counts
from candor.figures import step_counts as here
from candor.store.journey_tables import journey_contacts
from candor.store.sql import in_batch
from candor.store.sync_tables import sync_deliveries
from candor.store.tables import blocks


@dataclass
class Counted:
    """The people's rows as Mission Control counts them."""

    blocks: Counter[str]
    deliveries: Counter[tuple[str, str]]
    journeys: Counter[here.Place]


def read(conn: Connection, contact_ids: list[int], *, skip_journey: str | None = None) -> Counted:
    """Count the rows of these contacts (`skip_journey`: its batch counts its own members)."""
    return Counted(
        blocks=counts.active_blocks(conn, in_batch(blocks.c.contact_id, contact_ids)),
        deliveries=counts.deliveries(conn, in_batch(sync_deliveries.c.contact_id, contact_ids)),
        journeys=here.leaving(
            conn, in_batch(journey_contacts.c.contact_id, contact_ids), skip_journey=skip_journey
        ),
    )


def remove(conn: Connection, gone: Counted) -> None:
    """The rows were deleted: subtract them (one insert of deltas, one upsert)."""
    delta: Counter[counts.Key] = Counter()
    for kind, n in gone.blocks.items():
        delta[(counts.BLOCKS, kind, counts.ACTIVE)] -= n
    for (connector, status), n in gone.deliveries.items():
        delta[(counts.SYNC, connector, status)] -= n
    counts.write(conn, delta)
    here.subtract(conn, gone.journeys)
