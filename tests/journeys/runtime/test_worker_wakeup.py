"""`candor worker` takes a form submission at once: woken by it, not by its polling round."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.journeys.runtime import default_dispatch, run_worker
from candor.web import create_app
from tests.always_on import apply_always_on, sign_up


def test_a_sign_up_is_mailed_without_waiting_for_the_next_round(
    configured: Candor, tmp_path: Path
) -> None:
    with MailSink(tmp_path / "mail", port=0) as sink:
        email = {"smtp_url": f"smtp://127.0.0.1:{sink.port}", "from": "news@candor.example"}
        cx = apply_always_on(configured, channels={"email": email})
        stop = threading.Event()
        worker = threading.Thread(
            target=run_worker,
            args=(cx, default_dispatch()),
            kwargs={"idle_sleep": 120.0, "stop": stop},  # a round every 2 minutes at most
            daemon=True,
        )
        worker.start()
        try:
            with TestClient(create_app(cx)) as client:
                assert sign_up(client).status_code == 200
            deadline = time.monotonic() + 30  # far below the idle round of 120 s
            while sink.count() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            (mail,) = sink.messages()
        finally:
            stop.set()
            worker.join(timeout=30)
    assert mail["To"] == "new@example.org"
    assert "/confirm/" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
