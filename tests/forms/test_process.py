"""The worker's side: a sealed submission becomes pending consents and one confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from candor.core.context import Candor
from candor.forms.intake import Submission, queue_submission, read_submission
from candor.forms.process import process_submissions
from candor.journeys.runtime import run_until_idle
from candor.ledger.consents import confirm_doi, consent_history
from candor.ledger.contacts import find_by_address, read_contact
from candor.ledger.form_specs import load_form
from candor.rights.erasure import erase_contact
from candor.store.engine import reading
from candor.store.keystore import contact_keys
from candor.store.tables import audit_log, contacts, form_submissions
from tests.always_on import queued
from tests.journeys.runtime.helpers import add_contact
from tests.journeys.runtime.triggered import members, triggered

EVIDENCE = {"page": "https://shop.example/news", "time": "t", "ip": "192.0.2.7", "user_agent": "UA"}


def post(cx: Candor, form_id: str = "newsletter", **fields: list[str]) -> int:
    """Take a post at the door and let the worker process it; returns submissions processed."""
    data = {"email": ["pat@example.org"], "consent": ["newsletter:weekly:email"], **fields}
    with cx.engine.begin() as conn:
        form = load_form(conn, form_id)
        assert form is not None
        submission = read_submission(conn, form, data, "de", {**EVIDENCE, "via": "hosted"})
        queue_submission(conn, cx.vault, submission, cx.clock.now())
    return process_submissions(cx)


def person(cx: Candor, email: str = "pat@example.org") -> int | None:
    with reading(cx.engine) as conn:
        return find_by_address(conn, cx.vault, "email", email)


def history(cx: Candor, contact: int) -> list[dict[str, Any]]:
    with reading(cx.engine) as conn:
        return consent_history(conn, cx.vault, contact)


def outcomes(cx: Candor) -> list[str]:
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "form.submission")
        )
        return [r.details["outcome"] for r in rows]


def test_a_new_address_becomes_a_contact_with_pending_consents_and_one_message(
    signup: Candor,
) -> None:
    cx = signup
    boxes = ["newsletter:weekly:email", "newsletter:offers:email"]
    assert post(cx, consent=boxes, first_name=["Pat"], country=["DE"]) == 1
    contact = person(cx)
    assert contact is not None
    with reading(cx.engine) as conn:
        shown = read_contact(conn, cx.vault, contact)
        row = conn.execute(select(contacts.c.source).where(contacts.c.id == contact)).one()
    assert (shown["first_name"], shown["attributes"], shown["language"]) == (
        "Pat",
        {"country": "DE"},
        "de",
    )
    assert row.source == "form"
    events = history(cx, contact)
    assert [(e["status"], e["theme"], e["channel"], e["source"]) for e in events] == [
        ("pending", "weekly", "email", "form"),
        ("pending", "offers", "email", "form"),
    ]
    proof = events[0]["evidence"]
    assert proof["form"] == "newsletter" and proof["wording_version"] == 1
    assert (proof["ip"], proof["user_agent"], proof["page"]) == (
        "192.0.2.7",
        "UA",
        EVIDENCE["page"],
    )
    (message,) = queued(cx)
    assert (message["kind"], message["template_id"], message["contact_id"]) == (
        "confirmation",
        "doi-confirm-de",
        contact,
    )
    with cx.engine.begin() as conn:  # one link confirms every box of the submission
        confirm_doi(
            conn, cx.vault, message["context"]["doi_token"], {}, actor="s", at=cx.clock.now()
        )
    assert [e["status"] for e in history(cx, contact)][-2:] == ["confirmed", "confirmed"]
    with reading(cx.engine) as conn:  # the sealed submission and its key are gone
        assert conn.execute(select(form_submissions)).all() == []
        keys = cx.vault.keystore.connect().execute(select(contact_keys.c.key_id)).scalars().all()
    assert len(keys) == 1  # the new contact's own key only
    assert outcomes(cx) == ["new"]


def test_a_known_address_keeps_its_profile_and_is_asked_only_what_is_new(signup: Candor) -> None:
    cx = signup
    post(cx)
    contact = person(cx)
    with cx.engine.begin() as conn:
        token = queued(cx)[0]["context"]["doi_token"]
        confirm_doi(conn, cx.vault, token, {}, actor="s", at=cx.clock.now())
    post(cx, consent=["newsletter:weekly:email", "newsletter:offers:email"], country=["FR"])
    assert person(cx) == contact
    with reading(cx.engine) as conn:
        assert read_contact(conn, cx.vault, contact)["attributes"] == {}  # nobody proved it
    assert [(e["status"], e["theme"]) for e in history(cx, contact)][-1] == ("pending", "offers")
    assert len(queued(cx)) == 2 and outcomes(cx) == ["new", "known"]


def test_a_resubmission_within_the_hour_sends_no_second_message(signup: Candor) -> None:
    cx = signup
    post(cx)
    cx.clock.advance(timedelta(minutes=20))
    post(cx)
    assert len(queued(cx)) == 1 and len(history(cx, person(cx))) == 1  # type: ignore[arg-type]
    cx.clock.advance(timedelta(minutes=45))
    post(cx)
    assert len(queued(cx)) == 2  # an hour after the first: asked again


def test_an_erased_address_is_never_mailed_and_nothing_is_written(signup: Candor) -> None:
    cx = signup
    gone = add_contact(cx, 7)
    erase_contact(cx, gone, actor="t", reason="asked")
    with reading(cx.engine) as conn:
        before = conn.execute(select(contacts.c.id)).scalars().all()
    post(cx, email=["person7@example.com"])
    with reading(cx.engine) as conn:
        assert conn.execute(select(contacts.c.id)).scalars().all() == before
    assert queued(cx) == [] and outcomes(cx) == ["suppressed"]


def test_a_strangers_phone_is_not_attached_to_a_known_person(signup: Candor) -> None:
    cx = signup
    known = add_contact(cx, 1)
    post(
        cx,
        "events-sms",
        email=["person1@example.com"],
        phone=["+49 151 99999999"],
        consent=["events::email", "events::sms"],
    )
    with reading(cx.engine) as conn:
        held = read_contact(conn, cx.vault, known)["addresses"]
    assert [a["channel"] for a in held] == ["email"]
    assert [(e["status"], e["channel"]) for e in history(cx, known)] == [("pending", "email")]
    (message,) = queued(cx)
    assert message["channel"] == "email"


def test_a_refused_submission_is_dropped_and_the_rest_of_its_batch_goes_on(signup: Candor) -> None:
    cx = signup
    good = Submission("newsletter", "en", {"email": "ok@example.org"},
                      ("newsletter:weekly:email",), {"newsletter": 1})  # fmt: skip
    bad = Submission("newsletter", "en", {"email": "odd@example.org"},
                     ("newsletter:weekly:email",), {"newsletter": 1},
                     attributes={"shoe_size": 44})  # undeclared: refused by the ledger  # fmt: skip
    with cx.engine.begin() as conn:
        for sub in (bad, good):
            queue_submission(conn, cx.vault, sub, cx.clock.now())
    assert process_submissions(cx) == 2
    assert person(cx, "odd@example.org") is None and person(cx, "ok@example.org") is not None
    assert outcomes(cx) == ["refused:InvalidInput", "new"]
    assert len(queued(cx)) == 1


def test_form_submitted_lets_the_person_into_the_journey_listening(signup: Candor) -> None:
    cx = signup
    triggered(cx, {"on": "form.submitted", "form": "newsletter"}, journey_id="hello",
              purpose="service")  # fmt: skip
    post(cx)
    run_until_idle(cx)
    assert set(members(cx, "hello")) == {person(cx)}


def test_an_sms_only_sign_up_is_confirmed_by_sms(signup: Candor) -> None:
    cx = signup
    post(cx, "events-sms", email=[""], phone=["+49 151 2345 6789"], consent=["events::sms"])
    contact = person(cx)
    assert contact is None  # no e-mail address given
    (message,) = queued(cx)
    assert (message["channel"], message["kind"], message["template_id"]) == (
        "sms",
        "confirmation",
        "doi-confirm-de",
    )


def test_two_submissions_in_one_batch_make_one_person_and_one_message(signup: Candor) -> None:
    cx = signup
    with cx.engine.begin() as conn:
        form = load_form(conn, "newsletter")
        assert form is not None
        for _ in range(2):
            fields = {"email": ["pat@example.org"], "consent": ["newsletter:weekly:email"]}
            sub = read_submission(conn, form, fields, "en", EVIDENCE)
            queue_submission(conn, cx.vault, sub, cx.clock.now())
    assert process_submissions(cx) == 2
    assert len(queued(cx)) == 1 and outcomes(cx) == ["new", "known"]
    assert len(history(cx, person(cx))) == 1  # type: ignore[arg-type]
