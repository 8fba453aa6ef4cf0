"""The decision endpoint: may this contact be contacted, for this purpose, here, now?"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from candor.core.errors import InvalidInput
from candor.ledger.contacts import address_id_for
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.decide import decide
from candor.policy.load import contact_facts
from candor.store.engine import reading
from candor.web.deps import MAX_ID, AddressValue, Channel, Cx, Ident, Reader

router = APIRouter(prefix="/api/v1", tags=["decide"])


@router.get("/decide")
def get_decide(
    cx: Cx,
    principal: Reader,
    contact: Annotated[int, Query(ge=1, le=MAX_ID)],
    purpose: Annotated[Ident, Query()],
    channel: Annotated[Channel | None, Query()] = None,
    theme: Annotated[Ident | None, Query()] = None,
    address: Annotated[AddressValue | None, Query()] = None,
) -> dict[str, Any]:
    """decide() at the current time; allowed decisions name their basis and event."""
    at = cx.clock.now()
    with reading(cx.engine) as conn:
        purpose_ref = purpose_facts(conn, purpose)
        theme_facts = theme_ref(conn, theme)
        # Loaded before the address, so an unknown contact is a 404, not an address problem.
        facts = contact_facts(conn, contact, purpose_ref.id)
        if address is not None and channel is None:
            raise InvalidInput("channel", "required when an address is given")
        address_id = address_id_for(conn, cx.vault, contact, channel, address)
    return decide(facts, purpose_ref, channel, address_id, theme_facts, at).as_dict()
