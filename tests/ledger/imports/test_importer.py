"""CSV intake: set-based, idempotent on external_id, rejected rows reported with line and field."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from candor.core.context import Candor
from candor.ledger.chain import verify_ledger
from candor.ledger.imports.importer import import_csv
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.twin import count_by_reason, decisions
from candor.store.tables import addresses, consent_events, contacts

HEADER = (
    "external_id,first_name,last_name,email,phone,country,birth_year,"
    "consent:newsletter:email,consent:events,consent_ip,consent_confirmed_at\n"
)
CSV = (
    HEADER
    + """a1,Ann,Alder,ann@example.org,+4917111111111,DE,1980,granted,granted,192.0.2.1,\
2026-01-02T10:00:00+00:00
a2,Bob,Birch,bob@example.org,,AT,1975,granted,,192.0.2.2,
a3,Cid,Cedar,not-an-email,,DE,1990,,,,
a4,Dee,Dogwood,dee@example.org,,DE,nineteen,,,,
a5,Eve,Elm,ann@example.org,,DE,1985,,,,
a6,Fay,Fir,fay@example.org,,FR,1999,refused,withdrawn,,
"""
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(text)
    return path


def test_import_reports_rejects_and_imports_the_rest(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    report = import_csv(
        cx.engine, cx.vault, write(tmp_path, CSV), actor="t", at=cx.clock.now(), batch_size=2
    )
    assert report.imported == 3
    assert [(r.line, r.field) for r in report.rejections] == [
        (4, "email"),
        (5, "birth_year"),
        (6, "email"),
    ]
    with cx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(addresses)).scalar() == 4
        # a1: pending + confirmed (DOI evidenced) + events; a2: pending; a6: refused + withdrawn
        assert conn.execute(select(func.count()).select_from(consent_events)).scalar() == 6
        assert list(verify_ledger(conn)) == []
        counts = count_by_reason(
            conn,
            decisions(
                purpose_facts(conn, "newsletter"),
                "email",
                theme_ref(conn, "weekly"),
                cx.clock.now(),
                dialect=conn.dialect.name,
            ),
        )
    assert counts == {"allowed": 1, "doi_pending": 1, "refused": 1}


def test_reimport_is_idempotent(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    path = write(tmp_path, CSV)
    import_csv(cx.engine, cx.vault, path, actor="t", at=cx.clock.now())
    again = import_csv(cx.engine, cx.vault, path, actor="t", at=cx.clock.now())
    assert again.imported == 0 and again.existing == 3
    with cx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 3


def test_undeclared_column_refuses_the_file(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    path = write(tmp_path, "external_id,email,shoe_size\nz1,z@example.org,44\n")
    try:
        import_csv(cx.engine, cx.vault, path, actor="t", at=cx.clock.now())
    except Exception as exc:
        assert "shoe_size" in str(exc) and "declared attribute" in str(exc)
    else:
        raise AssertionError("an undeclared column must be refused")
    with cx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 0
