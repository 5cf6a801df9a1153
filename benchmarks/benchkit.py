"""What every benchmark shares: its JSON alone on stdout, its logs on stderr, and its figure rows.

A benchmark calls `logs_to_stderr()` before it starts anything (the simulator and the engine log
through structlog, whose default printer writes to stdout) and `emit(result)` at the end, so
`python benchmarks/<name>.py | jq .` always works.

`figure(...)` builds one row of the README's figures table; a benchmark puts its rows in its JSON
under `"figures"` and `run_all.py` collects them into one table. A benchmark may also declare
`QUICK_ARGS = [...]` at module level: the arguments of a small run (seconds), used by
`run_all.py --quick` and by the test that checks every benchmark's stdout parses as JSON.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
from typing import Any

import structlog


def logs_to_stderr(level: int = logging.WARNING) -> None:
    """structlog and stdlib logging to stderr, warnings and above: stdout carries only the JSON."""
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(stream=sys.stderr, level=level, force=True)


def emit(result: dict[str, Any]) -> None:
    """Print the benchmark's JSON document, alone, on stdout."""
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    sys.stdout.flush()


def figure(name: str, ours: str, baseline: str, goal: str = "", verdict: str = "") -> dict[str, str]:
    """One row of the figures table: what, our figure, the baseline measured in the same run, the
    goal, and whether it is met (or what holds it back)."""
    return {"figure": name, "ours": ours, "baseline": baseline, "goal": goal, "verdict": verdict}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(ms: list[float]) -> dict[str, float]:
    """Median, p99 and mean of durations given in milliseconds."""
    return {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(pct(ms, 0.99), 3),
            "mean_ms": round(statistics.fmean(ms), 3)}
