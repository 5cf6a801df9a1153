"""OHLCV candles built from the venue's trades, with a seeded back-history for warm-up."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from nonstop.config import SimSymbol

MINUTE_MS = 60_000
INTERVALS_MS = {
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
}
HISTORY_MINUTES = 1440


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

    def add(self, price: Decimal, qty: Decimal) -> None:
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += qty
        self.quote_volume += qty * price
        self.trades += 1


class CandleStore:
    """One-minute candles of one symbol; coarser intervals are aggregated on request."""

    def __init__(self, spec: SimSymbol, seed: int, start_ms: int) -> None:
        self.spec = spec
        self.minutes: dict[int, Candle] = {}
        self._backfill(seed, start_ms)

    def _backfill(self, seed: int, start_ms: int) -> None:
        """A deterministic walk backwards from the start price, one candle a minute."""
        rng = random.Random(f"{seed}:{self.spec.symbol}:history")
        sigma = float(self.spec.volatility_bps) / 10_000 * 8
        first = start_ms - start_ms % MINUTE_MS
        price = float(self.spec.start_price)
        for i in range(1, HISTORY_MINUTES + 1):
            close = price
            open_ = close * math.exp(rng.gauss(0, sigma))
            hi = max(open_, close) * (1 + abs(rng.gauss(0, sigma / 2)))
            lo = min(open_, close) * (1 - abs(rng.gauss(0, sigma / 2)))
            q = self._q
            vol = Decimal(str(round(rng.uniform(0.5, 20) * 10_000 / float(self.spec.start_price), 5)))
            self.minutes[first - i * MINUTE_MS] = Candle(
                first - i * MINUTE_MS, q(open_), q(hi), q(lo), q(close), vol, vol * q(close), rng.randint(5, 80)
            )
            price = open_

    def _q(self, value: float) -> Decimal:
        return Decimal(str(value)).quantize(self.spec.tick_size, rounding=ROUND_HALF_EVEN)

    def record(self, price: Decimal, qty: Decimal, time_ms: int) -> None:
        start = time_ms - time_ms % MINUTE_MS
        candle = self.minutes.get(start)
        if candle is None:
            candle = self.minutes[start] = Candle(start, price, price, price, price)
            while len(self.minutes) > HISTORY_MINUTES * 3:
                del self.minutes[min(self.minutes)]
        candle.add(price, qty)

    def klines(self, interval: str, start: int | None, end: int | None, limit: int, now_ms: int) -> list[list[object]]:
        step = INTERVALS_MS[interval] * MINUTE_MS
        buckets: dict[int, Candle] = {}
        for open_ms in sorted(self.minutes):
            c = self.minutes[open_ms]
            key = open_ms - open_ms % step
            b = buckets.get(key)
            if b is None:
                buckets[key] = Candle(key, c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades)
            else:
                b.high, b.low, b.close = max(b.high, c.high), min(b.low, c.low), c.close
                b.volume += c.volume
                b.quote_volume += c.quote_volume
                b.trades += c.trades
        keys = [
            k
            for k in sorted(buckets)
            if (start is None or k >= start - start % step) and (end is None or k <= end) and k <= now_ms
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
                k + step - 1,
                f"{buckets[k].quote_volume:.8f}",
                buckets[k].trades,
                "0.00000000",
                "0.00000000",
                "0",
            ]
            for k in keys
        ]

    def last_24h(self, now_ms: int) -> list[Candle]:
        since = now_ms - 86_400_000
        return [self.minutes[k] for k in sorted(self.minutes) if k >= since]
