"""A journey's report page and its CSV: aggregates only, small cells shown as "<5" to roles
that must not single out a person (marketers)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from candor.core.errors import CandorError
from candor.journeys.runtime.report import (
    DAY_FIGURES,
    FIGURES,
    JourneyReport,
    journey_report,
    report_csv,
    shown,
)
from candor.store.engine import reading
from candor.web.api_journeys import JourneyId
from candor.web.pages.access import may, team
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session
from candor.web.pages.studio_support import data_block

router = APIRouter(tags=["studio pages"], include_in_schema=False)
Reader = Annotated[Session, Depends(team("reports"))]
SUPPRESSED_ROLES: Final = ("marketer",)
CHARTED: Final = ("sent", "delivered", "bounced", "unsubscribed", "complained")


def suppresses(session: Session) -> bool:
    """Whether this role sees small cells suppressed."""
    return session.principal.role in SUPPRESSED_ROLES


def _report(request: Request, journey_id: str) -> JourneyReport | None:
    try:
        with reading(cx_of(request).engine) as conn:
            return journey_report(conn, journey_id)
    except CandorError:
        return None


def chart_data(report: JourneyReport, suppress: bool) -> dict[str, Any]:
    """Per-day series for the chart; a suppressed small cell is left out (null), as in the
    table where it reads "<5"."""

    def value(n: int) -> int | None:
        return None if suppress and shown(n, True) == "<5" else n

    return {
        "days": [d.day for d in report.days],
        "series": {name: [value(d.figures[name]) for d in report.days] for name in CHARTED},
    }


@router.get("/team/journeys/{journey_id}/report", response_class=HTMLResponse)
def report_page(request: Request, journey_id: JourneyId, session: Reader) -> HTMLResponse:
    """Per step in flow order and over time, with a chart and a CSV export."""
    report = _report(request, journey_id)
    if report is None:
        return render(request, "team_message.html", 404, title="Journey not found", text="")
    suppress = suppresses(session)
    reasons = sorted({r for s in report.steps for r in s.stopped})
    return render(
        request,
        "report.html",
        report=report,
        figures=FIGURES,
        day_figures=DAY_FIGURES,
        reasons=reasons,
        show=lambda n: shown(n, suppress),
        suppress=suppress,
        may=may,
        chart=data_block("report-data", chart_data(report, suppress)),
    )


@router.get("/team/journeys/{journey_id}/report.csv")
def report_download(request: Request, journey_id: JourneyId, session: Reader) -> Response:
    """The same figures as CSV (suppressed the same way)."""
    report = _report(request, journey_id)
    if report is None:
        return Response("journey not found\n", status_code=404, media_type="text/plain")
    return Response(
        report_csv(report, suppresses(session)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{journey_id}-report.csv"'},
    )
