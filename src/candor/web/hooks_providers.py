"""Twilio's and Meta's webhooks: status callbacks, inbound messages, Meta's verification.

Each request is checked against the provider's signature before anything is read from it:
X-Twilio-Signature over the public URL Twilio called and the sorted form parameters, or
X-Hub-Signature-256 over the raw body. Inbound STOP/START work as on any channel; an
inbound WhatsApp message opens the 24-hour service window of that address.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from candor.channels import meta, twilio
from candor.channels.compose import outbox_id_of
from candor.channels.delivery import apply_reports
from candor.channels.inbound import receive_inbound
from candor.channels.provider_settings import MetaProvider, TwilioProvider, env_value
from candor.channels.reports import Report
from candor.channels.settings import ChannelSettings
from candor.core.context import Candor
from candor.web.hooks import read_body, settings_or_503

log = logging.getLogger("candor.web.hooks")
router = APIRouter(tags=["hooks"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio(settings: ChannelSettings, channel: str) -> str:
    """The auth token of the channel's Twilio account; 404 when Twilio is not configured."""
    provider = settings.provider(channel)
    if not isinstance(provider, TwilioProvider):
        raise HTTPException(404, f"channel {channel} is not sent through Twilio")
    token = env_value(provider.auth_token_env)
    if token is None:
        log.error("Twilio auth token variable is not set; refusing its webhooks")
        raise HTTPException(503, "the Twilio auth token is not configured")
    return token


async def _twilio_form(request: Request, settings: ChannelSettings, channel: str) -> dict[str, str]:
    """The POST parameters of a request whose X-Twilio-Signature is valid (else 403)."""
    token = _twilio(settings, channel)
    raw = await read_body(request)
    params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    public = settings.require_public_url()
    url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    presented = request.headers.get("x-twilio-signature", "")
    if not presented or not twilio.signature_valid(token, url, params, presented):
        raise HTTPException(403, "X-Twilio-Signature does not match")
    return dict(params)


def _apply(cx: Candor, reports: list[Report]) -> int:
    """Apply status reports in one transaction; how many matched a message of ours."""
    if not reports:
        return 0
    with cx.engine.begin() as conn:
        done = apply_reports(conn, cx.vault, reports, at=cx.clock.now(), actor="provider")
    return done.applied + done.waiting


def _located(report: Report) -> Report:
    """The report with the outbox row its (our) message id names."""
    outbox_id = outbox_id_of(report.message_id) if report.message_id else None
    return replace(report, outbox_id=outbox_id) if outbox_id is not None else report


@router.post("/hooks/twilio/{channel}/status", status_code=204)
async def twilio_status(request: Request, channel: Literal["sms"]) -> Response:
    """A message's status callback: its delivery state, and an unusable number's fate."""
    cx: Candor = request.app.state.cx
    settings = await run_in_threadpool(settings_or_503, cx)
    form = await _twilio_form(request, settings, channel)
    report = twilio.status_report(channel, form, request.query_params.get("m"))
    if report is not None:
        await run_in_threadpool(_apply, cx, [_located(report)])
    return Response(status_code=204)


@router.post("/hooks/twilio/{channel}/inbound")
async def twilio_inbound(request: Request, channel: Literal["sms"]) -> Response:
    """An inbound SMS: recorded for a known sender, STOP/START applied; answers empty TwiML."""
    cx: Candor = request.app.state.cx
    settings = await run_in_threadpool(settings_or_503, cx)
    form = await _twilio_form(request, settings, channel)
    sender, text = form.get("From", ""), form.get("Body", "")[:4096]

    def work() -> None:
        with cx.engine.begin() as conn:
            receive_inbound(
                conn,
                cx.vault,
                channel,
                sender,
                text,
                keywords=settings.keyword_config(),
                provider_message_id=form.get("MessageSid"),
                at=cx.clock.now(),
            )

    if sender:
        await run_in_threadpool(work)
    return Response(EMPTY_TWIML, media_type="text/xml")


def _meta(settings: ChannelSettings) -> MetaProvider:
    provider = settings.provider("whatsapp")
    if not isinstance(provider, MetaProvider):
        raise HTTPException(404, "whatsapp is not sent through Meta")
    return provider


@router.get("/hooks/meta/whatsapp", response_class=PlainTextResponse)
async def meta_verify(request: Request) -> PlainTextResponse:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    cx: Candor = request.app.state.cx
    provider = _meta(await run_in_threadpool(settings_or_503, cx))
    expected = env_value(provider.verify_token_env)
    query = request.query_params
    presented = query.get("hub.verify_token", "")
    if (
        query.get("hub.mode") != "subscribe"
        or not expected
        or not hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise HTTPException(403, "verification refused")
    return PlainTextResponse(query.get("hub.challenge", "")[:200])


@router.post("/hooks/meta/whatsapp")
async def meta_webhook(request: Request) -> dict[str, Any]:
    """Statuses of our messages and the people's messages, in one signed body."""
    cx: Candor = request.app.state.cx
    settings = await run_in_threadpool(settings_or_503, cx)
    secret = env_value(_meta(settings).app_secret_env)
    if secret is None:
        log.error("Meta app secret variable is not set; refusing its webhooks")
        raise HTTPException(503, "the Meta app secret is not configured")
    raw = await read_body(request)
    presented = request.headers.get("x-hub-signature-256", "")
    if not presented or not meta.signature_valid(secret, raw, presented):
        raise HTTPException(403, "X-Hub-Signature-256 does not match")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(422, "body must be a JSON object")
    reports = [_located(r) for r in meta.status_reports(payload)]
    messages = meta.inbound_messages(payload)

    def work() -> dict[str, Any]:
        matched = _apply(cx, reports)
        with cx.engine.begin() as conn:
            for message in messages:
                receive_inbound(
                    conn,
                    cx.vault,
                    "whatsapp",
                    message.sender,
                    message.text[:4096],
                    keywords=settings.keyword_config(),
                    provider_message_id=message.wamid,
                    at=cx.clock.now(),
                )
        return {"statuses": len(reports), "matched": matched, "messages": len(messages)}

    return await run_in_threadpool(work)
