"""An import over several processes: each takes its share; the result is one import's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from candor.cli import app as cli
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.chain import verify_ledger
from candor.ledger.imports.shares import import_csv_in_processes, share_of
from candor.store.engine import reading
from candor.store.tables import addresses, contacts

HEADER = "external_id,first_name,email,consent:newsletter:email\n"


def _people(tmp_path: Path) -> tuple[Path, tuple[int, int]]:
    """40 people, one bad address, and one address named by two people of different shares;
    returns the file and the two lines naming the shared address."""
    ids = [f"s{i}" for i in range(40)]
    first = next(i for i in ids if share_of(i, 2) == 0)
    second = next(i for i in ids if share_of(i, 2) == 1)
    lines = [HEADER]
    for i in ids:
        email = "shared@example.org" if i in (first, second) else f"{i}@example.org"
        if i == "s7":
            email = "not-an-address"
        lines.append(f"{i},P{i},{email},granted\n")
    path = tmp_path / "people.csv"
    path.write_text("".join(lines))
    return path, (ids.index(first) + 2, ids.index(second) + 2)


def _only_on_postgres(cx: Candor) -> None:
    if cx.engine.dialect.name != "postgresql":
        pytest.skip("several importers need PostgreSQL")


def test_two_importers_give_one_imports_result(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    _only_on_postgres(cx)
    path, shared = _people(tmp_path)
    report = import_csv_in_processes(
        cx, path, processes=2, actor="t", at=cx.clock.now(), batch_size=3
    )
    assert report.imported == 38 and report.rejected == 2 and report.existing == 0
    lines = [r.line for r in report.rejections]
    assert lines == sorted(lines) and lines.count(shared[0]) + lines.count(shared[1]) == 1
    assert {r.field for r in report.rejections} == {"email"}
    with reading(cx.engine) as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 38
        assert conn.execute(select(func.count()).select_from(addresses)).scalar_one() == 38
        assert list(verify_ledger(conn)) == []
    again = import_csv_in_processes(cx, path, processes=2, actor="t", at=cx.clock.now())
    assert again.imported == 0 and again.existing == 38


def test_sqlite_takes_one_importer(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    if cx.engine.dialect.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    path, _ = _people(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        import_csv_in_processes(cx, path, processes=2, actor="t", at=cx.clock.now())
    assert refused.value.field == "processes"


def test_the_cli_imports_with_processes(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    _only_on_postgres(cx)
    path, _ = _people(tmp_path)
    base = ["--database", cx.url, "--keystore", str(cx.vault.keystore.url)]
    result = CliRunner().invoke(cli, [*base, "contacts", "import", str(path), "--processes", "2"])
    assert result.exit_code == 0, result.output
    assert "imported 38" in result.output and "rejected 2" in result.output
    assert (tmp_path / "people.rejected.csv").read_text().count("email") == 2
