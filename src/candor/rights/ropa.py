"""The record of processing activities (Art. 30), generated from what Candor declares.

One activity per purpose: its legal basis, the data categories it reads (identity and
contact data, plus the categories of the fields its journeys declare), its journeys, the
recipients (connectors) and the retention rules; then the measures that protect the data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from candor.ledger.registry import setting
from candor.rights.information import recipients
from candor.store.journey_tables import journeys
from candor.store.tables import attributes, purposes, retention_rules

MEASURES = (
    "Identifying data encrypted per contact (AES-GCM) with keys in a separate key store",
    "Crypto-shredding on erasure: the contact key is destroyed, so backups become unreadable",
    "Look-ups by keyed hash (blind index); marketers never see identifying data",
    "Consent ledger as a per-contact hash chain (tamper evidence)",
    "Every change recorded in an audit trail without personal data",
    "Role-based API keys (admin, dpo, marketer, auditor), stored only as hashes",
    "One decision function gates every contact; default deny",
)


def build_ropa(conn: Connection, at: datetime) -> dict[str, Any]:
    """The record as JSON-ready data."""
    fields: dict[str, str] = {
        r.name: r.category for r in conn.execute(select(attributes.c.name, attributes.c.category))
    }
    rules = [
        {"category": r["category"], "period": r["period"], "from": r["from_"], "basis": r["basis"]}
        for r in conn.execute(
            select(retention_rules).order_by(retention_rules.c.category)
        ).mappings()
    ]
    journey_rows = conn.execute(select(journeys).order_by(journeys.c.id)).mappings().all()
    receivers = recipients(conn)
    activities = []
    for p in conn.execute(select(purposes).order_by(purposes.c.id)).mappings():
        own = [j for j in journey_rows if j["purpose_id"] == p["id"]]
        categories = {"identity", "contact_data", "consent"}
        for j in own:
            declared = (
                (j["definition"] or {}).get("fields", [])
                if isinstance(j["definition"], dict)
                else []
            )
            categories |= {fields[f] for f in declared if f in fields}
        if "profiling" in (p["dpv"] or "").lower():
            categories |= set(fields.values())
        activities.append(
            {
                "purpose": p["id"],
                "name": p["name"],
                "kind": p["kind"],
                "legal_basis": p["legal_basis"],
                "dpv": p["dpv"],
                "version": p["current_version"],
                "data_subjects": ["customers", "prospects"],
                "data_categories": sorted(categories),
                "journeys": [
                    {"id": j["id"], "name": j["name"], "state": j["state"], "version": j["version"]}
                    for j in own
                ],
                "recipients": receivers,
                "retention": [r for r in rules if r["category"] in categories]
                or "until consent is withdrawn or erasure",
            }
        )
    by_category: dict[str, list[str]] = {}
    for name, category in sorted(fields.items()):
        by_category.setdefault(category, []).append(name)
    return {
        "generated_at": at.isoformat(),
        "controller": setting(conn, "controller"),
        "activities": activities,
        "data_categories": [
            {"category": k, "attributes": v} for k, v in sorted(by_category.items())
        ],
        "recipients": receivers,
        "retention_rules": rules,
        "measures": list(MEASURES),
    }


def controller_lines(controller: dict[str, Any]) -> list[str]:
    """The controller as readable lines: name and jurisdiction, contact, privacy policy."""
    name = controller.get("name") or "-"
    where = controller.get("jurisdiction")
    lines = [f"Controller: {name}" + (f" ({where})" if where else "")]
    if controller.get("contact"):
        lines.append(f"Contact: {controller['contact']}")
    if controller.get("policy_url"):
        lines.append(f"Privacy policy: {controller['policy_url']}")
    return [line + "  " for line in lines[:-1]] + lines[-1:]  # Markdown line breaks


def ropa_markdown(record: dict[str, Any]) -> str:
    """The record as Markdown for humans (and auditors)."""
    lines = [
        "# Record of processing activities (Art. 30 GDPR)",
        "",
        f"Generated {record['generated_at']}.",
        "",
    ]
    if record["controller"]:
        lines += [*controller_lines(record["controller"]), ""]
    for a in record["activities"]:
        lines += [
            f"## {a['name']} (`{a['purpose']}`, v{a['version']})",
            "",
            f"- Kind: {a['kind']}",
            f"- Legal basis: {a['legal_basis']}",
            f"- DPV: {a['dpv'] or '-'}",
            f"- Data subjects: {', '.join(a['data_subjects'])}",
            f"- Data categories: {', '.join(a['data_categories'])}",
            f"- Journeys: {', '.join(j['id'] for j in a['journeys']) or 'none'}",
            f"- Recipients: {', '.join(r['name'] for r in a['recipients']) or 'none'}",
        ]
        retention = a["retention"]
        if isinstance(retention, list):
            lines += [
                f"- Retention: {r['category']} {r['period']} from {r['from']} ({r['basis']})"
                for r in retention
            ]
        else:
            lines.append(f"- Retention: {retention}")
        lines.append("")
    lines += ["## Data categories", ""]
    lines += [f"- {c['category']}: {', '.join(c['attributes'])}" for c in record["data_categories"]]
    lines += ["", "## Retention rules", ""]
    lines += [
        f"- {r['category']}: {r['period']} from {r['from']}; {r['basis']}"
        for r in record["retention_rules"]
    ]
    lines += ["", "## Technical and organisational measures (Art. 32)", ""]
    lines += [f"- {m}" for m in record["measures"]]
    return "\n".join(lines) + "\n"
