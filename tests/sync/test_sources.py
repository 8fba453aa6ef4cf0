"""Journeys fed from a back-end system (an SQLite file, an HTTP endpoint) at launch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from candor.core.context import Candor
from candor.journeys.runtime import stop_journey
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts
from candor.store.sync_tables import sync_source_rows
from candor.sync.sources import load_source
from tests.journeys.runtime.helpers import add_contact, start

from .conftest import connect

WAIT = [{"id": "hold", "type": "wait", "duration": "P1D"}, {"id": "bye", "type": "end"}]
FIELDS = ["customer_value", "country"]


@pytest.fixture
def backend(tmp_path: Path) -> str:
    """A shop database: customers with a basket value, and a column the journey never asks for."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE customers"
                " (external_id TEXT, customer_value REAL, country TEXT, iban TEXT)"
            )
        )
        conn.execute(
            text("INSERT INTO customers VALUES (:e, :v, :c, 'DE00 1234')"),
            [
                {"e": "c0", "v": 10.5, "c": "DE"},
                {"e": "c1", "v": 99.0, "c": "DE"},
                {"e": "zz", "v": 1.0, "c": "DE"},
            ],
        )
    engine.dispose()
    return url


def _journey_data(cx: Candor) -> dict[int, Any]:
    jc = journey_contacts
    with reading(cx.engine) as conn:
        return {r.contact_id: r.data for r in conn.execute(select(jc.c.contact_id, jc.c.data))}


def test_sql_source_fills_the_journey_and_leaves_nothing_behind(
    configured: Candor, backend: str
) -> None:
    cx = configured
    connect(cx, [{"id": "shop", "kind": "sql", "url": backend, "query": "SELECT * FROM customers"}])
    ids = [add_contact(cx, n, attributes={"customer_value": 1.0}) for n in range(3)]
    report = start(cx, WAIT, source="shop", fields=FIELDS)
    assert report.entered == 2 and report.by_reason["source_unknown"] == 1
    data = _journey_data(cx)
    assert data == {
        ids[0]: {"customer_value": 10.5, "country": "DE"},
        ids[1]: {"customer_value": 99.0, "country": "DE"},
    }
    with reading(cx.engine) as conn:
        assert conn.execute(select(func.count()).select_from(sync_source_rows)).scalar() == 0
    assert next(iter(load_source(cx, "shop", ["customer_value"]))) == {
        "external_id": "c0",
        "customer_value": 10.5,
    }
    stop_journey(cx, "promo", actor="test")
    assert _journey_data(cx) == {}


@pytest.fixture
def http_source() -> Iterator[str]:
    rows = [
        {"external_id": "c1", "customer_value": 5, "iban": "x"},
        {"external_id": "c9"},
        {"nope": 1},
    ]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(rows).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/customers"
    server.shutdown()
    server.server_close()


def test_http_source_takes_only_declared_fields(configured: Candor, http_source: str) -> None:
    cx = configured
    connect(cx, [{"id": "api", "kind": "http", "url": http_source}])
    ids = [add_contact(cx, n) for n in range(3)]
    report = start(cx, WAIT, source="api", fields=FIELDS, target=None)
    assert report.entered == 1 and report.by_reason["source_unknown"] == 1
    assert _journey_data(cx) == {ids[1]: {"customer_value": 5}}
