"""Market-data pipeline throughput and staleness-detection delay; prints JSON (logs go to stderr).

    .venv/bin/python benchmarks/data_pipeline.py [--ticks 60000] [--sources 3] [--rounds 3]

- `pipeline_ticks_per_s`: updates through the whole path on one core — each source's feed loop
  (time-boxed websocket wait), the bounded hand-off queue, the validator, the consensus and the
  strategy runner (a market maker with its reduce-only gate) — fed by in-process sources that
  answer at once (yielding to the loop once per message, as a socket read does), so the figure is
  our overhead, not the network's. `..._per_cpu_s` divides by the process's CPU time instead of the
  wall clock: on a shared machine that is the figure of one core.
- `baseline_*`: the same, in the same run, through the straightforward path the incremental one
  replaced (tests/unit/data/straight.py: a task pair per websocket wait, every source re-judged
  and every quality built three times per assessment, positions weighed on every gate).
- `asyncio_floor_ticks_per_s`: the same feed tasks, queue and conflating dispatcher doing nothing
  else — what asyncio alone costs on this machine, the ceiling of any pipeline built this way.
- `validator_strategy_ticks_per_s`: observe + assess + strategy per tick, no feed tasks or queue.
- `profile_top`: where the pipeline's time goes (cProfile own time, share of the total).
- `staleness_detection`: a source stops; the time from its last update until the published
  consensus marks it STALE, minus `max_age_s` (the part that is detection delay, bounded by
  `check_interval_s`), over several trials.

Rounds alternate the two paths and the best round of each is reported (load on a shared machine
only ever slows a round down).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import pstats
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.unit.data.straight (the baseline)

from tests.unit.data.straight import StraightRunner, StraightValidator, straighten

from nonstop.clock import LiveClock
from nonstop.data import (
    ConsensusQuote,
    DataSettings,
    FeedSettings,
    MarketDataHub,
    SourceQuote,
    SourceSpec,
    SourceStatus,
    Validator,
    ValidatorSettings,
)
from nonstop.model import EngineState, Instrument, InstrumentId
from nonstop.strategy.base import StrategyView
from nonstop.strategy.market_maker import MarketMaker
from nonstop.strategy.runner import StrategyRunner
from nonstop.venues.port import Quote

SYMBOL = "BTC/USDT"


def quotes(venue: str, n: int) -> list[Quote]:
    iid = InstrumentId(venue, SYMBOL)
    out = []
    for i in range(n):
        bid = Decimal(60000) + Decimal(i % 50) / 10
        out.append(Quote(iid, bid, bid + Decimal("0.5"), None, LiveClock().now()))
    return out


def strategy(straight: bool = False) -> tuple[StrategyRunner, StrategyView]:
    iid = InstrumentId("v0", SYMBOL)
    inst = Instrument(iid, Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"))
    maker = MarketMaker("mm", iid, Decimal("0.001"))
    runner = StraightRunner(maker) if straight else StrategyRunner(maker)
    return runner, StrategyView("mm", EngineState(), {iid: inst})


def watches(sources: int, per: int, done: asyncio.Event) -> list:  # type: ignore[type-arg]
    """One in-process websocket per source: `per` quotes, each after one yield to the loop, then silence."""
    remaining = {"n": sources}

    def make_watch(qs: list[Quote]):  # type: ignore[no-untyped-def]
        it = iter(qs)

        async def watch() -> Quote:
            try:
                q = next(it)
            except StopIteration:
                remaining["n"] -= 1
                if remaining["n"] == 0:
                    done.set()
                await asyncio.Event().wait()  # silent from now on
                raise
            await asyncio.sleep(0)  # a real websocket read yields to the loop
            return q

        return watch

    return [make_watch(quotes(f"v{i}", per)) for i in range(sources)]


async def pipeline(ticks: int, sources: int, straight: bool = False) -> dict[str, float]:
    clock = LiveClock()
    per = ticks // sources
    runner, view = strategy(straight)
    done = asyncio.Event()
    counted = {"updates": 0, "intents": 0}

    async def on_update(c: ConsensusQuote) -> None:
        counted["updates"] += 1
        counted["intents"] += len(runner.on_market(c, view).allowed)

    specs = [
        SourceSpec(f"v{i}", InstrumentId(f"v{i}", SYMBOL), w) for i, w in enumerate(watches(sources, per, done))
    ]
    settings = DataSettings(feeds=FeedSettings(queue_size=4096, check_interval_s=1.0), validator=ValidatorSettings())
    hub = MarketDataHub(clock, specs, settings, on_update)
    if straight:
        straighten(hub)
    t0, c0 = time.perf_counter(), time.process_time()
    task = asyncio.create_task(hub.run())
    await done.wait()
    for _ in range(100_000):  # let the dispatcher drain what is still queued
        if hub._queue.empty():
            break
        await asyncio.sleep(0)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await stop(task)
    n = per * sources
    return {
        "ticks_per_s": round(n / elapsed),
        "ticks_per_cpu_s": round(n / cpu),
        "consensus_published": counted["updates"],
        "dropped": hub.dropped,
        "elapsed_s": round(elapsed, 3),
    }


async def asyncio_floor(ticks: int, sources: int) -> dict[str, float]:
    """The pipeline's asyncio skeleton alone: feed tasks awaiting a yielding source, the bounded
    queue, a dispatcher that conflates a burst; no validation, consensus or strategy."""
    per = ticks // sources
    done = asyncio.Event()
    queue: asyncio.Queue[Quote] = asyncio.Queue(4096)

    async def feed(watch) -> None:  # type: ignore[no-untyped-def]
        while True:
            q = await watch()
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(q)

    async def dispatch() -> None:
        while True:
            await queue.get()
            while not queue.empty():
                queue.get_nowait()

    t0, c0 = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(feed(w)) for w in watches(sources, per, done)]
        tasks.append(tg.create_task(dispatch()))
        await done.wait()
        for _ in range(100_000):  # let the dispatcher drain what is still queued
            if queue.empty():
                break
            await asyncio.sleep(0)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        for t in tasks:
            t.cancel()
    return {"asyncio_floor_ticks_per_s": round(per * sources / elapsed),
            "asyncio_floor_ticks_per_cpu_s": round(per * sources / cpu)}


def validator_only(ticks: int, sources: int, straight: bool = False) -> float:
    clock = LiveClock()
    v = StraightValidator(clock, ValidatorSettings()) if straight else Validator(clock, ValidatorSettings())
    runner, view = strategy(straight)
    streams = [quotes(f"v{i}", ticks // sources) for i in range(sources)]
    t0 = time.process_time()
    n = 0
    for i in range(ticks // sources):
        for s in range(sources):
            v.observe(SourceQuote(f"v{s}", "ws", streams[s][i], clock.monotonic()))
            runner.on_market(v.assess(SYMBOL), view)
            n += 1
    return round(n / (time.process_time() - t0))


def profile_top(ticks: int, sources: int, straight: bool, top: int = 10) -> list[dict[str, object]]:
    """cProfile of one pipeline run: the functions with the most own time, as shares of the total."""
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(pipeline(ticks, sources, straight))
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values()) or 1.0
    rows = sorted(
        ((k, v) for k, v in stats.items() if k[2] not in ("quotes", "watches")),  # the benchmark's own set-up
        key=lambda kv: kv[1][2],
        reverse=True,
    )[:top]
    return [
        {"function": f"{Path(file).name}:{line}({name})", "own_share": round(v[2] / total, 3), "calls": v[1]}
        for (file, line, name), v in rows
    ]


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel our own task and wait for it; our caller's cancellation still propagates."""
    task.cancel()
    await asyncio.wait([task])


async def staleness_trial(max_age: float, check: float) -> float:
    """One trial: three sources at 100 Hz, v0 stops; seconds from its last update to STALE, minus max_age."""
    clock = LiveClock()
    stop_v0 = asyncio.Event()
    detected = asyncio.Event()
    last = {"t": 0.0, "delay": 0.0}

    def make(venue: str, stoppable: bool):  # type: ignore[no-untyped-def]
        qs = quotes(venue, 1000)

        async def watch() -> Quote:
            await asyncio.sleep(0.01)
            if stoppable and stop_v0.is_set():
                await asyncio.Event().wait()
            q = qs[int(time.monotonic() * 100) % 1000]
            if stoppable:
                last["t"] = time.monotonic()
            return q

        return watch

    async def on_update(c: ConsensusQuote) -> None:
        q = c.source_quality("v0")
        if stop_v0.is_set() and q is not None and q.status is SourceStatus.STALE and not detected.is_set():
            last["delay"] = time.monotonic() - last["t"] - max_age
            detected.set()

    specs = [SourceSpec(f"v{i}", InstrumentId(f"v{i}", SYMBOL), make(f"v{i}", i == 0)) for i in range(3)]
    settings = DataSettings(
        feeds=FeedSettings(check_interval_s=check, stall_s=5.0),
        validator=ValidatorSettings(max_age_s=max_age, max_unchanged_s=None),
    )
    hub = MarketDataHub(clock, specs, settings, on_update)
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.3)
        stop_v0.set()
        await asyncio.wait_for(detected.wait(), max_age + check + 2)
    finally:
        await stop(task)
    return last["delay"]


async def staleness(trials: int, max_age: float, check: float) -> dict[str, float]:
    delays = [await staleness_trial(max_age, check) for _ in range(trials)]
    return {
        "staleness_max_age_s": max_age,
        "staleness_check_interval_s": check,
        "staleness_detection_delay_ms_median": round(statistics.median(delays) * 1000, 1),
        "staleness_detection_delay_ms_max": round(max(delays) * 1000, 1),
        "staleness_trials": trials,
    }


async def throughput(ticks: int, sources: int, rounds: int) -> dict[str, object]:
    best: dict[bool, dict[str, float]] = {}
    for _ in range(rounds):  # alternate, so both paths see the same load
        for straight in (True, False):
            r = await pipeline(ticks, sources, straight)
            if straight not in best or r["ticks_per_cpu_s"] > best[straight]["ticks_per_cpu_s"]:
                best[straight] = r
    floors = [await asyncio_floor(ticks, sources) for _ in range(rounds)]
    floor = max(floors, key=lambda r: r["asyncio_floor_ticks_per_cpu_s"])
    new, old = best[False], best[True]
    out: dict[str, object] = {f"pipeline_{k}": v for k, v in new.items()}
    out.update({f"baseline_pipeline_{k}": v for k, v in old.items()})
    out["pipeline_speedup"] = round(new["ticks_per_cpu_s"] / old["ticks_per_cpu_s"], 2)
    out.update(floor)
    out["validator_strategy_ticks_per_s"] = max(validator_only(ticks, sources) for _ in range(rounds))
    out["baseline_validator_strategy_ticks_per_s"] = max(validator_only(ticks, sources, True) for _ in range(rounds))
    return out


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),  # stdout is the JSON
    )
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=60_000)
    ap.add_argument("--sources", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--profile-ticks", type=int, default=15_000)
    args = ap.parse_args()
    result: dict[str, object] = {"ticks": args.ticks, "sources": args.sources, "rounds": args.rounds}
    result.update(asyncio.run(throughput(args.ticks, args.sources, args.rounds)))
    result["profile_top"] = profile_top(args.profile_ticks, args.sources, straight=False)
    result["baseline_profile_top"] = profile_top(args.profile_ticks, args.sources, straight=True)
    result.update(asyncio.run(staleness(args.trials, max_age=0.5, check=0.1)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
