"""Binance market streams beyond trades and diffs: klines of every interval (closing candles are
sent with `x: true`), partial-book snapshots (`depth5/10/20`), and the all-market ticker arrays.

Stream names are checked the way Binance checks them: a name no pattern matches is refused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nonstop.clock import utc_ms
from nonstop.sim import wire
from nonstop.sim.candles import INTERVALS_MS, bucket

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

_INTERVALS = "|".join(INTERVALS_MS)
STREAM_NAME = re.compile(
    r"^(?:[a-z0-9]+@(?:trade|aggTrade|bookTicker|ticker|miniTicker|avgPrice|depth(?:5|10|20)?(?:@100ms|@1000ms)?"
    rf"|kline_(?:{_INTERVALS})(?:@\+08:00)?|ticker_(?:1h|4h|1d))"
    r"|!ticker@arr|!miniTicker@arr|!bookTicker)$"
)
_PARTIAL = re.compile(r"^([a-z0-9]+)@depth(5|10|20)(@100ms|@1000ms)?$")
_KLINE = re.compile(rf"^([a-z0-9]+)@kline_({_INTERVALS})$")


def valid_stream(name: str) -> bool:
    return bool(STREAM_NAME.match(name))


class MarketStreams:
    """Publishes the snapshot-style streams of one venue; called from the runtime's periodic steps."""

    def __init__(self, rt: VenueRuntime) -> None:
        self.rt = rt
        self._kline_open: dict[tuple[str, str], int] = {}

    def _subscribed(self) -> set[str]:
        names: set[str] = set()
        for conn in self.rt.streams.connections:
            names |= conn.streams
        return names

    def partial_books(self, fast: bool) -> None:
        """`<symbol>@depth<N>` (every second) and `<symbol>@depth<N>@100ms` (every 100 ms)."""
        for name in self._subscribed():
            m = _PARTIAL.match(name)
            if m is None or (m.group(3) == "@100ms") != fast:
                continue
            symbol = m.group(1).upper()
            book = self.rt.venue.books.get(symbol)
            if book is None:
                continue
            bids, asks = book.depth(int(m.group(2)))
            self.rt.streams.publish(name, {
                "lastUpdateId": book.update_id,
                "bids": [[wire.num(p), wire.num(q)] for p, q in bids],
                "asks": [[wire.num(p), wire.num(q)] for p, q in asks],
            })

    def klines(self) -> None:
        """Every subscribed `<symbol>@kline_<interval>`: the running candle, and once a candle's
        time is over, that candle once more with `x: true` (closed)."""
        now = utc_ms(self.rt.clock.now())
        for name in self._subscribed():
            m = _KLINE.match(name)
            if m is None or m.group(1).upper() not in self.rt.venue.symbols:
                continue
            symbol, interval = m.group(1).upper(), m.group(2)
            current = bucket(interval, now)[0]
            previous = self._kline_open.get((symbol, interval))
            self._kline_open[(symbol, interval)] = current
            if previous is not None and previous != current:
                closed = self.rt.candles[symbol].klines(interval, previous, previous, 1, now)
                if closed:
                    self.rt.streams.publish(name, self._event(symbol, interval, closed[0], now, closed=True))
            running = self.rt.candles[symbol].klines(interval, current, None, 1, now)
            if running:
                self.rt.streams.publish(name, self._event(symbol, interval, running[0], now, closed=False))

    @staticmethod
    def _event(symbol: str, interval: str, k: list[Any], now: int, *, closed: bool) -> dict[str, Any]:
        return {
            "e": "kline",
            "E": now,
            "s": symbol,
            "k": {
                "t": k[0], "T": k[6], "s": symbol, "i": interval, "f": 0, "L": 0,
                "o": k[1], "c": k[4], "h": k[2], "l": k[3], "v": k[5], "n": k[8], "x": closed,
                "q": k[7], "V": k[9], "Q": k[10], "B": "0",
            },
        }

    def all_market(self, tickers: list[dict[str, Any]], minis: list[dict[str, Any]]) -> None:
        """`!ticker@arr` and `!miniTicker@arr`: every symbol's event of the second, in one array."""
        if tickers:
            self.rt.streams.publish("!ticker@arr", tickers)  # type: ignore[arg-type]
        if minis:
            self.rt.streams.publish("!miniTicker@arr", minis)  # type: ignore[arg-type]
