"""The service messages rights operations owe the person, queued into the outbox.

A DSR verification link, the notice of an extended deadline (with its reason), the notice that
a restriction was lifted, the delivery of a data copy and a double opt-in confirmation. Each
goes out under a service purpose of the registry (no advertising: blocks do not stop it, but
erasure, restriction and an unusable address do), through the gate, with a built-in template
in the person's language (English or German) stored on first use unless one already exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from candor.channels.recheck import gate_facts
from candor.channels.template_store import compile_parts
from candor.core.errors import InvalidInput
from candor.ledger import audit
from candor.ledger.consents import RecordedConsent
from candor.ledger.registry import purpose_facts
from candor.policy.decide import Decision
from candor.policy.load import decide_for
from candor.rights.notices import service_purpose
from candor.store.engine import is_sqlite
from candor.store.journey_tables import outbox, templates
from candor.store.tables import addresses, contacts

LANGUAGES = ("en", "de")
# Signed with the controller's name (`controller.name` in candor.yaml, given to every
# message by channels.compose), never the product's.
_SIGN = {
    "en": "{% if controller %}Your privacy team at {{ controller }}"
    "{% else %}Your privacy team{% endif %}",
    "de": "{% if controller %}Ihr Datenschutzteam von {{ controller }}"
    "{% else %}Ihr Datenschutzteam{% endif %}",
}


def _t(subject: str, text: str, sms: str, lang: str) -> dict[str, dict[str, str]]:
    return {
        "email": {"subject": subject, "text": f"{text}\n\n{_SIGN[lang]}\n"},
        "sms": {"text": sms},
    }


# Built-in templates: base id -> language -> channel parts (no tracking, no advertising).
BUILTIN: dict[str, dict[str, dict[str, dict[str, str]]]] = {
    "dsr-verify": {
        "en": _t(
            "Please confirm your request about your data",
            "We received a request about the data we hold on you. To protect you, we carry it "
            "out only after you confirm it was you:\n\n{{ verify_url }}\n\nIf you did not ask, "
            "ignore this message: nothing will happen.",
            "Confirm your data request: {{ verify_url }} (ignore this if it was not you)",
            "en",
        ),
        "de": _t(
            "Bitte bestätigen Sie Ihren Antrag zu Ihren Daten",
            "Wir haben einen Antrag zu Ihren bei uns gespeicherten Daten erhalten. Zu Ihrem "
            "Schutz bearbeiten wir ihn erst, wenn Sie bestätigen, dass er von Ihnen stammt:"
            "\n\n{{ verify_url }}\n\nWenn Sie nichts beantragt haben, ignorieren Sie diese "
            "Nachricht: es geschieht nichts.",
            "Bestätigen Sie Ihren Datenantrag: {{ verify_url }} (sonst bitte ignorieren)",
            "de",
        ),
    },
    "dsr-extended": {
        "en": _t(
            "We need more time for your request",
            "We need more time to answer your request no. {{ request_id }}. The new deadline "
            "is {{ due_date }}.\n\nThe reason: {{ reason }}",
            "Your data request {{ request_id }} needs more time (until {{ due_date }}): "
            "{{ reason }}",
            "en",
        ),
        "de": _t(
            "Wir benötigen mehr Zeit für Ihren Antrag",
            "Für die Beantwortung Ihres Antrags Nr. {{ request_id }} benötigen wir mehr Zeit. "
            "Die neue Frist endet am {{ due_date }}.\n\nDer Grund: {{ reason }}",
            "Ihr Datenantrag {{ request_id }} braucht mehr Zeit (bis {{ due_date }}): {{ reason }}",
            "de",
        ),
    },
    "restriction-lifted": {
        "en": _t(
            "The restriction of processing of your data is lifted",
            "The restriction of processing of your data ends now. From now on we process your "
            "data again as described in our privacy notice.",
            "The restriction of processing of your data is lifted as of now.",
            "en",
        ),
        "de": _t(
            "Die Einschränkung der Verarbeitung Ihrer Daten wird aufgehoben",
            "Die Einschränkung der Verarbeitung Ihrer Daten endet jetzt. Ab sofort verarbeiten "
            "wir Ihre Daten wieder wie in unserer Datenschutzerklärung beschrieben.",
            "Die Einschränkung der Verarbeitung Ihrer Daten ist ab jetzt aufgehoben.",
            "de",
        ),
    },
    "data-copy": {
        "en": _t(
            "Your copy of your data is ready",
            "The copy of the data we hold on you is ready. Download it here (the link works "
            "for 14 days and only for you):\n\n{{ download_url }}",
            "Your data copy is ready (link valid 14 days): {{ download_url }}",
            "en",
        ),
        "de": _t(
            "Ihre Kopie Ihrer Daten liegt bereit",
            "Die Kopie der Daten, die wir über Sie gespeichert haben, liegt bereit. Laden Sie "
            "sie hier herunter (der Link gilt 14 Tage und nur für Sie):"
            "\n\n{{ download_url }}",
            "Ihre Datenkopie liegt bereit (Link 14 Tage gültig): {{ download_url }}",
            "de",
        ),
    },
    "doi-confirm": {
        "en": _t(
            "Please confirm your permission",
            "Please confirm that you want to receive these messages:\n\n{{ confirm_url }}\n\n"
            "If you did not ask for them, ignore this message.",
            "Confirm your permission: {{ confirm_url }}",
            "en",
        ),
        "de": _t(
            "Bitte bestätigen Sie Ihre Einwilligung",
            "Bitte bestätigen Sie, dass Sie diese Nachrichten erhalten möchten:\n\n"
            "{{ confirm_url }}\n\nWenn Sie das nicht wollten, ignorieren Sie diese Nachricht.",
            "Bestätigen Sie Ihre Einwilligung: {{ confirm_url }}",
            "de",
        ),
    },
}


def _upsert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT that knows ON CONFLICT."""
    return (sqlite_insert if is_sqlite(conn.engine) else pg_insert)(table)


def require_service_purpose(conn: Connection) -> str:
    """The service purpose rights messages go out under, or InvalidInput naming `purposes`."""
    found = service_purpose(conn)  # the same choice record_notice makes
    if found is None:
        raise InvalidInput(
            "purposes",
            "no purpose of kind service is declared; rights messages (verification links, "
            "notices, data copies) need one, e.g. {id: service, kind: service, legal_basis: "
            "legal_obligation}",
        )
    return found


def language_of(value: str | None) -> str:
    """The message language for a contact's language: German or English."""
    base = (value or "").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def builtin_id(base: str, language: str) -> str:
    """`data-copy` for English, `data-copy-de` for German."""
    return base if language == "en" else f"{base}-{language}"


def is_builtin(template_id: str) -> bool:
    return template_id in BUILTIN


def ensure_template(conn: Connection, base: str, language: str, at: datetime) -> str:
    """Store the built-in template for the language unless that id exists; returns its id."""
    template_id = builtin_id(base, language)
    parts = BUILTIN[base][language]
    compile_parts(template_id, parts)  # the built-ins obey the same checks as `template put`
    insert = _upsert(conn, templates)
    done = conn.execute(
        insert.values(id=template_id, parts=parts, updated_at=at)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(templates.c.id)
    ).first()
    if done is not None:
        audit.record(
            conn,
            actor="system",
            action="template.put",
            object_type="template",
            object_id=template_id,
            at=at,
            channels=sorted(parts),
            created=True,
            builtin=True,
        )
    return template_id


def _reach(conn: Connection, contact_id: int, channel: str | None) -> tuple[str, int] | None:
    """The address a message goes to: the first deliverable on `channel`, else e-mail first."""
    a = addresses
    order = case((a.c.channel == (channel or "email"), 0), (a.c.channel == "email", 1), else_=2)
    row = conn.execute(
        select(a.c.channel, a.c.id)
        .where(a.c.contact_id == contact_id, a.c.deliverable.is_(True))
        .order_by(order, a.c.id)
        .limit(1)
    ).first()
    return (row.channel, row.id) if row is not None else None


def queue_message(
    conn: Connection,
    contact_id: int,
    base: str,
    context: dict[str, Any],
    *,
    key: str,
    at: datetime,
    channel: str | None = None,
    kind: str = "service",
    purpose_id: str | None = None,
    template: str | None = None,
    address: tuple[str, int] | None = None,
) -> int | None:
    """Gate and queue one built-in message; the outbox id, or None (no usable address, denied).

    `template` names a stored template to use instead of the built-in `base`; `address`
    (channel, address id) one of the contact's addresses to send to instead of the first.
    """
    language = conn.execute(select(contacts.c.language).where(contacts.c.id == contact_id)).scalar()
    reach = address or _reach(conn, contact_id, channel)
    if reach is None:
        return None
    channel, address_id = reach
    purpose = purpose_id or require_service_purpose(conn)
    facts = gate_facts(purpose_facts(conn, purpose), kind)
    decision = decide_for(conn, contact_id, facts, channel, address_id, None, at)
    if not decision.allowed:
        return None
    template_id = template or ensure_template(conn, base, language_of(language), at)
    insert = _upsert(conn, outbox)
    row = message_row(
        key, contact_id, (channel, address_id), template_id, purpose, kind, context, decision, at
    )
    queued = conn.execute(
        insert.values(row)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox.c.id)
    ).scalar()
    if queued is None:  # queued before (the same key): nothing new
        return None
    audit.record(
        conn,
        actor="system",
        action="message.queue",
        object_type="outbox",
        object_id=queued,
        at=at,
        contact=contact_id,
        template=template_id,
        kind=kind,
    )
    return int(queued)


def message_row(
    key: str,
    contact_id: int,
    address: tuple[str, int | None],
    template_id: str,
    purpose_id: str,
    kind: str,
    context: dict[str, Any],
    decision: Decision,
    at: datetime,
) -> dict[str, Any]:
    """An outbox row of a message outside any journey, with the gate's decision."""
    return {
        "idempotency_key": key,
        "journey_id": None,
        "step_id": None,
        "contact_id": contact_id,
        "channel": address[0],
        "address_id": address[1],
        "template_id": template_id,
        "purpose_id": purpose_id,
        "theme": None,
        "kind": kind,
        "context": context,
        "decision_reason": decision.reason,
        "decision_basis": decision.basis,
        "decision_event_id": decision.event_id,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def queue_verification(
    conn: Connection, request_id: int, contact_id: int, token: str, channel: str, *, at: datetime
) -> int | None:
    """The DSR verification link, to the known address the person identified with."""
    return queue_message(
        conn,
        contact_id,
        "dsr-verify",
        {"verify_token": token, "request_id": request_id},
        key=f"dsr-verify:{request_id}",
        at=at,
        channel=channel,
    )


def queue_extension_notice(
    conn: Connection,
    request_id: int,
    contact_id: int,
    reason: str,
    due_at: datetime,
    months: int,
    *,
    at: datetime,
) -> int | None:
    """The notice that a DSR's deadline was extended, with the recorded reason (Art. 12(3))."""
    context = {"request_id": request_id, "reason": reason, "due_date": due_at.date().isoformat()}
    return queue_message(
        conn, contact_id, "dsr-extended", context, key=f"dsr-extended:{request_id}:{months}", at=at
    )


def queue_restriction_lifted(conn: Connection, contact_id: int, *, at: datetime) -> int | None:
    """The notice that the restriction of processing is lifted (Art. 18(3))."""
    key = f"restriction-lifted:{contact_id}:{int(at.timestamp())}"
    return queue_message(conn, contact_id, "restriction-lifted", {}, key=key, at=at)


def queue_doi_confirmation(
    conn: Connection,
    contact_id: int,
    recorded: RecordedConsent,
    channel: str | None,
    *,
    at: datetime,
) -> int | None:
    """The double opt-in confirmation for a pending grant (no advertising in it)."""
    if not recorded.confirmation_token:
        return None
    event = recorded.event
    if channel is None:
        doi = purpose_facts(conn, event["purpose_id"]).double_opt_in
        channel = doi[0] if doi else "email"
    return queue_message(
        conn,
        contact_id,
        "doi-confirm",
        {"doi_token": recorded.confirmation_token},
        key=f"doi:{event['id']}",
        at=at,
        channel=channel,
        kind="confirmation",
        purpose_id=event["purpose_id"],
    )
