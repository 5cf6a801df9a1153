"""Soak: the engine trading on an accelerated simulator for a set time; prints JSON (logs go to stderr).

    .venv/bin/python benchmarks/soak.py [--seconds 120] [--samples 40] [--warmup 0.25]

The real `Engine` runs in this process with its embedded simulator on loopback: prices move every
10 ms (20 times the default tick), the market maker requotes every 50 ms on a tight spread, so orders are
placed, cancelled and filled continuously; reconciliation runs every 2 s. A sampler records, over
time: RSS, asyncio tasks, open file descriptors, the journal's size on disk, the events journaled,
and a census of every container (dict, list, deque, set) reachable from the engine and the
simulator (`census`). After `--warmup` (a share of the run) it reports:

- `rss_growth_pct`: RSS at the end against RSS at the end of warm-up (goal < 5 %);
- `rss_slope_mb_per_h`: the least-squares slope of RSS after warm-up;
- `tasks_growth` / `fds_growth`: the same for tasks and descriptors (goal 0: nothing accumulates);
- `journal_bytes_per_s`: the journal grows by design (it is the record), reported as a rate;
- `growing`: the containers whose size grew after warm-up, largest growth first, each with what
  bounds it (`KNOWN_BOUNDS`: a cap or a time window it has not reached yet in a short run);
  `unbounded`: those with no known bound — what still leaks. EngineState's finished orders and fills
  leave the live state once archived (issue 17 item 4): the run sets `archive_after_h` to 0.02 (72 s).

The baseline in the same run is the warm-up sample itself: every growth figure is measured against
the same process after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.e2e.crashkit (the simulator process)
from tests.e2e.crashkit import SimProcess, start_sim

from nonstop import logs
from nonstop.config import (
    ApiSettings,
    EngineSettings,
    EngineVenue,
    JournalSettings,
    LogSettings,
    MonitorSettings,
    Settings,
    StrategySettings,
)
from nonstop.data import DataSettings, FeedSettings, ValidatorSettings
from nonstop.engine import Engine
from nonstop.risk.settings import RiskSettings
from nonstop.strategy.degradation import DegradationSettings

CONTAINERS = (dict, list, deque, set)
# structures that grow until a cap (or a window) holds them: (path suffix, what bounds it)
KNOWN_BOUNDS = (
    ("engine.state.orders", "archived once finished for archive_after_h (72 s here) and balance-checked"),
    ("engine.state.fills", "archived with their orders (the state carries their books)"),
    ("recorder._finished._since", "the finished orders still in the state (forgotten once archived)"),
    ("state.balance_pending", "the fills since the venue's last balance snapshot (every reconcile)"),
    ("venue_ids.finished", "the finished orders still in the state (archived ones leave; at most 10,000)"),
    ("venue_ids.by_id", "the orders still in the state (archived ones leave; finished: at most 10,000)"),
    ("].orders", "ccxt's order cache: options.ordersLimit (1,000)"),
    ("].myTrades", "ccxt's trade cache: options.tradesLimit (1,000)"),
    ("._sent", "risk OrderRate: the sends of the last 60 s"),
)


def soak_settings(data_dir: Path, sim: SimProcess) -> Settings:
    """Trading on the standalone simulator's venue; everything on loopback."""
    return Settings(
        log=LogSettings(level="warning"),
        engine=EngineSettings(
            embedded_sim=False,
            venues=[EngineVenue(name=sim.name, urls=sim.urls, weight_per_minute=1_000_000)],
            data_venues=[],
            strategy=StrategySettings(venue=sim.name, interval_s=0.05, half_spread_bps=Decimal("1"),
                                      requote_bps=Decimal("0.5"), max_position=Decimal("0.02")),
            degradation=DegradationSettings(recover_after_s=1.0),
            request_timeout_ms=2000,
            recv_window_ms=2000,
            reconcile_interval_s=2,
            # finished orders and their fills leave the live state after 72 s (24 h by default)
            journal=JournalSettings(archive_after_h=ARCHIVE_AFTER_H),
        ),
        data=DataSettings(
            validator=ValidatorSettings(max_age_s=1.5, max_unchanged_s=5.0, band_bps=Decimal(50), min_sources=1),
            feeds=FeedSettings(stall_s=1.0, poll_interval_s=0.2, request_timeout_s=2.0, check_interval_s=0.2),
        ),
        risk=RiskSettings(max_orders_per_second=50, max_orders_per_minute=3000, daily_loss_limit=None,
                          max_position_notional=None, max_total_position_notional=None),
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(port=0), sample_interval_s=1.0),
    )


ARCHIVE_AFTER_H = 0.02  # the accelerated run's retention: 72 s of event time

CAPPED: dict[str, int] = {}  # paths of deques with a maxlen, and that maxlen (found by `census`)


def census(roots: dict[str, Any], *, max_depth: int = 5, max_objects: int = 50_000) -> dict[str, int]:
    """The size of every container reachable from `roots` through attributes, by attribute path.

    Walks instance attributes (`__dict__` and `__slots__`) and the values of dicts/lists breadth
    first, each object once; modules, classes, functions and the asyncio loop are not entered.
    """
    sizes: dict[str, int] = {}
    seen: set[int] = set()
    queue: deque[tuple[str, Any, int]] = deque((name, obj, 0) for name, obj in roots.items())
    while queue and len(seen) < max_objects:
        path, obj, depth = queue.popleft()
        if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | Decimal | type):
            continue
        seen.add(id(obj))
        if isinstance(obj, asyncio.AbstractEventLoop) or (callable(obj) and not hasattr(obj, "__dict__")):
            continue
        if isinstance(obj, CONTAINERS):
            sizes[path] = len(obj)
            if isinstance(obj, deque) and obj.maxlen is not None:
                CAPPED[path] = obj.maxlen
            if depth < max_depth and len(obj) <= 64:  # look inside small containers (a venue map, a list of feeds)
                items = obj.items() if isinstance(obj, dict) else enumerate(obj)
                for key, value in list(items):
                    queue.append((f"{path}[{key!s:.24}]", value, depth + 1))
            continue
        if depth >= max_depth or type(obj).__module__.split(".")[0] in ("asyncio", "builtins", "logging", "ssl"):
            continue
        attrs: dict[str, Any] = {}
        if hasattr(obj, "__dict__"):
            attrs.update(vars(obj))
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    attrs[slot] = getattr(obj, slot)
        for name, value in attrs.items():
            queue.append((f"{path}.{name}", value, depth + 1))
    return sizes


def journal_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("journal.sqlite*") if p.is_file())


async def sample_forever(engine: Engine, sim: SimProcess, data_dir: Path, every: float, out: list[dict[str, Any]],
                         censuses: list[dict[str, int]]) -> None:
    proc, sim_proc = psutil.Process(), psutil.Process(sim.proc.pid)
    t0 = time.monotonic()
    while True:
        await asyncio.sleep(every)
        if engine.status.phase != "trading":
            continue
        state = engine.state
        sim_alive = sim.proc.poll() is None
        out.append({
            "t_s": round(time.monotonic() - t0, 1),
            "rss_mb": round(proc.memory_info().rss / 2**20, 2),
            "tasks": len(asyncio.all_tasks()),
            "fds": proc.num_fds(),
            "journal_mb": round(journal_bytes(data_dir) / 2**20, 3),
            "events": state.last_seq if state is not None else 0,
            "orders_in_state": len(state.orders) if state is not None else 0,
            "fills_in_state": len(state.fills) if state is not None else 0,
            "orders_archived": state.archived_orders if state is not None else 0,
            "fills_archived": state.carried.fills if state is not None else 0,
            "level": engine.degradation.level if engine.degradation is not None else "",
            "sim_rss_mb": round(sim_proc.memory_info().rss / 2**20, 2) if sim_alive else 0.0,
            "sim_alive": sim_alive,
        })
        censuses.append(census({"engine": engine}))


def growth(samples: list[dict[str, Any]], censuses: list[dict[str, int]], warmup: float) -> dict[str, Any]:
    start = max(1, int(len(samples) * warmup))
    if len(samples) - start < 2:
        raise SystemExit(f"too few samples after warm-up ({len(samples)} in all): run longer")
    base, last = samples[start], samples[-1]
    after = samples[start:]
    span_h = (last["t_s"] - base["t_s"]) / 3600
    xs = [s["t_s"] for s in after]
    slope = statistics.linear_regression(xs, [s["rss_mb"] for s in after]).slope * 3600
    grew = []
    first, final = censuses[start], censuses[-1]
    for path, size in final.items():
        before = first.get(path, 0)
        if size > before and size >= 32:
            bound = next((why for suffix, why in KNOWN_BOUNDS if path.endswith(suffix)), None)
            if bound is None and path in CAPPED:
                bound = f"a deque of at most {CAPPED[path]}"
            grew.append({"structure": path, "after_warmup": before, "end": size, "bounded_by": bound})
    grew.sort(key=lambda g: g["end"] - g["after_warmup"], reverse=True)
    return {
        "warmup_s": base["t_s"],
        "measured_s": round(last["t_s"] - base["t_s"], 1),
        "rss_mb_after_warmup": base["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "rss_growth_pct": round((last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] * 100, 2),
        "rss_slope_mb_per_h": round(slope, 2),
        "tasks_after_warmup": base["tasks"],
        "tasks_end": last["tasks"],
        "tasks_max": max(s["tasks"] for s in after),
        "tasks_growth": last["tasks"] - base["tasks"],
        "fds_after_warmup": base["fds"],
        "fds_end": last["fds"],
        "fds_growth": last["fds"] - base["fds"],
        "journal_bytes_per_s": round((last["journal_mb"] - base["journal_mb"]) * 2**20 / (span_h * 3600))
        if span_h else 0,
        "events_per_s": round((last["events"] - base["events"]) / (span_h * 3600)) if span_h else 0,
        "growing": grew[:25],
        "unbounded": [g["structure"] for g in grew if g["bounded_by"] is None],
    }


async def soak(seconds: float, samples: int, warmup: float, tick_ms: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nonstop-soak-") as tmp:
        data_dir = Path(tmp)
        # the simulator outlives the run (its own --duration stops it otherwise: a 900 s default once
        # ended an hour's soak after 15 minutes, and the engine idled, halted, for the rest)
        sim = start_sim(data_dir, tick_ms=tick_ms, duration_s=int(seconds) + 600)
        try:
            settings = soak_settings(data_dir, sim)
            logs.configure(settings.log, stream=sys.stderr)
            engine = Engine(settings)
            out: list[dict[str, Any]] = []
            censuses: list[dict[str, int]] = []
            sampler = asyncio.create_task(sample_forever(engine, sim, data_dir, seconds / samples, out, censuses))
            try:
                await engine.run(duration=seconds)
            finally:
                sampler.cancel()
                await asyncio.wait([sampler])
        finally:
            sim.stop()
        result: dict[str, Any] = {"seconds": seconds, "samples": len(out), "warmup_share": warmup,
                                  "sim_tick_ms": tick_ms}
        # a run whose market went away, or whose engine stopped trading, measures an idle engine
        traded = len(out) >= 2 and out[-1]["orders_archived"] + out[-1]["orders_in_state"] > (
            out[len(out) // 2]["orders_archived"] + out[len(out) // 2]["orders_in_state"])
        result["valid"] = bool(out) and all(s["sim_alive"] for s in out) and traded
        if not result["valid"]:
            result["invalid_because"] = ("the simulator exited during the run"
                                         if not all(s["sim_alive"] for s in out) else
                                         "no order was placed in the second half of the run")
        result.update(growth(out, censuses, warmup))
        result["over_time"] = out
        return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--warmup", type=float, default=0.25, help="share of the run before growth is measured")
    ap.add_argument("--tick-ms", type=int, default=20, help="the simulator's tick (its default is 200 ms)")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    print(json.dumps(asyncio.run(soak(args.seconds, args.samples, args.warmup, args.tick_ms)), indent=2))


if __name__ == "__main__":
    main()
