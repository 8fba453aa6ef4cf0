"""English and German page strings, chosen by ?lang=, a cookie, then Accept-Language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request

LANGUAGES: Final = ("en", "de")
LANG_COOKIE: Final = "candor_lang"

STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "lang_name": "English",
        "skip": "Skip to content",
        "switch": "Deutsch",
        "pref_title": "Your communication preferences",
        "pref_intro": (
            "Choose what we may send you and on which channel. Nothing is ticked unless you "
            "agreed. Untick a box to withdraw: it takes effect immediately."
        ),
        "wording": "What you agree to",
        "version": "version",
        "all_topics": "All topics",
        "group": "Group",
        "other_topics": "Other topics",
        "save": "Save my choices",
        "saved": "Your choices are saved.",
        "saved_none": "Nothing changed.",
        "doi_pending": "Waiting for your confirmation: we sent you a link.",
        "block_title": "Stop all advertising",
        "block_text": "One click and we send you no advertising at all, on any channel.",
        "block_button": "Stop all advertising",
        "blocked_now": "You receive no advertising: a complete advertising block is in place.",
        "unblock_button": "Allow advertising again (according to the boxes above)",
        "gpc_recorded": (
            "Your browser sends the Global Privacy Control signal. We recorded it as your "
            "objection to profiling and to sharing your data."
        ),
        "gpc_known": (
            "Your objection to profiling and sharing (Global Privacy Control) is on record."
        ),
        "rights_title": "Your rights",
        "rights_intro": (
            "Ask for a copy of your data, have it corrected or erased, or object to its use. "
            "We send a confirmation link to your own address before we act."
        ),
        "req_access": "Send me a copy of my data",
        "req_rectification": "Correct my data",
        "req_erasure": "Erase my data",
        "req_objection": "Object to the use of my data",
        "req_type": "What would you like us to do?",
        "req_details": "Details (optional, for example what should be corrected)",
        "req_email": "Your e-mail address",
        "req_send": "Send request",
        "req_sent": (
            "Thank you. If we hold data about this address, we have sent a confirmation link "
            "to it. Your request starts once you confirm."
        ),
        "req_title": "Ask about your data",
        "verify_title": "Confirm your request",
        "verify_text": "Please confirm that you made this request about your data.",
        "verify_button": "Yes, I made this request",
        "verified": "Thank you: your request is confirmed. We will answer by {due}.",
        "confirm_title": "Confirm your subscription",
        "confirm_text": "Please confirm that you want to receive what you signed up for.",
        "confirm_button": "Yes, confirm",
        "confirmed": "Thank you: your subscription is confirmed.",
        "used": "This link was already used.",
        "bad_link": "This link is not valid or has expired.",
        "bad_link_help": "Please use the most recent message we sent you.",
        "channel_email": "E-mail",
        "channel_sms": "SMS",
        "channel_whatsapp": "WhatsApp",
        "channel_post": "Post",
        "any_channel": "Any channel",
        "basis_li": "We may send this to customers; untick to object.",
        "privacy_note": "We use no trackers and no third-party content on these pages.",
        "error": "Something went wrong",
        "unsub_title": "Unsubscribe",
        "unsub_text": "Do you want to stop receiving these messages?",
        "unsub_button": "Unsubscribe",
        "unsub_done_title": "Unsubscribed",
        "unsub_done": "You are unsubscribed. You will not get these messages again.",
        "form_email": "Your e-mail address",
        "form_phone": "Your mobile number",
        "form_first_name": "First name",
        "form_last_name": "Last name",
        "form_optional": "optional",
        "form_yes": "Yes, I agree",
        "form_submit": "Sign up",
        "form_note": (
            "Nothing is ticked for you. We send a link to the address you give: nothing "
            "starts until you confirm it."
        ),
        "form_honeypot": "Leave this field empty",
        "form_problem": "Please check {field}",
        "form_thanks_title": "Almost done",
        "form_thanks": (
            "Thank you. Please check your inbox: we sent a link to confirm your sign-up. "
            "Nothing starts until you confirm."
        ),
        "form_unknown": "This form does not exist.",
        "form_too_big": "The form sent too much data.",
        "form_encoding": "The form must be sent form-encoded (a normal web form).",
        "consent": "your choices",
    },
    "de": {
        "lang_name": "Deutsch",
        "skip": "Zum Inhalt springen",
        "switch": "English",
        "pref_title": "Ihre Kommunikationseinstellungen",
        "pref_intro": (
            "Wählen Sie, was wir Ihnen über welchen Kanal senden dürfen. Angekreuzt ist nur, "
            "wozu Sie zugestimmt haben. Entfernen Sie ein Häkchen, um zu widerrufen: Das wirkt "
            "sofort."
        ),
        "wording": "Ihre Einwilligung",
        "version": "Version",
        "all_topics": "Alle Themen",
        "group": "Gruppe",
        "other_topics": "Weitere Themen",
        "save": "Auswahl speichern",
        "saved": "Ihre Auswahl ist gespeichert.",
        "saved_none": "Es hat sich nichts geändert.",
        "doi_pending": "Wartet auf Ihre Bestätigung: Wir haben Ihnen einen Link gesendet.",
        "block_title": "Keine Werbung mehr",
        "block_text": "Ein Klick, und wir senden Ihnen keinerlei Werbung mehr, auf keinem Kanal.",
        "block_button": "Keine Werbung mehr",
        "blocked_now": "Sie erhalten keine Werbung: Eine vollständige Werbesperre ist eingetragen.",
        "unblock_button": "Werbung wieder erlauben (gemäß den Häkchen oben)",
        "gpc_recorded": (
            "Ihr Browser sendet das Signal Global Privacy Control. Wir haben es als Ihren "
            "Widerspruch gegen Profilbildung und Weitergabe Ihrer Daten erfasst."
        ),
        "gpc_known": (
            "Ihr Widerspruch gegen Profilbildung und Weitergabe (Global Privacy Control) ist "
            "erfasst."
        ),
        "rights_title": "Ihre Rechte",
        "rights_intro": (
            "Fordern Sie eine Kopie Ihrer Daten an, lassen Sie sie berichtigen oder löschen, "
            "oder widersprechen Sie der Nutzung. Bevor wir handeln, senden wir einen "
            "Bestätigungslink an Ihre eigene Adresse."
        ),
        "req_access": "Kopie meiner Daten senden",
        "req_rectification": "Meine Daten berichtigen",
        "req_erasure": "Meine Daten löschen",
        "req_objection": "Der Nutzung meiner Daten widersprechen",
        "req_type": "Was sollen wir tun?",
        "req_details": "Einzelheiten (optional, zum Beispiel was berichtigt werden soll)",
        "req_email": "Ihre E-Mail-Adresse",
        "req_send": "Anfrage senden",
        "req_sent": (
            "Danke. Wenn wir Daten zu dieser Adresse haben, haben wir einen Bestätigungslink "
            "dorthin gesendet. Ihre Anfrage beginnt, sobald Sie bestätigen."
        ),
        "req_title": "Anfrage zu Ihren Daten",
        "verify_title": "Anfrage bestätigen",
        "verify_text": (
            "Bitte bestätigen Sie, dass Sie diese Anfrage zu Ihren Daten gestellt haben."
        ),
        "verify_button": "Ja, die Anfrage ist von mir",
        "verified": "Danke: Ihre Anfrage ist bestätigt. Wir antworten bis {due}.",
        "confirm_title": "Anmeldung bestätigen",
        "confirm_text": (
            "Bitte bestätigen Sie, dass Sie erhalten möchten, wofür Sie sich angemeldet haben."
        ),
        "confirm_button": "Ja, bestätigen",
        "confirmed": "Danke: Ihre Anmeldung ist bestätigt.",
        "used": "Dieser Link wurde bereits verwendet.",
        "bad_link": "Dieser Link ist ungültig oder abgelaufen.",
        "bad_link_help": "Bitte verwenden Sie die neueste Nachricht, die wir Ihnen gesendet haben.",
        "channel_email": "E-Mail",
        "channel_sms": "SMS",
        "channel_whatsapp": "WhatsApp",
        "channel_post": "Post",
        "any_channel": "Jeder Kanal",
        "basis_li": "Wir dürfen Kunden dies senden; Häkchen entfernen, um zu widersprechen.",
        "privacy_note": "Diese Seiten verwenden keine Tracker und keine Inhalte Dritter.",
        "error": "Etwas ist schiefgegangen",
        "unsub_title": "Abmelden",
        "unsub_text": "Möchten Sie diese Nachrichten nicht mehr erhalten?",
        "unsub_button": "Abmelden",
        "unsub_done_title": "Abgemeldet",
        "unsub_done": "Sie sind abgemeldet. Sie erhalten diese Nachrichten nicht mehr.",
        "form_email": "Ihre E-Mail-Adresse",
        "form_phone": "Ihre Mobilnummer",
        "form_first_name": "Vorname",
        "form_last_name": "Nachname",
        "form_optional": "freiwillig",
        "form_yes": "Ja, ich stimme zu",
        "form_submit": "Anmelden",
        "form_note": (
            "Nichts ist für Sie vorausgewählt. Wir senden einen Link an die angegebene "
            "Adresse: Erst wenn Sie bestätigen, beginnt etwas."
        ),
        "form_honeypot": "Dieses Feld bitte leer lassen",
        "form_problem": "Bitte prüfen Sie {field}",
        "form_thanks_title": "Fast geschafft",
        "form_thanks": (
            "Danke. Bitte sehen Sie in Ihr Postfach: Wir haben Ihnen einen Link zur "
            "Bestätigung Ihrer Anmeldung gesendet. Erst wenn Sie bestätigen, beginnt etwas."
        ),
        "form_unknown": "Dieses Formular gibt es nicht.",
        "form_too_big": "Das Formular hat zu viele Daten gesendet.",
        "form_encoding": "Das Formular muss als gewöhnliches Webformular gesendet werden.",
        "consent": "Ihre Auswahl",
    },
}


def choose_language(request: Request) -> str:
    """?lang= wins, then the cookie set by the switch, then Accept-Language, then English."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()[:2]))
    for _, lang in sorted(ranked, key=lambda item: -item[0]):
        if lang in LANGUAGES:
            return lang
    return "en"


def translator(lang: str) -> Callable[..., str]:
    """t(key, **values): the string in `lang`, falling back to English, then to the key."""
    table = STRINGS.get(lang, STRINGS["en"])

    def t(key: str, **values: object) -> str:
        text = table.get(key) or STRINGS["en"].get(key) or key
        return text.format(**values) if values else text

    return t
