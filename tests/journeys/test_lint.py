"""The privacy lint: errors that block a launch, warnings that advise."""

from __future__ import annotations

import yaml

from candor.journeys import check, has_errors, lint, load_journey

from . import fixture, load, make_registry


def found(name: str) -> set[tuple[str, str | None, str, str]]:
    return {(p.path, p.step, p.code, p.severity) for p in lint(load(name), make_registry())}


def test_good_journey_has_no_privacy_faults() -> None:
    problems = check(load("good.yaml"), make_registry())
    assert problems == []
    assert not has_errors(problems)


def test_lint_errors_are_all_reported() -> None:
    assert found("lint_errors.yaml") == {
        ("steps[0].theme", "confirm", "opt-in-theme", "error"),
        ("steps[1].template", "offer", "no-unsubscribe", "error"),
        ("steps[2].template", "sms", "no-unsubscribe", "error"),
        ("steps[2].template", "sms", "undeclared-field", "error"),
        ("steps[3].template", "mail", "undeclared-field", "error"),
        ("steps[4]", "rate", "score-without-profiling", "error"),
    }


def test_unsubscribe_is_checked_per_channel_and_inline_templates_are_analysed() -> None:
    problems = lint(load("lint_errors.yaml"), make_registry())
    unsub = {p.step: p.message for p in problems if p.code == "no-unsubscribe"}
    assert "mail" not in unsub  # promo carries the link on e-mail
    assert "STOP" in unsub["sms"]
    assert "'no_way_out'" in unsub["offer"]  # inline template without {{ unsubscribe_url }}


def test_service_purpose_may_not_send_themes() -> None:
    assert found("lint_service.yaml") == {("steps[1].theme", "upsell", "service-theme", "error")}


def test_warnings_for_never_asked_and_no_end_date() -> None:
    problems = lint(load("lint_warnings.yaml"), make_registry())
    assert {(p.path, p.step, p.code, p.severity) for p in problems} == {
        ("steps[2].theme", "news_mail", "not-asked", "warning"),
        ("steps[3].theme", "event_mail", "not-asked", "warning"),
        ("ends_at", None, "no-end-date", "warning"),
    }
    assert not has_errors(problems)


def test_asked_on_every_path_means_no_warning_and_soft_optin_needs_no_ask() -> None:
    data = yaml.safe_load(fixture("lint_warnings.yaml"))
    data["steps"][0]["default"] = "ask"  # every path now passes the consent step
    data["steps"][3]["theme"] = "shoes"  # covered by the newsletters group
    data["ends_at"] = "2027-01-01"
    asked = load_journey(yaml.safe_dump(data), "j.yaml")
    assert lint(asked, make_registry()) == []
    data = yaml.safe_load(fixture("lint_warnings.yaml"))
    data["purpose"] = "soft_optin"
    soft = load_journey(yaml.safe_dump(data), "j.yaml")
    assert {p.code for p in lint(soft, make_registry())} == {"no-end-date"}


def test_score_is_fine_under_a_profiling_purpose() -> None:
    data = yaml.safe_load(fixture("lint_errors.yaml"))
    data["purpose"] = "offers"
    defn = load_journey(yaml.safe_dump(data), "j.yaml")
    assert "score-without-profiling" not in {p.code for p in lint(defn, make_registry())}


def test_check_combines_validate_and_lint_without_duplicates() -> None:
    problems = check(load("lint_errors.yaml"), make_registry())
    keys = [(p.path, p.message) for p in problems]
    assert len(keys) == len(set(keys))
    assert sum(p.code == "undeclared-field" for p in problems) == 2
    assert has_errors(problems)
