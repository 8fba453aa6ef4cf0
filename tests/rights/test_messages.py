"""Service messages of the rights operations, delivered through a real SMTP sink."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from candor.channels.dispatch import dispatch_due
from candor.channels.links import preferences_token
from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.rights.messages import queue_message, require_service_purpose
from candor.store.engine import reading
from candor.store.journey_tables import outbox
from candor.store.rights_tables import dsr_requests
from tests.channels.test_dispatch_support import PUBLIC_URL, configure_channels
from tests.rights.conftest import ALICE, Api, set_setting
from tests.web.pages.conftest import csrf_of

VERIFY = re.compile(re.escape(PUBLIC_URL) + r"(/requests/verify/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
CONFIRM = re.compile(re.escape(PUBLIC_URL) + r"(/confirm/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
BOX = re.compile(r'name="box" value="(newsletter\|[^"]*\|email)"')


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=0) as running:
        yield running


def _text(message: Any) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _only_mail(cx: Candor, sink: MailSink) -> Any:
    sink.clear()
    assert dispatch_due(cx) == 1
    (mail,) = sink.messages()
    return mail


def test_a_subject_request_sends_a_working_verification_link(api: Api, sink: MailSink) -> None:
    configure_channels(api.cx, smtp_port=sink.port)
    api.create_contact()  # Alice, German
    asked = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    unknown = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "nobody@example.com"}
    )
    assert asked.status_code == unknown.status_code == 202 and asked.json() == unknown.json()

    mail = _only_mail(api.cx, sink)  # nothing went to the unknown address
    assert mail["To"].lower() == "alice@example.com" and mail["List-Unsubscribe"] is None
    assert mail["Subject"] == "Bitte bestätigen Sie Ihren Antrag zu Ihren Daten"
    (path,) = VERIFY.findall(_text(mail))
    with reading(api.cx.engine) as conn:
        request_id, token = conn.execute(
            select(dsr_requests.c.id, dsr_requests.c.verification_token)
        ).one()
    assert path == f"/requests/verify/{token}"

    page = api.client.get(path)
    assert page.status_code == 200 and f'action="{path}"' in page.text
    done = api.client.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200
    view = api.get(f"/api/v1/requests/{request_id}", "dpo").json()
    assert view["status"] == "fulfilled" and view["verified_at"] is not None


def test_the_extension_notice_tells_the_reason(api: Api, sink: MailSink) -> None:
    configure_channels(api.cx, smtp_port=sink.port)
    api.create_contact()
    api.post(
        "/api/v1/subject/requests", None, json={"type": "erasure", "email": "alice@example.com"}
    )
    reason = "the archive of our Hamburg branch must be searched"
    extended = api.post("/api/v1/requests/1/extend", "dpo", json={"months": 1, "reason": reason})
    assert extended.status_code == 200
    with reading(api.cx.engine) as conn:
        templates = [r.template_id for r in conn.execute(select(outbox).order_by(outbox.c.id))]
    assert templates == ["dsr-verify-de", "dsr-extended-de"]

    sink.clear()
    assert dispatch_due(api.cx) == 2
    notice = next(m for m in sink.messages() if "Zeit" in m["Subject"])
    text = _text(notice)
    assert reason in text and "Antrags Nr. 1" in text
    assert extended.json()["due_at"][:10] in text


def test_lifting_a_restriction_sends_the_notice(api: Api, sink: MailSink) -> None:
    configure_channels(api.cx, smtp_port=sink.port)
    contact = api.create_contact({**_english(), "first_name": "Bea"})
    assert api.post(f"/api/v1/contacts/{contact['id']}/restriction", "dpo").status_code == 200
    assert api.delete(f"/api/v1/contacts/{contact['id']}/restriction", "dpo").status_code == 200
    mail = _only_mail(api.cx, sink)
    assert mail["Subject"] == "The restriction of processing of your data is lifted"
    assert "Bea" not in _text(mail)


def test_a_double_opt_in_grant_in_the_preference_center_sends_the_confirmation(
    api: Api, sink: MailSink
) -> None:
    cx = api.cx
    configure_channels(cx, smtp_port=sink.port)
    contact = api.create_contact(_english())["id"]
    token = preferences_token(cx.vault.signing_key, contact_id=contact, issued_at=cx.clock.now())
    path = f"/preferences/{token}"
    page = api.client.get(path)
    box = BOX.search(page.text)
    assert box is not None
    saved = api.client.post(
        path, data={"csrf": csrf_of(page.text), "box": box.group(1)}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert api.decide(contact, "newsletter", channel="email")["reason"] == "doi_pending"

    mail = _only_mail(cx, sink)
    assert mail["Subject"] == "Please confirm your permission"
    assert mail["List-Unsubscribe"] is None  # a confirmation carries no advertising
    (confirm,) = CONFIRM.findall(_text(mail))
    form = api.client.get(confirm)
    assert api.client.post(confirm, data={"csrf": csrf_of(form.text)}).status_code == 200
    assert api.decide(contact, "newsletter", channel="email")["allowed"] is True


def test_nothing_is_queued_for_someone_without_an_address(configured: Candor) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        nobody = create_contact(
            conn, cx.vault, NewContact(first_name="N"), actor="t", at=cx.clock.now()
        )
        assert (
            queue_message(conn, nobody, "restriction-lifted", {}, key="k", at=cx.clock.now())
            is None
        )
        reachable = create_contact(
            conn,
            cx.vault,
            NewContact(first_name="R", addresses=[NewAddress("sms", "+4915100000001")]),
            actor="t",
            at=cx.clock.now(),
        )
        queued = queue_message(
            conn, reachable, "restriction-lifted", {}, key="k2", at=cx.clock.now()
        )
        row = conn.execute(select(outbox).where(outbox.c.id == queued)).mappings().one()
    assert (row["channel"], row["kind"], row["purpose_id"]) == ("sms", "service", "service")
    assert row["decision_reason"] == "allowed" and row["decision_basis"] == "contract"


def test_without_a_service_purpose_the_error_names_purposes(cx: Candor) -> None:
    with cx.engine.begin() as conn, pytest.raises(InvalidInput) as refused:
        require_service_purpose(conn)
    assert refused.value.field == "purposes" and "kind service" in refused.value.problem


def _english() -> dict[str, Any]:
    return {**ALICE, "language": "en", "external_id": "shop-2"}


def test_messages_are_signed_with_the_controllers_name(api: Api, sink: MailSink) -> None:
    configure_channels(api.cx, smtp_port=sink.port)
    set_setting(api.cx, "controller", {"name": "Beispiel GmbH", "jurisdiction": "DE"})
    contact = api.create_contact({**_english(), "first_name": "Bea"})
    assert api.post(f"/api/v1/contacts/{contact['id']}/restriction", "dpo").status_code == 200
    assert api.delete(f"/api/v1/contacts/{contact['id']}/restriction", "dpo").status_code == 200
    text = _text(_only_mail(api.cx, sink))
    assert text.rstrip().endswith("Your privacy team at Beispiel GmbH")
    assert "Candor" not in text


def test_without_a_controller_the_signature_names_nobody(api: Api, sink: MailSink) -> None:
    configure_channels(api.cx, smtp_port=sink.port)
    api.create_contact()  # Alice, German
    asked = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    assert asked.status_code == 202
    text = _text(_only_mail(api.cx, sink))
    assert text.rstrip().endswith("Ihr Datenschutzteam") and "Candor" not in text
