"""The journey report: per step in flow order and per day, from the records themselves."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from candor.channels.engagement import record_click
from candor.channels.links import ClickClaims
from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.journeys.runtime import default_dispatch, journey_status, run_until_idle
from candor.journeys.runtime.report import journey_report, people_in, report_csv, shown
from candor.ledger.consents import ConsentInput, record_consent
from candor.store.engine import reading
from candor.store.journey_tables import outbox
from tests.channels.test_dispatch_support import configure_channels
from tests.journeys.runtime.helpers import add_contact, consent, start

STEPS = [
    {
        "id": "invite",
        "type": "send",
        "channel": "email",
        "template": "promo_mail",
        "theme": "events",
        "on_denied": "skipped",
    },
    {"id": "pause", "type": "wait", "duration": "P3D"},
    {"id": "done", "type": "end"},
    {"id": "skipped", "type": "end"},
]


def test_report_counts_what_the_journey_did_step_by_step(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    people = [add_contact(cx, n) for n in range(1, 8)]
    for p in people[:6]:
        consent(cx, p, "events")
    with MailSink(tmp_path / "mail", port=0, refuse_recipients=["person6@example.com"]) as sink:
        configure_channels(cx, smtp_port=sink.port)
        start(cx, STEPS)
        run_until_idle(cx, default_dispatch())
        assert sink.count() == 5
    with reading(cx.engine) as conn:
        sent = conn.execute(
            select(outbox.c.contact_id, outbox.c.communication_id).where(outbox.c.status == "sent")
        ).all()
    with cx.engine.begin() as conn:
        for contact_id, _ in sent[:2]:
            claims = ClickClaims(contact_id, "promo", "invite", "email", "https://x.example")
            record_click(conn, cx.vault, claims, at=cx.clock.now())
            record_click(conn, cx.vault, claims, at=cx.clock.now())  # clicks, not people
        contact_id, communication = sent[0]
        record_consent(
            conn,
            cx.vault,
            contact_id,
            ConsentInput(
                purpose="events",
                status="withdrawn",
                source="unsubscribe",
                channel="email",
                communication_id=communication,
            ),
            actor="unsubscribe",
            at=cx.clock.now(),
        )
    with reading(cx.engine) as conn:
        report = journey_report(conn, "promo")
        assert people_in(conn, "promo") == 6
        status = journey_status(conn, "promo")
    assert [s.step for s in report.steps] == ["invite", "pause", "done", "skipped"]
    assert list(status["outcomes"]) == ["(enter)", "invite", "skipped"]
    invite = report.steps[0]
    assert invite.figures == {
        "entered": 7,
        "sent": 5,
        "delivered": 5,
        "bounced": 1,
        "clicked": 4,  # counted for everyone; per person only under analytics consent
        "unsubscribed": 1,
        "complained": 0,
    }
    assert invite.stopped == {"not_asked": 1}
    assert report.steps[1].figures["entered"] == 6
    assert report.entered == 7
    (day,) = report.days
    assert day.day == cx.clock.now().date().isoformat()
    assert (day.figures["sent"], day.figures["entered"]) == (5, 7)
    assert "clicked" not in day.figures  # clicks have no time unless analytics was agreed
    marketer_csv = report_csv(report, suppress=True)
    header, first = marketer_csv.splitlines()[:2]
    assert header.startswith("section,step,type,entered,sent,delivered,bounced,clicked")
    assert first == "step,invite,send,7,5,5,<5,<5,<5,0,<5"
    assert report_csv(report, suppress=False).splitlines()[1] == "step,invite,send,7,5,5,1,4,1,0,1"


def test_small_cells_show_as_less_than_five_only_when_suppressed() -> None:
    assert [shown(n, True) for n in (0, 1, 4, 5, 12)] == ["0", "<5", "<5", "5", "12"]
    assert shown(3, False) == "3"
