"""`/docs` (the API's documentation, self-hosted), `GET /`, and the errors in the document."""

from __future__ import annotations

import re

from .conftest import Api


def test_the_docs_page_loads_only_its_own_static_files(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all(body.strip() == "" for _, body in scripts)  # no inline script
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    sources = [s for s in sources if s != "data:,"]  # no favicon request
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        asset = api.client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100, source


def test_the_root_leads_to_the_team_login(api: Api) -> None:
    first = api.client.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/team"
    assert api.client.get("/").url.path == "/team/login"


def test_the_document_lists_errors_and_media_types(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    create = paths["/api/v1/contacts"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409", "422"} <= set(create)
    errors = create["422"]["content"]["application/json"]["schema"]
    assert errors == {"$ref": "#/components/schemas/Errors"}
    one = paths["/api/v1/contacts/{contact_id}"]["get"]["responses"]
    assert {"200", "401", "404", "410", "422"} <= set(one)
    assert "text/markdown" in paths["/api/v1/ropa"]["get"]["responses"]["200"]["content"]
    assert "429" in paths["/u/{token}"]["get"]["responses"]
