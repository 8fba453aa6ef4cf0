"""The Art. 15(1)-(2) information that goes with the access copy: purposes, recipients, rights."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from candor.ledger.registry import setting
from candor.store.tables import attributes, purpose_versions, purposes, retention_rules

RIGHTS = (
    ("access", "Art. 15 GDPR"),
    ("rectification", "Art. 16 GDPR"),
    ("erasure", "Art. 17 GDPR"),
    ("restriction", "Art. 18 GDPR"),
    ("portability", "Art. 20 GDPR"),
    ("objection", "Art. 21 GDPR"),
    ("automated_decisions", "Art. 22 GDPR"),
    ("withdraw_consent", "Art. 7(3) GDPR"),
)
LOGIC = (
    "Linear scoring models: weighted features over declared profile fields compared with a "
    "threshold; used only under a profiling purpose you agreed to. Each decision lists its "
    "factors; you may contest it and obtain human review."
)


def information(conn: Connection, source: str, consents: list[dict[str, Any]]) -> dict[str, Any]:
    """The Art. 15(1)-(2) information that goes with the data itself."""
    agreed: dict[str, set[int]] = {}
    seen = {(e["purpose"], e["purpose_version"], e["source"]) for e in consents}  # one pass
    for purpose, version, _ in seen:
        agreed.setdefault(purpose, set()).add(version)
    wordings = {(v.purpose_id, v.version): v for v in conn.execute(select(purpose_versions))}
    purpose_list = []
    for p in conn.execute(select(purposes).order_by(purposes.c.id)).mappings():
        versions = [
            wordings[(p["id"], n)]
            for n in sorted(agreed.get(p["id"], ()))
            if (p["id"], n) in wordings
        ]
        purpose_list.append(
            {
                "id": p["id"],
                "name": p["name"],
                "kind": p["kind"],
                "legal_basis": p["legal_basis"],
                "dpv": p["dpv"],
                "current_version": p["current_version"],
                "agreed_versions": [
                    {"version": v.version, "name": v.name, "wording": v.wording} for v in versions
                ],
            }
        )
    categories: dict[str, list[str]] = {}
    for a in conn.execute(
        select(attributes.c.name, attributes.c.category).order_by(attributes.c.name)
    ):
        categories.setdefault(a.category, []).append(a.name)
    rights_setting = setting(conn, "rights", {}) or {}
    return {
        "controller": setting(conn, "controller"),
        "purposes": purpose_list,
        "categories": [{"category": k, "attributes": v} for k, v in sorted(categories.items())],
        "recipients": recipients(conn),
        "retention": [
            {
                "category": r["category"],
                "period": r["period"],
                "from": r["from_"],
                "basis": r["basis"],
            }
            for r in conn.execute(
                select(retention_rules).order_by(retention_rules.c.category)
            ).mappings()
        ],
        "sources": {"contact": source, "consents": sorted({kind for *_, kind in seen})},
        "automated_decision_logic": LOGIC,
        "rights": [{"right": name, "article": article} for name, article in RIGHTS],
        "complaint": {
            "article": "Art. 77 GDPR",
            "authority": rights_setting.get("supervisory_authority")
            if isinstance(rights_setting, dict)
            else None,
        },
    }


def recipients(conn: Connection) -> list[dict[str, Any]]:
    """Connectors from settings: the systems copies of the data go to (Art. 15(1)(c))."""
    connectors = setting(conn, "connectors", []) or []
    out = []
    for item in connectors if isinstance(connectors, list) else []:
        if isinstance(item, dict):
            out.append(
                {
                    "id": str(item.get("id", "")),
                    "name": str(item.get("name", item.get("id", ""))),
                    "kind": str(item.get("kind", item.get("type", ""))),
                    "country": item.get("country"),
                }
            )
    return out
