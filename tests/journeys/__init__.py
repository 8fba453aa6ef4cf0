"""Shared helpers of the journey tests: a reference registry and fixture loading."""

from __future__ import annotations

from pathlib import Path

from candor.journeys import JourneyDefinition, PurposeInfo, StaticRegistry, load_journey

FIXTURES = Path(__file__).parent / "fixtures"


def make_registry() -> StaticRegistry:
    """The registry every fixture is written against."""
    return StaticRegistry(
        attributes={
            "country": "text",
            "customer_value": "number",
            "first_name": "text",
            "interest": "text",
            "birthday": "date",
        },
        themes={"news": "newsletters", "shoes": "newsletters", "events": None},
        theme_groups={"newsletters"},
        purposes={
            "newsletter": PurposeInfo("marketing", "dpv:DirectMarketing"),
            "soft_optin": PurposeInfo("marketing", "dpv:DirectMarketing", "legitimate_interest"),
            "notice": PurposeInfo("service", "dpv:ServiceProvision", "legal_obligation"),
            "offers": PurposeInfo("marketing", "dpv:PersonalisedAdvertising dpv:Profiling"),
            "engagement": PurposeInfo("analytics", "dpv:ServiceOptimisation"),
        },
        templates={
            "ask_newsletter": {"email"},
            "reminder_sms": {"sms"},
            "doi": {"email"},
            "promo": {"email", "sms"},
            "notice_mail": {"email"},
        },
        fields_of={"ask_newsletter": {"first_name"}, "promo": {"birthday"}},
        unsubscribe={"reminder_sms": True, "promo": {"email"}},
    )


def fixture(name: str) -> str:
    """The text of a fixture file."""
    return (FIXTURES / name).read_text()


def load(name: str) -> JourneyDefinition:
    """A fixture loaded as a journey definition."""
    return load_journey(fixture(name), name)
