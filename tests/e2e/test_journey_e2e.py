"""Journeys end to end: a marketer's path through the CLI and through the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from candor.accounts.api_keys import create_api_key
from candor.cli import app as cli
from candor.core.context import Candor
from candor.journeys.runtime import run_until_idle
from candor.web import create_app
from tests.journeys.runtime.helpers import (
    add_contact,
    consent,
    invite_then_wait,
    journey_yaml,
    messages,
    positions,
)

STEPS = invite_then_wait("P14D")


@pytest.fixture
def runner(configured: Candor) -> CliRunner:
    return CliRunner()


def invoke(cx: Candor, runner: CliRunner, *args: str) -> tuple[int, str]:
    base = ["--database", cx.url, "--keystore", str(cx.vault.keystore.url)]
    result = runner.invoke(cli, [*base, *args])
    return result.exit_code, result.output


def test_cli_validate_lint_simulate_launch_run_status_stop(
    configured: Candor, runner: CliRunner, tmp_path: Path
) -> None:
    cx = configured
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, a, "events")
    good = tmp_path / "promo.yaml"
    good.write_text(journey_yaml(STEPS))
    bad = tmp_path / "bad.yaml"
    bad.write_text(journey_yaml([{**STEPS[0], "template": "missing", "chanel": "sms"}, *STEPS[1:]]))
    no_unsub = tmp_path / "no_unsub.yaml"
    no_unsub.write_text(
        journey_yaml(
            STEPS, templates={"promo_mail": {"email": {"subject": "Hi", "text": "no way out"}}}
        )
    )

    code, out = invoke(cx, runner, "journey", "schema")
    assert code == 0 and json.loads(out)["title"] == "Candor journey"
    code, out = invoke(cx, runner, "journey", "validate", str(bad))
    assert code == 1
    assert "step 'invite' steps[0].chanel" in out and "did you mean 'channel'" in out
    code, out = invoke(cx, runner, "journey", "validate", str(good))
    assert code == 0, out
    code, out = invoke(cx, runner, "journey", "lint", str(no_unsub))
    assert code == 1 and "no-unsubscribe" in out
    code, out = invoke(cx, runner, "journey", "lint", str(good))
    assert code == 0 and "warning" in out and "not-asked" in out
    code, out = invoke(cx, runner, "journey", "simulate", str(good), "--json")
    assert code == 0, out
    figures = json.loads(out)
    assert figures["enter"]["entered"] == 2
    assert figures["steps"][0]["by_reason"] == {"allowed": 1, "not_asked": 1}
    assert messages(cx) == []

    code, out = invoke(cx, runner, "journey", "launch", str(good))
    assert code == 0 and "2 entered of 2 in the target group" in out, out
    code, out = invoke(cx, runner, "journey", "run")
    assert code == 2
    code, out = invoke(cx, runner, "journey", "run", "--until-idle", "--no-dispatch")
    assert code == 0, out
    assert positions(cx) == {a: ("pause", "waiting"), b: ("skipped", "done")}
    code, out = invoke(cx, runner, "worker", "--once", "--no-dispatch")
    assert code == 0, out
    code, out = invoke(cx, runner, "journey", "status", "promo", "--json")
    status = json.loads(out)
    assert status["outcomes"]["invite"] == {"passed": 1, "not_asked": 1}
    assert status["current"] == {"pause": {"waiting": 1}, "skipped": {"done": 1}}
    code, out = invoke(cx, runner, "journey", "status", "promo")
    assert code == 0 and "not_asked" in out
    code, out = invoke(cx, runner, "journey", "stop", "promo")
    assert code == 0 and "1 queued messages cancelled" in out
    code, out = invoke(cx, runner, "journey", "stop", "promo")
    assert code == 2


@pytest.fixture
def client(configured: Candor) -> tuple[TestClient, dict[str, str]]:
    keys = {}
    with configured.engine.begin() as conn:
        for role in ("admin", "marketer", "dpo", "auditor"):
            keys[role] = create_api_key(conn, role, role, actor="test", at=configured.clock.now())
    return TestClient(create_app(configured)), keys


def test_api_store_simulate_launch_read_stop(configured: Candor, client: tuple) -> None:
    cx = configured
    http, keys = client

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    a, b = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, a, "events")
    body = journey_yaml(STEPS)
    yaml_type = {"Content-Type": "application/yaml"}
    for role in ("auditor", "dpo"):
        refused = http.post("/api/v1/journeys", content=body, headers={**auth(role), **yaml_type})
        assert refused.status_code == 403
    bad = json.dumps(
        {
            "id": "x",
            "name": "X",
            "purpose": "nope",
            "steps": [{"id": "s", "type": "send", "channel": "email", "template": "missing"}],
        }
    )
    answer = http.post(
        "/api/v1/journeys",
        content=bad,
        headers={**auth("marketer"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert {"field": "purpose", "step": None, "problem": "unknown purpose 'nope'"} in errors
    assert any(e["step"] == "s" and e["field"] == "steps[0].template" for e in errors)

    stored = http.post("/api/v1/journeys", content=body, headers={**auth("marketer"), **yaml_type})
    assert stored.status_code == 201, stored.text
    assert stored.json()["state"] == "draft"
    listed = http.get("/api/v1/journeys", headers=auth("auditor")).json()["items"]
    assert [(j["id"], j["state"]) for j in listed] == [("promo", "draft")]
    sim = http.get("/api/v1/journeys/promo/simulate", headers=auth("dpo"))
    assert sim.status_code == 200 and sim.json()["enter"]["entered"] == 2

    launched = http.post("/api/v1/journeys/promo/launch", headers=auth("marketer"))
    assert launched.status_code == 200, launched.text
    assert launched.json()["entered"] == 2
    again = http.post("/api/v1/journeys/promo/launch", headers=auth("marketer"))
    assert again.status_code == 409
    run_until_idle(cx)
    seen = http.get("/api/v1/journeys/promo", headers=auth("auditor")).json()
    assert seen["state"] == "running"
    assert seen["outcomes"]["invite"] == {"passed": 1, "not_asked": 1}
    assert seen["current"]["pause"] == {"waiting": 1}
    assert seen["definition"]["steps"][0]["id"] == "invite"
    stopped = http.post("/api/v1/journeys/promo/stop", headers=auth("admin"))
    assert stopped.status_code == 200 and stopped.json()["state"] == "archived"
    assert http.get("/api/v1/journeys/nope", headers=auth("admin")).status_code == 404
    assert b not in {m["contact_id"] for m in messages(cx)}


def test_cli_runs_a_journey_with_worker_processes_side_by_side(
    configured: Candor, runner: CliRunner, tmp_path: Path
) -> None:
    cx = configured
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, a, "events")
    journey = tmp_path / "promo.yaml"
    journey.write_text(journey_yaml(STEPS))
    code, out = invoke(cx, runner, "journey", "launch", str(journey))
    assert code == 0, out
    run = ("journey", "run", "--until-idle", "--no-dispatch", "--processes", "2")
    code, out = invoke(cx, runner, *run)
    if cx.engine.dialect.name == "sqlite":
        assert code == 2 and "processes: more than one worker process needs PostgreSQL" in out
        assert positions(cx) == {a: ("invite", "active"), b: ("invite", "active")}
        return
    assert code == 0 and "advanced 2 contact-steps" in out, out
    assert positions(cx) == {a: ("pause", "waiting"), b: ("skipped", "done")}
    assert [m["contact_id"] for m in messages(cx)] == [a]
    code, out = invoke(cx, runner, "worker", "--once", "--no-dispatch", "--processes", "2")
    assert code == 0 and "advanced 0" in out, out
