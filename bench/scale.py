"""Growth curves: each cost at 100k, 1M and 10M contacts, its peak memory and growth exponent.

`python -m bench scale` seeds each size (bench.scale_seed: COPY of generated rows on
PostgreSQL) in a process of its own and measures, in turn: the gate counted in the database,
an audience count, a launch, the journey run (two worker processes on PostgreSQL), a Mission
Control refresh, one access copy, one erasure and one decision over HTTP for a typical
contact, a batch erasure of 10,000, the substring sweep of those erasures, `ledger verify`
and the archive of the finished journey. Per figure: seconds, peak RSS of the bench process
(reset before each figure), of the worker processes and of the database server's backend,
and the database's size; across sizes the growth exponent k in time ~ n^k. JSON on stdout,
a PNG per figure in CANDOR_BENCH_OUT (default bench-out/scale).

Sizes: CANDOR_BENCH_SCALE_SIZES (default 100000,1000000,10000000) on PostgreSQL,
CANDOR_BENCH_SCALE_SQLITE (default 1000000) on SQLite.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from resource import RUSAGE_CHILDREN, getrusage
from typing import Any

from bench.common import ROOT, Timer, backends, fresh_candor
from bench.scale_steps import STEPS, Context, prepare

GOALS = {"population": 1.05, "person": 0.1}


def _sizes(name: str, default: str) -> list[int]:
    return [int(s) for s in os.environ.get(name, default).split(",") if s.strip()]


def measure(backend: str, n: int) -> dict[str, Any]:
    """One size on one database: seed, then every figure in turn (run in its own process)."""
    out: dict[str, Any] = {"backend": backend, "contacts": n, "figures": {}}
    with fresh_candor(backend) as cx:
        ctx = Context(cx, n, backend)
        with Timer() as seeding:
            prepare(ctx)
        out["seed_seconds"] = round(seeding.seconds, 1)
        out["database_mb_seeded"] = ctx.database_mb()
        for name, kind, step in STEPS:
            out["figures"][name] = _figure(ctx, kind, step)
            print(f"  {backend} {n}: {name} {out['figures'][name]}", file=sys.stderr, flush=True)
        out["database_mb_end"] = ctx.database_mb()
    out["workers_peak_rss_mb"] = round(getrusage(RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return out


def _figure(ctx: Context, kind: str, step: Callable[[Context], dict[str, Any]]) -> dict[str, Any]:
    _reset_peak()
    server_before = ctx.server_peak_mb()
    with Timer() as timer:
        extra = step(ctx)
    seconds = extra.pop("seconds", timer.seconds)
    return {
        "kind": kind,
        "seconds": round(seconds, 4),
        **extra,
        "peak_rss_mb": _peak_mb(),
        "server_backend_peak_rss_mb": max(server_before, ctx.server_peak_mb()),
    }


def _reset_peak() -> None:
    """Reset this process's peak RSS (Linux: 5 to clear_refs), so each figure has its own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def exponents(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per figure, k between each pair of neighbouring sizes and k fitted over all of them."""
    out: dict[str, dict[str, Any]] = {}
    ok = sorted((r for r in runs if "figures" in r), key=lambda r: r["contacts"])
    for name in ok[0]["figures"] if ok else []:
        points = [(r["contacts"], r["figures"][name]["seconds"]) for r in ok]
        pairs = {
            f"{a}->{b}": round(math.log(tb / ta) / math.log(b / a), 3)
            for (a, ta), (b, tb) in itertools.pairwise(points)
            if ta > 0 and tb > 0
        }
        kind = ok[0]["figures"][name]["kind"]
        out[name] = {"kind": kind, "goal_k_at_most": GOALS[kind], "k": pairs, "k_fit": _fit(points)}
    return out


def _fit(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(seconds) over log(contacts)."""
    xs = [math.log(n) for n, t in points if t > 0]
    ys = [math.log(t) for n, t in points if t > 0]
    if len(xs) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den, 3)


def run() -> dict[str, Any]:
    """Every size on PostgreSQL (when configured) and the SQLite sizes, each in its own process."""
    plan = {
        "postgres": _sizes("CANDOR_BENCH_SCALE_SIZES", "100000,1000000,10000000"),
        "sqlite": _sizes("CANDOR_BENCH_SCALE_SQLITE", "1000000"),
    }
    out: dict[str, Any] = {"goals_k_at_most": GOALS, "sizes": plan}
    for backend in backends():
        runs = [_in_subprocess(backend, n) for n in plan[backend]]
        out[backend] = {"runs": runs, "exponents": exponents(runs)}
    plot(out, Path(os.environ.get("CANDOR_BENCH_OUT", ROOT / "bench-out" / "scale")))
    return out


def _in_subprocess(backend: str, n: int) -> dict[str, Any]:
    code = (
        "import json; from bench.scale import measure; "
        f"print(json.dumps(measure({backend!r}, {n})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        return {"backend": backend, "contacts": n, "error": f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def plot(report: dict[str, Any], directory: Path) -> list[Path]:
    """One PNG per figure: seconds over contacts, log-log, a line per database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for backend in ("postgres", "sqlite"):
        for r in report.get(backend, {}).get("runs", []):
            names += [n for n in r.get("figures", {}) if n not in names]
    written = []
    for name in names:
        fig, ax = plt.subplots(figsize=(5, 3.4), dpi=110)
        for backend in ("postgres", "sqlite"):
            runs = [
                r for r in report.get(backend, {}).get("runs", []) if name in r.get("figures", {})
            ]
            if runs:
                xs = [r["contacts"] for r in runs]
                ys = [r["figures"][name]["seconds"] for r in runs]
                ax.plot(xs, ys, marker="o", label=backend)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("contacts")
        ax.set_ylabel("seconds")
        ax.set_title(name)
        ax.legend()
        fig.tight_layout()
        path = directory / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    written.append(_overview(plt, report, names, directory / "overview.png"))
    (directory / "scale.json").write_text(json.dumps(report, indent=2) + "\n")
    return written


def _overview(plt: Any, report: dict[str, Any], names: list[str], path: Path) -> Path:
    """Every figure in one image (a grid of small log-log plots), for the docs."""
    columns = 4
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(12, 2.6 * rows), dpi=90, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for backend in ("postgres", "sqlite"):
            runs = [
                r for r in report.get(backend, {}).get("runs", []) if name in r.get("figures", {})
            ]
            if runs:
                xs = [r["contacts"] for r in runs]
                ax.plot(
                    xs, [r["figures"][name]["seconds"] for r in runs], marker="o", label=backend
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(), indent=2) + "\n")
