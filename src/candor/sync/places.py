"""The sync tables in the rights registry: erasure deletes them, the access copy lists them.

A contact.erased event is published after the erasure's deletes and scan, so it survives as
the proof that connectors were told; its identifier is sealed under a key of its own.
"""

from __future__ import annotations

from candor.rights.registry import Place, register
from candor.store import sync_tables as st
from candor.store import tables as t

register(Place(st.sync_deliveries, "communications", "communication"), before="rectifications")
register(
    Place(st.sync_events, "communications", "communication", encrypted=("sealed",)),
    before="rectifications",
)
register(Place(st.sync_source_rows, "journeys", "journey"), before="rectifications")
register(
    Place(
        st.sync_block_links,
        "blocks",
        "preferences",
        contact_column=None,
        parent=("block_id", t.blocks, "id"),
    ),
    before="block_lifts",
)
