"""Helpers of the runtime tests: contacts, consents, journeys and what they left behind."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select

from candor.core.context import Candor
from candor.figures.step_counts import HERE
from candor.journeys import load_journey
from candor.journeys.runtime import LaunchReport, launch, run_until_idle
from candor.ledger.blocks import set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, journey_step_stats, outbox

UNSUB = "Unsubscribe: {{ unsubscribe_url }}"
TEMPLATES = {
    "promo_mail": {"email": {"subject": "Hello {{ first_name }}", "text": f"News. {UNSUB}"}},
    "promo_sms": {"sms": {"text": "News. Reply STOP to end"}},
    "ask_mail": {"email": {"subject": "May we?", "text": f"Say yes. {UNSUB}"}},
    "doi_mail": {"email": {"subject": "Confirm", "text": "Confirm: {{ confirm_url }}"}},
    "notice_mail": {"email": {"subject": "Changed", "text": f"Our terms changed. {UNSUB}"}},
}


def ask_step(**settings: Any) -> dict[str, Any]:
    """A consent step asking for events by e-mail (timeout P7D; refusal and timeout: `no`)."""
    step = {
        "id": "ask",
        "type": "consent",
        "channel": "email",
        "template": "ask_mail",
        "theme": "events",
        "timeout": "P7D",
        "on_refused": "no",
        "on_timeout": "no",
    }
    return {**step, **settings}


def add_contact(
    cx: Candor,
    n: int,
    *,
    sms: bool = False,
    attributes: dict[str, Any] | None = None,
    timezone: str = "UTC",
) -> int:
    """A contact with an e-mail address (and a mobile number when asked)."""
    addresses = [NewAddress("email", f"person{n}@example.com")]
    if sms:
        addresses.append(NewAddress("sms", f"+4915123456{n:03d}"))
    new = NewContact(
        external_id=f"c{n}",
        first_name=f"Name{n}",
        addresses=addresses,
        attributes={"country": "DE", "customer_value": 150.0, **(attributes or {})},
        timezone=timezone,
    )
    with cx.engine.begin() as conn:
        return create_contact(conn, cx.vault, new, actor="test", at=cx.clock.now())


def consent(cx: Candor, contact: int, purpose: str, status: str = "granted", **scope: Any) -> Any:
    """Record a consent event as a form would (a DOI grant comes back pending, with a token)."""
    with cx.engine.begin() as conn:
        return record_consent(
            conn,
            cx.vault,
            contact,
            ConsentInput(purpose=purpose, status=status, source="form", **scope),
            actor="test",
            at=cx.clock.now(),
        )


def block(cx: Candor, contact: int, **scope: Any) -> int:
    with cx.engine.begin() as conn:
        return set_block(
            conn,
            cx.vault,
            contact,
            reason="asked",
            source="api",
            actor="test",
            at=cx.clock.now(),
            **scope,
        )


def invite_then_wait(pause: str) -> list[dict[str, Any]]:
    """Steps: send the events invitation (not asked: end at `skipped`), wait `pause`, end."""
    return [
        {
            "id": "invite",
            "type": "send",
            "channel": "email",
            "template": "promo_mail",
            "theme": "events",
            "on_denied": "skipped",
        },
        {"id": "pause", "type": "wait", "duration": pause},
        {"id": "done", "type": "end"},
        {"id": "skipped", "type": "end"},
    ]


def journey_yaml(steps: list[dict[str, Any]], **head: Any) -> str:
    """A journey file with sensible defaults around the given steps."""
    data: dict[str, Any] = {
        "id": "promo",
        "name": "Promo",
        "purpose": "events",
        "target": {"field": "country", "op": "eq", "value": "DE"},
        "fields": ["country", "customer_value", "first_name"],
        "ends_at": "2027-12-31T00:00:00Z",
        "expires_after": "P90D",
        "templates": TEMPLATES,
        "steps": steps,
        **head,
    }
    return yaml.safe_dump(data, sort_keys=False)


def start(cx: Candor, steps: list[dict[str, Any]], **head: Any) -> LaunchReport:
    return launch(cx, load_journey(journey_yaml(steps, **head)), actor="test")


def run(cx: Candor) -> int:
    return run_until_idle(cx).advanced


def positions(cx: Candor, journey: str = "promo") -> dict[int, tuple[str, str]]:
    """contact -> (step, status) in the journey."""
    jc = journey_contacts
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(jc.c.contact_id, jc.c.step_id, jc.c.status).where(jc.c.journey_id == journey)
        )
        return {r.contact_id: (r.step_id, r.status) for r in rows}


def messages(cx: Candor, journey: str = "promo") -> list[dict[str, Any]]:
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(outbox).where(outbox.c.journey_id == journey).order_by(outbox.c.id)
        )
        return [dict(r) for r in rows.mappings()]


def stats(cx: Candor, journey: str = "promo") -> dict[tuple[str, str], int]:
    s = journey_step_stats
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(s.c.step_id, s.c.outcome, s.c.count).where(
                s.c.journey_id == journey,
                s.c.outcome != HERE,  # outcomes, not head counts
            )
        )
        return {(r.step_id, r.outcome): r.count for r in rows}
