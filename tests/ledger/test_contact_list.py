"""The contacts list: filters, keyset paging, names only with a vault, and the purpose filter
agreeing with decide() for every contact."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contact_list import ContactFilter, list_contacts
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.store.engine import reading
from candor.store.tables import contacts


def _people(cx: Candor, count: int) -> list[int]:
    ids = []
    with cx.engine.begin() as conn:
        for n in range(count):
            ids.append(
                create_contact(
                    conn,
                    cx.vault,
                    NewContact(
                        first_name=f"Jürgen{n}",
                        last_name="Groß",
                        addresses=[NewAddress("email", f"p{n}@example.org")],
                        attributes={"country": "DE" if n % 2 else "AT"},
                    ),
                    actor="test",
                    at=cx.clock.now(),
                )
            )
            if n % 3 == 0:
                record_consent(
                    conn,
                    cx.vault,
                    ids[-1],
                    ConsentInput(purpose="events", status="granted", source="form"),
                    actor="test",
                    at=cx.clock.now(),
                )
    return ids


def test_pages_walk_every_match_once_in_id_order(configured: Candor) -> None:
    ids = _people(configured, 7)
    seen, after = [], None
    with reading(configured.engine) as conn:
        while True:
            page = list_contacts(
                conn, ContactFilter(), at=configured.clock.now(), after=after, limit=3
            )
            assert page.total == 7
            seen += [r.id for r in page.rows]
            if page.next_after is None:
                break
            after = page.next_after
    assert seen == ids


def test_names_only_with_the_vault_and_the_profile_always(configured: Candor) -> None:
    _people(configured, 2)
    with reading(configured.engine) as conn:
        plain = list_contacts(conn, ContactFilter(), at=configured.clock.now())
        named = list_contacts(
            conn, ContactFilter(), at=configured.clock.now(), vault=configured.vault
        )
    assert [r.name for r in plain.rows] == [None, None]
    assert [r.name for r in named.rows] == ["Jürgen0 Groß", "Jürgen1 Groß"]
    assert plain.rows[0].attributes == {"country": "AT"} and plain.rows[0].channels == ["email"]


def test_status_and_attribute_filters(configured: Candor) -> None:
    ids = _people(configured, 4)
    with configured.engine.begin() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == ids[1])
            .values(restricted_at=configured.clock.now())
        )
    at = configured.clock.now()
    with reading(configured.engine) as conn:
        german = list_contacts(conn, ContactFilter(attribute="country", value="DE"), at=at)
        restricted = list_contacts(conn, ContactFilter(status="restricted"), at=at)
        active = list_contacts(conn, ContactFilter(status="active"), at=at)
        with pytest.raises(InvalidInput) as caught:
            list_contacts(conn, ContactFilter(attribute="shoe_size", value="9"), at=at)
    assert [r.id for r in german.rows] == [ids[1], ids[3]]
    assert [r.id for r in restricted.rows] == [ids[1]] and restricted.rows[0].restricted
    assert [r.id for r in active.rows] == [ids[0], ids[2], ids[3]]
    assert caught.value.field == "attribute"


@pytest.mark.parametrize("allowed", [True, False])
def test_the_purpose_filter_agrees_with_decide_for_every_contact(
    configured: Candor, allowed: bool
) -> None:
    ids = _people(configured, 7)
    at = configured.clock.now()
    with reading(configured.engine) as conn:
        listed = list_contacts(
            conn, ContactFilter(purpose="events", channel="email", allowed=allowed), at=at
        )
        facts = purpose_facts(conn, "events")
        expected = [
            i for i in ids if decide_for(conn, i, facts, "email", None, None, at).allowed is allowed
        ]
    assert [r.id for r in listed.rows] == expected and listed.total == len(expected)
    assert expected  # both answers occur in this population
