"""The wheel carries everything it needs: built with `python -m build`, installed into a fresh
venv (its dependencies seen from this venv, offline), `candor demo` runs from it."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CARRIED = (
    "candor/store/migrations/script.py.mako",
    "candor/store/migrations/versions/0001_foundation.py",
    "candor/web/pages/templates/team_login.html",
    "candor/web/pages/static/candor.css",
    "candor/web/pages/static/bundle/swagger-ui-bundle.js",
    "candor/rights/templates/access_copy.html",
    "candor-0.1.0.data/data/share/candor/examples/candor.yaml",
    "candor-0.1.0.data/data/share/candor/examples/journeys/welcome.yaml",
)


def run(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("candor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(CARRIED) <= names, sorted(set(CARRIED) - names)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    (fresh,) = (venv / "lib").glob("python3*/site-packages")
    # The dependencies come from this venv; its own .pth files (the editable candor) are not
    # read from a directory added this way, so `candor` can only be the installed wheel.
    (fresh / "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    where = run(python, "-c", "import candor; print(candor.__file__)")
    assert where.startswith(str(fresh)), where

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    out = run(venv / "bin" / "candor", "demo", "--contacts", "50", cwd=home, env=env)
    assert "seeded 50 contacts" in out and "launched journey 'welcome_series'" in out
    assert "Next steps:" in out and f'export PATH="{venv / "bin"}:$PATH"' in out
    assert "messages are in" in out  # the journey delivered to the demo's mail sink
