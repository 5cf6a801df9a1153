"""Failover benchmark: read latency while the primary endpoint black-holes, nonstop vs a plain client.

Prints one JSON document. Both clients run in the same process against the same simulator (one
venue, three loopback endpoints), one after the other within each episode, so compare the two
(ratios), not with another machine.

    .venv/bin/python benchmarks/connectivity_failover.py                   # 5 episodes x 40 reads
    .venv/bin/python benchmarks/connectivity_failover.py --episodes 3 --reads 20

Each episode: fresh clients, warmed with `--warmup` reads while every endpoint is healthy; then
endpoint 0 (the plain client's primary) black-holes and each client makes `--reads` sequential
`fetch_ticker` reads; then the fault is cleared.

* nonstop: `BinanceVenue.quote` over all three endpoints (hedged reads, default `GatewayConfig`).
* plain: one ccxt client per endpoint with a 5 s timeout; a read tries the endpoint that last
  worked (the primary first) and, on a failure, the next one: the usual naive failover loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from typing import Any

import ccxt.async_support as ccxt_async
import structlog

from nonstop.config import SimSettings, SimVenue
from nonstop.model import InstrumentId
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue

VENUE = "alpha"
BTC = InstrumentId(VENUE, "BTC/USDT")
PLAIN_TIMEOUT_MS = 5000


class PlainFailover:
    """A naive client: sticky endpoint, 5 s timeout, next endpoint on any failure."""

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        self.clients = [ccxt_async.binance({**c, "timeout": PLAIN_TIMEOUT_MS}) for c in configs]
        self.active = 0

    async def load(self) -> None:
        markets = await self.clients[0].load_markets()
        for c in self.clients[1:]:
            c.set_markets(markets)

    async def read(self) -> object:
        last: Exception | None = None
        for step in range(len(self.clients)):
            index = (self.active + step) % len(self.clients)
            try:
                result = await self.clients[index].fetch_ticker("BTC/USDT")
            except ccxt_async.NetworkError as exc:
                last = exc
                continue
            self.active = index
            return result
        assert last is not None
        raise last

    async def close(self) -> None:
        for c in self.clients:
            await c.close()


def summary(latencies: list[float], errors: int) -> dict[str, Any]:
    ordered = sorted(latencies)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1000

    return {
        "reads": len(latencies),
        "errors": errors,
        "p50_ms": round(q(0.50), 2),
        "p99_ms": round(q(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


async def timed(read: Any, n: int, latencies: list[float], deadline: float) -> int:
    errors = 0
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        t0 = time.monotonic()
        try:
            await read()
        except Exception:  # noqa: BLE001 - a failed read is a data point of the benchmark, counted
            errors += 1
        latencies.append(time.monotonic() - t0)
    return errors


async def control(sim: SimServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.request(method, sim.control_url + path, json=body) as resp:
        resp.raise_for_status()
        return await resp.json()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = SimSettings(control_port=0, seed=11, tick_ms=100, venues=[SimVenue(name=VENUE, ports=[0, 0, 0])])
    deadline = time.monotonic() + args.max_seconds
    ours: list[float] = []
    plain: list[float] = []
    ours_errors = plain_errors = 0
    async with SimServer(settings) as sim:
        configs = [sim.ccxt_config(VENUE, i) for i in range(3)]
        for _ in range(args.episodes):
            if time.monotonic() > deadline:
                break
            venue = BinanceVenue(VENUE, configs, timeout_ms=PLAIN_TIMEOUT_MS)
            naive = PlainFailover(configs)
            try:
                await venue.connect()
                await naive.load()
                for _ in range(args.warmup):
                    await venue.quote(BTC)
                    await naive.read()
                fault = await control(sim, "POST", "/control/faults",
                                      {"kind": "blackhole", "venue": VENUE, "endpoint": 0})
                ours_errors += await timed(lambda v=venue: v.quote(BTC), args.reads, ours, deadline)
                plain_errors += await timed(naive.read, args.reads, plain, deadline + PLAIN_TIMEOUT_MS / 1000)
                await control(sim, "DELETE", f"/control/faults/{fault['id']}")
            finally:
                await venue.close()
                await naive.close()
    a, b = summary(ours, ours_errors), summary(plain, plain_errors)
    return {
        "benchmark": "connectivity_failover",
        "scenario": "endpoint 0 of 3 black-holed; sequential fetch_ticker reads",
        "episodes": args.episodes,
        "reads_per_episode": args.reads,
        "nonstop": a,
        "plain_timeout_failover": {**b, "timeout_ms": PLAIN_TIMEOUT_MS},
        "ratio_plain_over_nonstop": {
            "p50": round(b["p50_ms"] / a["p50_ms"], 2),
            "p99": round(b["p99_ms"] / a["p99_ms"], 2),
            "max": round(b["max_ms"] / a["max_ms"], 2),
            "mean": round(b["mean_ms"] / a["mean_ms"], 2),
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=90.0, help="stop starting new reads after this")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the JSON
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
