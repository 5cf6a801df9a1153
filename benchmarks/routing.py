"""Routing benchmark (M12): the router's decision time, and the time from a venue going down to the
first order placed on another venue.

Prints one JSON document. One engine (embedded simulator, two Binance-dialect trading venues,
`strategy.venue = "auto"`, a third venue feeding data) runs the market maker; everything is
measured in that one run, so compare the figures with their baselines, not with another machine.

    .venv/bin/python benchmarks/routing.py                    # 3 outages, 2000 timed decisions
    .venv/bin/python benchmarks/routing.py --episodes 1 --decisions 500

* decision time: `Router.route` on the running engine's router (health read off both venues' real
  gateways, balances from the state, books from the consensus), in µs; baseline: the pure
  `scoring.decide` on the same inputs (what reading the health adds) and one REST quote from the
  local simulator (what a decision costs next to a single request).
* failover: `binance-a` goes into maintenance (503 on every endpoint) at t0; measured is t0 to the
  first order intent journaled for `binance-b`. Baseline: the median interval between two routed
  orders before the fault (the strategy's own pace: failover cannot beat it). Between episodes the
  maintenance ends and routing returns to `binance-a` (ties go to the first configured venue).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import structlog

from nonstop.config import (
    ApiSettings,
    EngineSettings,
    EngineVenue,
    MonitorSettings,
    Settings,
    SimSettings,
    SimVenue,
    StrategySettings,
)
from nonstop.data import DataSettings, FeedSettings, ValidatorSettings
from nonstop.engine import Engine
from nonstop.model import ANY_VENUE, InstrumentId, OrderIntent, Side
from nonstop.routing.scoring import VenueOffer, decide

A, B, C = "binance-a", "binance-b", "binance-c"
SYMBOL = "BTC/USDT"


def _settings(data_dir: Path) -> Settings:
    return Settings(
        sim=SimSettings(control_port=0, tick_ms=50, venues=[SimVenue(name=A, ports=[0, 0]),
                                                            SimVenue(name=B, ports=[0]), SimVenue(name=C, ports=[0])]),
        engine=EngineSettings(
            instance="r1", venues=[EngineVenue(name=A), EngineVenue(name=B)], data_venues=[EngineVenue(name=C)],
            strategy=StrategySettings(venue=ANY_VENUE, symbol=SYMBOL, interval_s=0.2),
            request_timeout_ms=2000, recv_window_ms=2000,
        ),
        data=DataSettings(
            validator=ValidatorSettings(max_age_s=1.5, max_unchanged_s=2.0, band_bps=Decimal(50), min_sources=2),
            feeds=FeedSettings(stall_s=1.0, poll_interval_s=0.2, request_timeout_s=2.0),
        ),
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(enabled=False)),
    )


async def _until(check, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {within} s")
        await asyncio.sleep(0.005)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(episodes: int, decisions: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(_settings(Path(tmp)))
        task = asyncio.create_task(engine.run(duration=600))
        try:
            await _until(lambda: engine.status.phase == "trading" or task.done(), 60, "trading")
            trading = engine.trading
            assert trading is not None
            router = trading.router
            await _until(lambda: router.total >= 5, 30, "routed orders")
            # decision time, on the live router
            books = {q.source: (q.bid, q.ask) for q in trading.hub.latest(SYMBOL).quality}
            qty, price = Decimal("0.001"), books[A][0] or Decimal(1)
            route_us, decide_us = [], []
            health = router.health()
            offers = [VenueOffer(v, True, True, books.get(v, (None, None))[1]) for v in (A, B)]
            for _ in range(decisions):
                t = time.perf_counter()
                router.route(SYMBOL, Side.BUY, qty, price, books)
                route_us.append((time.perf_counter() - t) * 1e6)
                t = time.perf_counter()
                decide(Side.BUY, health, offers)
                decide_us.append((time.perf_counter() - t) * 1e6)
            quote_us = []
            for _ in range(20):
                t = time.perf_counter()
                await trading.trading_venues[B].quote(InstrumentId(B, SYMBOL))
                quote_us.append((time.perf_counter() - t) * 1e6)
            # failover episodes
            failover_s, pace_s = [], []
            for _ in range(episodes):
                await _until(lambda: A not in router._away, 60, "binance-a in the ranking")
                stamps: list[float] = []
                seen = router.total
                while len(stamps) < 6:  # the strategy's pace of routed orders
                    await _until(lambda: router.total > seen, 30, "a routed order")  # noqa: B023
                    seen = router.total
                    stamps.append(time.monotonic())
                pace_s += [b - a for a, b in itertools.pairwise(stamps)]
                first_b: list[float] = []

                def on_event(event: object) -> None:
                    if isinstance(event, OrderIntent) and event.instrument_id.venue == B and not first_b:  # noqa: B023
                        first_b.append(time.monotonic())  # noqa: B023

                assert engine.recorder is not None
                engine.recorder.listeners.append(on_event)
                t0 = time.monotonic()
                engine.sim.faults.set("maintenance", A)
                try:
                    await _until(lambda: bool(first_b), 30, "an order on binance-b")  # noqa: B023
                finally:
                    engine.recorder.listeners.remove(on_event)
                failover_s.append(first_b[0] - t0)
                engine.sim.faults.clear_all(A)
        finally:
            task.cancel()
            await asyncio.wait([task])
    return {
        "benchmark": "routing",
        "python": platform.python_version(),
        "venues": [A, B],
        "decisions_timed": decisions,
        "route_decision_us": {"median": round(statistics.median(route_us), 1), "p99": round(_pct(route_us, 0.99), 1)},
        "baseline_pure_decide_us": {"median": round(statistics.median(decide_us), 1),
                                    "p99": round(_pct(decide_us, 0.99), 1)},
        "baseline_one_rest_quote_us": {"median": round(statistics.median(quote_us), 1),
                                       "p99": round(_pct(quote_us, 0.99), 1)},
        "episodes": episodes,
        "venue_down_to_first_order_elsewhere_s": {"median": round(statistics.median(failover_s), 3),
                                                  "max": round(max(failover_s), 3)},
        "baseline_interval_between_routed_orders_s": {"median": round(statistics.median(pace_s), 3),
                                                      "max": round(max(pace_s), 3)},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # errors only: JSON on stdout
    json.dump(asyncio.run(main(args.episodes, args.decisions)), sys.stdout, indent=2)
    print()
