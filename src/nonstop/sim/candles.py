"""OHLCV candles built from the venue's trades, with a seeded back-history for warm-up."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from nonstop.config_sim import SimSymbol

MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
SECONDS_KEPT = 3600  # one-second candles are kept for the last hour
# Binance's kline intervals in minutes; "1s" is built from trades, "1w" starts on Monday, "1M" is a calendar month
INTERVALS_MS = {
    "1s": 0,
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
    "1M": 43200,
}
HISTORY_MINUTES = 1440  # generated at start; older history is generated a day at a time on demand
HISTORY_DAYS_MAX = 28


@dataclass
class Candle:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    trades: int = 0
    taker_buy_volume: Decimal = Decimal(0)
    taker_buy_quote: Decimal = Decimal(0)

    def add(self, price: Decimal, qty: Decimal, taker_buy: bool = False) -> None:
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += qty
        self.quote_volume += qty * price
        self.trades += 1
        if taker_buy:
            self.taker_buy_volume += qty
            self.taker_buy_quote += qty * price

    def merge(self, c: Candle) -> None:
        self.high, self.low, self.close = max(self.high, c.high), min(self.low, c.low), c.close
        self.volume += c.volume
        self.quote_volume += c.quote_volume
        self.trades += c.trades
        self.taker_buy_volume += c.taker_buy_volume
        self.taker_buy_quote += c.taker_buy_quote


def bucket(interval: str, open_ms: int) -> tuple[int, int]:
    """The (open, close) times of the `interval` candle holding `open_ms`."""
    if interval == "1s":
        start = open_ms - open_ms % 1000
        return start, start + 999
    if interval == "1M":
        t = datetime.fromtimestamp(open_ms / 1000, UTC)
        first = datetime(t.year, t.month, 1, tzinfo=UTC)
        nxt = datetime(t.year + t.month // 12, t.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000), int(nxt.timestamp() * 1000) - 1
    if interval == "1w":
        start = open_ms - (open_ms - 4 * DAY_MS) % WEEK_MS  # 1970-01-05 was a Monday
        return start, start + WEEK_MS - 1
    step = INTERVALS_MS[interval] * MINUTE_MS
    start = open_ms - open_ms % step
    return start, start + step - 1


class CandleStore:
    """One-minute candles of one symbol; coarser intervals are aggregated on request."""

    def __init__(self, spec: SimSymbol, seed: int, start_ms: int) -> None:
        self.spec = spec
        self.minutes: dict[int, Candle] = {}
        self.seconds: dict[int, Candle] = {}
        self._seed = seed
        self._days = 1
        first = start_ms - start_ms % MINUTE_MS
        self._oldest = first - HISTORY_MINUTES * MINUTE_MS
        self._backfill(random.Random(f"{seed}:{spec.symbol}:history"), first, float(spec.start_price))

    def history_start(self, interval: str, start: int | None, end: int | None, limit: int, now_ms: int) -> int:
        """The oldest time a klines request reaches back to."""
        if start is not None:
            return start
        span = max(INTERVALS_MS[interval], 1) * MINUTE_MS
        return (end if end is not None else now_ms) - (limit + 1) * span

    async def prepare(self, start_ms: int) -> None:
        """Generate older history, a day at a time, back to `start_ms` (at most `HISTORY_DAYS_MAX` days),
        off the event loop. Day k is seeded by (seed, symbol, k) and starts at the open of day k-1: the
        same whatever the order of requests."""
        while start_ms < self._oldest and self._days < HISTORY_DAYS_MAX:
            oldest = self.minutes.get(self._oldest)
            price = float(oldest.open) if oldest is not None else float(self.spec.start_price)
            rng = random.Random(f"{self._seed}:{self.spec.symbol}:history:{self._days}")
            day = await asyncio.to_thread(self._generate, rng, self._oldest, price)
            if day.keys().isdisjoint(self.minutes):  # another request did not add this day meanwhile
                self.minutes.update(day)
                self._oldest -= HISTORY_MINUTES * MINUTE_MS
                self._days += 1

    def _backfill(self, rng: random.Random, first: int, price: float) -> None:
        self.minutes.update(self._generate(rng, first, price))

    def _generate(self, rng: random.Random, first: int, price: float) -> dict[int, Candle]:
        """A deterministic walk backwards from `price` at `first`, one candle a minute, for a day."""
        day: dict[int, Candle] = {}
        if self.spec.volatility_1m_bps is not None:
            sigma = float(self.spec.volatility_1m_bps) / 10_000
        else:
            sigma = float(self.spec.volatility_bps) / 10_000 * 8
        for i in range(1, HISTORY_MINUTES + 1):
            close = price
            open_ = close * math.exp(rng.gauss(0, sigma))
            hi = max(open_, close) * (1 + abs(rng.gauss(0, sigma / 2)))
            lo = min(open_, close) * (1 - abs(rng.gauss(0, sigma / 2)))
            q = self._q
            vol = Decimal(str(round(rng.uniform(0.5, 20) * 10_000 / float(self.spec.start_price), 5)))
            buy = (vol * Decimal(str(round(rng.uniform(0.3, 0.7), 3)))).quantize(Decimal("0.00001"))
            day[first - i * MINUTE_MS] = Candle(
                first - i * MINUTE_MS, q(open_), q(hi), q(lo), q(close), vol, vol * q(close), rng.randint(5, 80),
                buy, buy * q(close),
            )
            price = open_
        return day

    def _q(self, value: float) -> Decimal:
        return Decimal(str(value)).quantize(self.spec.tick_size, rounding=ROUND_HALF_EVEN)

    def record(self, price: Decimal, qty: Decimal, time_ms: int, taker_buy: bool = False) -> None:
        kept = HISTORY_MINUTES * (HISTORY_DAYS_MAX + 2)
        for store, size, keep in ((self.minutes, MINUTE_MS, kept), (self.seconds, 1000, SECONDS_KEPT)):
            start = time_ms - time_ms % size
            candle = store.get(start)
            if candle is None:
                candle = store[start] = Candle(start, price, price, price, price)
                while len(store) > keep:
                    del store[min(store)]
            candle.add(price, qty, taker_buy)

    def klines(self, interval: str, start: int | None, end: int | None, limit: int, now_ms: int) -> list[list[object]]:
        source = self.seconds if interval == "1s" else self.minutes
        if interval != "1s":
            lower = self.history_start(interval, start, end, limit, now_ms)
        else:
            lower = start if start is not None else (end if end is not None else now_ms) - (limit + 1) * 1000
        first_wanted = bucket(interval, lower)[0]
        buckets: dict[int, Candle] = {}
        closes: dict[int, int] = {}
        for open_ms in sorted(source):
            if open_ms < first_wanted:
                continue
            c = source[open_ms]
            key, close_ms = bucket(interval, open_ms)
            b = buckets.get(key)
            if b is None:
                buckets[key] = Candle(key, c.open, c.open, c.open, c.open)
                closes[key] = close_ms
            buckets[key].merge(c)
        first = bucket(interval, start)[0] if start is not None else None
        keys = [
            k
            for k in sorted(buckets)
            if (first is None or k >= first) and (end is None or k <= end) and k <= now_ms
        ]
        keys = keys[:limit] if start is not None else keys[-limit:]
        return [
            [
                k,
                f"{buckets[k].open:.8f}",
                f"{buckets[k].high:.8f}",
                f"{buckets[k].low:.8f}",
                f"{buckets[k].close:.8f}",
                f"{buckets[k].volume:.8f}",
                closes[k],
                f"{buckets[k].quote_volume:.8f}",
                buckets[k].trades,
                f"{buckets[k].taker_buy_volume:.8f}",
                f"{buckets[k].taker_buy_quote:.8f}",
                "0",
            ]
            for k in keys
        ]

    def last_24h(self, now_ms: int) -> list[Candle]:
        return self.since(now_ms - DAY_MS)

    def since(self, since_ms: int) -> list[Candle]:
        return [self.minutes[k] for k in sorted(self.minutes) if k >= since_ms]
