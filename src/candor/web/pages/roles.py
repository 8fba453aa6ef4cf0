"""Which role may see which team page (navigation, buttons and the page dependencies)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from candor.web.pages.security import Session

EVERYONE: Final = ("admin", "marketer", "dpo", "auditor")

# Page -> roles that may see it; everyone else gets 403.
PAGE_ROLES: Final[dict[str, tuple[str, ...]]] = {
    "mission_control": EVERYONE,
    "journeys": EVERYONE,
    "journey_actions": ("admin", "marketer"),
    "studio": ("admin", "marketer"),
    "reports": EVERYONE,
    "account": EVERYONE,
    "contact_list": EVERYONE,  # pseudonymous for marketers
    "contacts": ("admin", "dpo", "auditor"),
    "contact_actions": ("admin", "dpo"),
    "requests": ("admin", "dpo", "auditor"),
    "request_actions": ("admin", "dpo"),
    "members": ("admin",),
}


def may(session: Session | None, page: str) -> bool:
    """Whether the session's role may see `page` (for navigation links and buttons)."""
    return session is not None and session.principal.role in PAGE_ROLES[page]
