"""Builders for the adapter-and-connectivity integration tests: a `BinanceVenue` over every endpoint of
a simulated venue, with small windows and thresholds so each scenario runs in a few seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nonstop.connectivity import BreakerConfig, BreakerStateChanged, LimiterConfig, PoolConfig, RetryPolicy
from nonstop.model import ClientOrderId, InstrumentId, OrderIntent, OrderType, Side, TimeInForce
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.gateway import GatewayConfig, RequestRecord

HEDGE_MAX = 0.3


def fast_config(**overrides: Any) -> GatewayConfig:
    """Thresholds scaled down for tests: hedge within 50-300 ms, breakers open after 3 failures for 0.5 s,
    idle endpoints re-measured (pinged) after 0.3 s."""
    base = GatewayConfig(
        pool=PoolConfig(hedge_min=0.05, hedge_max=HEDGE_MAX, attempt_timeout=3.0, slow_call=1.0, remeasure_idle=0.3),
        endpoint_breaker=BreakerConfig(consecutive_failures=3, failure_rate=None, open_duration=0.5,
                                       max_open_duration=1.0),
        venue_breaker=BreakerConfig(consecutive_failures=None, failure_rate=None, open_duration=1.0,
                                    max_open_duration=2.0),
        read_retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2, total_timeout=6.0, attempt_timeout=4.0),
        probe_interval=0.1,
        stream_cooldown=0.5,
        limiter=LimiterConfig(),
    )
    return replace(base, **overrides)


@asynccontextmanager
async def venue_on(
    sim: SimServer, name: str = "alpha", *, config: GatewayConfig | None = None, timeout_ms: int = 2000
) -> AsyncIterator[Recorder]:
    """A connected BinanceVenue over all endpoints of `name`, with its breaker events and requests recorded."""
    n = len(sim.venues[name].urls)
    venue = BinanceVenue(name, [sim.ccxt_config(name, i) for i in range(n)], timeout_ms=timeout_ms,
                         connectivity=config or fast_config())
    rec = Recorder(venue)
    try:
        await venue.connect()
        yield rec
    finally:
        await venue.close()


class Recorder:
    """The venue plus what it reported: breaker changes and per-request records."""

    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue
        self.events: list[BreakerStateChanged] = []
        self.requests: list[RequestRecord] = []
        venue.on_breaker_change = self.events.append
        venue.on_request = self.requests.append

    def url(self, sim: SimServer, endpoint: int) -> str:
        return sim.venues[self.venue.name].urls[endpoint]

    def transitions(self, name: str) -> list[tuple[str, str]]:
        return [(e.old.value, e.new.value) for e in self.events if e.name == name]


BTC = InstrumentId("alpha", "BTC/USDT")


def limit_intent(seq: int, *, price: str = "1000", qty: str = "0.01", side: Side = Side.BUY) -> OrderIntent:
    """A limit order far below the market, so it rests (cancelable) instead of filling."""
    return OrderIntent(
        ts=datetime.now(UTC),
        client_order_id=ClientOrderId.build("it", "conn", seq),
        instrument_id=BTC,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


async def eventually(check: Callable[[], bool], *, within: float, interval: float = 0.05) -> None:
    """Wait until `check()` holds, or fail naming the timeout."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


async def fresh_weight_window(min_left: float) -> None:
    """Wait, if needed, for the next minute window, so the next `min_left` seconds stay in one window
    (the venue and the limiter both reset request weight at each UTC minute)."""
    left = 60.0 - time.time() % 60.0
    if left < min_left:
        await asyncio.sleep(left + 0.2)
