"""The end of `candor demo`: a login for the team pages and what to type next."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from candor.accounts.api_keys import create_api_key
from candor.core.context import Candor
from candor.demo.team import ADMIN_EMAIL, create_demo_admin


def demo_api_key(cx: Candor) -> str:
    """An admin API key for the demo database, for a first API call."""
    with cx.engine.begin() as conn:
        return create_api_key(conn, "admin", "demo admin", actor="demo", at=cx.clock.now())


def print_next_steps(cx: Candor, console: Console, port: int = 8000) -> None:
    """How to put `candor` on the PATH, start the server, log in and make a first API call."""
    base = f"http://127.0.0.1:{port}"
    link = create_demo_admin(cx, base)
    key = demo_api_key(cx)
    bin_dir = Path(sys.executable).parent
    lines = [
        "",
        "Next steps:",
        f'  1. put candor on your PATH:   export PATH="{bin_dir}:$PATH"',
        f"  2. start the server here:     cd {Path.cwd()} && candor serve --port {port}",
        f"  3. set a password for the team pages' admin ({ADMIN_EMAIL}) with this",
        f"     one-time link, then log in at {base}/team/login:",
        f"     {link}",
        "  4. a first API call, with an admin API key (shown once):",
        f'     curl -H "Authorization: Bearer {key}" {base}/api/v1/contacts/1',
        f"  the API, interactively:       {base}/docs",
    ]
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
