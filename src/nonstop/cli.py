"""The `nonstop` command line: run the engine, the exchange simulator, and chaos (fault injection)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import structlog
import typer

from nonstop import logs
from nonstop.chaos_cli import chaos_app
from nonstop.config import Settings, load_settings, require_credentials
from nonstop.errors import CorruptRecord, FoldRefused, JournalHeld, NonstopError, OwnershipLost
from nonstop.journal_cli import journal_app, way_out

T = TypeVar("T")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="nonstop: a fault-tolerant crypto trading engine",
)
app.add_typer(chaos_app, name="chaos")
app.add_typer(journal_app, name="journal")
NOT_OWNER_EXIT = 3  # refused (another engine holds the journal) or fenced (another took it over)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file (defaults apply if omitted)")]


def _settings(config: Path | None, *, trading: bool = False) -> Settings:
    """The validated config; `trading`: also the key env vars of live/testnet trading venues."""
    try:
        settings = load_settings(config)
        if trading:
            require_credentials(settings, source=str(config))
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    logs.configure(settings.log)
    return settings


async def _until_signalled(main: Any) -> None:
    """Run `main` until SIGINT/SIGTERM, then cancel it cleanly."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(main)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):  # the signal asked us to stop: a clean exit
        await task


def _first_error(group: BaseExceptionGroup[Any]) -> NonstopError | None:
    """The NonstopError that ended a task group (the engine's supervised tasks), if one did."""
    for exc in group.exceptions:
        if isinstance(exc, NonstopError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_error(exc)
            if found is not None:
                return found
    return None


def _run(main: Coroutine[Any, Any, T], *, config: Path | None = None) -> T:
    """Run `main` on a new event loop; a NonstopError ends the command with its message and exit 1
    (3 when this process does not, or no longer, own its journal)."""
    try:
        return asyncio.run(main)
    except NonstopError as err:
        _fail(err, config)
    except BaseExceptionGroup as group:
        err = _first_error(group)
        if err is None:
            raise
        _fail(err, config)


def _fail(err: NonstopError, config: Path | None) -> NoReturn:
    typer.echo(f"error: {err}", err=True)
    if isinstance(err, OwnershipLost):
        typer.echo("error: this engine no longer owns its journal: it stopped sending at once and exits "
                   "(its open orders are the new holder's to manage)", err=True)
    if isinstance(err, CorruptRecord | FoldRefused):
        typer.echo(f"error: {way_out(err, config)}", err=True)
    raise typer.Exit(NOT_OWNER_EXIT if isinstance(err, OwnershipLost | JournalHeld) else 1) from None


def _run_until_signalled(main: Coroutine[Any, Any, None], *, config: Path | None = None) -> None:
    _run(_until_signalled(main), config=config)


@app.command()
def sim(
    config: ConfigOpt = None,
    duration: Annotated[float | None, typer.Option(help="stop by itself after this many seconds")] = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="keep orders, trades and balances in this folder across restarts")
    ] = None,
) -> None:
    """Run the exchange simulator: several venues (Binance spot or OKX v5 dialect), several endpoints each."""
    settings = _settings(config)
    from nonstop.embedded_sim import serve_simulator

    def announce(info: dict[str, Any]) -> None:
        typer.echo(json.dumps(info), err=True)

    _run_until_signalled(serve_simulator(settings, duration, state, announce))


@app.command()
def run(
    config: ConfigOpt = None,
    duration: Annotated[float | None, typer.Option(help="stop by itself after this many seconds")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug lines too")] = False,
    role: Annotated[
        str | None,
        typer.Option(help="HA role: 'auto' (stand by, lead when the lease is free) or 'single'; "
                     "default: engine.ha.role"),
    ] = None,
) -> None:
    """Run the engine: by default the example market maker on the embedded simulator, journal in SQLite.

    Exits with status 3 when it was fenced (another engine took the HA lease over).
    """
    settings = _settings(config, trading=True)
    if quiet or verbose:
        level = "debug" if verbose else "warning"
        settings = settings.model_copy(update={"log": settings.log.model_copy(update={"level": level})})
        logs.configure(settings.log)
    if role is not None:
        settings = _with_role(settings, role)
    from nonstop.engine import Engine

    engine = Engine(settings)
    try:
        _run_until_signalled(engine.run(duration), config=config)
    except Exception as err:  # re-raised unless it is the consequence of being fenced
        if engine.fenced is None:
            raise
        structlog.get_logger("nonstop.cli").info("stopped_after_fencing", error_type=type(err).__name__)
    if engine.fenced is not None:
        typer.echo(f"error: {engine.fenced}", err=True)
        raise typer.Exit(3)  # nonstop.ha.role.FENCED_EXIT_CODE


def _with_role(settings: Settings, role: str) -> Settings:
    """`settings` with `engine.ha.role` set from the command line (checked like the config key)."""
    eng = settings.engine
    if role not in ("single", "auto"):
        typer.echo(f"error: --role {role!r}: must be 'auto' or 'single'", err=True)
        raise typer.Exit(2)
    if role == "auto" and eng.journal.backend != "postgres":
        typer.echo("error: --role auto needs engine.journal.backend = 'postgres' (the lease lives there)", err=True)
        raise typer.Exit(2)
    ha = eng.ha.model_copy(update={"role": role})
    return settings.model_copy(update={"engine": eng.model_copy(update={"ha": ha})})


@app.command()
def plan(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """What the config would do and send where (hosts, keys' environment variables, journal, risk),
    read before anything starts: connects nowhere, sends nothing, reads the journal without writing.
    Exit 1 when an environment variable it needs is missing or the journal would refuse this config."""
    settings = _settings(config)
    logs.configure(settings.log.model_copy(update={"level": "warning"}))
    from nonstop.plan import build_plan, journal_check, render

    try:
        found = build_plan(settings, str(config) if config else "defaults (no --config)")
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    found["journal"]["found"] = _run(journal_check(settings), config=config)
    typer.echo(json.dumps(found, indent=2) if as_json else render(found))
    if found["not_ready"] or "refused" in found["journal"]["found"]:
        raise typer.Exit(1)


@app.command()
def status(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    watch: Annotated[float | None, typer.Option("--watch", help="refresh in place every this many seconds")] = None,
) -> None:
    """Running or stopped, PnL, orders, balances, positions, reconciliation and alerts of an instance."""
    settings = _settings(config)
    logs.configure(settings.log.model_copy(update={"level": "warning"}))
    from nonstop import status as status_view

    path = settings.engine.journal.path or settings.data_dir / "journal.sqlite"
    if settings.engine.journal.backend == "sqlite" and not path.exists():
        typer.echo(f"error: no journal at {path}: has this instance ever run?", err=True)
        raise typer.Exit(1)
    if watch is not None:
        _run_until_signalled(status_view.watch(settings, max(watch, 0.5)))
        return
    data = _run(status_view.collect(settings))
    typer.echo(json.dumps(data, indent=2) if as_json else status_view.render(data))


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="fills | orders | balances")],
    config: ConfigOpt = None,
    since: Annotated[str | None, typer.Option(help="from this UTC time on (ISO 8601, e.g. 2026-01-01)")] = None,
    until: Annotated[str | None, typer.Option(help="before this UTC time (ISO 8601)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | json | parquet")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here (parquet needs it)")] = None,
) -> None:
    """Fills, orders or balance snapshots from the journal, as CSV, JSON or Parquet (times in UTC)."""
    settings = _settings(config)
    logs.configure(settings.log.model_copy(update={"level": "warning"}))
    from nonstop import exports

    problem = (f"export {kind!r}: choose fills, orders or balances" if kind not in ("fills", "orders", "balances")
               else f"--format {fmt!r}: choose csv, json or parquet" if fmt not in ("csv", "json", "parquet")
               else "--format parquet writes a file: add --output FILE.parquet" if fmt == "parquet" and not output
               else None)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    path = settings.engine.journal.path or settings.data_dir / "journal.sqlite"
    if settings.engine.journal.backend == "sqlite" and not path.exists():
        typer.echo(f"error: no journal at {path}: has this instance ever run?", err=True)
        raise typer.Exit(1)
    try:
        window = exports.parse_time(since, "--since"), exports.parse_time(until, "--until")
        rows = _run(exports.collect(settings, kind, *window))  # type: ignore[arg-type]
        if fmt == "parquet":
            assert output is not None
            exports.write_parquet(kind, rows, output)  # type: ignore[arg-type]
            typer.echo(f"{len(rows)} {kind} written to {output}", err=True)
            return
        text = exports.to_csv(kind, rows) if fmt == "csv" else exports.to_json(rows)  # type: ignore[arg-type]
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(rows)} {kind} written to {output}", err=True)


@app.command()
def drill(
    scenarios: Annotated[list[str] | None, typer.Argument(help="scenario names (`--list`); default: all")] = None,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="reports folder; default <data_dir>/drill (the dashboard links it)")
    ] = None,
    seed: Annotated[int, typer.Option(help="the simulator's market and the fault timing")] = 42,
    repeat: Annotated[int, typer.Option(min=1, max=20, help="run each scenario N times (median and max)")] = 1,
    list_: Annotated[bool, typer.Option("--list", help="name the scenarios, one line each")] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="keep the drill's PostgreSQL journal schema (drill_<time>); default: dropped")
    ] = False,
) -> None:
    """Failover drill: the simulator and the engine (your config) as real processes, each scenario
    injected and measured; writes the scorecard; exits 1 when an invariant broke."""
    from nonstop import drills

    if list_:
        typer.echo(drills.listing(_settings(config) if config is not None else None))
        return
    settings = _settings(config)  # a bad config is named before any process starts
    out = out or settings.data_dir / "drill"
    try:
        drills.select(scenarios or [], settings)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    options = drills.DrillOptions(config=config, out=out, seed=seed, repeat=repeat, keep_schema=keep)
    try:
        report = _run(drills.run_drill(options, scenarios or []), config=config)
    except asyncio.CancelledError:
        typer.echo("drill interrupted: the simulator and the engine were stopped; no report written", err=True)
        raise typer.Exit(130) from None
    typer.echo(drills.summary_table(report))
    typer.echo(f"report: {out / 'report.html'}")
    if not report["passed"]:
        raise typer.Exit(1)


# ---------------------------------------------------------------- kill switch
def _kill_switch_report(outcome: Any) -> None:
    typer.echo(json.dumps({"via": outcome.via, **outcome.data}, indent=2, default=str))
    if not outcome.ok:
        raise typer.Exit(3)


@app.command()
def halt(
    config: ConfigOpt = None,
    reason: Annotated[str, typer.Option(help="why (journaled, shown and alerted)")] = "halted from the command line",
    flatten: Annotated[bool, typer.Option("--flatten", help="also close every position (reduce-only orders)")] = False,
) -> None:
    """Kill switch: stop trading and cancel every open order, through the running engine's API, or
    straight into the journal when it is not running; the engine stays halted until `nonstop resume`.
    Exit 3 if asked to flatten and positions are left."""
    settings = _settings(config)
    from nonstop.killswitch import commands

    _kill_switch_report(_run(commands.halt(settings, reason, flatten=flatten)))


@app.command()
def resume(
    config: ConfigOpt = None,
    reason: Annotated[str, typer.Option(help="why (journaled)")] = "resumed from the command line",
) -> None:
    """Lift the kill switch (through the running engine's API, or into the journal)."""
    settings = _settings(config)
    from nonstop.killswitch import commands

    _kill_switch_report(_run(commands.resume(settings, reason)))


@app.command()
def watchdog(
    config: ConfigOpt = None,
    duration: Annotated[float | None, typer.Option(help="stop by itself after this many seconds")] = None,
) -> None:
    """Dead man's switch: watch the engine's heartbeat; when it has been silent for
    `watchdog.silence_s`, cancel every open order of the instance on every venue (and, with
    `watchdog.flatten`, close its positions with the watchdog's own orders), journal and alert."""
    settings = _settings(config)
    from nonstop.watchdog.service import run_watchdog

    _run_until_signalled(run_watchdog(settings, duration))


def main() -> None:
    try:
        app()
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
