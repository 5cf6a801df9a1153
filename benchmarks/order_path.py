"""Order-path overhead: nonstop's full submit path vs a bare ccxt `create_order`, same simulator, one run.

Our path = `OrderManager.place`: journal the intent and the submit durably (SQLite, the chosen
durability), send through the Binance adapter, journal the acceptance. The baseline is the
unmodified ccxt async client's `create_order` against the same simulator endpoint. Orders are
resting limit orders far from the market (no fills), interleaved ours/bare to share the noise, and
canceled afterwards (not timed). Prints JSON.

    .venv/bin/python benchmarks/order_path.py [--orders 300] [--durability group]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt_async

from nonstop.clock import LiveClock
from nonstop.config import SimRateLimits, SimSettings, SimVenue
from nonstop.connectivity.ratelimit import LimiterConfig
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import ClientOrderIdFactory, InstrumentId, Side
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.gateway import GatewayConfig


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(_pct(ms, 0.99), 3),
            "mean_ms": round(statistics.fmean(ms), 3)}


async def main(orders: int, durability: str) -> dict[str, object]:
    limits = SimRateLimits(weight_per_minute=10_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000)
    settings = SimSettings(control_port=0, tick_ms=60_000, venues=[SimVenue(name="bench", ports=[0])],
                           rate_limits=limits)
    async with SimServer(settings) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            journal = SQLiteJournal(Path(tmp) / "j.sqlite", durability=Durability(durability))
            await journal.open()
            state = await replay(journal)
            # our limiter gets the simulator's (raised) budget too: this measures overhead, not throttling
            budget = LimiterConfig(weight_per_minute=limits.weight_per_minute, orders_per_10s=limits.orders_per_10s,
                                   orders_per_day=limits.orders_per_day)
            venue = BinanceVenue("bench", [sim.ccxt_config("bench", 0)], timeout_ms=5000,
                                 connectivity=GatewayConfig(limiter=budget))
            await venue.connect()
            clock = LiveClock()
            manager = OrderManager(Recorder(journal, state, 1), {"bench": venue}, ClientOrderIdFactory("bench"), clock)
            bare = ccxt_async.binance(sim.ccxt_config("bench", 0))
            await bare.load_markets()
            iid = InstrumentId("bench", "BTC/USDT")
            quote = await venue.quote(iid)
            assert quote.bid is not None
            price = (quote.bid * Decimal("0.5")).quantize(Decimal("0.01"))
            ours: list[float] = []
            base: list[float] = []
            for i in range(orders):
                t0 = time.perf_counter()
                await manager.place("bench", iid, Side.BUY, Decimal("0.001"), price)
                ours.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await bare.create_order("BTC/USDT", "limit", "buy", 0.001, float(price), {"clientOrderId": f"bare-{i}"})
                base.append((time.perf_counter() - t0) * 1000)
                if i % 50 == 49:  # keep the venue's open-order count bounded (not timed)
                    await bare.cancel_all_orders("BTC/USDT")
            with contextlib.suppress(ccxt_async.OrderNotFound):  # -2011 when nothing is open
                await bare.cancel_all_orders("BTC/USDT")
            await bare.close()
            await manager.close()
            await venue.close()
            await journal.close()
    o, b = _summary(ours), _summary(base)
    return {
        "benchmark": "order_path", "orders_each": orders, "journal": f"sqlite/{durability}",
        "nonstop_place": o, "bare_ccxt_create_order": b,
        "ratio_median": round(o["median_ms"] / b["median_ms"], 3), "ratio_p99": round(o["p99_ms"] / b["p99_ms"], 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--durability", choices=["fsync", "group", "os"], default="group")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.orders, args.durability)), indent=2))
