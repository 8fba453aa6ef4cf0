"""The rights end to end: a person's request over HTTP, the DPO's work on the CLI, the proofs."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from candor.cli import app
from candor.core.clock import ManualClock
from candor.store.rights_tables import dsr_requests
from tests.rights.conftest import Api, when
from tests.web.conftest import api  # noqa: F401  (the fixture)

runner = CliRunner()


def _cli(api: Api, *args: str) -> str:  # noqa: F811
    keystore = str(api.cx.vault.keystore.url)
    result = runner.invoke(app, ["--database", api.cx.url, "--keystore", keystore, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_request_copy_erase_and_prove(api: Api) -> None:  # noqa: F811
    clock = api.cx.clock
    assert isinstance(clock, ManualClock)
    clock.set(when(2020, 1, 15))
    contact = api.create_contact()
    cid = contact["id"]
    consent = api.post(
        f"/api/v1/contacts/{cid}/consents",
        json={
            "purpose": "events",
            "status": "granted",
            "source": "form",
            "evidence": {"ip": "198.51.100.4"},
        },
    )
    assert consent.status_code == 201, consent.text
    record = api.post(
        f"/api/v1/contacts/{cid}/records",
        "admin",
        json={
            "category": "financial",
            "occurred_at": "2019-06-01T10:00:00+00:00",
            "data": {"invoice": "R-77", "total": 12.5},
        },
    )
    assert record.status_code == 201, record.text
    bad = api.post(
        f"/api/v1/contacts/{cid}/records",
        "admin",
        json={"category": "shoe_size", "occurred_at": "2019-06-01T10:00:00+00:00", "data": {}},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "category"

    # the person asks for a copy and confirms with the code sent to them
    answer = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    assert answer.status_code == 202
    with api.cx.engine.connect() as conn:
        req_id, token = conn.execute(
            select(dsr_requests.c.id, dsr_requests.c.verification_token)
        ).one()

    clock.set(when(2020, 1, 20))
    assert (
        api.post(f"/api/v1/requests/{req_id}/verify", None, json={"token": token}).json()["status"]
        == "fulfilled"
    )

    # a restriction request the person never confirms is overdue a month later: the CLI shows it
    api.post(
        "/api/v1/subject/requests", None, json={"type": "restriction", "phone": "+49 151 23456789"}
    )
    clock.set(when(2020, 2, 21))
    listing = _cli(api, "dsr", "list", "--overdue")
    assert (
        f"#{req_id + 1} restriction" in listing
        and "OVERDUE" in listing
        and f"#{req_id} " not in listing
    )
    expired = api.post(f"/api/v1/requests/{req_id + 1}/verify", None, json={"token": "x.y"})
    assert expired.status_code == 422
    copy = api.get(f"/api/v1/requests/{req_id}/result", "dpo").json()["data"]
    assert copy["consents"][0]["evidence"] == {"ip": "198.51.100.4"}
    assert copy["business_records"][0]["data"] == {"invoice": "R-77", "total": 12.5}
    shown = json.loads(_cli(api, "dsr", "show", str(req_id)))
    assert [h["status"] for h in shown["history"]] == [
        "received",
        "verifying",
        "in_progress",
        "fulfilled",
    ]
    assert f"#{req_id} access" in _cli(api, "dsr", "list")

    # erasure from the CLI: the certificate is printed and stored
    certificate = json.loads(_cli(api, "contacts", "forget", str(cid), "--reason", f"dsr:{req_id}"))
    assert certificate["scan"]["clean"] and certificate["kept"][0]["until"].startswith("2028-01-01")
    assert api.get(f"/api/v1/contacts/{cid}").status_code == 410
    assert api.get(f"/api/v1/certificates/{cid}", "dpo").json()["id"] == certificate["id"]
    again = api.post(
        "/api/v1/contacts",
        json={"first_name": "A", "addresses": [{"channel": "email", "value": "alice@example.com"}]},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "addresses[0].value"

    # the invoice is kept until its rule ends; the retention run then deletes it
    assert "deleted 0" in _cli(api, "retention", "run")
    ropa = json.loads(_cli(api, "ropa", "--format", "json"))
    assert {a["purpose"] for a in ropa["activities"]} >= {"events", "newsletter"}
    assert "# Record of processing activities" in _cli(api, "ropa")
