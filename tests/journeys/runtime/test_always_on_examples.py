"""The always-on example files load, validate and lint clean against examples/candor.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from candor.core.context import Candor
from candor.journeys import has_errors, load_journey
from candor.journeys.lint import check
from candor.journeys.runtime import DbRegistry
from candor.ledger.config import apply_config, load_config_file
from candor.store.engine import reading

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.mark.parametrize(
    "name", ["welcome-signup.yaml", "repermission.yaml", "birthday.yaml", "reconsent.yaml"]
)
def test_the_example_is_sound(cx: Candor, name: str) -> None:
    with cx.engine.begin() as conn:
        config = load_config_file(EXAMPLES / "candor.yaml")
        apply_config(conn, config, actor="test", at=cx.clock.now())
    defn = load_journey((EXAMPLES / "journeys" / name).read_text(), name)
    with reading(cx.engine) as conn:
        problems = check(defn, DbRegistry(conn))
    assert not has_errors(problems), problems
    assert [p.code for p in problems if p.severity == "warning"] == []


def test_the_documentation_quotes_the_example_files_exactly() -> None:
    doc = (EXAMPLES.parent / "docs" / "always-on.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    config = (EXAMPLES / "candor.yaml").read_text()
    assert blocks[0] in config and config.endswith(blocks[0])
    for name, block in zip(
        ("welcome-signup.yaml", "repermission.yaml", "birthday.yaml"), blocks[1:4], strict=True
    ):
        assert block == (EXAMPLES / "journeys" / name).read_text()
