"""Who is acting: a team member or an API key, with a role and the name audit entries carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ROLES: Final = ("admin", "marketer", "dpo", "auditor")


@dataclass(frozen=True)
class Principal:
    """The caller: `actor` is what audit entries name (`member:7`, `key:3`), plus role and name."""

    actor: str
    role: str
    name: str

    @classmethod
    def of_key(cls, key_id: int, role: str, name: str) -> Principal:
        return cls(f"key:{key_id}", role, name)

    @classmethod
    def of_member(cls, member_id: int, role: str, name: str) -> Principal:
        return cls(f"member:{member_id}", role, name)

    @property
    def sees_identity(self) -> bool:
        """Marketers never see identifying data in clear."""
        return self.role in ("admin", "dpo", "auditor")

    @property
    def may_write(self) -> bool:
        return self.role != "auditor"
