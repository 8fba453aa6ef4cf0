"""decide(): each reason code, in order, on hand-made facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from candor.core.durations import parse_duration
from candor.policy.decide import Decision, decide
from candor.policy.facts import (
    AddressFacts,
    BlockFacts,
    ConsentFacts,
    ContactFacts,
    PurposeFacts,
    ThemeRef,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
MARKETING = PurposeFacts("news", "marketing", "consent", current_version=2)
SERVICE = PurposeFacts("svc", "service", "contract")
WEEKLY = ThemeRef("weekly", "newsletters")
EMAIL = AddressFacts(1, "email")
SMS = AddressFacts(2, "sms")


def grant(
    event_id: int = 1, status: str = "granted", days: int = 1, **scope: object
) -> ConsentFacts:
    return ConsentFacts(event_id, "news", 2, status, T0 + timedelta(days=days), **scope)  # type: ignore[arg-type]


def person(**kw: object) -> ContactFacts:
    base: dict[str, object] = {"id": 7, "addresses": (EMAIL, SMS), "events": (grant(),)}
    base.update(kw)
    return ContactFacts(**base)  # type: ignore[arg-type]


def test_granted_consent_allows_with_basis_and_event() -> None:
    assert decide(person(), MARKETING, "email", None, WEEKLY, NOW) == Decision(
        True, "allowed", "consent", 1
    )


def test_default_is_deny_not_asked() -> None:
    assert decide(person(events=()), MARKETING, "email", None, WEEKLY, NOW).reason == "not_asked"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"erased_at": T0}, "erased"),
        ({"restricted_at": T0}, "restricted"),
        ({"objected_at": T0}, "objected"),
        ({"blocks": (BlockFacts(1, "all"),)}, "blocked:all"),
        ({"blocks": (BlockFacts(1, "channel", channel="email"),)}, "blocked:channel"),
        ({"blocks": (BlockFacts(1, "address", address_id=1),)}, "blocked:address"),
        ({"blocks": (BlockFacts(1, "theme", theme="newsletters"),)}, "blocked:theme"),
        ({"addresses": (AddressFacts(1, "email", deliverable=False),)}, "undeliverable"),
        ({"addresses": ()}, "undeliverable"),
    ],
)
def test_denial_reasons(change: dict[str, object], reason: str) -> None:
    assert decide(person(**change), MARKETING, "email", None, WEEKLY, NOW) == Decision(
        False, reason
    )


def test_reasons_are_checked_in_order() -> None:
    everything = person(
        erased_at=T0, restricted_at=T0, objected_at=T0, blocks=(BlockFacts(1, "all"),)
    )
    assert decide(everything, MARKETING, "email", None, WEEKLY, NOW).reason == "erased"
    blocked_twice = person(
        blocks=(BlockFacts(1, "theme", theme="weekly"), BlockFacts(2, "channel", channel="email"))
    )
    assert decide(blocked_twice, MARKETING, "email", None, WEEKLY, NOW).reason == "blocked:channel"


def test_latest_covering_event_wins_per_scope() -> None:
    events = (grant(1, days=1), grant(2, "withdrawn", days=2, channel="sms"))
    contact = person(events=events)
    assert decide(contact, MARKETING, "email", None, WEEKLY, NOW).allowed
    assert decide(contact, MARKETING, "sms", None, WEEKLY, NOW) == Decision(
        False, "withdrawn", None, 2
    )
    regranted = person(events=(*events, grant(3, days=3)))
    assert decide(regranted, MARKETING, "sms", None, WEEKLY, NOW) == Decision(
        True, "allowed", "consent", 3
    )


def test_theme_group_scope_covers_member_themes() -> None:
    contact = person(events=(grant(1, days=1), grant(2, "refused", days=2, theme="newsletters")))
    assert decide(contact, MARKETING, "email", None, WEEKLY, NOW).reason == "refused"
    assert decide(contact, MARKETING, "email", None, ThemeRef("events"), NOW).allowed


def test_doi_pending_then_confirmed() -> None:
    pending = person(events=(grant(1, "pending"),))
    assert decide(pending, MARKETING, "email", None, WEEKLY, NOW) == Decision(
        False, "doi_pending", None, 1
    )
    confirmed = person(events=(grant(1, "pending"), grant(2, "confirmed", days=2)))
    assert decide(confirmed, MARKETING, "email", None, WEEKLY, NOW) == Decision(
        True, "allowed", "consent", 2
    )


def test_consent_expires_after_validity() -> None:
    purpose = PurposeFacts(
        "news", "marketing", "consent", current_version=2, consent_valid_for=parse_duration("P5D")
    )
    assert decide(person(), purpose, "email", None, WEEKLY, NOW) == Decision(
        False, "expired", None, 1
    )
    assert decide(person(), purpose, "email", None, WEEKLY, T0 + timedelta(days=3)).allowed


def test_material_purpose_change_requires_reconsent() -> None:
    purpose = PurposeFacts("news", "marketing", "consent", current_version=3, reconsent_floor=3)
    assert decide(person(), purpose, "email", None, WEEKLY, NOW).reason == "reconsent_required"


def test_service_purposes_ignore_blocks_and_objection_but_not_restriction() -> None:
    contact = person(events=(), objected_at=T0, blocks=(BlockFacts(1, "all"),))
    assert decide(contact, SERVICE, "email", None, None, NOW) == Decision(
        True, "allowed", "contract"
    )
    assert (
        decide(person(restricted_at=T0), SERVICE, "email", None, None, NOW).reason == "restricted"
    )


def test_legitimate_interest_allows_until_the_person_objects() -> None:
    purpose = PurposeFacts("soft", "marketing", "legitimate_interest")
    assert (
        decide(person(events=()), purpose, "email", None, None, NOW).basis == "legitimate_interest"
    )
    refused = person(events=(ConsentFacts(4, "soft", 1, "withdrawn", T0),))
    assert decide(refused, purpose, "email", None, None, NOW) == Decision(
        False, "withdrawn", None, 4
    )


def test_lifted_block_no_longer_applies() -> None:
    lifted = person(blocks=(BlockFacts(1, "all", created_at=T0, lifted_at=T0 + timedelta(days=2)),))
    assert decide(lifted, MARKETING, "email", None, WEEKLY, NOW).allowed
    assert (
        decide(lifted, MARKETING, "email", None, WEEKLY, T0 + timedelta(days=1)).reason
        == "blocked:all"
    )


def test_explicit_address_must_belong_to_the_contact() -> None:
    assert decide(person(), MARKETING, "email", 99, WEEKLY, NOW).reason == "undeliverable"
    scoped = person(events=(grant(1, address_id=1),))
    assert decide(scoped, MARKETING, "email", 1, WEEKLY, NOW).allowed
