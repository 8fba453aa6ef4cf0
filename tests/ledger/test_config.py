"""config apply: validation names file, key path and problem; applying is idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from candor.core.context import Candor
from candor.ledger.config import ConfigError, apply_config, parse_config
from candor.store.tables import attributes, purpose_versions, purposes

GOOD = """
attributes: {country: {type: string, category: demographic}}
themes: [{id: weekly, name: Weekly, group: newsletters}]
purposes:
  - {id: news, name: News, kind: marketing, legal_basis: consent, dpv: "dpv:DirectMarketing",
     wording: "Send me news", double_opt_in: [email]}
retention: [{category: financial, period: P8Y, from: end_of_year, basis: "HGB"}]
"""


def test_errors_name_file_path_and_problem() -> None:
    bad = GOOD.replace("kind: marketing", "kind: advertising").replace("P8Y", "eight years")
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, "candor.yaml")
    text = str(caught.value)
    assert "candor.yaml: purposes[0:news].kind:" in text
    assert "candor.yaml: retention[0].period:" in text and "ISO 8601" in text


def test_unknown_keys_and_yaml_errors_are_reported() -> None:
    with pytest.raises(ConfigError, match=r"purposes\[0:news\]\.colour"):
        parse_config(GOOD.replace("wording:", "colour: red, wording:"), "c.yaml")
    with pytest.raises(ConfigError, match="line"):
        parse_config("themes: [\n  {id: x", "c.yaml")
    with pytest.raises(ConfigError, match="group cannot share a theme's id"):
        parse_config("themes: [{id: a, name: A}, {id: b, name: B, group: a}]", "c.yaml")


def test_apply_is_idempotent_and_versions_wording(cx: Candor) -> None:
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        first = apply_config(conn, parse_config(GOOD, "c.yaml"), actor="t", at=now)
        again = apply_config(conn, parse_config(GOOD, "c.yaml"), actor="t", at=now)
    assert first.count("created") == 4
    assert again.count("created") == 0 and again.count("updated") == 0
    changed = GOOD.replace('"Send me news"', '"Send me news and offers"').replace(
        "double_opt_in: [email]", "double_opt_in: [email], reconsent: true"
    )
    with cx.engine.begin() as conn:
        apply_config(conn, parse_config(changed, "c.yaml"), actor="t", at=now)
        row = conn.execute(select(purposes).where(purposes.c.id == "news")).mappings().one()
        wordings = conn.execute(
            select(purpose_versions.c.wording).order_by(purpose_versions.c.version)
        ).scalars()
        assert list(wordings) == ["Send me news", "Send me news and offers"]
    assert row["current_version"] == 2 and row["reconsent_floor"] == 2


def test_a_bad_file_applies_nothing(cx: Candor) -> None:
    with pytest.raises(ConfigError):
        parse_config(GOOD + "\nextra_section: 1\n", "c.yaml")
    with cx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attributes)).scalar() == 0


def test_sending_rules_are_validated() -> None:
    bad = (
        GOOD
        + "sending: {caps: {email: {per_day: 0}}, quiet_hours: {start: '25:00', end: '08:00'}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, "c.yaml")
    text = str(caught.value)
    assert "sending.caps.email.per_day" in text and "sending.quiet_hours.start" in text
    ok = (
        GOOD
        + "sending: {caps: {email: {per_week: 3}}, quiet_hours: {start: '21:00', end: '08:00'}}\n"
    )
    assert parse_config(ok, "c.yaml").sending is not None
