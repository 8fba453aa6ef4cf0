"""Connector endpoints: signed events in (no API key: the signature is the credential), status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from candor.store.engine import reading
from candor.sync.delivery import replay
from candor.sync.inbound import receive
from candor.sync.status import sync_status
from candor.web.deps import Cx, Reader, Writer

router = APIRouter(prefix="/api/v1/sync", tags=["connectors"])
MAX_BODY = 256 * 1024


@router.post("/events", response_model=None)
async def post_event(request: Request, cx: Cx) -> JSONResponse:
    """Apply one event from a connector (Candor-Signature checked; replays answer duplicate)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"errors": [{"field": "(body)", "problem": "too large"}]}, 413)
    status, answer = await run_in_threadpool(receive, cx, dict(request.headers), body)
    return JSONResponse(answer, status)


@router.get("/status")
def get_status(cx: Cx, principal: Reader) -> dict[str, Any]:
    """Pending, delivered and dead-lettered deliveries per connector, and the dead letters."""
    with reading(cx.engine) as conn:
        return sync_status(conn)


@router.post("/dead-letters/{event_id}/replay")
def post_replay(event_id: str, cx: Cx, principal: Writer) -> dict[str, Any]:
    """Put an event's dead letters back in line for delivery."""
    return {"event_id": event_id, "requeued": replay(cx, event_id[:64], actor=principal.actor)}
