"""Mission Control's block and sync figures, counted in the transaction of each change.

Counting active blocks by kind (blocks without a lift) and deliveries per connector and
status read every row ever written, on every refresh. Instead each writer inserts the
signed change it made into figure_counts, keyed (figure, item, state):

- ("blocks", kind, "active"): +1 when a block is set (ledger.blocks, the journey step
  set_advertising_block), -1 when it is lifted, minus the active blocks erasure deletes;
- ("sync", connector, status): +1 pending per delivery published (ledger.events), pending ->
  delivered or dead when a delivery finishes, dead -> pending on replay (sync.delivery),
  minus the deliveries erasure deletes.

Writers only INSERT (one executemany of the few keys a transaction touched): concurrent
writers never wait on a shared counter row. A refresh sums the table (figures.mission_control);
fold() replaces the rows by their sums when deltas pile up, as figures.consent_tallies does for the
consent figures. tests/figures/test_change_counts.py proves the sums equal the old full count
after random sequences of the real operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Final

from sqlalchemy import Connection, delete, func, insert, literal, select, union_all

from candor.store.sync_tables import sync_deliveries
from candor.store.tables import block_lifts, blocks, figure_counts

BLOCKS: Final = "blocks"
SYNC: Final = "sync"
ACTIVE: Final = "active"

Key = tuple[str, str, str]  # figure, item, state
Moved = tuple[str, str | None, str | None]  # connector, old status, new status


def write(conn: Connection, delta: Mapping[Key, int]) -> None:
    """Insert the non-zero deltas: one executemany, keys in order."""
    rows = [
        {"figure": f, "item": i, "state": s, "count": n}
        for (f, i, s), n in sorted(delta.items())
        if n
    ]
    if rows:
        conn.execute(insert(figure_counts), rows)


def blocks_set(conn: Connection, kinds: Mapping[str, int]) -> None:
    """That many blocks of each kind were set (active)."""
    write(conn, {(BLOCKS, kind, ACTIVE): n for kind, n in kinds.items()})


def block_lifted(conn: Connection, kind: str) -> None:
    """One block of this kind was lifted."""
    write(conn, {(BLOCKS, kind, ACTIVE): -1})


def deliveries_moved(conn: Connection, moved: Mapping[Moved, int]) -> None:
    """n deliveries of a connector went from one status to another ((connector, old, new)).

    old None: new deliveries; new None: deleted ones.
    """
    delta: Counter[Key] = Counter()
    for (connector, old, new), n in moved.items():
        if old == new:
            continue
        if old is not None:
            delta[(SYNC, connector, old)] -= n
        if new is not None:
            delta[(SYNC, connector, new)] += n
    write(conn, delta)


def sums(conn: Connection, figure: str) -> dict[tuple[str, str], int]:
    """The summed counts of one figure by (item, state), zeros left out."""
    fc = figure_counts
    query = (
        select(fc.c.item, fc.c.state, func.sum(fc.c.count))
        .where(fc.c.figure == figure)
        .group_by(fc.c.item, fc.c.state)
    )
    return {(item, state): int(n) for item, state, n in conn.execute(query) if n}


def stored_rows(conn: Connection) -> int:
    """How many rows the table holds (folded sums plus deltas since)."""
    return int(conn.execute(select(func.count()).select_from(figure_counts)).scalar_one())


def fold(conn: Connection) -> int:
    """Replace the rows by their sums per key; returns the rows left.

    DELETE ... RETURNING removes exactly the rows this transaction saw, so deltas that
    concurrent writers commit meanwhile stay.
    """
    fc = figure_counts
    gone = conn.execute(delete(fc).returning(fc.c.figure, fc.c.item, fc.c.state, fc.c.count))
    total: Counter[Key] = Counter()
    for figure, item, state, n in gone:
        total[(figure, item, state)] += int(n)
    write(conn, total)
    return sum(1 for n in total.values() if n)


def active_blocks(conn: Connection, where: object = None) -> Counter[str]:
    """Active (not lifted) blocks by kind, optionally of some rows only (erasure)."""
    query = (
        select(blocks.c.kind, func.count())
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(block_lifts.c.block_id.is_(None))
        .group_by(blocks.c.kind)
    )
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    return Counter({kind: int(n) for kind, n in conn.execute(query)})


def deliveries(conn: Connection, where: object = None) -> Counter[tuple[str, str]]:
    """Deliveries by (connector, status), optionally of some rows only (erasure)."""
    d = sync_deliveries
    query = select(d.c.connector, d.c.status, func.count()).group_by(d.c.connector, d.c.status)
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    return Counter({(c, s): int(n) for c, s, n in conn.execute(query)})


def rebuild(conn: Connection) -> None:
    """Recount both figures from blocks and sync_deliveries (a full scan: seeding, repair)."""
    conn.execute(delete(figure_counts))
    d = sync_deliveries
    active = (
        select(literal(BLOCKS), blocks.c.kind, literal(ACTIVE), func.count())
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(block_lifts.c.block_id.is_(None))
        .group_by(blocks.c.kind)
    )
    per_status = select(literal(SYNC), d.c.connector, d.c.status, func.count()).group_by(
        d.c.connector, d.c.status
    )
    columns = ["figure", "item", "state", "count"]
    conn.execute(insert(figure_counts).from_select(columns, union_all(active, per_status)))
