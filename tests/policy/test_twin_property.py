"""decide() and its SQL twin agree on random ledgers, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from candor.core.context import Candor
from candor.core.durations import parse_duration
from candor.ledger.blocks import insert_block
from candor.ledger.consents import append_event
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.load import decide_for
from candor.policy.twin import decide_many, decisions
from candor.store.tables import (
    addresses,
    block_lifts,
    contacts,
    metadata,
    purposes,
    themes,
)
from tests.conftest import START

THEMES = {"weekly": "newsletters", "offers": "newsletters", "events": None}
STATUSES = ["granted", "confirmed", "refused", "withdrawn", "expired", "pending", "requested"]
TIMES = [START + timedelta(days=d) for d in (0, 0, 1, 30, 400, 800)]  # repeats make ties


def purpose_strategy(ident: str) -> st.SearchStrategy[PurposeFacts]:
    return st.builds(
        PurposeFacts,
        id=st.just(ident),
        kind=st.sampled_from(["marketing", "service"]),
        legal_basis=st.sampled_from(["consent", "consent", "legitimate_interest", "contract"]),
        current_version=st.just(3),
        reconsent_floor=st.sampled_from([0, 2, 3]),
        consent_valid_for=st.sampled_from([None, parse_duration("P1Y"), parse_duration("P30D")]),
        double_opt_in=st.just(()),
    )


contact_strategy = st.fixed_dictionaries(
    {
        "erased": st.booleans(),
        "restricted": st.sampled_from([False, False, False, True]),
        "objected": st.sampled_from([False, False, True]),
        "emails": st.integers(0, 2),
        "sms": st.integers(0, 1),
        "undeliverable_first": st.booleans(),
        "blocks": st.lists(
            st.fixed_dictionaries(
                {
                    "channel": st.sampled_from([None, "email", "sms"]),
                    "address": st.sampled_from([None, 0, 1]),
                    "theme": st.sampled_from([None, "weekly", "newsletters", "events"]),
                    "lifted": st.sampled_from([None, 2, 5]),
                    "created": st.sampled_from([0, 3]),
                }
            ),
            max_size=3,
        ),
        "events": st.lists(
            st.fixed_dictionaries(
                {
                    "purpose": st.sampled_from(["p1", "p2"]),
                    "version": st.integers(1, 3),
                    "theme": st.sampled_from(
                        [None, None, "weekly", "offers", "newsletters", "events"]
                    ),
                    "channel": st.sampled_from([None, None, "email", "sms"]),
                    "address": st.sampled_from([None, None, 0, 1]),
                    "status": st.sampled_from(STATUSES),
                    "time": st.integers(0, len(TIMES) - 1),
                }
            ),
            max_size=7,
        ),
    }
)

request_strategy = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["p1", "p2"]),
        "channel": st.sampled_from([None, "email", "sms"]),
        "theme": st.sampled_from([None, "weekly", "offers", "events"]),
        "at_days": st.sampled_from([800, 801, 1200]),
    }
)


def reset(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        conn.execute(
            insert(themes), [{"id": t, "name": t, "group_id": g} for t, g in THEMES.items()]
        )


def store_purpose(conn: Any, p: PurposeFacts) -> None:
    conn.execute(
        insert(purposes).values(
            id=p.id,
            name=p.id,
            kind=p.kind,
            legal_basis=p.legal_basis,
            dpv="",
            current_version=p.current_version,
            reconsent_floor=p.reconsent_floor,
            consent_valid_for=None,
            double_opt_in=[],
            updated_at=START,
        )
    )


def build_ledger(
    cx: Candor, purpose_list: list[PurposeFacts], people: list[dict[str, Any]]
) -> list[int]:
    """Write the generated ledger through the same code paths the product uses."""
    ids = []
    with cx.engine.begin() as conn:
        for p in purpose_list:
            store_purpose(conn, p)
        for n, person in enumerate(people):
            key_id = f"k{n}"
            contact_id = conn.execute(
                insert(contacts)
                .values(
                    key_id=key_id,
                    attributes={},
                    created_at=START,
                    updated_at=START,
                    erased_at=TIMES[2] if person["erased"] and n % 4 == 0 else None,
                    restricted_at=TIMES[1] if person["restricted"] else None,
                    objected_at=TIMES[3] if person["objected"] else None,
                )
                .returning(contacts.c.id)
            ).scalar_one()
            ids.append(contact_id)
            addr_ids = []
            channels = ["email"] * person["emails"] + ["sms"] * person["sms"]
            for k, channel in enumerate(channels):
                addr_ids.append(
                    conn.execute(
                        insert(addresses)
                        .values(
                            contact_id=contact_id,
                            channel=channel,
                            blind_index=f"{contact_id}-{k}",
                            value=b"x",
                            deliverable=not (k == 0 and person["undeliverable_first"]),
                            created_at=START,
                        )
                        .returning(addresses.c.id)
                    ).scalar_one()
                )
            for b in person["blocks"]:
                address_id = (
                    addr_ids[b["address"]]
                    if b["address"] is not None and b["address"] < len(addr_ids)
                    else None
                )
                block_id = insert_block(
                    conn,
                    contact_id,
                    b["channel"],
                    address_id,
                    b["theme"],
                    "r",
                    "test",
                    None,
                    "test",
                    TIMES[b["created"]],
                )
                if b["lifted"] is not None:
                    conn.execute(
                        insert(block_lifts).values(
                            block_id=block_id,
                            lifted_at=TIMES[b["lifted"]],
                            reason="r",
                            source="test",
                        )
                    )
            row = {"id": contact_id, "key_id": key_id}
            for e in person["events"]:
                address_id = (
                    addr_ids[e["address"]]
                    if e["address"] is not None and e["address"] < len(addr_ids)
                    else None
                )
                append_event(
                    conn,
                    _NullVault(),
                    row,
                    {
                        "purpose_id": e["purpose"],
                        "purpose_version": e["version"],
                        "theme": e["theme"],
                        "channel": e["channel"],
                        "address_id": address_id,
                        "status": e["status"],
                        "source": "test",
                        "occurred_at": TIMES[e["time"]],
                        "communication_id": None,
                        "confirms_event_id": None,
                    },
                    {},
                    START,
                )
    return ids


class _NullVault:
    """Evidence encryption is not under test here."""

    def encrypt(self, key_id: str, field: str, plaintext: bytes) -> bytes:
        return plaintext

    def encrypt_json(self, key_id: str, field: str, value: Any) -> bytes:
        return json.dumps(value, sort_keys=True).encode()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    p1=purpose_strategy("p1"),
    p2=purpose_strategy("p2"),
    people=st.lists(contact_strategy, min_size=1, max_size=5),
    requests=st.lists(request_strategy, min_size=1, max_size=4),
)
def test_decide_and_twin_agree(
    cx: Candor,
    p1: PurposeFacts,
    p2: PurposeFacts,
    people: list[dict[str, Any]],
    requests: list[dict[str, Any]],
) -> None:
    reset(cx)
    ids = build_ledger(cx, [p1, p2], people)
    by_id = {"p1": p1, "p2": p2}
    dialect = cx.engine.dialect.name
    with cx.engine.connect() as conn:
        for req in requests:
            purpose = by_id[req["purpose"]]
            theme = ThemeRef(req["theme"], THEMES[req["theme"]]) if req["theme"] else None
            at = START + timedelta(days=req["at_days"])
            twin = dict(
                decide_many(conn, decisions(purpose, req["channel"], theme, at, dialect=dialect))
            )
            assert sorted(twin) == sorted(ids)
            for contact_id in ids:
                pure = decide_for(conn, contact_id, purpose, req["channel"], None, theme, at)
                assert twin[contact_id] == pure, (contact_id, req)
            some = select(contacts.c.id).where(contacts.c.id.in_(ids[::2]))
            query = decisions(purpose, req["channel"], theme, at, target=some, dialect=dialect)
            part = dict(decide_many(conn, query))
            assert part == {cid: twin[cid] for cid in ids[::2]}
            carrying = decisions(
                purpose, req["channel"], theme, at, some, dialect=dialect, carry=contacts.c.id * 7
            )  # what a launch takes along: a value of each contact's own row
            carried = {r.contact_id: (r.reason, r.carried) for r in conn.execute(carrying)}
            assert carried == {cid: (twin[cid].reason, cid * 7) for cid in ids[::2]}
            batch = decisions(purpose, req["channel"], theme, at, dialect=dialect, ids=ids[1::2])
            assert dict(decide_many(conn, batch)) == {cid: twin[cid] for cid in ids[1::2]}


def test_twin_with_explicit_address_matches(configured: Candor) -> None:
    """The twin also decides for one named address, like decide() does."""
    cx = configured
    from candor.ledger.consents import ConsentInput, record_consent
    from candor.ledger.contacts import NewAddress, NewContact, create_contact
    from candor.ledger.registry import purpose_facts, theme_ref

    at = cx.clock.now()
    with cx.engine.begin() as conn:
        cid = create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id="x",
                addresses=[
                    NewAddress("email", "a@example.org"),
                    NewAddress("email", "b@example.org"),
                ],
            ),
            actor="t",
            at=at,
        )
        record_consent(
            conn,
            cx.vault,
            cid,
            ConsentInput(
                purpose="events",
                status="granted",
                source="t",
                channel="email",
                address="b@example.org",
            ),
            actor="t",
            at=at,
        )
    later = at + timedelta(seconds=1)
    with cx.engine.connect() as conn:
        purpose, theme = purpose_facts(conn, "events"), theme_ref(conn, "events")
        for address_id, expected in ((1, "not_asked"), (2, "allowed"), (None, "not_asked")):
            pure = decide_for(conn, cid, purpose, "email", address_id, theme, later)
            twin = dict(
                decide_many(
                    conn,
                    decisions(
                        purpose,
                        "email",
                        theme,
                        later,
                        address_id=address_id,
                        dialect=conn.dialect.name,
                    ),
                )
            )
            assert pure.reason == expected
            assert twin[cid] == pure
