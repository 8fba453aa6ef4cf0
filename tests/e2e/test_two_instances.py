"""Two Candor servers linked both ways (a CRM and a studio), each with its own database, keys,
server and delivery process: erasure, withdrawal and blocks follow within seconds, and a
server that is down for a while loses nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from candor.channels.mailsink import MailSink
from candor.store.journey_tables import journey_contacts
from tests.e2e.sync_support import Instance, wait_for
from tests.journeys.runtime.helpers import TEMPLATES

LINK = {"LINK_SECRET": "crm-and-studio-share-this"}
JOURNEY = {
    "id": "welcome",
    "name": "Welcome",
    "purpose": "soft_optin",
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "fields": ["country"],
    "steps": [{"id": "hold", "type": "wait", "duration": "P30D"}, {"id": "bye", "type": "end"}],
}


def link(me: str, other: str, other_url: str, **connector: Any) -> dict[str, Any]:
    return {
        "sync": {"name": me, "retry_base_seconds": 0.3, "retry_max_seconds": 1, "max_attempts": 50},
        "connectors": [
            {
                "id": other,
                "kind": "candor",
                "url": f"{other_url}/api/v1/sync/events",
                "secret_env": "LINK_SECRET",
                **connector,
            }
        ],
    }


def started_pair(
    tmp_path: Path, studio_extra: dict[str, Any] | None = None, **connector: Any
) -> tuple[Instance, Instance]:
    """A CRM and a studio linked both ways, each serving and delivering."""
    crm, studio = (
        Instance("crm", tmp_path / "crm", LINK),
        Instance("studio", tmp_path / "studio", LINK),
    )
    crm.setup(link("crm", "studio", studio.url, **connector))
    studio.setup({**link("studio", "crm", crm.url, **connector), **(studio_extra or {})})
    for side in (crm, studio):
        side.start()
        side.start_delivery(interval=0.1)
    return crm, studio


@pytest.fixture
def pair(tmp_path: Path) -> Any:
    crm, studio = started_pair(tmp_path)
    yield crm, studio
    crm.shutdown()
    studio.shutdown()


def test_two_instances_stay_in_step(pair: tuple[Instance, Instance]) -> None:
    crm, studio = pair
    p1 = {side.name: side.create_contact("p-1", "pat@example.com") for side in pair}
    p2 = {side.name: side.create_contact("p-2", "sam@example.com") for side in pair}

    # (b) a grant in the CRM reaches the studio; the studio's withdrawal rules the CRM's decision
    grant = {"purpose": "events", "status": "granted", "source": "form"}
    assert crm.call("POST", f"/api/v1/contacts/{p1['crm']}/consents", json=grant).status_code == 201

    def decision(side: Instance, contact: int) -> str:
        answer = side.call(
            "GET",
            "/api/v1/decide",
            params={"contact": contact, "purpose": "events", "channel": "email"},
        )
        reason: str = answer.json()["reason"]
        return reason

    wait_for(lambda: decision(studio, p1["studio"]) == "allowed")
    withdraw = {"purpose": "events", "status": "withdrawn", "source": "preference_center"}
    assert (
        studio.call("POST", f"/api/v1/contacts/{p1['studio']}/consents", json=withdraw).status_code
        == 201
    )
    started = time.monotonic()
    wait_for(lambda: decision(crm, p1["crm"]) == "withdrawn")
    withdrawal_seconds = time.monotonic() - started
    history = crm.call("GET", f"/api/v1/contacts/{p1['crm']}/consents").json()
    events = history["items"]
    assert [e["source"] for e in events] == ["form", "connector:studio"]  # no echo came back

    # (c) the studio is down while the CRM sets a block; nothing is lost
    studio.stop()
    block = {"channel": "email", "reason": "asked on the phone"}
    assert crm.call("POST", f"/api/v1/contacts/{p1['crm']}/blocks", json=block).status_code == 201
    wait_for(lambda: crm.cli("sync", "status").count("pending 1") == 1, timeout=10)
    time.sleep(2)  # several delivery attempts fail meanwhile
    studio.start()

    def studio_blocks() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = studio.call(
            "GET", f"/api/v1/contacts/{p1['studio']}/blocks"
        ).json()["items"]
        return found

    (copied,) = wait_for(studio_blocks, timeout=15)
    assert copied["channel"] == "email" and copied["source"] == "connector:crm"

    # (a) the studio runs a journey with p-2; erasing p-2 in the CRM removes them there too
    made = studio.call("POST", "/api/v1/journeys", json=JOURNEY)
    assert made.status_code == 201, made.text
    assert studio.call("POST", "/api/v1/journeys/welcome/launch").status_code == 200
    studio_db = create_engine(f"sqlite:///{studio.root / 'candor.db'}")

    def in_journey(contact: int) -> bool:
        jc = journey_contacts
        with studio_db.connect() as conn:
            found = conn.execute(select(jc.c.journey_id).where(jc.c.contact_id == contact))
            return found.first() is not None

    assert in_journey(p2["studio"]) and in_journey(p1["studio"])
    started = time.monotonic()
    assert crm.call("DELETE", f"/api/v1/contacts/{p2['crm']}", "dpo").status_code == 200
    wait_for(
        lambda: studio.call("GET", f"/api/v1/contacts/{p2['studio']}").status_code == 410,
        timeout=10,
    )
    erasure_seconds = time.monotonic() - started
    assert not in_journey(p2["studio"]) and in_journey(p1["studio"])
    studio_db.dispose()

    def acknowledged() -> list[dict[str, Any]]:
        certificate = crm.call("GET", f"/api/v1/certificates/{p2['crm']}", "dpo").json()
        return [c for c in certificate["connectors"] if c["acknowledged_at"]]

    (ack,) = wait_for(acknowledged)
    assert ack["connector"] == "studio" and ack["status"] == "delivered"
    studio_certificate = studio.call("GET", f"/api/v1/certificates/{p2['studio']}", "dpo").json()
    assert studio_certificate["actor"] == "connector:crm" and studio_certificate["connectors"] == []

    # (a') the other way, from the CLI: erasing p-1 in the studio (mid-journey) erases it in the CRM
    studio.cli("contacts", "forget", str(p1["studio"]), "--reason", "dsr-cli")
    wait_for(
        lambda: crm.call("GET", f"/api/v1/contacts/{p1['crm']}").status_code == 410, timeout=10
    )
    crm_certificate = crm.call("GET", f"/api/v1/certificates/{p1['crm']}", "dpo").json()
    assert crm_certificate["actor"] == "connector:studio" and crm_certificate["connectors"] == []

    def studio_acknowledged() -> list[dict[str, Any]]:
        certificate = studio.call("GET", f"/api/v1/certificates/{p1['studio']}", "dpo").json()
        return [c for c in certificate["connectors"] if c["acknowledged_at"]]

    (ack,) = wait_for(studio_acknowledged)
    assert ack["connector"] == "crm" and ack["status"] == "delivered"
    print(f"withdrawal {withdrawal_seconds:.2f}s, erasure {erasure_seconds:.2f}s")


# Send, wait for the reader's click, send again: the second send is "the next send" after a
# withdrawal, and the click (an event the test makes happen) decides when it comes, not a clock.
CLICK_MAIL = {
    "email": {
        "subject": "Our events",
        "text": "See them: {{ click_url }}\nUnsubscribe: {{ unsubscribe_url }}",
    }
}
SEND = {"type": "send", "channel": "email", "theme": "events", "on_denied": "skipped"}
NEWSLETTER = {
    "id": "news",
    "name": "Event news",
    "purpose": "events",
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "fields": ["country", "first_name"],
    "templates": {**TEMPLATES, "click_mail": CLICK_MAIL},
    # A click wakes a person's wait only when it may be tied to them: under tracking they
    # agreed to (an analytics purpose); otherwise it only counts in the step's aggregate.
    "tracking": {"purpose": "engagement"},
    "steps": [
        {"id": "first", **SEND, "template": "click_mail", "link": "https://shop.test/events"},
        {"id": "read", "type": "wait", "event": "click", "timeout": "P7D", "on_timeout": "done"},
        {"id": "second", **SEND, "template": "promo_mail"},
        {"id": "done", "type": "end"},
        {"id": "skipped", "type": "end"},
    ],
}
CLICK = re.compile(r"https://studio\.test(/c/\S+)")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=0) as running:
        yield running


@pytest.fixture
def mailing_pair(tmp_path: Path, sink: MailSink) -> Any:
    """The pair, the studio sending e-mail through a real SMTP sink on 127.0.0.1."""
    channels = {"email": {"smtp_url": f"smtp://127.0.0.1:{sink.port}", "from": "news@studio.test"}}
    crm, studio = started_pair(
        tmp_path, {"channels": channels, "public_url": "https://studio.test"}
    )
    yield crm, studio
    crm.shutdown()
    studio.shutdown()


def test_a_withdrawal_in_the_crm_is_honoured_by_the_studios_next_send(
    mailing_pair: tuple[Instance, Instance], sink: MailSink
) -> None:
    crm, studio = mailing_pair
    people = {"pat@example.com": "p-1", "sam@example.com": "p-2"}
    ids = {
        email: {side.name: side.create_contact(ext, email) for side in mailing_pair}
        for email, ext in people.items()
    }

    def reason(side: Instance, email: str) -> str:
        params = {"contact": ids[email][side.name], "purpose": "events", "channel": "email"}
        found: str = side.call("GET", "/api/v1/decide", params=params).json()["reason"]
        return found

    def consent(email: str, status: str) -> None:
        body = {"purpose": "events", "status": status, "source": "form"}
        path = f"/api/v1/contacts/{ids[email]['crm']}/consents"
        assert crm.call("POST", path, json=body).status_code == 201

    def mail_to(email: str) -> int:
        return sum(1 for m in sink.messages() if m["To"] == email)

    # Both agree in the CRM; the studio learns it and its journey mails both. Both let the
    # studio note their clicks (asked by the studio itself).
    for email in people:
        consent(email, "granted")
        tracked = {"purpose": "engagement", "status": "granted", "source": "form"}
        path = f"/api/v1/contacts/{ids[email]['studio']}/consents"
        assert studio.call("POST", path, json=tracked).status_code == 201
    for email in people:
        wait_for(lambda email=email: reason(studio, email) == "allowed", timeout=60)
    assert studio.call("POST", "/api/v1/journeys", json=NEWSLETTER).status_code == 201
    assert studio.call("POST", "/api/v1/journeys/news/launch").status_code == 200
    studio.cli("journey", "run", "--until-idle")  # sends and delivers before it returns
    assert mail_to("pat@example.com") == 1 and mail_to("sam@example.com") == 1

    # Pat withdraws in the CRM; the test goes on once the studio has applied the event.
    consent("pat@example.com", "withdrawn")
    wait_for(lambda: reason(studio, "pat@example.com") == "withdrawn", timeout=60)

    # Both click their link; that wakes the wait, and the next run makes the second send.
    for mail in sink.messages():
        link = CLICK.search(mail.get_body(("plain",)).get_content())
        assert link is not None
        clicked = httpx.get(f"{studio.url}{link.group(1)}", follow_redirects=False, timeout=10)
        assert clicked.status_code in (302, 303, 307), clicked.text
    studio.cli("journey", "run", "--until-idle")
    assert mail_to("pat@example.com") == 1  # the next send skipped Pat
    assert mail_to("sam@example.com") == 2  # while Sam still got it
    assert {m["To"] for m in sink.messages()} == set(people)
    seen = studio.call("GET", "/api/v1/journeys/news").json()
    assert seen["outcomes"]["second"] == {"passed": 1, "withdrawn": 1}, seen["outcomes"]


@pytest.fixture
def email_pair(tmp_path: Path) -> Any:
    """The pair matching people by e-mail address instead of the customer number."""
    crm, studio = started_pair(tmp_path, identifier="email")
    yield crm, studio
    crm.shutdown()
    studio.shutdown()


def test_a_rectified_email_reaches_the_side_that_knows_the_old_one(
    email_pair: tuple[Instance, Instance],
) -> None:
    """Rectifying adds the new address; events keep naming the person by the address the
    other side knows (the first one), so it finds them, adds the new one, and what follows
    still reaches them."""
    crm, studio = email_pair
    pat = {
        side.name: side.create_contact(f"{side.name}-7", "pat@example.com") for side in email_pair
    }
    new = {"addresses": [{"channel": "email", "value": "pat.new@example.com"}]}
    patched = crm.call("PATCH", f"/api/v1/contacts/{pat['crm']}", json=new)
    assert patched.status_code == 200 and patched.json()["changed"] == ["addresses.email"]

    def studio_addresses() -> set[str]:
        found = studio.call("GET", f"/api/v1/contacts/{pat['studio']}", "dpo").json()
        return {a["value"] for a in found["addresses"]}

    wait_for(lambda: studio_addresses() == {"pat@example.com", "pat.new@example.com"})
    rectified = studio.call("GET", f"/api/v1/contacts/{pat['studio']}", "dpo").json()
    assert rectified["first_name"] == "Pat"

    # later events, both ways, still name Pat by an address the other side holds
    withdraw = {"purpose": "events", "status": "withdrawn", "source": "form"}
    path = f"/api/v1/contacts/{pat['crm']}/consents"
    assert crm.call("POST", path, json=withdraw).status_code == 201
    params = {"contact": pat["studio"], "purpose": "events", "channel": "email"}
    wait_for(
        lambda: studio.call("GET", "/api/v1/decide", params=params).json()["reason"] == "withdrawn"
    )
    block = {"reason": "asked on the phone"}
    assert (
        studio.call("POST", f"/api/v1/contacts/{pat['studio']}/blocks", json=block).status_code
        == 201
    )
    wait_for(lambda: crm.call("GET", f"/api/v1/contacts/{pat['crm']}/blocks").json()["items"])
