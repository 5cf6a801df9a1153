"""Rate-limit benchmark: budget used, 429s, 418s and order queue wait under full data load, nonstop vs
ccxt's built-in `enableRateLimit` throttler, against the same simulator in the same minute window.

Prints one JSON document. The simulator serves three venues with the same reduced weight budget
(`--budget` per minute, Binance's rule scaled down so a run is short); each client gets its own venue,
so each has its own budget (the simulator counts weight per venue and client IP), and all three run
at once, inside one venue minute window:

* nonstop: `BinanceVenue` with `LimiterConfig(weight_per_minute=budget)` (quotes are droppable).
* ccxt-scaled: `ccxt.binance` with `enableRateLimit=True` and `rateLimit` scaled to the budget
  (told the same budget, the fair comparison).
* ccxt-default: `ccxt.binance` with `enableRateLimit=True` and its defaults (it assumes 6000/min).

Load per client: `--pollers` tasks polling `fetch_ticker` (weight 2) as fast as they are allowed,
and one task placing a resting limit order and cancelling it every `--order-every` seconds. A ccxt
poller that gets an error waits 50 ms and goes on; a nonstop poller does the same on `DataDropped`.

Queue wait of an order request: nonstop, the rate limiter's wait (`RequestRecord.queue_wait`); ccxt,
the time spent in its throttler (`throttle`). Budget share: the weight of the requests the venue
answered successfully, over the budget (the run stays inside one window).

    .venv/bin/python benchmarks/connectivity_ratelimit.py                   # budget 600, 8 pollers
    .venv/bin/python benchmarks/connectivity_ratelimit.py --budget 1200 --min-run 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import structlog

from nonstop.config import SimRateLimits, SimSettings, SimVenue
from nonstop.connectivity import DataDropped, LimiterConfig, Priority
from nonstop.model import ClientOrderId, InstrumentId, OrderIntent, OrderType, Side, TimeInForce
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.gateway import GatewayConfig, RequestRecord

TICKER_WEIGHT, ORDER_WEIGHT, CANCEL_WEIGHT = 2, 1, 1
VENUES = {"nonstop": "alpha", "ccxt_scaled": "beta", "ccxt_default": "gamma"}


@dataclass
class Tally:
    data_ok: int = 0
    data_failed: int = 0
    data_dropped: int = 0
    orders_ok: int = 0
    cancels_ok: int = 0
    orders_failed: int = 0
    order_waits: list[float] = field(default_factory=list)  # queue wait of order requests (s)
    order_latency: list[float] = field(default_factory=list)  # call to answer (s)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, exc: BaseException) -> None:
        self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1


class TimedThrottleBinance(ccxt_async.binance):  # type: ignore[misc]
    """ccxt's client, recording how long each request waited in ccxt's own throttler."""

    waits: list[float]

    async def throttle(self, cost: Any = None) -> Any:
        t0 = time.monotonic()
        result = await super().throttle(cost)
        self.waits.append(time.monotonic() - t0)
        return result


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1000, 2)


def intent(venue: str, seq: int) -> OrderIntent:
    return OrderIntent(
        ts=datetime.now(UTC), client_order_id=ClientOrderId.build("bench", "rl", seq),
        instrument_id=InstrumentId(venue, "BTC/USDT"), side=Side.BUY, order_type=OrderType.LIMIT,
        quantity=Decimal("0.01"), price=Decimal("1000"), time_in_force=TimeInForce.GTC,
    )


async def until(stop_at: float, fn: Callable[[], Awaitable[None]]) -> None:
    while time.monotonic() < stop_at:
        await fn()


async def run_nonstop(sim: SimServer, budget: int, args: argparse.Namespace, stop_at: float) -> Tally:
    name = VENUES["nonstop"]
    tally = Tally()
    config = GatewayConfig(limiter=LimiterConfig(weight_per_minute=budget))
    venue = BinanceVenue(name, [sim.ccxt_config(name, i) for i in range(3)], connectivity=config)
    btc = InstrumentId(name, "BTC/USDT")

    def record(r: RequestRecord) -> None:
        if r.priority is Priority.ORDER and r.error is None:
            tally.order_waits.append(r.queue_wait)

    venue.on_request = record
    await venue.connect()
    try:
        async def poll() -> None:
            try:
                await venue.quote(btc)
                tally.data_ok += 1
            except DataDropped:
                tally.data_dropped += 1
                await asyncio.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, then the poller goes on
                tally.data_failed += 1
                tally.error(exc)
                await asyncio.sleep(0.05)

        seq = iter(range(1, 1_000_000))

        async def trade() -> None:
            t0 = time.monotonic()
            try:
                placed = await venue.submit(intent(name, next(seq)))
                tally.orders_ok += 1
                tally.order_latency.append(time.monotonic() - t0)
                t1 = time.monotonic()
                await venue.cancel(btc, placed.client_order_id)
                tally.cancels_ok += 1
                tally.order_latency.append(time.monotonic() - t1)
            except Exception as exc:  # noqa: BLE001 - counted
                tally.orders_failed += 1
                tally.error(exc)
            await asyncio.sleep(args.order_every)

        async with asyncio.TaskGroup() as tg:
            for _ in range(args.pollers):
                tg.create_task(until(stop_at, poll))
            tg.create_task(until(stop_at, trade))
    finally:
        await venue.close()
    return tally


async def run_ccxt(sim: SimServer, key: str, budget: int, args: argparse.Namespace, stop_at: float) -> Tally:
    name = VENUES[key]
    tally = Tally()
    config = {**sim.ccxt_config(name, 0), "enableRateLimit": True}
    if key == "ccxt_scaled":  # ccxt's Binance costs assume 6000 weight per minute at rateLimit 50 ms
        config["rateLimit"] = 50 * 6000 / budget
    client = TimedThrottleBinance(config)
    client.waits = []
    await client.load_markets()
    try:
        async def poll() -> None:
            try:
                await client.fetch_ticker("BTC/USDT")
                tally.data_ok += 1
            except Exception as exc:  # noqa: BLE001 - counted; a typical bot loop goes on
                tally.data_failed += 1
                tally.error(exc)
                await asyncio.sleep(0.05)

        seq = iter(range(1, 1_000_000))

        async def trade() -> None:
            cid = str(ClientOrderId.build("bench", "rl", next(seq)))
            try:
                n = len(client.waits)
                t0 = time.monotonic()
                await client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, {"clientOrderId": cid})
                tally.order_latency.append(time.monotonic() - t0)
                tally.order_waits.append(client.waits[n])
                tally.orders_ok += 1
                n = len(client.waits)
                t1 = time.monotonic()
                await client.cancel_order(None, "BTC/USDT", {"origClientOrderId": cid})
                tally.order_latency.append(time.monotonic() - t1)
                tally.order_waits.append(client.waits[n])
                tally.cancels_ok += 1
            except Exception as exc:  # noqa: BLE001 - counted
                tally.orders_failed += 1
                tally.error(exc)
            await asyncio.sleep(args.order_every)

        async with asyncio.TaskGroup() as tg:
            for _ in range(args.pollers):
                tg.create_task(until(stop_at, poll))
            tg.create_task(until(stop_at, trade))
    finally:
        await client.close()
    return tally


def report(tally: Tally, sim: SimServer, key: str, budget: int) -> dict[str, Any]:
    limits = sim.venues[VENUES[key]].limits
    useful = (tally.data_ok * TICKER_WEIGHT + tally.orders_ok * ORDER_WEIGHT + tally.cancels_ok * CANCEL_WEIGHT
              + 20)  # + exchangeInfo
    return {
        "budget_share_used": round(useful / budget, 3),
        "http_429": limits.counts["429"],
        "http_418": limits.counts["418"],
        "data_ok": tally.data_ok,
        "data_dropped_locally": tally.data_dropped,
        "data_failed": tally.data_failed,
        "orders_ok": tally.orders_ok,
        "cancels_ok": tally.cancels_ok,
        "order_cycles_failed": tally.orders_failed,
        "order_queue_wait_ms": {"p50": pct(tally.order_waits, 0.5), "p99": pct(tally.order_waits, 0.99),
                                "max": pct(tally.order_waits, 1.0)},
        "order_latency_ms": {"p50": pct(tally.order_latency, 0.5), "p99": pct(tally.order_latency, 0.99)},
        "errors": tally.errors,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = SimSettings(
        control_port=0, seed=5, tick_ms=200,
        venues=[SimVenue(name=v, ports=[0, 0, 0]) for v in VENUES.values()],
        rate_limits=SimRateLimits(weight_per_minute=args.budget),
    )
    async with SimServer(settings) as sim:
        # Run inside one venue minute window (weight resets at each UTC minute).
        left = 60.0 - time.time() % 60.0
        if left < args.min_run + 1.0:
            await asyncio.sleep(left + 0.1)
            left = 60.0 - time.time() % 60.0
        run_for = left - 0.7
        stop_at = time.monotonic() + run_for
        nonstop, scaled, default = await asyncio.gather(
            run_nonstop(sim, args.budget, args, stop_at),
            run_ccxt(sim, "ccxt_scaled", args.budget, args, stop_at),
            run_ccxt(sim, "ccxt_default", args.budget, args, stop_at),
        )
        return {
            "benchmark": "connectivity_ratelimit",
            "budget_weight_per_minute": args.budget,
            "run_seconds": round(run_for, 1),
            "pollers": args.pollers,
            "order_every_s": args.order_every,
            "nonstop": report(nonstop, sim, "nonstop", args.budget),
            "ccxt_scaled_throttler": report(scaled, sim, "ccxt_scaled", args.budget),
            "ccxt_default_throttler": report(default, sim, "ccxt_default", args.budget),
            "python": platform.python_version(),
            "machine": platform.machine(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=600, help="venue request weight per minute")
    parser.add_argument("--pollers", type=int, default=8)
    parser.add_argument("--order-every", type=float, default=0.5)
    parser.add_argument("--min-run", type=float, default=40.0, help="shortest run; waits for a fresh window")
    args = parser.parse_args()
    if not 5 <= args.min_run <= 58:
        parser.error("--min-run must be within 5..58 seconds (one minute window)")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the JSON
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
