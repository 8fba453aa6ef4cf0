"""Mission Control over HTTP: the figures as JSON (API key) and a live SSE stream (session)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from candor.web.deps import Cx, Reader, figures_cache
from candor.web.pages.access import team
from candor.web.pages.security import Session

router = APIRouter(tags=["mission control"])

POLL_SECONDS: Final = 1.0
HEARTBEAT_SECONDS: Final = 15.0
# A stream ends after this long; EventSource reconnects by itself (bounds stuck connections).
STREAM_SECONDS: Final = 300.0


@router.get("/api/v1/mission-control")
def get_mission_control(request: Request, cx: Cx, principal: Reader) -> dict[str, Any]:
    """Journeys by step, purposes (not asked, pending DOI, re-consent), blocks, sends, DSRs."""
    _, figures = figures_cache(request.app.state).get(cx)
    return figures


def _event(version: int, figures: dict[str, Any]) -> str:
    return f"id: {version}\nevent: figures\ndata: {json.dumps(figures, separators=(',', ':'))}\n\n"


@router.get("/team/mission-control/stream", include_in_schema=False)
async def stream(
    request: Request,
    cx: Cx,
    session: Annotated[Session, Depends(team("mission_control"))],
    once: Annotated[bool, Query()] = False,
) -> StreamingResponse:
    """Server-sent events: the figures whenever they change (a heartbeat comment otherwise)."""
    cache = figures_cache(request.app.state)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        started = last_beat = loop.time()
        seen = -1
        yield "retry: 2000\n\n"
        while True:
            version, figures = await run_in_threadpool(cache.get, cx)
            if version != seen:
                seen = version
                yield _event(version, figures)
            if once:
                return
            now = loop.time()
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                yield ": keep-alive\n\n"
            if now - started >= STREAM_SECONDS or await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
