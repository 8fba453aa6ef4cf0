"""Rights tests: the web suite's API fixture, a contact with a rich history, and helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from candor.core.context import Candor
from candor.ledger.blocks import set_block
from candor.ledger.communications import record_communication
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.registry import setting
from candor.store.tables import settings
from tests.web.conftest import ALICE, Api, api  # noqa: F401  (the `api` fixture)

__all__ = ["ALICE", "Api", "alice", "rich_contact", "set_setting"]


def set_setting(cx: Candor, key: str, value: Any) -> None:
    """Store a settings section as `config apply` would."""
    with cx.engine.begin() as conn:
        if setting(conn, key) is None:
            conn.execute(settings.insert().values(key=key, value=value))
        else:
            conn.execute(update(settings).where(settings.c.key == key).values(value=value))


def rich_contact(
    cx: Candor,
    *,
    external_id: str = "shop-1",
    email: str = "alice@example.com",
    phone: str | None = "+49 151 23456789",
) -> int:
    """A contact with consents (with evidence), a block, messages and a rectification."""
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        contact_id = create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id=external_id,
                first_name="Alice",
                last_name="Example",
                addresses=[
                    NewAddress("email", email),
                    *([NewAddress("sms", phone)] if phone else []),
                ],
                attributes={"country": "DE", "customer_value": 250.0, "vip": True},
                language="de",
            ),
            actor="test",
            at=at,
        )
        comm = record_communication(
            conn,
            cx.vault,
            contact_id,
            channel="email",
            direction="in",
            content_ref="form:signup",
            actor="test",
            at=at,
        )
        record_consent(
            conn,
            cx.vault,
            contact_id,
            ConsentInput(
                purpose="events",
                status="granted",
                source="form",
                communication_id=comm,
                evidence={"ip": "203.0.113.7", "user_agent": "Firefox"},
            ),
            actor="test",
            at=at,
        )
        record_consent(
            conn,
            cx.vault,
            contact_id,
            ConsentInput(
                purpose="profiling", status="granted", source="form", evidence={"ip": "203.0.113.7"}
            ),
            actor="test",
            at=at,
        )
        set_block(
            conn,
            cx.vault,
            contact_id,
            reason="no SMS about surveys",
            source="preference_center",
            channel="sms",
            theme="surveys",
            evidence={"ip": "203.0.113.7", "user_agent": "Firefox"},
            actor="test",
            at=at,
        )
    return contact_id


@pytest.fixture
def alice(configured: Candor) -> int:
    return rich_contact(configured)


def when(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
