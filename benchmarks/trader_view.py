"""What the trader's view costs: the console report on the event path, and `nonstop status` /
`nonstop export fills` on a journal of many fills, each against a baseline measured in the same run.

    .venv/bin/python benchmarks/trader_view.py                      # 40000 events
    .venv/bin/python benchmarks/trader_view.py --events 100000

* console report: complete order lifecycles (intent, submitted, accepted, filled) folded into an
  `EngineState` one event at a time; baseline: the fold alone; measured: the fold plus
  `ConsoleReport.on_event` (its lines rendered by the console renderer into /dev/null). Prints the
  added microseconds per event.
* status / export: one SQLite journal holding those events; baseline: `replay` alone (what any reader
  of the journal pays); measured: `status.collect` (replay + the tail scan for the last reconcile and
  open alerts + PnL + balances) and `exports.collect("fills")` + CSV.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_throughput import order_events

from nonstop import exports, logs, status
from nonstop.clock import LiveClock
from nonstop.config import LogSettings, Settings
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import EngineState
from nonstop.monitor.console_report import ConsoleReport


def bench_report(events: list[Any]) -> dict[str, Any]:
    with open(os.devnull, "w") as null:
        logs.configure(LogSettings(level="info", format="console"), stream=null)
        t = time.perf_counter()
        state = EngineState()
        for seq, e in enumerate(events, 1):
            state.apply(e, seq=seq)
        base = time.perf_counter() - t
        state = EngineState()
        report = ConsoleReport(state, LiveClock(), level=lambda: "normal", mark=lambda _i: None)
        t = time.perf_counter()
        for seq, e in enumerate(events, 1):
            state.apply(e, seq=seq)
            report.on_event(e)
        with_report = time.perf_counter() - t
    logs.configure(LogSettings(level="warning", format="console"))
    n = len(events)
    return {"events": n, "baseline_fold_us_per_event": round(base / n * 1e6, 2),
            "fold_plus_report_us_per_event": round(with_report / n * 1e6, 2),
            "added_us_per_event": round((with_report - base) / n * 1e6, 2),
            "lines_per_event": round((report.counts["fills"] + report.counts["placed"]) / n, 3)}


async def bench_reading(tmp: Path, events: list[Any], rounds: int) -> dict[str, Any]:
    path = tmp / "journal.sqlite"
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        for i in range(0, len(events), 5000):
            await journal.append(events[i:i + 5000], epoch=1)
    settings = Settings(data_dir=tmp)

    async def replay_only() -> None:
        journal = SQLiteJournal(path, read_only=True)
        await journal.open()
        try:
            await replay(journal)
        finally:
            await journal.close()

    async def export_csv() -> None:
        exports.to_csv("fills", await exports.collect(settings, "fills", None, None))

    out: dict[str, Any] = {}
    for name, run in (("baseline_replay", replay_only), ("status", lambda: status.collect(settings)),
                      ("export_fills_csv", export_csv)):
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            await run()
            times.append(time.perf_counter() - t)
        out[name + "_s"] = round(min(times), 3)
    out["status_over_replay"] = round(out["status_s"] / out["baseline_replay_s"], 2)
    out["export_over_replay"] = round(out["export_fills_csv_s"] / out["baseline_replay_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3, help="reads per measurement (the best is kept)")
    args = parser.parse_args()
    events = order_events(args.events)
    report = bench_report(events)
    with tempfile.TemporaryDirectory() as tmp:
        reading = asyncio.run(bench_reading(Path(tmp), events, args.rounds))
    print(json.dumps({"benchmark": "trader_view", "python": platform.python_version(),
                      "console_report": report, "journal_readers": reading}, indent=2))


if __name__ == "__main__":
    main()
