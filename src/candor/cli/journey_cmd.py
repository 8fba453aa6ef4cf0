"""`candor journey schema|validate|lint|simulate|launch|stop|status|run` and `candor worker`.

Exit codes: 0 fine (warnings are printed), 1 validation or lint errors, 2 usage errors.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from candor.cli.base import (
    console,
    data_engine,
    domain_errors,
    err_console,
    fail,
    open_candor,
)
from candor.core.context import Candor
from candor.journeys import JourneyDefinition, JourneyError, Problem, journey_json_schema
from candor.journeys import load_journey as parse_journey
from candor.journeys.lint import check
from candor.journeys.reference import Registry
from candor.journeys.runtime import (
    DbRegistry,
    JourneyRefused,
    RunStats,
    default_dispatch,
    journey_status,
    launch,
    run_until_idle,
    run_worker,
    simulate,
    stop_journey,
)
from candor.journeys.runtime.processes import WorkerFailed, run_in_processes
from candor.journeys.validate import partial_problems, validate
from candor.store.engine import reading

app = typer.Typer(help="Journeys: check, simulate, launch and watch.", no_args_is_help=True)
FILE = typer.Argument(..., help="journey YAML/JSON")
PROCESSES_HELP = "Worker processes side by side, one per core (PostgreSQL only)."


def _read(file: Path, registry: Registry | None = None) -> JourneyDefinition:
    """Load a journey file, or print every problem and exit 1: with a registry, the reference
    problems of the parts that loaded too, so one run reports them all."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{file}: cannot be read: {exc.strerror}")
        raise
    try:
        return parse_journey(text, file.name)
    except JourneyError as exc:
        problems = exc.problems
        if registry is not None and exc.partial is not None:
            problems = problems + partial_problems(exc.partial, registry)
        _print_problems(problems)
        raise typer.Exit(1) from None


def _print_problems(problems: list[Problem]) -> None:
    """One line per problem: severity, step id, key path, message, code."""
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        step = f"step {p.step!r} " if p.step else ""
        text = escape(f"{step}{p.path or '<file>'}: {p.message} [{p.code}]")
        err_console.print(
            f"[{colour}]{p.severity}[/{colour}]: {text}", highlight=False, soft_wrap=True
        )


def _finish(problems: list[Problem], what: str) -> None:
    """Print the problems and exit 1 on errors; otherwise report success."""
    _print_problems(problems)
    if any(p.severity == "error" for p in problems):
        raise typer.Exit(1)
    console.print(f"{what}: no errors" + (f" ({len(problems)} warning(s))" if problems else ""))


@contextmanager
def _data_engine(ctx: typer.Context) -> Iterator[Engine]:
    """The data database only: checking a journey needs no keys."""
    engine = data_engine(ctx)
    try:
        yield engine
    finally:
        engine.dispose()


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of journey files (for editor completion)."""
    console.print_json(json.dumps(journey_json_schema()))


@app.command("validate")
def validate_cmd(ctx: typer.Context, file: Path = FILE) -> None:
    """Report every structural and reference problem with its step id and key path."""
    with _data_engine(ctx) as engine, reading(engine) as conn:
        registry = DbRegistry(conn)
        problems = validate(_read(file, registry), registry)
    _finish(problems, f"{file}: valid")


@app.command("lint")
def lint_cmd(ctx: typer.Context, file: Path = FILE) -> None:
    """Privacy lint: errors exit 1, warnings are printed and exit 0."""
    with _data_engine(ctx) as engine, reading(engine) as conn:
        registry = DbRegistry(conn)
        problems = check(_read(file, registry), registry)  # validation problems too
    _finish(problems, f"{file}: lint")


@app.command("simulate")
def simulate_cmd(
    ctx: typer.Context,
    file: Path = FILE,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Show, without writing anything, who would enter and pass each gated step, by reason."""
    defn = _read(file)
    cx = open_candor(ctx)
    try:
        with reading(cx.engine) as conn:
            figures = simulate(conn, defn, cx.clock.now())
    except JourneyRefused as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    finally:
        cx.dispose()
    if as_json:
        console.print_json(json.dumps(figures))
        return
    console.print(_reasons_table("enter", figures["enter"]["by_reason"]))
    for step in figures["steps"]:
        counts = {**step["by_reason"], **{k: v for k, v in step.get("deferred", {}).items() if v}}
        scope = " ".join(str(v) for v in (step["type"], step["channel"], step["theme"]) if v)
        console.print(_reasons_table(f"step {step['step']} ({scope})", counts))


def _reasons_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("reason")
    table.add_column("contacts", justify="right")
    for reason, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(reason, str(count))
    return table


@app.command("launch")
def launch_cmd(ctx: typer.Context, file: Path = FILE) -> None:
    """Check, store and start a journey: the target group enters now."""
    defn = _read(file)
    cx = open_candor(ctx)
    try:
        with domain_errors():
            report = launch(cx, defn, actor="cli")
    except JourneyRefused as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    finally:
        cx.dispose()
    _print_problems(report.warnings)
    console.print(f"journey {report.journey_id} running: {report.summary()}", highlight=False)
    console.print(_reasons_table("the target group by decision at entry", report.by_reason))


@app.command("stop")
def stop_cmd(ctx: typer.Context, journey_id: str = typer.Argument(...)) -> None:
    """Stop a journey now: queued messages are cancelled, journey data purged."""
    cx = open_candor(ctx)
    with domain_errors():
        result = stop_journey(cx, journey_id, actor="cli")
    cx.dispose()
    console.print(
        f"journey {journey_id} archived: {result.get('cancelled', 0)} queued messages cancelled"
    )


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    journey_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Counts per step and outcome, and how many contacts are at each step now."""
    cx = open_candor(ctx)
    with domain_errors(), reading(cx.engine) as conn:
        status = journey_status(conn, journey_id)
    cx.dispose()
    if as_json:
        console.print_json(json.dumps(status))
        return
    console.print(
        f"journey {status['id']} ({status['name']}): {status['state']}, {status['entered']} entered"
    )
    console.print(_status_table(status))


def _status_table(status: dict[str, Any]) -> Table:
    table = Table(title="per step", title_justify="left")
    for column in ("step", "outcome", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for step, outcomes in status["outcomes"].items():
        for outcome, count in sorted(outcomes.items()):
            table.add_row(step, outcome, str(count))
    for step, states in status["current"].items():
        for state, count in sorted(states.items()):
            table.add_row(step, f"now {state}", str(count))
    return table


def _dispatcher(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        return default_dispatch()
    except ImportError as exc:
        fail(str(exc))
        raise


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    until_idle: bool = typer.Option(False, "--until-idle", help="Process what is due, then exit."),
    dispatch: bool = typer.Option(True, "--dispatch/--no-dispatch", help="Also send the outbox."),
    batch_size: int = typer.Option(5000, "--batch-size", min=1, max=100_000),
    processes: int = typer.Option(1, "--processes", min=1, max=64, help=PROCESSES_HELP),
) -> None:
    """Advance running journeys in the foreground (for scripts and tests)."""
    if not until_idle:
        fail("journey run needs --until-idle (use `candor worker` to run forever)")
    cx = open_candor(ctx)
    if processes > 1:
        stats = _in_processes(cx, processes, dispatch=dispatch, once=True, batch_size=batch_size)
    else:
        stats = run_until_idle(cx, _dispatcher(dispatch), batch_size=batch_size)
    cx.dispose()
    console.print(
        f"advanced {stats.advanced} contact-steps, dispatched {stats.dispatched} "
        f"messages in {stats.rounds} rounds"
    )


def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Process everything due, then exit."),
    dispatch: bool = typer.Option(True, "--dispatch/--no-dispatch", help="Also send the outbox."),
    batch_size: int = typer.Option(5000, "--batch-size", min=1, max=100_000),
    idle_sleep: float = typer.Option(1.0, "--idle-sleep", min=0.05, help="Seconds to sleep idle."),
    processes: int = typer.Option(1, "--processes", min=1, max=64, help=PROCESSES_HELP),
) -> None:
    """Advance all running journeys (and send the outbox) until stopped."""
    cx = open_candor(ctx)
    stop = threading.Event()
    _stop_on_signals(stop)
    if processes > 1:
        stats = _in_processes(
            cx,
            processes,
            dispatch=dispatch,
            once=once,
            batch_size=batch_size,
            idle_sleep=idle_sleep,
            stop=stop,
        )
    else:
        stats = run_worker(
            cx,
            _dispatcher(dispatch),
            once=once,
            idle_sleep=idle_sleep,
            batch_size=batch_size,
            stop=stop,
        )
    cx.dispose()
    console.print(f"worker done: advanced {stats.advanced}, dispatched {stats.dispatched}")


def _in_processes(cx: Candor, processes: int, **settings: Any) -> RunStats:
    """run_in_processes, with refusals (SQLite) as exit 2 and a failed worker as exit 1."""
    with domain_errors():
        try:
            return run_in_processes(cx, processes, **settings)
        except WorkerFailed as exc:
            fail(str(exc), code=1)
            raise


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def register(root: typer.Typer) -> None:
    """Add `candor journey ...` and `candor worker` to the root command."""
    root.add_typer(app, name="journey")
    root.command("worker")(worker)
