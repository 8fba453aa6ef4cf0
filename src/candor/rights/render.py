"""The access copy as a readable HTML page in the person's language (English, German)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

LANGUAGES = ("en", "de")

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Your data: copy under Art. 15 GDPR",
        "intro": "This is everything we hold about you, and how we use it.",
        "generated": "Generated",
        "identity": "Identity",
        "first_name": "First name",
        "last_name": "Last name",
        "external_id": "Customer number",
        "language": "Language",
        "source": "Source",
        "created": "Created",
        "restricted": "Processing restricted",
        "objected": "Objection to marketing",
        "addresses": "Addresses",
        "channel": "Channel",
        "value": "Value",
        "deliverable": "Deliverable",
        "attributes": "Profile",
        "name": "Name",
        "category": "Category",
        "consents": "Consent history",
        "when": "When",
        "purpose": "Purpose",
        "status": "Status",
        "scope": "Channel / theme",
        "evidence": "Evidence",
        "blocks": "Advertising blocks",
        "kind": "Kind",
        "reason": "Reason",
        "lifted": "Lifted",
        "communications": "Messages",
        "direction": "Direction",
        "decision": "Decision record",
        "journeys": "Journeys",
        "journey": "Journey",
        "step": "Step",
        "decisions": "Automated decisions",
        "outcome": "Outcome",
        "explanation": "Explanation",
        "rectifications": "Corrections",
        "field": "Field",
        "old": "Old value",
        "new": "New value",
        "records": "Business records",
        "data": "Data",
        "requests": "Your requests",
        "due": "Due",
        "information": "How we process your data",
        "purposes": "Purposes and legal bases",
        "basis": "Legal basis",
        "wording": "Wording you agreed to",
        "recipients": "Recipients",
        "retention": "Retention periods",
        "sources": "Source of the data",
        "logic": "Automated decisions",
        "logic_text": "We use transparent scoring models (weighted profile fields against a "
        "threshold) only under a profiling purpose you agreed to. You may contest any decision "
        "and obtain human review.",
        "rights": "Your rights",
        "complaint": "You may complain to a data protection supervisory authority",
        "yes": "yes",
        "no": "no",
        "any": "any",
        "none": "none",
        "outbound": "to you",
        "inbound": "from you",
        "bases": {
            "consent": "Consent (Art. 6(1)(a))",
            "contract": "Contract (Art. 6(1)(b))",
            "legal_obligation": "Legal obligation (Art. 6(1)(c))",
            "legitimate_interest": "Legitimate interest (Art. 6(1)(f))",
        },
        "right_names": {
            "access": "Access",
            "rectification": "Rectification",
            "erasure": "Erasure",
            "restriction": "Restriction of processing",
            "portability": "Data portability",
            "objection": "Objection",
            "automated_decisions": "Human review of automated decisions",
            "withdraw_consent": "Withdraw consent at any time",
        },
    },
    "de": {
        "title": "Ihre Daten: Auskunft nach Art. 15 DSGVO",
        "intro": "Dies sind alle Daten, die wir über Sie gespeichert haben, "
        "und wie wir sie verwenden.",
        "generated": "Erstellt",
        "identity": "Identität",
        "first_name": "Vorname",
        "last_name": "Nachname",
        "external_id": "Kundennummer",
        "language": "Sprache",
        "source": "Herkunft",
        "created": "Angelegt",
        "restricted": "Verarbeitung eingeschränkt",
        "objected": "Widerspruch gegen Werbung",
        "addresses": "Adressen",
        "channel": "Kanal",
        "value": "Wert",
        "deliverable": "Zustellbar",
        "attributes": "Profil",
        "name": "Name",
        "category": "Kategorie",
        "consents": "Einwilligungsverlauf",
        "when": "Zeitpunkt",
        "purpose": "Zweck",
        "status": "Status",
        "scope": "Kanal / Thema",
        "evidence": "Nachweis",
        "blocks": "Werbesperren",
        "kind": "Art",
        "reason": "Grund",
        "lifted": "Aufgehoben",
        "communications": "Nachrichten",
        "direction": "Richtung",
        "decision": "Entscheidungsprotokoll",
        "journeys": "Journeys",
        "journey": "Journey",
        "step": "Schritt",
        "decisions": "Automatisierte Entscheidungen",
        "outcome": "Ergebnis",
        "explanation": "Begründung",
        "rectifications": "Berichtigungen",
        "field": "Feld",
        "old": "Alter Wert",
        "new": "Neuer Wert",
        "records": "Geschäftsunterlagen",
        "data": "Daten",
        "requests": "Ihre Anträge",
        "due": "Frist",
        "information": "Wie wir Ihre Daten verarbeiten",
        "purposes": "Zwecke und Rechtsgrundlagen",
        "basis": "Rechtsgrundlage",
        "wording": "Von Ihnen bestätigter Text",
        "recipients": "Empfänger",
        "retention": "Speicherdauer",
        "sources": "Herkunft der Daten",
        "logic": "Automatisierte Entscheidungen",
        "logic_text": "Wir verwenden nachvollziehbare Bewertungsmodelle (gewichtete "
        "Profilfelder gegen einen Schwellenwert) nur für einen Profiling-Zweck, in den Sie "
        "eingewilligt haben. Sie können jede Entscheidung anfechten und eine Prüfung durch "
        "einen Menschen verlangen.",
        "rights": "Ihre Rechte",
        "complaint": "Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren",
        "yes": "ja",
        "no": "nein",
        "any": "alle",
        "none": "keine",
        "outbound": "an Sie",
        "inbound": "von Ihnen",
        "bases": {
            "consent": "Einwilligung (Art. 6 Abs. 1 lit. a)",
            "contract": "Vertrag (Art. 6 Abs. 1 lit. b)",
            "legal_obligation": "Rechtliche Verpflichtung (Art. 6 Abs. 1 lit. c)",
            "legitimate_interest": "Berechtigtes Interesse (Art. 6 Abs. 1 lit. f)",
        },
        "right_names": {
            "access": "Auskunft",
            "rectification": "Berichtigung",
            "erasure": "Löschung",
            "restriction": "Einschränkung der Verarbeitung",
            "portability": "Datenübertragbarkeit",
            "objection": "Widerspruch",
            "automated_decisions": "Überprüfung automatisierter Entscheidungen "
            "durch einen Menschen",
            "withdraw_consent": "Widerruf der Einwilligung jederzeit",
        },
    },
}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def pick_language(requested: str | None, contact_language: str | None) -> str:
    """`?lang=` if supported, else the contact's language, else English."""
    for candidate in (requested, contact_language):
        base = (candidate or "").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def render_copy(copy: dict[str, Any], lang: str | None = None) -> str:
    """The copy as an autoescaped HTML page."""
    language = pick_language(lang, copy.get("contact", {}).get("language"))
    return _env.get_template("access_copy.html").render(
        copy=copy, t=LABELS[language], lang=language
    )
