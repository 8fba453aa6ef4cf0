"""Rights benchmark: copy and erasure of a heavy contact (p95 ms), batch erasure (contacts/s).

A heavy contact has 10,000 communications and 10,000 consent events (real evidence, sealed
with its key, chained). Goals (issue 4): copy p95 <= 100 ms, erasure incl. certificate and
verification scan p95 <= 300 ms. `run()` returns the figures; `python -m bench.rights` prints them.
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from bench.common import Timer, backends, fresh_candor
from candor.core.context import Candor
from candor.ledger.chain import event_hash
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.external_ids import external_index, seal_external
from candor.rights.access import compile_access_copy
from candor.rights.erasure import erase_contact, erase_contacts
from candor.store.engine import reading
from candor.store.tables import addresses, communications, consent_events, contacts, ledger_heads

HEAVY = 10_000


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1)


def heavy_contact(cx: Candor, tag: str, n: int = HEAVY) -> int:
    """A contact with n communications and n chained consent events (evidence encrypted)."""
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        contact_id = create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id=f"heavy-{tag}",
                first_name="Heavy",
                last_name=f"Person{tag}",
                addresses=[NewAddress("email", f"heavy-{tag}@example.com")],
                attributes={"country": "DE"},
            ),
            actor="bench",
            at=at,
        )
        key_id = (
            conn.execute(contacts.select().where(contacts.c.id == contact_id))
            .mappings()
            .one()["key_id"]
        )
        conn.execute(
            insert(communications),
            [
                {
                    "contact_id": contact_id,
                    "channel": "email",
                    "direction": "out",
                    "purpose_id": "newsletter",
                    "occurred_at": at - timedelta(minutes=i),
                    "content_ref": f"msg-{i}",
                    "decision_reason": "allowed",
                    "decision_basis": "consent",
                }
                for i in range(n)
            ],
        )
        events, prev = [], ""
        for seq in range(1, n + 1):
            evidence = json.dumps({"ip": "203.0.113.9", "form": f"f{seq}"}).encode()
            event = {
                "contact_id": contact_id,
                "seq": seq,
                "purpose_id": "newsletter",
                "purpose_version": 1,
                "theme": None,
                "channel": "email",
                "address_id": None,
                "status": "granted" if seq % 2 else "withdrawn",
                "source": "form",
                "occurred_at": at,
                "recorded_at": at,
                "communication_id": None,
                "confirms_event_id": None,
                "evidence": cx.vault.encrypt(key_id, "evidence", evidence),
                "prev_hash": prev,
            }
            event["hash"] = prev = event_hash(event)
            events.append(event)
        ids = (
            conn.execute(
                insert(consent_events).returning(consent_events.c.id, sort_by_parameter_order=True),
                events,
            )
            .scalars()
            .all()
        )
        conn.execute(
            insert(ledger_heads).values(
                contact_id=contact_id, last_event_id=ids[-1], last_hash=prev, event_count=n
            )
        )
    return contact_id


def light_contacts(cx: Candor, n: int) -> list[int]:
    """n contacts with identity, an e-mail address and one message each (bulk statements)."""
    at = cx.clock.now()
    keys = cx.vault.create_keys(n)
    with cx.engine.begin() as conn:
        rows = [
            {
                "key_id": k,
                "external_index": external_index(cx.vault, f"light-{k[:12]}"),
                "external_id": seal_external(cx.vault, k, f"light-{k[:12]}"),
                "attributes": {"country": "AT"},
                "language": "en",
                "timezone": "UTC",
                "source": "bench",
                "created_at": at,
                "updated_at": at,
                "identity": cx.vault.encrypt(
                    k, "identity", json.dumps({"first_name": "L", "last_name": k[:6]}).encode()
                ),
            }
            for k in keys
        ]
        ids = [
            int(i)
            for i in conn.execute(
                insert(contacts).returning(contacts.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        ]
        conn.execute(
            insert(addresses),
            [
                {
                    "contact_id": c,
                    "channel": "email",
                    "blind_index": cx.vault.blind_index("email", f"{k}@x.example"),
                    "value": cx.vault.encrypt(k, "address:email", f"{k}@x.example".encode()),
                    "deliverable": True,
                    "created_at": at,
                }
                for c, k in zip(ids, keys, strict=True)
            ],
        )
        conn.execute(
            insert(communications),
            [
                {
                    "contact_id": c,
                    "channel": "email",
                    "direction": "out",
                    "occurred_at": at,
                    "content_ref": "m",
                }
                for c in ids
            ],
        )
    return ids


def run_backend(backend: str, rounds: int = 10, batch: int = 10_000) -> dict[str, Any]:
    with fresh_candor(backend) as cx:
        light_contacts(cx, 2_000)  # a background population the scan has to look through
        target = heavy_contact(cx, "copy")
        copy_times = []
        for _ in range(rounds * 2):
            with Timer() as t, reading(cx.engine) as conn:
                copy = compile_access_copy(conn, cx.vault, target, at=cx.clock.now())
            copy_times.append(t.seconds)
        assert len(copy["communications"]) == HEAVY and len(copy["consents"]) == HEAVY
        erase_times = []
        for i in range(rounds):
            contact_id = heavy_contact(cx, f"e{i}")
            with Timer() as t:
                certificate = erase_contact(cx, contact_id, actor="bench", reason="bench")
            assert certificate["scan"]["clean"], certificate["scan"]
            erase_times.append(t.seconds)
        ids = light_contacts(cx, batch)
        with Timer() as t:
            certificates = erase_contacts(cx, ids, actor="bench", reason="bench batch")
        assert len(certificates) == batch
        return {
            "access_copy_p95_ms": p95(copy_times),
            "access_copy_median_ms": round(statistics.median(copy_times) * 1000, 1),
            "erasure_p95_ms": p95(erase_times),
            "erasure_median_ms": round(statistics.median(erase_times) * 1000, 1),
            "batch_erasure_contacts_per_s": round(batch / t.seconds),
            "batch_erasure_seconds": round(t.seconds, 2),
            "heavy_contact": {"communications": HEAVY, "consent_events": HEAVY},
            "goals": {"access_copy_p95_ms": 100, "erasure_p95_ms": 300},
        }


def run() -> dict[str, Any]:
    """The figures per backend (SQLite; PostgreSQL when a URL is configured)."""
    return {backend: run_backend(backend) for backend in backends()}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(), indent=2) + "\n")
