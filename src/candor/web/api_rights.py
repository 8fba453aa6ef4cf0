"""Data subject rights over HTTP: requests, access copy, erasure, records, restriction, decisions.

Handlers are thin: parse, authorise (dpo or admin for anything about a person's rights),
call the rights verbs in one transaction, shape the answer. The person-side endpoints
(`/subject/requests`, `/requests/{id}/verify`) need no key and disclose nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import AwareDatetime, Field

from candor.accounts.api_keys import Principal
from candor.core.errors import NotFound
from candor.ledger.contacts import contact_row
from candor.rights import decisions, records, requests, restriction
from candor.rights.access import compile_access_copy
from candor.rights.certificates import certificate_of
from candor.rights.erasure import erase_contact
from candor.rights.render import render_copy
from candor.rights.requests_view import list_requests, read_request, request_result
from candor.rights.ropa import build_ropa, ropa_markdown
from candor.store.engine import reading
from candor.web.deps import AddressValue, Body, Cx, Ident, Note, PathId, Reader, current_principal

router = APIRouter(prefix="/api/v1", tags=["rights"])

RequestType = Literal[
    "access", "portability", "rectification", "erasure", "restriction", "objection"
]
Format = Literal["json", "html"]


def staff(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A caller who may act on a person's rights (dpo or admin)."""
    if principal.role not in ("dpo", "admin"):
        raise HTTPException(403, "needs the dpo or admin role")
    return principal


def dpo(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role != "dpo":
        raise HTTPException(403, "needs the dpo role")
    return principal


def rights_reader(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Who may read requests and certificates (dpo, admin, auditor; not marketers)."""
    if principal.role not in ("dpo", "admin", "auditor"):
        raise HTTPException(403, "needs the dpo, admin or auditor role")
    return principal


Staff = Annotated[Principal, Depends(staff)]
Dpo = Annotated[Principal, Depends(dpo)]
RightsReader = Annotated[Principal, Depends(rights_reader)]


class RequestIn(Body):
    type: RequestType
    contact: int | None = Field(None, ge=1, le=2**63 - 1)
    email: AddressValue | None = None
    phone: AddressValue | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    channel: Literal["api", "web", "email", "letter", "phone"] = "api"


class SubjectRequestIn(Body):
    type: RequestType
    email: AddressValue | None = None
    phone: AddressValue | None = None


class ExtendIn(Body):
    months: Literal[1, 2]
    reason: Annotated[Note, Field(min_length=1)]


class TokenIn(Body):
    token: Annotated[str, Field(min_length=1, max_length=2048)]


class ReasonIn(Body):
    reason: Annotated[Note, Field(min_length=1)]


class RecordIn(Body):
    category: Ident
    occurred_at: AwareDatetime
    data: dict[str, Any]


class HoldIn(Body):
    reason: Annotated[Note, Field(min_length=1)]
    category: Ident | None = None
    until: AwareDatetime | None = None


class DecisionIn(Body):
    purpose: Ident
    model: dict[str, Any]
    journey: Ident | None = None


class ContestIn(Body):
    reason: Note = ""


class ReviewIn(Body):
    outcome: Literal["above", "below"]
    note: Note = ""


def _copy_response(copy: dict[str, Any], fmt: str, lang: str | None) -> Response | dict[str, Any]:
    if fmt == "html":
        return HTMLResponse(render_copy(copy, lang), headers={"Cache-Control": "no-store"})
    return copy


# ---------------------------------------------------------------- requests


@router.post("/requests", status_code=201)
def post_request(body: RequestIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    """Open a request for a known person; carried out at once (the opener is the reviewer)."""
    new = requests.NewRequest(
        body.type, body.contact, body.email, body.phone, body.details, body.channel
    )
    with cx.engine.begin() as conn:
        return requests.open_request(
            conn, cx.vault, new, role=principal.role, actor=principal.actor, at=cx.clock.now()
        )


@router.get("/requests")
def get_requests(
    cx: Cx,
    principal: RightsReader,
    overdue: bool = False,
    status: Annotated[Ident | None, Query()] = None,
) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return {"items": list_requests(conn, cx.clock.now(), overdue=overdue, status=status)}


@router.get("/requests/{request_id}")
def get_request(request_id: PathId, cx: Cx, principal: RightsReader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return read_request(conn, request_id, cx.clock.now())


@router.post("/requests/{request_id}/extend")
def post_extend(request_id: PathId, body: ExtendIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return requests.extend_request(
            conn,
            request_id,
            months=body.months,
            reason=body.reason,
            actor=principal.actor,
            at=cx.clock.now(),
        )


@router.post("/requests/{request_id}/verify")
def post_verify(request_id: PathId, body: TokenIn, cx: Cx) -> dict[str, Any]:
    """The person confirms with the code sent to them (no key: the token is the proof)."""
    with cx.engine.begin() as conn:
        return requests.verify_request(conn, cx.vault, request_id, body.token, at=cx.clock.now())


@router.post("/requests/{request_id}/approve")
def post_approve(request_id: PathId, cx: Cx, principal: Dpo) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return requests.approve_request(
            conn, cx.vault, request_id, actor=principal.actor, at=cx.clock.now()
        )


@router.post("/requests/{request_id}/deny")
def post_deny(request_id: PathId, body: ReasonIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return requests.deny_request(
            conn, request_id, reason=body.reason, actor=principal.actor, at=cx.clock.now()
        )


@router.get("/requests/{request_id}/result", response_model=None)
def get_result(
    request_id: PathId,
    cx: Cx,
    principal: Staff,
    format: Format = "json",
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> Response | dict[str, Any]:
    """The result: the copy (JSON or HTML), or the summary (certificate, changed fields)."""
    with reading(cx.engine) as conn:
        result = request_result(conn, cx.vault, request_id)
    if format == "html":
        if not isinstance(result["data"], dict):
            raise NotFound("copy", request_id)
        return _copy_response(result["data"], "html", lang)
    return result


@router.post("/subject/requests", status_code=202)
def post_subject_request(body: SubjectRequestIn, cx: Cx) -> dict[str, Any]:
    """A person asks (no key); the answer is the same whether or not we know them."""
    new = requests.NewRequest(body.type, None, body.email, body.phone, {}, "web")
    with cx.engine.begin() as conn:
        return requests.open_subject_request(conn, cx.vault, new, at=cx.clock.now())


# ---------------------------------------------------------------- a contact's rights


@router.get("/contacts/{contact_id}/copy", response_model=None)
def get_copy(
    contact_id: PathId,
    cx: Cx,
    principal: Staff,
    format: Format = "json",
    lang: Annotated[str | None, Query(max_length=8)] = None,
    kind: Literal["access", "portability"] = "access",
) -> Response | dict[str, Any]:
    """The access copy now (JSON, or HTML in the person's language or ?lang=)."""
    with reading(cx.engine) as conn:
        copy = compile_access_copy(conn, cx.vault, contact_id, kind=kind, at=cx.clock.now())
    return _copy_response(copy, format, lang)


@router.delete("/contacts/{contact_id}")
def delete_contact(contact_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    """Erase the contact everywhere; answers the erasure certificate."""
    return erase_contact(cx, contact_id, actor=principal.actor, reason="api")


@router.get("/certificates/{contact_id}")
def get_certificate(contact_id: PathId, cx: Cx, principal: RightsReader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return certificate_of(conn, contact_id)


@router.post("/contacts/{contact_id}/records", status_code=201)
def post_record(contact_id: PathId, body: RecordIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    """A business record (order, invoice) under a declared data category, sealed per contact."""
    with cx.engine.begin() as conn:
        record_id = records.add_business_record(
            conn,
            cx.vault,
            contact_id,
            category=body.category,
            occurred_at=body.occurred_at,
            data=body.data,
            actor=principal.actor,
            at=cx.clock.now(),
        )
    return {"id": record_id, "contact": contact_id, "category": body.category}


@router.get("/contacts/{contact_id}/records")
def get_records(contact_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        contact_row(conn, contact_id)
        return {"items": records.list_business_records(conn, cx.vault, contact_id)}


@router.post("/contacts/{contact_id}/holds", status_code=201)
def post_hold(contact_id: PathId, body: HoldIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        hold_id = records.place_legal_hold(
            conn,
            contact_id,
            reason=body.reason,
            category=body.category,
            until=body.until,
            actor=principal.actor,
            at=cx.clock.now(),
        )
    return {"id": hold_id, "contact": contact_id}


@router.post("/contacts/{contact_id}/restriction")
def post_restriction(contact_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return restriction.restrict_contact(
            conn, contact_id, actor=principal.actor, at=cx.clock.now()
        )


@router.delete("/contacts/{contact_id}/restriction")
def delete_restriction(contact_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return restriction.lift_restriction(
            conn, contact_id, actor=principal.actor, at=cx.clock.now()
        )


@router.post("/contacts/{contact_id}/objection")
def post_objection(contact_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return restriction.object_contact(
            conn, contact_id, actor=principal.actor, at=cx.clock.now()
        )


# ---------------------------------------------------------------- automated decisions


@router.post("/contacts/{contact_id}/decisions", status_code=201)
def post_decision(contact_id: PathId, body: DecisionIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    """Score the contact with a transparent model (only under agreed profiling) and store it."""
    with cx.engine.begin() as conn:
        decision_id = decisions.score_contact(
            conn,
            cx.vault,
            contact_id,
            body.model,
            purpose=body.purpose,
            journey=body.journey,
            actor=principal.actor,
            at=cx.clock.now(),
        )
        return decisions.read_decision(conn, cx.vault, decision_id)


@router.get("/decisions/{decision_id}")
def get_decision(decision_id: PathId, cx: Cx, principal: Staff) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return decisions.read_decision(conn, cx.vault, decision_id)


@router.post("/decisions/{decision_id}/contest")
def post_contest(decision_id: PathId, body: ContestIn, cx: Cx, principal: Staff) -> dict[str, Any]:
    """The person contests the decision: it waits for human review."""
    with cx.engine.begin() as conn:
        return decisions.contest_decision(
            conn, decision_id, reason=body.reason, actor=principal.actor, at=cx.clock.now()
        )


@router.post("/decisions/{decision_id}/review")
def post_review(decision_id: PathId, body: ReviewIn, cx: Cx, principal: Dpo) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        return decisions.review_decision(
            conn,
            decision_id,
            outcome=body.outcome,
            note=body.note,
            actor=principal.actor,
            at=cx.clock.now(),
        )


# ---------------------------------------------------------------- record of processing, retention


@router.get("/ropa", response_model=None)
def get_ropa(
    cx: Cx, principal: Reader, format: Literal["json", "md"] = "json"
) -> Response | dict[str, Any]:
    with reading(cx.engine) as conn:
        record = build_ropa(conn, cx.clock.now())
    if format == "md":
        return PlainTextResponse(ropa_markdown(record), media_type="text/markdown")
    return record


@router.post("/retention/run")
def post_retention_run(cx: Cx, principal: Staff) -> dict[str, Any]:
    """Delete kept records whose retention ended (the worker calls the same function)."""
    with cx.engine.begin() as conn:
        return records.run_retention(conn, cx.vault, actor=principal.actor, at=cx.clock.now())
