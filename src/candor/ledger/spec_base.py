"""What every section model of candor.yaml shares: strict keys and the identifier pattern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

IDENT = r"^[a-z][a-z0-9_\-]{0,63}$"


class Strict(BaseModel):
    """A section model: unknown keys are errors, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
