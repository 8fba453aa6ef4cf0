"""The record of processing activities, generated from purposes, journeys, connectors, rules."""

from __future__ import annotations

from sqlalchemy import insert

from candor.rights.ropa import build_ropa, ropa_markdown
from candor.store.journey_tables import journeys
from tests.rights.conftest import Api, set_setting


def test_ropa_from_the_declarations(api: Api) -> None:
    cx = api.cx
    set_setting(cx, "connectors", [{"id": "erp", "name": "ERP", "kind": "candor", "country": "DE"}])
    with cx.engine.begin() as conn:
        conn.execute(
            insert(journeys).values(
                id="welcome",
                version=2,
                name="Welcome",
                purpose_id="newsletter",
                definition={"fields": ["country", "customer_value"]},
                state="running",
                created_at=cx.clock.now(),
                entered=0,
            )
        )
        record = build_ropa(conn, cx.clock.now())
    activities = {a["purpose"]: a for a in record["activities"]}
    assert set(activities) == {
        "newsletter",
        "events",
        "soft_optin",
        "profiling",
        "engagement",
        "service",
    }
    newsletter = activities["newsletter"]
    assert newsletter["legal_basis"] == "consent" and newsletter["dpv"] == "dpv:DirectMarketing"
    assert {"demographic", "financial", "identity"} <= set(newsletter["data_categories"])
    assert newsletter["journeys"] == [
        {"id": "welcome", "name": "Welcome", "state": "running", "version": 2}
    ]
    assert newsletter["recipients"][0]["name"] == "ERP"
    assert newsletter["retention"][0]["category"] == "financial"
    assert "behavioural" in activities["profiling"]["data_categories"]
    markdown = ropa_markdown(record)
    assert "# Record of processing activities (Art. 30 GDPR)" in markdown
    assert (
        "## Newsletter marketing (`newsletter`, v1)" in markdown
        and "- Journeys: welcome" in markdown
    )
    http = api.get("/api/v1/ropa", "auditor").json()
    assert [a["purpose"] for a in http["activities"]] == [
        a["purpose"] for a in record["activities"]
    ]
    md = api.get("/api/v1/ropa", "auditor", params={"format": "md"})
    assert (
        md.headers["content-type"].startswith("text/markdown") and "## Retention rules" in md.text
    )


def test_the_markdown_names_the_controller_in_words(api: Api) -> None:
    controller = {
        "name": "Beispiel GmbH",
        "jurisdiction": "DE",
        "contact": "privacy@beispiel.example",
        "policy_url": "https://beispiel.example/privacy",
    }
    set_setting(api.cx, "controller", controller)
    with api.cx.engine.connect() as conn:
        markdown = ropa_markdown(build_ropa(conn, api.cx.clock.now()))
    assert "Controller: Beispiel GmbH (DE)  \nContact: privacy@beispiel.example  \n" in markdown
    assert "Privacy policy: https://beispiel.example/privacy\n" in markdown
    assert "{" not in markdown.split("## ")[0]  # no Python dict in the header
