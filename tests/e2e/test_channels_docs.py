"""docs/channels.md shows the example files as they are, and the examples are valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from candor.channels.settings import parse_settings
from candor.core.context import Candor
from tests.e2e.test_rights_journey_e2e import invoke

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "channels.md").read_text()
EXAMPLES = {
    "candor.yaml": (ROOT / "examples" / "candor.yaml").read_text(),
    "spring-events.yaml": (ROOT / "examples" / "journeys" / "spring-events.yaml").read_text(),
}


def test_every_yaml_block_of_the_doc_is_in_an_example_file_verbatim() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    assert len(blocks) == 5
    for block in blocks:
        assert any(block in text for text in EXAMPLES.values()), block


def test_the_commented_provider_sections_are_valid_once_uncommented() -> None:
    text = EXAMPLES["candor.yaml"]
    # Commented-out keys (`# sms:`, `#   provider: twilio`), not the prose comments.
    uncommented = re.sub(r"(?m)^(\s*)# (\s*[a-z_]+:)", r"\1\2", text)
    config = yaml.safe_load(uncommented)
    channels = config["channels"]
    assert channels["sms"]["provider"] == "twilio" and channels["whatsapp"]["provider"] == "meta"
    assert channels["email"]["dkim"]["selector"] == "s2026"
    settings = parse_settings(channels, config["public_url"], environ={})
    assert settings.email is not None and settings.email.bounces is not None
    assert settings.email.bounces.imap_url == "imaps://bounces@imap.candor.example/INBOX"


def test_the_spring_events_example_validates_and_lints_clean(configured: Candor) -> None:
    path = ROOT / "examples" / "journeys" / "spring-events.yaml"
    for command in ("validate", "lint"):
        code, out = invoke(configured, "journey", command, str(path))
        assert code == 0, out
        warnings = [line for line in out.splitlines() if line.startswith("warning:")]
        assert "error:" not in out and all(w.endswith("[not-asked]") for w in warnings), out
