"""Recovery benchmark: an engine started while its venue refuses connections, time from the venue
coming back to the engine's first order; baseline: the same engine started with the venue up
(engine start -> first order), measured in the same run.

Prints one JSON document. Each episode uses a fresh data dir, loopback ports and an in-process
simulator; the outage is "connection refused" on every endpoint (nothing listens on the ports).

    .venv/bin/python benchmarks/recovery_after_outage.py                  # 3 episodes, 20 s outage
    .venv/bin/python benchmarks/recovery_after_outage.py --episodes 2 --outage 10

What sets the floor: the probe interval (1 s: an open endpoint breaker is pinged each interval and
closes on the first answer), then the same start-up work as the baseline (markets, reconcile,
first prices, warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
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
    SimRateLimits,
    SimSettings,
    SimVenue,
    StrategySettings,
)
from nonstop.data import DataSettings, FeedSettings, ValidatorSettings
from nonstop.engine import Engine
from nonstop.sim.server import SimServer

VENUE = "binance-a"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _settings(data_dir: Path, ports: list[int]) -> Settings:
    return Settings(
        engine=EngineSettings(
            embedded_sim=False, instance="b1", data_venues=[],
            venues=[EngineVenue(name=VENUE, urls=[f"http://127.0.0.1:{p}" for p in ports])],
            strategy=StrategySettings(venue=VENUE, symbol="BTC/USDT", interval_s=0.2),
            request_timeout_ms=2000, recv_window_ms=2000,
        ),
        data=DataSettings(
            validator=ValidatorSettings(max_age_s=1.5, max_unchanged_s=2.0, band_bps=Decimal(50), min_sources=1),
            feeds=FeedSettings(stall_s=1.0, poll_interval_s=0.2, request_timeout_s=2.0),
        ),
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(enabled=False)),
    )


def _sim(ports: list[int]) -> SimServer:
    return SimServer(SimSettings(control_port=0, tick_ms=50, venues=[SimVenue(name=VENUE, ports=ports)],
                                 rate_limits=SimRateLimits(weight_per_minute=6000)))


async def _first_order(engine: Engine, task: asyncio.Task[None], limit_s: float) -> float:
    start = time.monotonic()
    while not (engine.state and engine.state.orders):
        if task.done():
            task.result()
            raise RuntimeError("the engine stopped before its first order")
        if time.monotonic() - start > limit_s:
            raise TimeoutError(f"no first order within {limit_s} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def _episode(outage_s: float | None) -> float:
    """Seconds from the venue being reachable (at engine start for the baseline) to the first order."""
    ports = _free_ports(2)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(_settings(Path(tmp), ports))
        sim = _sim(ports)
        if outage_s is None:
            await sim.start()
        task = asyncio.create_task(engine.run(duration=outage_s + 90 if outage_s else 90))
        try:
            if outage_s is not None:
                await asyncio.sleep(outage_s)  # every endpoint refuses connections meanwhile
                await sim.start()
            return await _first_order(engine, task, 60.0)
        finally:
            task.cancel()
            await asyncio.wait([task])
            await sim.stop()


async def main(episodes: int, outage_s: float) -> dict[str, object]:
    baseline = [await _episode(None) for _ in range(episodes)]
    recovery = [await _episode(outage_s) for _ in range(episodes)]
    return {
        "benchmark": "recovery_after_outage",
        "python": platform.python_version(),
        "episodes": episodes,
        "outage_s": outage_s,
        "baseline_start_to_first_order_s": {"median": round(statistics.median(baseline), 3),
                                             "max": round(max(baseline), 3)},
        "venue_back_to_first_order_s": {"median": round(statistics.median(recovery), 3),
                                        "max": round(max(recovery), 3)},
        "added_by_the_outage_s": round(statistics.median(recovery) - statistics.median(baseline), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds of connection refused")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # errors only: JSON on stdout
    json.dump(asyncio.run(main(args.episodes, args.outage)), sys.stdout, indent=2)
    print()
