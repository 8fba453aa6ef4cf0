"""Contacts: create, read, find by address, rectify."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import Connection

from candor.accounts.api_keys import Principal
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.contacts import (
    NewAddress,
    NewContact,
    address_id_for,
    create_contact,
    find_by_address,
    normalized_addresses,
    read_contact,
)
from candor.ledger.rectification import rectify_contact
from candor.store.engine import reading
from candor.web.deps import (
    AddressValue,
    Body,
    Channel,
    Cx,
    ExternalId,
    Language,
    Name,
    PathId,
    Reader,
    TimeZone,
    Writer,
)

router = APIRouter(prefix="/api/v1", tags=["contacts"])


class AddressIn(Body):
    channel: Channel
    value: AddressValue


EXAMPLE_ADDRESS = '{"addresses": [{"channel": "email", "value": "ann@example.org"}]}'


class ContactIn(Body):
    """A new contact: addresses are a list of {channel, value}, profile fields go in
    attributes (only those candor.yaml declares)."""

    hints: ClassVar[dict[str, str]] = {
        "email": f"E-mail addresses go in addresses, e.g. {EXAMPLE_ADDRESS}",
        "phone": 'Phone numbers go in addresses with channel "sms" or "whatsapp"',
        "name": "Names go in first_name and last_name",
        "country": 'Profile fields go in attributes, e.g. {"attributes": {"country": "DE"}}',
    }

    external_id: ExternalId | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    addresses: list[AddressIn] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    language: Language = "en"
    timezone: TimeZone = "UTC"


class ContactPatch(Body):
    first_name: Name | None = None
    last_name: Name | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    addresses: list[AddressIn] = Field(default_factory=list)
    language: Language = "en"
    timezone: TimeZone = "UTC"


class LookupIn(Body):
    email: AddressValue | None = None
    phone: AddressValue | None = None


def view(cx: Candor, conn: Connection, contact_id: int, principal: Principal) -> dict[str, Any]:
    """The contact as this caller may see it (marketers never see identifying data)."""
    return read_contact(conn, cx.vault, contact_id, identifying=principal.sees_identity)


@router.post("/contacts", status_code=201)
def post_contact(body: ContactIn, cx: Cx, principal: Writer) -> dict[str, Any]:
    new = NewContact(
        external_id=body.external_id,
        first_name=body.first_name,
        last_name=body.last_name,
        addresses=[NewAddress(a.channel, a.value) for a in body.addresses],
        attributes=body.attributes,
        language=body.language,
        timezone=body.timezone,
        source="api",
    )
    with cx.engine.begin() as conn:
        contact_id = create_contact(conn, cx.vault, new, actor=principal.actor, at=cx.clock.now())
        return view(cx, conn, contact_id, principal)


@router.get("/contacts/{contact_id}")
def get_contact(contact_id: PathId, cx: Cx, principal: Reader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return view(cx, conn, contact_id, principal)


def _lookup(
    cx: Candor, principal: Principal, email: str | None, phone: str | None
) -> dict[str, Any]:
    if email is None and phone is None:
        raise InvalidInput("email", "give email or phone")
    if email is not None and phone is not None:
        raise InvalidInput("phone", "give either email or phone, not both")
    channel, value = ("email", email) if email is not None else ("sms", phone)
    assert value is not None
    with reading(cx.engine) as conn:
        found = find_by_address(conn, cx.vault, channel, value)
        return {"items": [] if found is None else [view(cx, conn, found, principal)]}


@router.get("/contacts")
def find_contacts(
    cx: Cx,
    principal: Reader,
    email: Annotated[AddressValue | None, Query()] = None,
    phone: Annotated[AddressValue | None, Query()] = None,
) -> dict[str, Any]:
    """Find the contact holding an e-mail address or a phone number (SMS or WhatsApp)."""
    return _lookup(cx, principal, email, phone)


@router.post("/contacts/search")
def search_contacts(body: LookupIn, cx: Cx, principal: Reader) -> dict[str, Any]:
    """The same look-up with the address in the body, so it stays out of access logs."""
    return _lookup(cx, principal, body.email, body.phone)


def _new_addresses(
    cx: Candor, conn: Connection, contact_id: int, items: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Drop addresses the contact already holds on that channel.

    rectify_contact would otherwise record a rectification (and report a change) for them.
    """
    normalized_addresses([NewAddress(**item) for item in items])  # errors name addresses[i]
    out = []
    for item in items:
        try:
            address_id_for(conn, cx.vault, contact_id, item["channel"], item["value"])
        except InvalidInput:
            out.append(item)  # not held yet
    return out


@router.patch("/contacts/{contact_id}")
def patch_contact(
    contact_id: PathId, body: ContactPatch, cx: Cx, principal: Writer
) -> dict[str, Any]:
    """Rectify: every changed field keeps its old and new value (encrypted) in the history."""
    changes = body.model_dump(exclude_unset=True)
    with cx.engine.begin() as conn:
        if "addresses" in changes:
            changes["addresses"] = _new_addresses(cx, conn, contact_id, changes["addresses"])
        changed = rectify_contact(
            conn, cx.vault, contact_id, changes, actor=principal.actor, at=cx.clock.now()
        )
        return {**view(cx, conn, contact_id, principal), "changed": changed}
