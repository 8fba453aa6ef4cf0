"""The example files `candor demo` uses when none is named: from a checkout's examples/, or
as installed by the wheel under <prefix>/share/candor/examples."""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3] / "examples"
INSTALLED = Path(sys.prefix) / "share" / "candor" / "examples"


def example_file(name: str) -> Path | None:
    """examples/<name> of the checkout or of the installed package, None when neither has it."""
    for base in (CHECKOUT, INSTALLED):
        if (base / name).is_file():
            return base / name
    return None


def demo_files(config: Path | None, journey: Path | None) -> tuple[Path, Path | None]:
    """The configuration and journey to run: as named, else ./candor.yaml, else the examples
    (the example configuration comes with the example welcome journey)."""
    if config is not None:
        return config, journey
    here = Path("candor.yaml")
    if here.is_file():
        return here, journey
    example = example_file("candor.yaml")
    if example is None:
        return here, journey  # config apply then says the file cannot be read
    return example, journey or example_file("journeys/welcome.yaml")
