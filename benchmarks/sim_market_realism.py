"""Market realism benchmark: spread, depth, 1-minute volatility and taker sizes of the simulator's
default BTC/USDT market (calibrated to BTC's 1-minute volatility, `volatility_1m_bps = 6`) and of the
same market made wild (`volatility_bps = 5` per tick, no 1-minute calibration), next to the figures
it aims for (Binance BTC/USDT) and next to a baseline of the old shallow market (5 levels, a ~4 bps
spread, per-tick volatility) measured in the same run.

    .venv/bin/python benchmarks/sim_market_realism.py                  # 20 simulated minutes
    .venv/bin/python benchmarks/sim_market_realism.py --minutes 60 --seed 3

The background flow is driven tick by tick on a manual clock (no sockets, no waiting): the figures
are the market's own, not the machine's. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import time
from decimal import Decimal
from typing import Any

from nonstop.clock import ManualClock, utc_ms
from nonstop.config import SimSettings, SimSymbol
from nonstop.sim.candles import CandleStore
from nonstop.sim.flow import MarketFlow
from nonstop.sim.records import PublicTrade
from nonstop.sim.venue import SimVenue

TARGET = {  # Binance BTC/USDT, typical figures
    "spread_ticks_median": 1,
    "depth_levels_per_side": "up to 5000 (the API's limit)",
    "volatility_1m_bps": "5-8",
    "taker_trade_usdt_median": "~100 (many small trades, a long tail)",
}


def measure(spec: SimSymbol, minutes: int, tick_ms: int, seed: int) -> dict[str, Any]:
    clock = ManualClock()
    venue = SimVenue("bench", [spec], clock)
    started = time.perf_counter()
    flow = MarketFlow(venue, seed, tick_ms)
    candles = CandleStore(spec, seed, utc_ms(clock.now()))
    sizes: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, PublicTrade):
            candles.record(event.price, event.qty, event.time_ms, not event.buyer_is_maker)
            sizes.append(float(event.price * event.qty))

    venue.listeners.append(on_event)
    spreads: list[Decimal] = []
    depth_levels: list[int] = []
    depth_10bps: list[float] = []
    first_ms = utc_ms(clock.now())
    ticks = minutes * 60_000 // tick_ms
    for i in range(ticks):
        clock._mono += tick_ms / 1000  # the manual clock's time moves with the flow
        flow.tick()
        if i % 20 == 0:
            bids, asks = venue.books[spec.symbol].depth(5000)
            if bids and asks:
                spreads.append((asks[0][0] - bids[0][0]) / spec.tick_size)
                depth_levels.append(min(len(bids), len(asks)))
                mid = (asks[0][0] + bids[0][0]) / 2
                band = mid * Decimal("0.001")
                depth_10bps.append(float(sum(p * q for p, q in bids + asks if abs(p - mid) <= band)))
    elapsed = time.perf_counter() - started
    closes = [Decimal(k[4]) for k in candles.klines("1m", first_ms, None, 1000, utc_ms(clock.now()))]
    returns = [math.log(float(b / a)) for a, b in itertools.pairwise(closes) if a > 0]
    return {
        "spread_ticks_median": float(statistics.median(spreads)),
        "spread_bps_median": float(statistics.median(spreads)) * float(spec.tick_size / spec.start_price) * 10_000,
        "depth_levels_per_side": min(depth_levels),
        "depth_usdt_within_10bps_median": round(statistics.median(depth_10bps)),
        "volatility_1m_bps": round(statistics.stdev(returns) * 10_000, 2) if len(returns) > 2 else None,
        "taker_trade_usdt_median": round(statistics.median(sizes), 2) if sizes else None,
        "trades": len(sizes),
        "cpu_ms_per_tick": round(elapsed * 1000 / ticks, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--tick-ms", type=int, default=SimSettings().tick_ms)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    default = SimSettings().venues[0].symbols[0]
    shallow = default.model_copy(
        update={"book_levels": 5, "spread_ticks": 2400, "volatility_1m_bps": None, "volatility_bps": Decimal(5)}
    )
    report = {
        "benchmark": "sim_market_realism",
        "symbol": default.symbol,
        "simulated_minutes": args.minutes,
        "tick_ms": args.tick_ms,
        "target": TARGET,
        "default_market": measure(default, args.minutes, args.tick_ms, args.seed),
        "wild_market": measure(
            default.model_copy(update={"volatility_1m_bps": None, "volatility_bps": Decimal(5)}), args.minutes,
            args.tick_ms, args.seed,
        ),
        "baseline_shallow_market": measure(shallow, args.minutes, args.tick_ms, args.seed),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
