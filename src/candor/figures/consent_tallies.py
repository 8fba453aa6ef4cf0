"""Mission Control's consent figures as tallies written in the same transaction as each change.

The figures count contacts per consent purpose (a contact with several scoped rows for a
purpose counts once): not yet asked, pending double opt-in, needing re-consent, expiring.
Two of them move without any write: re-consent follows the purpose's reconsent_floor (a
configuration change) and expiry follows the clock. So each (contact, purpose) pair that
has consent_state rows is reduced to a signature that holds what those figures need and
nothing that moves:

- pending: some row of the pair is `pending`;
- agreed_version: the lowest purpose version among its agreed (granted, confirmed) rows,
  None without one. "Needs re-consent" (some agreed row below the floor) is exactly
  agreed_version < reconsent_floor, for whatever floor is set later;
- agreed_on: the UTC day of its earliest agreed row. "Expiring" (some agreed row before the
  lapse instant) is exactly "earliest agreed row before it": every pair of an earlier day,
  plus those of the lapse's own day whose earliest agreed row is before the instant. A day,
  not the instant, keeps the tally small (a row per purpose, flag, version and day, however
  many contacts), and the one day that straddles the instant is counted on the index
  (purpose_id, status, occurred_at) by the reader (figures.mission_control).

figure_tallies holds signed counts of pairs per signature; rows with no purpose count live
(not erased) contacts. Writers only INSERT deltas (executemany of the few signatures a batch
touched): concurrent writers never wait on a shared counter row and cannot deadlock on it.
A refresh sums the table; fold() replaces the rows by their sums when deltas pile up.

Every writer of consent_state or of a contact's liveness calls in here: ledger.bulk (the
projection of consents.append_event and of journey steps), the import (ledger.import_*),
ledger.contacts.create_contact and rights.erasure. tests/figures/test_consent_tallies.py proves
the sums equal a full scan after random sequences of those operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import Connection, Date, and_, case, cast, delete, func, insert, select

from candor.store.sql import in_batch
from candor.store.tables import consent_state, contacts, figure_tallies

AGREED: Final = ("granted", "confirmed")
CHUNK: Final = 5000

# (purpose_id, pending, agreed_version, agreed_on); LIVE counts live contacts.
Key = tuple[str | None, bool, int | None, date | None]
LIVE: Final[Key] = (None, False, None, None)
Row = tuple[str, int, datetime]  # status, purpose_version, occurred_at
Pair = tuple[int, str]  # contact_id, purpose_id


def utc_day(at: datetime) -> date:
    """The UTC day of a time (naive times are UTC already, as the store keeps them)."""
    return (at if at.tzinfo is None else at.astimezone(UTC)).date()


def signature(purpose_id: str, rows: Iterable[Row]) -> Key | None:
    """The tally key of one (contact, purpose) pair from its consent_state rows (None: none)."""
    seen = pending = False
    version: int | None = None
    first: date | None = None
    for status, purpose_version, occurred_at in rows:
        seen = True
        if status == "pending":
            pending = True
        elif status in AGREED:
            day = utc_day(occurred_at)
            version = purpose_version if version is None else min(version, purpose_version)
            first = day if first is None else min(first, day)
    return (purpose_id, pending, version, first) if seen else None


def changed(
    before: Mapping[Pair, Iterable[Row]], after: Mapping[Pair, Iterable[Row]]
) -> Counter[Key]:
    """The tally delta of pairs whose rows went from `before` to `after`."""
    delta: Counter[Key] = Counter()
    for pair in before.keys() | after.keys():
        old = signature(pair[1], before.get(pair, ()))
        new = signature(pair[1], after.get(pair, ()))
        if old == new:
            continue
        if old is not None:
            delta[old] -= 1
        if new is not None:
            delta[new] += 1
    return delta


def pairs_of(conn: Connection, contact_ids: list[int]) -> dict[Pair, list[Row]]:
    """The consent_state rows of the contacts by pair (read before they change)."""
    cs = consent_state
    out: dict[Pair, list[Row]] = {}
    for start in range(0, len(contact_ids), CHUNK):
        query = select(
            cs.c.contact_id, cs.c.purpose_id, cs.c.status, cs.c.purpose_version, cs.c.occurred_at
        ).where(in_batch(cs.c.contact_id, contact_ids[start : start + CHUNK]))
        for r in conn.execute(query):
            out.setdefault((r[0], r[1]), []).append((r[2], r[3], r[4]))
    return out


def write(conn: Connection, delta: Mapping[Key, int], *, live: int = 0) -> None:
    """Insert the non-zero deltas (and `live` more or fewer live contacts): one executemany."""
    counts = Counter({k: n for k, n in delta.items() if n})
    if live:
        counts[LIVE] += live
    if not counts:
        return
    conn.execute(
        insert(figure_tallies),
        [
            {
                "purpose_id": k[0],
                "pending": k[1],
                "agreed_version": k[2],
                "agreed_on": k[3],
                "contacts": n,
            }
            for k, n in sorted(counts.items(), key=_order)
            if n
        ],
    )


def _order(item: tuple[Key, int]) -> tuple[Any, ...]:
    (purpose, pending, version, day), _ = item
    return (purpose or "", pending, version or 0, day or date.min)


def sums(conn: Connection) -> tuple[dict[Key, int], int]:
    """(the summed tallies by key, zeros left out; how many rows the table holds)."""
    ft = figure_tallies
    keys = (ft.c.purpose_id, ft.c.pending, ft.c.agreed_version, ft.c.agreed_on)
    out: dict[Key, int] = {}
    rows = 0
    for purpose, pending, version, day, n, k in conn.execute(
        select(*keys, func.sum(ft.c.contacts), func.count()).group_by(*keys)
    ):
        rows += int(k)
        if n:
            out[(purpose, bool(pending), version, day)] = int(n)
    return out, rows


def stored_rows(conn: Connection) -> int:
    """How many rows the table holds (folded sums plus deltas since)."""
    return int(conn.execute(select(func.count()).select_from(figure_tallies)).scalar_one())


def fold(conn: Connection) -> int:
    """Replace the rows by their sums per key; returns the rows left.

    DELETE ... RETURNING removes exactly the rows this transaction saw, so deltas that
    concurrent writers commit meanwhile stay; two folds at once each sum what they deleted.
    """
    ft = figure_tallies
    gone = conn.execute(
        delete(ft).returning(
            ft.c.purpose_id, ft.c.pending, ft.c.agreed_version, ft.c.agreed_on, ft.c.contacts
        )
    ).all()
    total: Counter[Key] = Counter()
    for purpose, pending, version, day, n in gone:
        total[(purpose, bool(pending), version, day)] += int(n)
    write(conn, total)
    return sum(1 for n in total.values() if n)


def rebuild(conn: Connection) -> None:
    """Recount everything from consent_state and contacts (a full scan: seeding, repair)."""
    ft, cs = figure_tallies, consent_state
    conn.execute(delete(ft))
    agreed = cs.c.status.in_(AGREED)
    per_pair = (
        select(
            cs.c.purpose_id.label("purpose_id"),
            func.max(case((cs.c.status == "pending", 1), else_=0)).label("pending"),
            func.min(case((agreed, cs.c.purpose_version))).label("version"),
            func.min(case((agreed, cs.c.occurred_at))).label("first"),
        )
        .group_by(cs.c.contact_id, cs.c.purpose_id)
        .subquery()
    )
    day = (
        func.date(per_pair.c.first)
        if conn.dialect.name == "sqlite"
        else cast(per_pair.c.first, Date)
    )
    pending = per_pair.c.pending == 1
    grouped = select(
        per_pair.c.purpose_id, pending, per_pair.c.version, day, func.count()
    ).group_by(per_pair.c.purpose_id, pending, per_pair.c.version, day)
    columns = ["purpose_id", "pending", "agreed_version", "agreed_on", "contacts"]
    conn.execute(insert(ft).from_select(columns, grouped))
    live_count = (
        select(func.count())
        .select_from(contacts)
        .where(contacts.c.erased_at.is_(None))
        .scalar_subquery()
    )
    conn.execute(
        insert(ft).values(
            purpose_id=None, pending=False, agreed_version=None, agreed_on=None, contacts=live_count
        )
    )


def agreed_within(conn: Connection, purpose_id: str, day: date, before: datetime) -> int:
    """Pairs whose earliest agreed row is on `day` and before `before` (that day's boundary).

    Reads that day's agreed rows of the purpose on ix_consent_state_purpose; a pair whose
    earliest agreed row is on an earlier day is not one of them (a primary-key look-up each).
    """
    cs, older = consent_state, consent_state.alias("older")
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    earlier = (
        select(older.c.contact_id)
        .where(
            older.c.contact_id == cs.c.contact_id,
            older.c.purpose_id == purpose_id,
            # Wrapped: no index serves it, so the look-up goes by primary key (contact,
            # purpose) and not along this purpose's agreed rows (SQLite chose those: O(n²)).
            func.coalesce(older.c.status, "").in_(AGREED),
            older.c.occurred_at < start,
        )
        .exists()
    )
    query = select(func.count(cs.c.contact_id.distinct())).where(
        and_(
            cs.c.purpose_id == purpose_id,
            cs.c.status.in_(AGREED),
            cs.c.occurred_at >= start,
            cs.c.occurred_at < before,
            ~earlier,
        )
    )
    return int(conn.execute(query).scalar_one())
