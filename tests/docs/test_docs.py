"""The user documentation agrees with the product: the example configuration is shown as it
is, every configuration key is described, and the README's links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from candor.channels.keywords import LanguageKeywords
from candor.channels.settings import ChannelSettings
from candor.ledger.config import ConfigFile
from candor.ledger.connector_settings import HttpSource, SqlSource, SyncSettings, WebhookConnector

ROOT = Path(__file__).resolve().parents[2]
# Written beside this work by others; the README links them already.
ELSEWHERE = {
    "docs/security.md",
    "docs/studio.md",
    "docs/team.md",
    "docs/always-on.md",
    "docs/channels.md",
}


def keys(model: type[BaseModel]) -> set[str]:
    """Every key name a model (and the models inside it) takes."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        out.add(info.alias or name)
        for inner in _models(info.annotation):
            out |= keys(inner)
    return out


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def test_configuration_shows_the_example_file_exactly() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    example = (ROOT / "examples" / "candor.yaml").read_text()
    assert f"```yaml\n{example}```" in doc


def test_configuration_describes_every_key() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    models = [
        ConfigFile,
        ChannelSettings,
        LanguageKeywords,
        SyncSettings,
        WebhookConnector,
        SqlSource,
        HttpSource,
    ]
    wanted = set().union(*(keys(m) for m in models))
    missing = sorted(k for k in wanted if not re.search(rf"`[^`\n]*\b{k}\b[^`\n]*`", doc))
    assert missing == [], missing


def test_the_readme_is_for_users_and_its_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 350
    assert not re.search(r"\b[0-9a-f]{7,40}\b", readme), "no commit hashes"
    assert "before" not in readme.lower().split("## documentation")[0].replace(
        "a moment before", ""
    )
    for target in re.findall(r"\]\(((?:docs|examples)/[^)#]+|CONTRIBUTING\.md)\)", readme):
        assert (ROOT / target).exists() or target in ELSEWHERE, target
