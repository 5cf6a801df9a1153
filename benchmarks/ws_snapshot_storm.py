"""Order-book websockets under a 429 storm with websocket drops: 429s and 418 bans the venue answers,
the unmodified ccxt.pro client versus nonstop's market-data client, same simulator, same run.

Prints one JSON document. Each client gets its own simulator venue (the simulator counts 429s and
418s per venue; bans are per client IP, and a venue keeps its own). Per client, for `--storm` seconds
the venue answers every REST request with 429 (Retry-After `--retry-after` s) and drops its
websockets every `--drop-every` s; the client runs one `watch_order_book` loop that reconnects with
the feed's backoff (0.2 s, doubling to 1 s, as `RedundantFeed` with the test settings), for
`--storm` + `--after` seconds:

* ccxt: `ccxt.pro.binance` as is: every (re)subscription fetches the REST snapshot up to 3 times
  back to back (`fetch_rest_order_book_safe`), outside any limiter;
* nonstop: `BinanceVenue.market_data_client()`: the snapshot goes through the venue's gateway (rate
  limiter with its Retry-After pause), and the reconnect waits out the pause the error names.

Also reported: order-book updates received after the storm (the feed came back).

    .venv/bin/python benchmarks/ws_snapshot_storm.py            # ~30 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

import ccxt.pro as ccxt_pro
import structlog

from nonstop.config import SimSettings, SimVenue
from nonstop.connectivity import RateLimitBackpressure
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue

VENUES = {"ccxt": "alpha", "nonstop": "beta"}


async def _watch_loop(client: Any, until: float, storm_end: float) -> dict[str, int]:
    tally = {"updates": 0, "updates_after_storm": 0, "errors": 0}
    failures = 0
    while time.monotonic() < until:
        try:
            await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 2.0)
        except TimeoutError:
            continue
        except Exception as err:  # noqa: BLE001 - every failure is counted and retried, as the feed does
            tally["errors"] += 1
            delay = min(1.0, 0.2 * 2 ** min(failures, 16))
            if isinstance(err, RateLimitBackpressure) and err.retry_in:
                delay = max(delay, err.retry_in)
            failures += 1
            await asyncio.sleep(delay)
            continue
        failures = 0
        tally["updates"] += 1
        if time.monotonic() > storm_end:
            tally["updates_after_storm"] += 1
    return tally


async def _run_one(sim: SimServer, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    name = VENUES[kind]
    venue = BinanceVenue(name, [sim.ccxt_config(name, 0)], timeout_ms=2000)
    await venue.connect()
    client = venue.market_data_client() if kind == "nonstop" else ccxt_pro.binance(sim.ccxt_config(name, 0))
    try:
        await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 10)  # subscribed before the storm
        start = time.monotonic()
        storm_end, until = start + args.storm, start + args.storm + args.after
        sim.faults.set("rate_limit", name, duration_s=args.storm, params={"retry_after": args.retry_after})

        async def drops() -> None:
            while time.monotonic() + args.drop_every < storm_end:
                await asyncio.sleep(args.drop_every)
                sim.faults.set("ws_disconnect", name, duration_s=0.3)

        tally, _ = await asyncio.gather(_watch_loop(client, until, storm_end), drops())
    finally:
        await client.close()
        await venue.close()
    answers = sim.venues[name].answers
    return {"http_429": answers[429], "http_418": answers[418], **tally}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    settings = SimSettings(control_port=0, tick_ms=50, venues=[SimVenue(name=n, ports=[0]) for n in VENUES.values()])
    async with SimServer(settings) as sim:
        results = await asyncio.gather(*(_run_one(sim, kind, args) for kind in VENUES))
    return {
        "benchmark": "ws_snapshot_storm",
        "at": datetime.now(UTC).isoformat(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "storm_s": args.storm,
        "retry_after_s": args.retry_after,
        "drop_every_s": args.drop_every,
        "baseline": {"client": "ccxt.pro binance, unmodified", **results[0]},
        "nonstop": {"client": "BinanceVenue.market_data_client()", **results[1]},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storm", type=float, default=12.0, help="seconds of 429 storm")
    parser.add_argument("--retry-after", type=int, default=3, help="Retry-After of the storm's 429s")
    parser.add_argument("--drop-every", type=float, default=2.5, help="seconds between websocket drops")
    parser.add_argument("--after", type=float, default=8.0, help="seconds watched after the storm")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # errors only
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
