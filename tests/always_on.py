"""Shared by the always-on tests: the test registry plus a sign-up form, custom events and a
birthday, applied to a product; a hosted-form post; the mail a worker round left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from candor.core.context import Candor
from candor.ledger.config import apply_config, parse_config
from candor.store.engine import reading
from candor.store.journey_tables import outbox

FIXTURE = Path(__file__).parent / "fixtures" / "candor.yaml"
EXTRA: dict[str, Any] = {
    "public_url": "https://candor.example",
    "form_redirects": ["candor.example"],
    "forms": [
        {
            "id": "newsletter",
            "name": "Our newsletter",
            "purposes": [{"id": "newsletter", "themes": ["weekly", "offers"]}],
            "attributes": ["first_name", "country"],
            "languages": ["en", "de"],
            "min_fill_seconds": 0,
        },
        {
            "id": "events-sms",
            "name": "Event invitations",
            "purposes": [{"id": "events", "channels": ["email", "sms"]}],
            "confirmed": {"redirect": "https://candor.example/welcome"},
            "thank_you": {"text": {"en": "Check your phone or inbox.", "de": "Bitte prüfen."}},
        },
    ],
    "events": {
        "order.placed": {
            "description": "An order in the shop",
            "properties": {
                "total": {"type": "number", "category": "financial"},
                "sku": {"type": "string", "category": "behavioural"},
            },
        }
    },
}


def always_on_config(**changes: Any) -> str:
    """The test registry with the always-on sections (and `changes`), as YAML text."""
    data = yaml.safe_load(FIXTURE.read_text())
    data["attributes"]["birthday"] = {"type": "date", "category": "demographic"}
    data.update({**EXTRA, **changes})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def apply_always_on(cx: Candor, **changes: Any) -> Candor:
    config = parse_config(always_on_config(**changes), "candor.yaml")
    with cx.engine.begin() as conn:
        apply_config(conn, config, actor="test", at=cx.clock.now())
    return cx


def sign_up(client: TestClient, form: str = "newsletter", **fields: Any) -> Any:
    """POST the hosted form the way a browser sends it (form-encoded, no cookies)."""
    data: dict[str, Any] = {"email": "new@example.org", "consent": ["newsletter:weekly:email"]}
    data.update(fields)
    return client.post(f"/f/{form}", data=data, follow_redirects=False)


def queued(cx: Candor, kind: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows (of one kind), oldest first."""
    query = select(outbox).order_by(outbox.c.id)
    if kind is not None:
        query = query.where(outbox.c.kind == kind)
    with reading(cx.engine) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
