"""Journeys fed from back-end systems: the target group and its values, read at launch.

A journey with `source: <connector>` takes its people from that system (an SQL database via
SQLAlchemy, or an HTTP endpoint returning a JSON list), matched to local contacts by
external_id. Only the journey's declared fields are read; people unknown here are skipped
and counted; the values are staged in sync_source_rows inside the launch transaction, copied
into journey_contacts.data (journey-scoped, purged when the journey archives) and unstaged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Connection, Select, delete, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger import audit
from candor.ledger.connector_settings import HttpSource, SqlSource, load_settings
from candor.ledger.external_ids import external_index
from candor.store.engine import make_engine, reading
from candor.store.sql import in_batch
from candor.store.sync_tables import sync_source_rows
from candor.store.tables import contacts
from candor.store.vault import Vault

CHUNK = 1000


def load_source(cx: Candor, connector: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Rows {external_id, <declared fields>} from the back-end system `connector`."""
    with reading(cx.engine) as conn:
        spec = load_settings(conn).source(connector)
    if spec is None:
        raise InvalidInput("source", f"no sql or http connector {connector!r}")
    return read_rows(spec, fields)


def read_rows(spec: SqlSource | HttpSource, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Stream the source, keeping only external_id and the named fields (JSON-safe values)."""
    raw = _sql_rows(spec) if isinstance(spec, SqlSource) else _http_rows(spec)
    for row in raw:
        ident = row.get("external_id")
        if ident is None or ident == "":
            continue
        yield {"external_id": str(ident), **{f: _plain(row[f]) for f in fields if f in row}}


def _sql_rows(spec: SqlSource) -> Iterator[dict[str, Any]]:
    engine = make_engine(spec.url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(text(spec.query))
            for row in result.mappings():
                yield dict(row)
    except SQLAlchemyError as exc:
        raise InvalidInput(f"connectors.{spec.id}", f"query failed: {type(exc).__name__}") from None
    finally:
        engine.dispose()


def _http_rows(spec: HttpSource) -> Iterator[dict[str, Any]]:
    headers = {"Accept": "application/json"}
    secret = os.environ.get(spec.secret_env) if spec.secret_env else None
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    try:
        response = httpx.get(spec.url, headers=headers, timeout=spec.timeout_seconds)
        response.raise_for_status()
        items = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise InvalidInput(f"connectors.{spec.id}", f"fetch failed: {type(exc).__name__}") from None
    if not isinstance(items, list):
        raise InvalidInput(f"connectors.{spec.id}", "must answer a JSON list")
    yield from (i for i in items if isinstance(i, dict))


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


@dataclass
class Staged:
    """What a launch from a source enrolls: the staged ids, their data, and the counts."""

    target: Select[Any]
    data: Any
    loaded: int
    unknown: int


def stage_source(
    conn: Connection,
    vault: Vault,
    journey_id: str,
    connector: str,
    fields: list[str],
    target: Select[Any] | None,
    at: dt.datetime,
) -> Staged:
    """Read the source into sync_source_rows (this transaction); the select and data to enroll."""
    spec = load_settings(conn).source(connector)
    if spec is None:
        raise InvalidInput("source", f"no sql or http connector {connector!r}")
    conn.execute(delete(sync_source_rows).where(sync_source_rows.c.journey_id == journey_id))
    loaded = unknown = 0
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in read_rows(spec, fields):
        if row["external_id"] in seen:
            continue  # the first row of a person wins
        seen.add(row["external_id"])
        batch.append(row)
        if len(batch) >= CHUNK:
            unknown += _stage(conn, vault, journey_id, batch)
            loaded += len(batch)
            batch = []
    if batch:
        unknown += _stage(conn, vault, journey_id, batch)
        loaded += len(batch)
    s = sync_source_rows
    staged = select(s.c.contact_id).where(s.c.journey_id == journey_id)
    if target is not None:
        staged = staged.where(s.c.contact_id.in_(target))
    data = (
        select(s.c.data)
        .where(s.c.journey_id == journey_id, s.c.contact_id == contacts.c.id)
        .scalar_subquery()
    )
    audit.record(
        conn,
        actor=f"journey:{journey_id}",
        action="sync.source_load",
        object_type="journey",
        object_id=journey_id,
        at=at,
        connector=connector,
        loaded=loaded,
        unknown=unknown,
        fields=sorted(fields),
    )
    return Staged(staged, data, loaded, unknown)


def _stage(conn: Connection, vault: Vault, journey_id: str, batch: list[dict[str, Any]]) -> int:
    """Stage one batch (one SELECT, one executemany); returns how many were unknown here."""
    by_index: dict[str, dict[str, Any]] = {}
    for row in batch:
        by_index[external_index(vault, row.pop("external_id"))] = row
    found = conn.execute(
        select(contacts.c.id, contacts.c.external_index).where(
            in_batch(contacts.c.external_index, by_index), contacts.c.erased_at.is_(None)
        )
    ).all()
    rows = [
        {"journey_id": journey_id, "contact_id": r.id, "data": by_index[r.external_index]}
        for r in found
    ]
    if rows:
        conn.execute(insert(sync_source_rows), rows)
    return len(batch) - len(rows)


def unstage(conn: Connection, journey_id: str) -> None:
    """Nothing from the source outlives the launch outside journey_contacts."""
    conn.execute(delete(sync_source_rows).where(sync_source_rows.c.journey_id == journey_id))
