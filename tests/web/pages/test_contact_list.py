"""The contacts list page and the request queue's own form: pseudonymous for marketers,
names for the DPO, filters and paging by link; a request opened for a person by address."""

from __future__ import annotations

import re

from sqlalchemy import select

from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests
from candor.store.tables import audit_log

from .conftest import Site

NEXT = re.compile(r'href="(/team/contacts\?[^"]*after=\d+[^"]*)" rel="next"')


def _crowd(site: Site, count: int) -> None:
    with site.cx.engine.begin() as conn:
        for n in range(count):
            create_contact(
                conn,
                site.cx.vault,
                NewContact(
                    first_name=f"Zoë{n}",
                    last_name="Weiß",
                    addresses=[NewAddress("email", f"crowd{n}@example.org")],
                    attributes={"country": "DE" if n % 2 else "FR"},
                ),
                actor="test",
                at=site.cx.clock.now(),
            )


def test_a_marketer_sees_a_pseudonymous_list_only(site: Site) -> None:
    _crowd(site, 3)
    page = site.login("marketer").get("/team/contacts")
    assert page.status_code == 200
    assert "pseudonymous" in page.text and "Contact #" in page.text
    for secret in ("Pat", "Person", "Zoë", "Weiß", "example.org", "/team/contacts/"):
        assert secret not in page.text.replace("/team/contacts?", "")
    assert "country: FR" in page.text
    assert "Find a person" not in page.text  # no search by address either


def test_the_dpo_sees_names_filters_and_pages_through_by_link(site: Site) -> None:
    _crowd(site, 120)
    dpo = site.login("dpo")
    first = dpo.get("/team/contacts", params={"attribute": "country", "value": "DE"})
    assert "60 contacts" in first.text and "Zoë1 Weiß" in first.text and "Zoë0 " not in first.text
    link = NEXT.search(first.text)
    assert link, "no next page link"
    second = dpo.get(link.group(1).replace("&amp;", "&"))
    assert "Zoë101 Weiß" in second.text and "Zoë1 Weiß" not in second.text
    assert NEXT.search(second.text) is None and "First page" in second.text
    with reading(site.cx.engine) as conn:
        listed = conn.execute(
            select(audit_log.c.actor).where(audit_log.c.action == "contact.list")
        ).scalars()
        assert set(listed) == {f"member:{site.members['dpo']}"}
    bad = dpo.get("/team/contacts", params={"attribute": "shoe_size", "value": "9"})
    assert bad.status_code == 422 and "not a declared attribute" in bad.text


def test_the_queue_opens_a_request_for_a_person_found_by_address(site: Site) -> None:
    dpo = site.login("dpo")
    done = site.post_form(
        dpo,
        "/team/requests",
        {"type": "access", "kind": "email", "address": "person@example.org", "how": "letter"},
    )
    assert done.status_code == 200 and "Request opened and carried out." in done.text
    assert "Download" in done.text
    with reading(site.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).one()
    assert (row.contact_id, row.channel, row.actor) == (
        site.contact_id,
        "letter",
        f"member:{site.members['dpo']}",
    )
    unknown = site.post_form(
        dpo, "/team/requests", {"type": "access", "kind": "email", "address": "no@example.org"}
    )
    assert unknown.status_code == 422 and "no contact holds this address" in unknown.text
    assert "no@example.org" not in unknown.text
