"""Reading what mail servers send back: delivery status notifications and abuse reports.

A DSN (RFC 3464) is multipart/report; report-type=delivery-status with a message/delivery-status
part: per-message fields, then one block per recipient (Action, Status, Diagnostic-Code). An
abuse report (ARF, RFC 5965) is multipart/report; report-type=feedback-report with a
message/feedback-report part (Feedback-Type, User-Agent, Original-Mail-From). Either is
matched to its message by the VERP return path it was sent to, or that the report quotes.
Anything else comes back as Unreadable, to be kept for review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email import message_from_bytes, policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from candor.channels.reports import Effect, Report, Unreadable
from candor.channels.verp import read_return_path

_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_EVIDENCE_TEXT = 300  # of a diagnostic: enough to read the remote server's reason
COMPLAINTS = frozenset({"abuse", "fraud", "virus", "other"})
_HEADERS = BytesHeaderParser(policy=policy.compat32)


def classify(action: str, status: str) -> tuple[str, Effect]:
    """The delivery state and address effect of one recipient's DSN block.

    5.1.x (bad address) and 5.2.1 (mailbox disabled) are hard bounces; a full mailbox, other
    permanent failures and transient ones that ended the delivery are soft; policy refusals
    (5.7.x) say nothing about the address; delayed is a warning only.
    """
    action = action.lower()
    if action in ("delivered", "relayed", "expanded"):
        return "delivered", "none"
    if action != "failed":
        return "sent", "none"
    found = _STATUS.match(status)
    if found is None:
        return "bounced", "soft_bounce"
    klass, subject, detail = found.groups()
    if klass == "5" and (subject == "1" or (subject == "2" and detail == "1")):
        return "bounced", "undeliverable"
    if klass == "5" and subject == "7":
        return "bounced", "none"
    return "bounced", "soft_bounce"


def _text(value: Any, limit: int = _EVIDENCE_TEXT) -> str | None:
    if value is None:
        return None
    return " ".join(str(value).split())[:limit] or None


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status (or feedback-report) part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # some parsers leave it as text: read the blocks ourselves
        return [message_from_bytes(b.encode()) for b in re.split(r"\r?\n\r?\n", payload) if b]
    return []


def _quoted_return_path(parts: Sequence[tuple[str, Message]]) -> str | None:
    """The original message's Return-Path, as the report quotes it (whole or headers only)."""
    for kind, part in parts:
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0].get("Return-Path")
        if kind == "text/rfc822-headers":
            data = part.get_payload(decode=True)
            quoted = _HEADERS.parsebytes(data if isinstance(data, bytes) else b"")
            return quoted.get("Return-Path")
    return None


def _outbox_id(
    key: bytes,
    domain: str | None,
    candidates: Iterable[str | None],
    parts: Sequence[tuple[str, Message]],
) -> int | None:
    """The first candidate address that is one of our VERP addresses; the quoted original's
    Return-Path (parsed only then) as the last resort."""
    for candidate in (*candidates, None):
        if candidate is None:
            candidate = _quoted_return_path(parts)
        if candidate:
            found = read_return_path(key, candidate, domain)
            if found is not None:
                return found
    return None


def parse_report(
    raw: bytes,
    *,
    key: bytes,
    domain: str | None,
    recipients: Sequence[str] = (),
) -> list[Report] | Unreadable:
    """The Reports in one received mail (`recipients`: the SMTP envelope's RCPT TO)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return Unreadable("email", "not a multipart/report", raw)
    param = message.get_param("report-type")
    report_type = param.lower() if isinstance(param, str) else ""
    payload = message.get_payload()
    children = payload if isinstance(payload, list) else []
    parts = [(p.get_content_type(), p) for p in children if isinstance(p, Message)]
    addressed = [*recipients, message.get("Delivered-To"), message.get("X-Original-To")]
    addressed.append(message.get("To"))
    if report_type == "delivery-status":
        part = next((p for kind, p in parts if kind == "message/delivery-status"), None)
        blocks = _blocks(part) if part is not None else []
        if len(blocks) < 2:
            return Unreadable("email", "delivery-status without recipient fields", raw)
        outbox_id = _outbox_id(key, domain, addressed, parts)
        return [_bounce(blocks[0], block, outbox_id, raw) for block in blocks[1:]]
    if report_type == "feedback-report":
        part = next((p for kind, p in parts if kind == "message/feedback-report"), None)
        blocks = _blocks(part) if part is not None else []
        if not blocks or not blocks[0].get("Feedback-Type"):
            return Unreadable("email", "feedback-report without Feedback-Type", raw)
        fields = blocks[0]
        candidates = [fields.get("Original-Mail-From"), *addressed]
        return [_complaint(fields, _outbox_id(key, domain, candidates, parts), raw)]
    return Unreadable("email", f"report-type {report_type or 'missing'} is not handled", raw)


def _bounce(head: Message, block: Message, outbox_id: int | None, raw: bytes) -> Report:
    action = (block.get("Action") or "").strip()
    status = (block.get("Status") or "").strip().split(" ")[0]
    state, effect = classify(action, status)
    evidence = {
        "reporting_mta": _text(head.get("Reporting-MTA")),
        "arrival_date": _text(head.get("Arrival-Date")),
        "final_recipient": _text(block.get("Final-Recipient")),
        "action": action.lower() or None,
        "status": status or None,
        "diagnostic_code": _text(block.get("Diagnostic-Code")),
        "remote_mta": _text(block.get("Remote-MTA")),
    }
    return Report(
        "email",
        "bounce",
        state,
        effect,
        status or action.lower() or None,
        outbox_id=outbox_id,
        evidence=evidence,
        raw=raw,
    )


def _complaint(fields: Message, outbox_id: int | None, raw: bytes) -> Report:
    feedback = (fields.get("Feedback-Type") or "").strip().lower()
    complaint = feedback in COMPLAINTS
    evidence = {
        "feedback_type": feedback,
        "user_agent": _text(fields.get("User-Agent")),
        "version": _text(fields.get("Version")),
        "arrival_date": _text(fields.get("Arrival-Date")),
        "reporting_mta": _text(fields.get("Reporting-MTA")),
        "source_ip": _text(fields.get("Source-IP")),
        "original_rcpt_to": _text(fields.get("Original-Rcpt-To")),
    }
    return Report(
        "email",
        "complaint",
        "complained" if complaint else "delivered",
        "block" if complaint else "none",
        feedback[:64] or None,
        outbox_id=outbox_id,
        evidence=evidence,
        raw=raw,
    )
