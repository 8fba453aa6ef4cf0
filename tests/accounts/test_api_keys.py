"""API keys for machines: listed without the key, revoked at once (and only once)."""

from __future__ import annotations

import pytest

from candor.accounts.api_keys import (
    authenticate,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from candor.core.context import Candor
from candor.core.errors import Conflict, NotFound


def test_keys_are_listed_without_the_key_and_revoking_stops_one_at_once(cx: Candor) -> None:
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        shop = create_api_key(conn, "marketer", "shop", actor="cli", at=now)
        erp = create_api_key(conn, "dpo", "erp", actor="cli", at=now)
        listed = list_api_keys(conn)
    assert [(k.name, k.role, k.revoked_at) for k in listed] == [
        ("shop", "marketer", None),
        ("erp", "dpo", None),
    ]
    assert shop not in repr(listed) and erp not in repr(listed)
    with cx.engine.begin() as conn:
        revoked = revoke_api_key(conn, listed[0].id, actor="member:1", at=now)
        assert revoked.revoked_at == now
        assert authenticate(conn, shop) is None
        still = authenticate(conn, erp)
    assert still is not None and still.actor == f"key:{listed[1].id}"
    with pytest.raises(Conflict), cx.engine.begin() as conn:
        revoke_api_key(conn, listed[0].id, actor="cli", at=now)
    with pytest.raises(NotFound), cx.engine.begin() as conn:
        revoke_api_key(conn, 999, actor="cli", at=now)
