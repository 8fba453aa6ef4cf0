"""Consent receipts in the Kantara / ISO/IEC 27560 shape, for any event of the ledger.

The receipt names the person only by their pseudonymous contact id; the exact wording of the
purpose version they were shown, the event's time, source and status, and the hash that ties
the event into the tamper-evident chain make it verifiable against the ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from candor.core.errors import NotFound
from candor.ledger.registry import setting
from candor.store.tables import consent_events, contacts, purpose_versions, purposes

RECEIPT_VERSION = "KI-CR-v1.1.0"


def consent_receipt(conn: Connection, event_id: int) -> dict[str, Any]:
    """The receipt of one consent event (404 when the event or its contact is gone)."""
    row = (
        conn.execute(
            select(
                consent_events,
                purposes.c.name,
                purposes.c.dpv,
                purposes.c.legal_basis,
                purposes.c.kind,
                purpose_versions.c.wording,
            )
            .join(purposes, purposes.c.id == consent_events.c.purpose_id)
            .join(
                purpose_versions,
                (purpose_versions.c.purpose_id == consent_events.c.purpose_id)
                & (purpose_versions.c.version == consent_events.c.purpose_version),
            )
            .join(contacts, contacts.c.id == consent_events.c.contact_id)
            .where(consent_events.c.id == event_id, contacts.c.erased_at.is_(None))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("consent event", event_id)
    controller = setting(conn, "controller") or {}
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": controller.get("jurisdiction", "EU"),
        "consentTimestamp": int(row["occurred_at"].timestamp()),
        "collectionMethod": row["source"],
        "consentReceiptID": f"candor:{row['id']}:{row['hash'][:16]}",
        "publicKey": None,
        "language": "en",
        "piiPrincipalId": f"contact:{row['contact_id']}",
        "piiControllers": [{"piiController": controller.get("name", "")}] if controller else [],
        "policyUrl": controller.get("policy_url", ""),
        "services": [
            {
                "service": row["purpose_id"],
                "purposes": [
                    {
                        "purpose": row["name"],
                        "purposeCategory": [row["dpv"]] if row["dpv"] else [],
                        "consentType": "EXPLICIT" if row["legal_basis"] == "consent" else "IMPLIED",
                        "piiCategory": [],
                        "primaryPurpose": True,
                        "termination": "withdrawal at any time",
                        "thirdPartyDisclosure": False,
                        "wording": row["wording"],
                        "purposeVersion": row["purpose_version"],
                        "status": row["status"],
                        "scope": {
                            "theme": row["theme"],
                            "channel": row["channel"],
                            "address_id": row["address_id"],
                        },
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "ledger": {"event": row["id"], "hash": row["hash"], "prev_hash": row["prev_hash"]},
    }
