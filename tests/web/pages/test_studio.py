"""The studio's pages and JSON calls: roles, CSRF, exact YAML round trips, named errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from candor.journeys import load_journey
from candor.store.engine import reading
from candor.store.journey_tables import journey_versions
from candor.store.tables import audit_log
from tests.journeys.runtime.helpers import add_contact

from .conftest import Site, csrf_of

EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "journeys").glob("*.yaml"))
SMALL = {
    "id": "small",
    "name": "Small",
    "purpose": "events",
    "fields": ["country"],
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "ends_at": "2027-12-31T00:00:00Z",
    "steps": [{"id": "pause", "type": "wait", "duration": "P1D"}, {"id": "done", "type": "end"}],
}


def studio(site: Site, role: str = "marketer") -> tuple[TestClient, dict[str, str]]:
    """A client logged in as `role` and the headers its JSON calls carry."""
    client = site.login(role)
    token = csrf_of(client.get("/team/journeys").text)
    return client, {"X-CSRF-Token": token}


def call(client: TestClient, headers: dict[str, str], path: str, body: Any) -> Any:
    return client.post(path, json=body, headers=headers)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_yaml_round_trips_exactly_through_the_designer(site: Site, path: Path) -> None:
    client, headers = studio(site)
    parsed = call(client, headers, "/team/studio/journeys/parse", {"text": path.read_text()})
    assert parsed.status_code == 200, parsed.text
    definition = parsed.json()["definition"]
    assert definition == load_journey(path.read_text()).dump()  # nothing lost on the way in
    first = call(client, headers, "/team/studio/journeys/yaml", {"definition": definition})
    assert first.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(first.text) == definition
    again = call(client, headers, "/team/studio/journeys/parse", {"text": first.text}).json()
    second = call(client, headers, "/team/studio/journeys/yaml", again)
    assert second.text == first.text  # download, upload, download: byte for byte


def test_saving_keeps_every_version_and_names_the_member(site: Site) -> None:
    client, headers = studio(site)
    first = call(client, headers, "/team/studio/journeys/save", {"definition": SMALL})
    assert first.json() == {"id": "small", "version": 1, "warnings": []}
    changed = {**SMALL, "name": "Small, renamed"}
    assert (
        call(client, headers, "/team/studio/journeys/save", {"definition": changed}).json()[
            "version"
        ]
        == 2
    )
    old = client.get("/team/studio/journeys/small/versions/1.yaml")
    assert old.status_code == 200 and yaml.safe_load(old.text)["name"] == "Small"
    page = client.get("/team/journeys/small/edit")
    assert "Version 2" in page.text and "Version 1" in page.text
    with reading(site.cx.engine) as conn:
        saved_by = conn.execute(select(journey_versions.c.saved_by)).scalars().all()
        actors = (
            conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "journey.save"))
            .scalars()
            .all()
        )
    assert set(saved_by) == set(actors) and len(actors) == 2
    assert all(a.startswith("member:") for a in actors)


def test_a_running_journey_cannot_be_saved_only_stopped(site: Site) -> None:
    client, headers = studio(site)
    launched = call(client, headers, "/team/studio/journeys/launch", {"definition": SMALL})
    assert launched.status_code == 200, launched.text
    again = call(client, headers, "/team/studio/journeys/save", {"definition": SMALL})
    assert again.status_code == 409
    assert "running" in again.json()["errors"][0]["problem"]
    stopped = call(client, headers, "/team/studio/journeys/small/stop", {})
    assert stopped.status_code == 200 and stopped.json()["state"] == "archived"


def test_problems_come_back_with_their_step_and_field(site: Site) -> None:
    client, headers = studio(site)
    broken = {
        **SMALL,
        "steps": [{"id": "send", "type": "send", "channel": "email", "template": "nope"}],
    }
    found = call(client, headers, "/team/studio/journeys/check", {"definition": broken}).json()
    assert {"field": "steps[0].template", "step": "send"}.items() <= found["errors"][0].items()
    refused = call(client, headers, "/team/studio/journeys/save", {"definition": broken})
    assert refused.status_code == 422
    unreadable = call(client, headers, "/team/studio/journeys/parse", {"text": "id: [unclosed"})
    assert unreadable.status_code == 422 and unreadable.json()["errors"][0]["field"] == "body"
    not_json = client.post("/team/studio/journeys/check", content=b"{", headers=headers)
    assert not_json.status_code == 422


def test_only_marketers_and_admins_use_the_studio_and_every_call_needs_the_token(
    site: Site,
) -> None:
    for role in ("dpo", "auditor"):
        client = site.login(role)
        assert client.get("/team/journeys/new").status_code == 403
        assert client.get("/team/content").status_code == 403
        assert client.get("/team/audiences").status_code == 403
    client, _ = studio(site)
    missing = client.post("/team/studio/journeys/check", json={"definition": SMALL})
    assert missing.status_code == 403
    forged = call(client, {"X-CSRF-Token": "0" * 64}, "/team/studio/journeys/save", SMALL)
    assert forged.status_code == 403
    anonymous = TestClient(site.client.app)
    assert anonymous.get("/team/journeys/new", follow_redirects=False).status_code == 303


def test_audience_calls_count_save_and_name_bad_fields(site: Site) -> None:
    client, headers = studio(site)
    audience = {
        "id": "germans",
        "name": "Germans",
        "filter": {"all": [{"field": "country", "op": "eq", "value": "DE"}]},
        "purpose": "events",
        "channel": "email",
    }
    counted = call(client, headers, "/team/studio/audiences/count", audience)
    assert counted.status_code == 200
    assert counted.json() == {"total": 0, "reachable": 0, "not_reachable": 0, "by_reason": {}}
    bad = {**audience, "filter": {"field": "shoe", "op": "eq", "value": 1}, "channel": "fax"}
    refused = call(client, headers, "/team/studio/audiences/count", bad)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "channel"
    unknown = call(client, headers, "/team/studio/audiences/save", {**audience, "purpose": "x"})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["purpose"]
    saved = call(client, headers, "/team/studio/audiences/save", audience)
    assert saved.json() == {"id": "germans", "created": True}
    assert "Germans" in client.get("/team/audiences").text


def test_content_calls_save_check_and_preview_frame_with_its_own_policy(site: Site) -> None:
    client, headers = studio(site)
    source = {
        "id": "hello",
        "languages": {"en": {"email": {"subject": "Hi", "text": "Hi {{ first_name }}"}}},
    }
    checked = call(client, headers, "/team/studio/content/check", {"source": source}).json()
    assert [f["code"] for f in checked["findings"]] == ["no-unsubscribe"]
    saved = call(client, headers, "/team/studio/content/save", {"source": source})
    assert saved.json() == {"id": "hello", "channels": ["email"]}
    assert "hello" in client.get("/team/content").text
    assert client.get("/team/content/hello").status_code == 200
    frame = client.post(
        "/team/content/preview-frame",
        data={
            "csrf": headers["X-CSRF-Token"],
            "source": __import__("json").dumps(source),
            "language": "en",
        },
    )
    assert frame.status_code == 200 and "Hi Alex" in frame.text
    assert "script-src" not in frame.headers["content-security-policy"]
    assert "sandbox" in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    bad = call(client, headers, "/team/studio/content/save", {"source": {**source, "id": "Bad Id"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id"


def test_reports_suppress_small_cells_for_marketers_only(site: Site) -> None:
    add_contact(site.cx, 1)  # one German: one person enters
    client, headers = studio(site)
    call(client, headers, "/team/studio/journeys/launch", {"definition": SMALL})
    marketer = client.get("/team/journeys/small/report")
    assert '<td class="num" data-figure="entered">&lt;5</td>' in marketer.text
    admin = site.login("admin").get("/team/journeys/small/report")
    assert '<td class="num" data-figure="entered">1</td>' in admin.text
    dpo_csv = site.login("dpo").get("/team/journeys/small/report.csv")
    assert dpo_csv.status_code == 200 and "step,pause,wait,1," in dpo_csv.text
    assert "step,pause,wait,<5," in client.get("/team/journeys/small/report.csv").text
