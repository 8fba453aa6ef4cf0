"""The generic adapter's webhooks (inbound SMS/WhatsApp, delivery receipts), tracked clicks
and the open pixel. Twilio's and Meta's own webhooks are in web.hooks_providers.

Generic webhooks are authenticated by the channel's provider API key as a bearer token,
checked before the body is read. Answers carry ids and codes only, never a number or a
message.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from candor.channels.engagement import record_click, record_open
from candor.channels.inbound import apply_receipt, receive_inbound
from candor.channels.links import read_click, read_open
from candor.channels.provider_settings import HttpProvider
from candor.channels.settings import ChannelSettings, ChannelSettingsError, load_settings
from candor.channels.sms import parse_delivery_receipt
from candor.core import tokens
from candor.core.context import Candor
from candor.store.engine import reading
from candor.web.pages.unsubscribe import page

log = logging.getLogger("candor.web.hooks")
router = APIRouter(tags=["hooks"])

MobileChannel = Literal["sms", "whatsapp"]
MAX_BODY = 64 * 1024


class InboundMessage(BaseModel):
    """A provider's inbound message: sender number, text, optional provider message id."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=64)
    text: str = Field("", max_length=4096)
    message_id: str | None = Field(None, max_length=200)


def settings_or_503(cx: Candor) -> ChannelSettings:
    """The channel settings, or 503 when they are invalid (webhooks cannot be checked)."""
    with reading(cx.engine) as conn:
        try:
            return load_settings(conn)
        except ChannelSettingsError:
            log.error("channel settings are invalid; refusing webhooks")
            raise HTTPException(503, "channel settings are invalid") from None


def _authorise(request: Request, settings: ChannelSettings, channel: str) -> None:
    """401 unless the bearer token is the channel provider's API key; 404 if not configured."""
    provider = settings.provider(channel)
    key = provider.api_key() if isinstance(provider, HttpProvider) else None
    if not key:
        raise HTTPException(404, f"channel {channel} has no provider configured")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), key.encode()
    ):
        raise HTTPException(
            401, "the provider's API key is required", headers={"WWW-Authenticate": "Bearer"}
        )


async def read_body(request: Request) -> bytes:
    """The raw body, or 413 past MAX_BODY."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, "body too large")
    return raw


async def _json(request: Request) -> Any:
    raw = await read_body(request)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "body is not valid JSON") from None


@router.post("/hooks/inbound/{channel}")
async def inbound(request: Request, channel: MobileChannel) -> dict[str, Any]:
    """Record an inbound message from a known sender and apply STOP/START keywords."""
    cx: Candor = request.app.state.cx
    settings = await run_in_threadpool(settings_or_503, cx)
    _authorise(request, settings, channel)
    try:
        message = InboundMessage.model_validate(await _json(request))
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise HTTPException(422, f"invalid inbound message: {', '.join(fields)}") from None

    def work() -> dict[str, Any]:
        with cx.engine.begin() as conn:
            result = receive_inbound(
                conn,
                cx.vault,
                channel,
                message.sender,
                message.text,
                keywords=settings.keyword_config(),
                provider_message_id=message.message_id,
                at=cx.clock.now(),
            )
        return result.as_dict()

    return await run_in_threadpool(work)


@router.post("/hooks/delivery/{channel}")
async def delivery(request: Request, channel: MobileChannel) -> dict[str, Any]:
    """Accept a delivery receipt; `undeliverable` marks the address unusable."""
    cx: Candor = request.app.state.cx
    settings = await run_in_threadpool(settings_or_503, cx)
    _authorise(request, settings, channel)
    try:
        receipt = parse_delivery_receipt(await _json(request))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None

    def work() -> dict[str, Any]:
        with cx.engine.begin() as conn:
            return {"status": apply_receipt(conn, cx.vault, channel, receipt, at=cx.clock.now())}

    return await run_in_threadpool(work)


@router.get("/c/{token}", response_model=None)
def click(request: Request, token: str) -> Response:
    """Count a click for its journey step (per person only under their analytics consent)
    and go on to the signed target."""
    cx: Candor = request.app.state.cx
    now = cx.clock.now()
    try:
        claims = read_click(cx.vault.signing_key, token, now)
    except tokens.TokenError:
        return page("Link not valid", "<p>This link is not valid or has expired.</p>", 400)
    with cx.engine.begin() as conn:
        record_click(conn, cx.vault, claims, at=now)
    return RedirectResponse(
        claims.target, status_code=302, headers={"Referrer-Policy": "no-referrer"}
    )


# The smallest transparent GIF (1x1): what an open pixel answers, valid token or not.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@router.get("/o/{token}.gif", response_model=None)
def opened(request: Request, token: str) -> Response:
    """Record an open (the pixel is only in messages of people who agreed to be tracked)."""
    cx: Candor = request.app.state.cx
    now = cx.clock.now()
    try:
        claims = read_open(cx.vault.signing_key, token, now)
    except tokens.TokenError:
        claims = None
    if claims is not None:
        with cx.engine.begin() as conn:
            record_open(conn, cx.vault, claims, at=now)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(PIXEL, media_type="image/gif", headers=headers)
