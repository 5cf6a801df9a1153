"""Market-data pipeline throughput and staleness-detection delay; prints JSON (logs go to stderr).

    .venv/bin/python benchmarks/data_pipeline.py [--ticks 60000] [--sources 3] [--rounds 3] [--bursts 1,4,16,64]

Sources are in-process websockets that answer at once, so the figures are our overhead, not the
network's. Each read (one yield to the loop, as a socket read) brings `burst` messages: 1 is a loop
step per tick, the worst case; a real socket read brings whatever arrived since the last one, so the
faster ticks arrive, the more each read brings. Per burst size, in the same run (`bursts`):

- `batched`: the whole path on one core, as it is now — each source's feed loop (time-boxed
  websocket wait) hands its read to the hub as one batch, the validator observes every update,
  the dispatcher assesses once per step and the strategy runner (a market maker with its gate)
  gets that consensus;
- `per_tick`: the path before batches, in the same run (tests/unit/data/per_tick.py: one
  `SourceQuote` per message through the bounded queue, the dispatcher taking them one by one);
- `floor_per_tick` / `floor_batched`: the asyncio skeleton of each alone (feed tasks, queue or
  batch hand-over, dispatcher; no validation, consensus or strategy): the ceiling of each design.

`ticks_per_cpu_s` divides by the process's CPU time, `ticks_per_s` by the wall clock: on a shared
machine the first is the figure of one core. `pipeline_ticks_per_cpu_s` is the batched path at
`headline_burst`; `validator_strategy_ticks_per_s` is observe + assess + strategy per tick with no
tasks at all (and its `baseline_` the straightforward path, tests/unit/data/straight.py).
`profile_top`: where the time goes (cProfile own time, share of the total), batched at 1 and at the
headline burst, the per-tick path at 1. `staleness_detection`: a source stops; the time from its
last update until the published consensus marks it STALE, minus `max_age_s` (the part that is
detection delay), over several trials, for both hubs.

Rounds alternate the paths and the best round of each is reported (load on a shared machine only
ever slows a round down).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import logging
import os
import pstats
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.unit.data (the baselines)

from benchkit import figure
from tests.unit.data.per_tick import PerTickHub
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
BURSTS = (1, 4, 16, 64)


@functools.cache
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


class Sources:
    """In-process websockets, one per source: each read (one yield to the loop, as a socket read)
    brings `burst` messages; after `per` messages the source falls silent. `batched` watches return
    a read's messages as one batch; the others return them one per call, yielding only at a read."""

    def __init__(self, sources: int, per: int, burst: int, batched: bool) -> None:
        self.done = asyncio.Event()
        self._left = sources
        self.watches = [self._make(quotes(f"v{i}", per), burst, batched) for i in range(sources)]

    async def _silent(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.done.set()
        await asyncio.Event().wait()

    def _make(self, qs: list[Quote], burst: int, batched: bool):  # type: ignore[no-untyped-def]
        if batched:
            reads = iter([qs[i:i + burst] for i in range(0, len(qs), burst)])

            async def watch_batch() -> list[Quote]:
                batch = next(reads, None)
                if batch is None:
                    await self._silent()
                await asyncio.sleep(0)  # a real websocket read yields to the loop
                return batch  # type: ignore[return-value]

            return watch_batch
        it = iter(enumerate(qs))

        async def watch() -> Quote:
            got = next(it, None)
            if got is None:
                await self._silent()
            i, q = got  # type: ignore[misc]
            if i % burst == 0:
                await asyncio.sleep(0)  # a new read; the rest of its messages are already buffered
            return q

        return watch


PATHS = ("batched", "per_tick", "straight")


async def pipeline(ticks: int, sources: int, burst: int, path: str = "batched") -> dict[str, float]:
    """`batched`: today's hub; `per_tick`: the hub before batches (the queue, one update at a time:
    tests/unit/data/per_tick.py); `straight`: before the incremental validator (straight.py)."""
    clock = LiveClock()
    per = ticks // sources
    runner, view = strategy(path == "straight")
    counted = {"updates": 0, "intents": 0}

    async def on_update(c: ConsensusQuote) -> None:
        counted["updates"] += 1
        counted["intents"] += len(runner.on_market(c, view).allowed)

    src = Sources(sources, per, burst, batched=path == "batched")
    specs = [SourceSpec(f"v{i}", InstrumentId(f"v{i}", SYMBOL), w) for i, w in enumerate(src.watches)]
    settings = DataSettings(feeds=FeedSettings(queue_size=4096, check_interval_s=1.0), validator=ValidatorSettings())
    hub = (MarketDataHub if path == "batched" else PerTickHub)(clock, specs, settings, on_update)
    if path == "straight":
        straighten(hub)
    t0, c0 = time.perf_counter(), time.process_time()
    task = asyncio.create_task(hub.run())
    await src.done.wait()
    for _ in range(100_000):  # let the dispatcher publish what is still pending
        if hub.pending == 0:
            break
        await asyncio.sleep(0)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await stop(task)
    n = per * sources
    assert hub.validator.assess(SYMBOL).quality[0].updates == per, "an update was lost"
    return {
        "ticks_per_s": round(n / elapsed),
        "ticks_per_cpu_s": round(n / cpu),
        "consensus_published": counted["updates"],
        "elapsed_s": round(elapsed, 3),
    }


async def asyncio_floor(ticks: int, sources: int, burst: int, batched: bool) -> dict[str, float]:
    """The pipeline's asyncio skeleton alone, on the same sources: feed tasks, and either the bounded
    queue and a dispatcher that drains it (per update, as before) or a batch handed over with a
    wake-up of the dispatcher (as now); no validation, consensus or strategy."""
    per = ticks // sources
    src = Sources(sources, per, burst, batched)
    queue: asyncio.Queue[Quote] = asyncio.Queue(4096)
    wake = asyncio.Event()
    pending: list[int] = [0]

    async def feed(watch) -> None:  # type: ignore[no-untyped-def]
        while True:
            q = await watch()
            if batched:
                pending[0] += len(q)
                wake.set()
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(q)

    async def dispatch() -> None:
        while True:
            if batched:
                await wake.wait()
                wake.clear()
                pending[0] = 0
                continue
            await queue.get()
            while not queue.empty():
                queue.get_nowait()

    t0, c0 = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(feed(w)) for w in src.watches]
        tasks.append(tg.create_task(dispatch()))
        await src.done.wait()
        for _ in range(100_000):  # let the dispatcher drain what is still queued
            if queue.empty() and not pending[0]:
                break
            await asyncio.sleep(0)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        for t in tasks:
            t.cancel()
    return {"ticks_per_s": round(per * sources / elapsed), "ticks_per_cpu_s": round(per * sources / cpu)}


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


def profile_top(ticks: int, sources: int, burst: int, path: str, top: int = 10) -> list[dict[str, object]]:
    """cProfile of one pipeline run: the functions with the most own time, as shares of the total."""
    for i in range(sources):  # the sources' messages are built before, not profiled
        quotes(f"v{i}", ticks // sources)
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(pipeline(ticks, sources, burst, path))
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values()) or 1.0
    rows = sorted(
        ((k, v) for k, v in stats.items()  # the in-process sources and their set-up are not the pipeline
         if not (Path(k[0]).name == "data_pipeline.py" and k[2] in ("watch", "watch_batch", "_make", "<listcomp>"))),
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


async def staleness_trial(max_age: float, check: float, path: str) -> float:
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
    hub = (MarketDataHub if path == "batched" else PerTickHub)(clock, specs, settings, on_update)
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.3)
        stop_v0.set()
        await asyncio.wait_for(detected.wait(), max_age + check + 2)
    finally:
        await stop(task)
    return last["delay"]


async def staleness(trials: int, max_age: float, check: float) -> dict[str, object]:
    delays: dict[str, list[float]] = {"batched": [], "per_tick": []}
    for _ in range(trials):  # alternate, so both see the same load
        for path in delays:
            delays[path].append(await staleness_trial(max_age, check, path))
    out: dict[str, object] = {"max_age_s": max_age, "check_interval_s": check, "trials": trials}
    for path, ds in delays.items():
        out[path] = {"delay_ms_median": round(statistics.median(ds) * 1000, 1),
                     "delay_ms_max": round(max(ds) * 1000, 1)}
    return out


def best(results: list[dict[str, float]]) -> dict[str, float]:
    return max(results, key=lambda r: r["ticks_per_cpu_s"])


async def throughput(ticks: int, sources: int, rounds: int, bursts: tuple[int, ...]) -> list[dict[str, object]]:
    """Per burst size: today's path, the per-tick path before it, and the two asyncio skeletons."""
    rows = []
    for burst in bursts:
        runs: dict[str, list[dict[str, float]]] = {"batched": [], "per_tick": [], "floor_batched": [],
                                                   "floor_per_tick": []}
        for _ in range(rounds):  # alternate, so every path sees the same load
            runs["per_tick"].append(await pipeline(ticks, sources, burst, "per_tick"))
            runs["batched"].append(await pipeline(ticks, sources, burst, "batched"))
            runs["floor_per_tick"].append(await asyncio_floor(ticks, sources, burst, batched=False))
            runs["floor_batched"].append(await asyncio_floor(ticks, sources, burst, batched=True))
        row: dict[str, object] = {"burst": burst}
        row.update({path: best(rs) for path, rs in runs.items()})
        new, old = row["batched"], row["per_tick"]
        row["speedup_per_cpu_s"] = round(new["ticks_per_cpu_s"] / old["ticks_per_cpu_s"], 2)  # type: ignore[index]
        rows.append(row)
    return rows


def figures(result: dict[str, object], headline: int) -> list[dict[str, str]]:
    rows = {r["burst"]: r for r in result["bursts"]}  # type: ignore[attr-defined, index]
    out = []
    for burst in sorted(rows):
        r = rows[burst]
        new, old, floor = r["batched"], r["per_tick"], r["floor_per_tick"]
        met = new["ticks_per_cpu_s"] >= 100_000
        out.append(figure(
            f"ticks through feed → validator → consensus → strategy, one core, {burst} message(s) per socket read",
            f"{new['ticks_per_cpu_s']:,} per CPU-s ({new['ticks_per_s']:,} wall)",
            f"per-tick path {old['ticks_per_cpu_s']:,}; asyncio per-tick skeleton {floor['ticks_per_cpu_s']:,}",
            "≥ 100k ticks/s" if burst == headline else "",
            ("met" if met else "not met: one loop step per tick (see the README)") if burst in (1, headline) else "",
        ))
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
    ap.add_argument("--bursts", default=",".join(map(str, BURSTS)), help="messages per socket read, comma-separated")
    ap.add_argument("--headline-burst", type=int, default=16)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--profile-ticks", type=int, default=15_000)
    args = ap.parse_args()
    bursts = tuple(int(b) for b in args.bursts.split(","))
    headline = args.headline_burst if args.headline_burst in bursts else bursts[-1]
    result: dict[str, object] = {"ticks": args.ticks, "sources": args.sources, "rounds": args.rounds,
                                 "headline_burst": headline, "load_average": list(os.getloadavg())}
    result["bursts"] = asyncio.run(throughput(args.ticks, args.sources, args.rounds, bursts))
    rows = {r["burst"]: r for r in result["bursts"]}  # type: ignore[attr-defined]
    top = rows[headline]
    result["pipeline_ticks_per_s"] = top["batched"]["ticks_per_s"]
    result["pipeline_ticks_per_cpu_s"] = top["batched"]["ticks_per_cpu_s"]
    result["baseline_pipeline_ticks_per_cpu_s"] = top["per_tick"]["ticks_per_cpu_s"]
    result["validator_strategy_ticks_per_s"] = max(validator_only(args.ticks, args.sources) for _ in range(args.rounds))
    result["baseline_validator_strategy_ticks_per_s"] = max(
        validator_only(args.ticks, args.sources, True) for _ in range(args.rounds))
    result["profile_top"] = {f"burst_{b}": profile_top(args.profile_ticks, args.sources, b, "batched")
                             for b in sorted({1, headline})}
    result["baseline_profile_top"] = {"burst_1": profile_top(args.profile_ticks, args.sources, 1, "per_tick")}
    result["staleness_detection"] = asyncio.run(staleness(args.trials, max_age=0.5, check=0.1))
    result["figures"] = figures(result, headline)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
