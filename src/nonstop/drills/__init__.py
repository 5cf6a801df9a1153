"""Failover drills and the resilience scorecard (M15, B4): `nonstop drill`.

scenarios  what each scenario injects and must show; `--list`
setup      the drill's simulator and engine configs, made from the user's
processes  the real simulator (`sim` command) and engine (`run`) processes, bounded and always stopped
observe    looks at the engine's API and the simulator while the drill runs
runner     the drill: settle, then each scenario (calm, inject, hold, clear, recover)
journal_schema  the drill's own PostgreSQL schema (HA configs), dropped at the end unless kept
evidence   the journal (read-only) and the simulator's records, read afterwards
scorecard  the arithmetic: detect, recover, unmanaged seconds, lost fills, balances (pure)
measure    per-run figures, median/max over repeats, drill-wide checks
report     report.json, report.html (plots embedded), report.md
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from nonstop.config import Settings
from nonstop.drills.evidence import read_journal, read_log_marks
from nonstop.drills.journal_schema import drop_drill_schema, schema_of
from nonstop.drills.runner import Drill, DrillOptions, DrillRun
from nonstop.drills.scenarios import CATALOGUE, Scenario, listing, select
from nonstop.errors import ConfigError

log = structlog.get_logger("nonstop.drills")

__all__ = ["CATALOGUE", "DrillOptions", "Scenario", "listing", "run_drill", "select", "summary_table"]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


async def _report(drill: DrillRun, skipped: list[tuple[Scenario, str]]) -> dict[str, Any]:
    from nonstop.drills import measure, report

    journal = await read_journal(drill.settings)
    journal.marks.extend(await asyncio.to_thread(read_log_marks, drill.engine_logs))
    sim = drill.sim
    by_scenario: dict[str, list[measure.RunResult]] = {}
    for record in drill.runs:
        by_scenario.setdefault(record.scenario.name, []).append(measure.measure_run(drill, record, journal, sim))
    scenarios = []
    for name, results in by_scenario.items():
        summary = measure.scenario_summary(results[0].record.scenario, results)
        scenarios.append(summary)
        await asyncio.to_thread(
            report.plot_run,
            drill.options.out / "plots" / f"{name}.png",
            name,
            summary["runs"][0],
            drill.observer.samples,
            journal,
        )
    checks = measure.drill_checks(drill, journal, sim)
    out = {
        "started": _iso(drill.started),
        "finished": _iso(drill.finished),
        "seed": drill.options.seed,
        "repeat": drill.options.repeat,
        "config": str(drill.options.config) if drill.options.config else None,
        "venue": drill.venue,
        "data_venue": drill.data_venue,
        "start_balances": {a: str(v) for a, v in drill.start_balances.items()},
        "scenarios": scenarios,
        "skipped": [{"name": s.name, "needs": why} for s, why in skipped],
        "drill": checks,
        "passed": checks["passed"] and all(s["passed"] for s in scenarios),
        "engine_logs": [str(p) for p in drill.engine_logs],
    }
    await asyncio.to_thread(report.write_reports, drill.options.out, out)
    return out


async def run_drill(options: DrillOptions, names: list[str]) -> dict[str, Any]:
    """Run the named scenarios (the default set if none), write the reports, return report.json's content.

    SIGINT and SIGTERM cancel it; the runner then stops both processes before this raises CancelledError."""
    from nonstop.config import load_settings

    scenarios, skipped = select(names, load_settings(options.config))
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    runner = Drill(options, scenarios)
    try:
        return await _report(await runner.run(), skipped)
    finally:
        if runner.settings is not None:
            await clean_up_schema(runner.settings, options)


async def clean_up_schema(settings: Settings, options: DrillOptions) -> None:
    """Drop the drill's own journal schema (kept with `--keep`), also after a failed or interrupted drill."""
    schema = schema_of(settings)
    if schema is None:
        return
    if options.keep_schema:
        log.info("drill_schema_kept", schema=schema)
        return
    try:
        await drop_drill_schema(settings)
    except (ConfigError, OSError, asyncpg.PostgresError) as err:  # the report stands; say what is left
        log.warning("drill_schema_left", schema=schema, error=str(err))


def summary_table(report: dict[str, Any]) -> str:
    """The scorecard's summary table as text (what `nonstop drill` prints)."""
    from nonstop.drills.report import HEAD, balance_text, row

    rows = [HEAD] + [row(s) for s in report["scenarios"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [f"skipped {s['name']}: needs {s['needs']}" for s in report["skipped"]]
    d = report["drill"]
    lines.append(f"drill-wide: duplicates {len(d['duplicates'])}, lost fills {len(d['lost_fills'])}, "
                 f"balance difference {balance_text(d)} -> {'PASS' if report['passed'] else 'FAIL'}")
    return "\n".join(lines)
