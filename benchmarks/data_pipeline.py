"""Market-data pipeline throughput and staleness-detection delay; prints JSON.

    .venv/bin/python benchmarks/data_pipeline.py [--ticks 60000] [--sources 3]

- `pipeline_ticks_per_s`: updates through the whole path on one core — each source's feed loop
  (time-boxed websocket wait), the bounded hand-off queue, the validator, the consensus and the
  strategy runner (a market maker with its reduce-only gate) — fed by in-process sources that
  answer at once, so the figure is our overhead, not the network's.
- `validator_strategy_ticks_per_s`: the same without the feed tasks and queue (observe + assess + dispatch).
- `staleness_detection`: a source stops; the time from its last update until the published
  consensus marks it STALE, minus `max_age_s` (the part that is detection delay, bounded by
  `check_interval_s`), over several trials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from decimal import Decimal

import structlog

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


def strategy() -> tuple[StrategyRunner, StrategyView]:
    iid = InstrumentId("v0", SYMBOL)
    inst = Instrument(iid, Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"))
    return StrategyRunner(MarketMaker("mm", iid, Decimal("0.001"))), StrategyView("mm", EngineState(), {iid: inst})


async def pipeline(ticks: int, sources: int) -> dict[str, float]:
    clock = LiveClock()
    per = ticks // sources
    runner, view = strategy()
    done = asyncio.Event()
    counted = {"updates": 0, "intents": 0}
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

    async def on_update(c: ConsensusQuote) -> None:
        counted["updates"] += 1
        counted["intents"] += len(runner.on_market(c, view).allowed)

    specs = [
        SourceSpec(f"v{i}", InstrumentId(f"v{i}", SYMBOL), make_watch(quotes(f"v{i}", per))) for i in range(sources)
    ]
    settings = DataSettings(feeds=FeedSettings(queue_size=4096, check_interval_s=1.0), validator=ValidatorSettings())
    hub = MarketDataHub(clock, specs, settings, on_update)
    t0 = time.perf_counter()
    task = asyncio.create_task(hub.run())
    await done.wait()
    for _ in range(100_000):  # let the dispatcher drain what is still queued
        if hub._queue.empty():
            break
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - t0
    await stop(task)
    return {
        "pipeline_ticks_per_s": round(per * sources / elapsed),
        "pipeline_consensus_published": counted["updates"],
        "pipeline_dropped": hub.dropped,
        "pipeline_elapsed_s": round(elapsed, 3),
    }


def validator_only(ticks: int, sources: int) -> dict[str, float]:
    clock = LiveClock()
    v = Validator(clock, ValidatorSettings())
    runner, view = strategy()
    streams = [quotes(f"v{i}", ticks // sources) for i in range(sources)]
    t0 = time.perf_counter()
    n = 0
    for i in range(ticks // sources):
        for s in range(sources):
            v.observe(SourceQuote(f"v{s}", "ws", streams[s][i], clock.monotonic()))
            runner.on_market(v.assess(SYMBOL), view)
            n += 1
    elapsed = time.perf_counter() - t0
    return {"validator_strategy_ticks_per_s": round(n / elapsed)}


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


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))  # stdout is the JSON
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=60_000)
    ap.add_argument("--sources", type=int, default=3)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    result: dict[str, object] = {"ticks": args.ticks, "sources": args.sources}
    result.update(await pipeline(args.ticks, args.sources))
    result.update(validator_only(args.ticks, args.sources))
    result.update(await staleness(args.trials, max_age=0.5, check=0.1))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
