"""A price-time priority limit order book for one symbol, with depth-diff bookkeeping.

Hand-written on purpose: no well-kept Python library offers a matching book that also
produces Binance's depth-diff update ids (`U`/`u`), which ccxt's order-book sync checks.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

BUY, SELL = "BUY", "SELL"


@dataclass
class Resting:
    """An order's resting remainder in the book (the venue owns the full order record)."""

    order_id: int
    account: str
    side: str
    price: Decimal
    remaining: Decimal


@dataclass
class DepthDiff:
    """Levels changed between two update ids, as Binance's `depthUpdate` carries them."""

    first_id: int
    last_id: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


@dataclass
class _Side:
    descending: bool
    prices: list[Decimal] = field(default_factory=list)  # sorted best-first
    levels: dict[Decimal, deque[Resting]] = field(default_factory=dict)

    def _key(self, price: Decimal) -> Decimal:
        return -price if self.descending else price

    def add(self, order: Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            self.prices.insert(bisect.bisect_left(self.prices, self._key(order.price), key=self._key), order.price)
        level.append(order)

    def remove_level_if_empty(self, price: Decimal) -> None:
        level = self.levels.get(price)
        if level is not None and not level:
            del self.levels[price]
            index = bisect.bisect_left(self.prices, self._key(price), key=self._key)
            if index < len(self.prices) and self.prices[index] == price:
                del self.prices[index]
            else:
                self.prices.remove(price)

    def qty_at(self, price: Decimal) -> Decimal:
        return sum((o.remaining for o in self.levels.get(price, ())), Decimal(0))

    def best(self) -> Decimal | None:
        return self.prices[0] if self.prices else None


class OrderBook:
    """Resting orders of one symbol; every level change bumps the update id."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Side(descending=True)
        self._asks = _Side(descending=False)
        self._index: dict[int, Resting] = {}
        self.update_id = 1
        self._diff_first: int | None = None
        self._changed: dict[tuple[str, Decimal], None] = {}

    # ------------------------------------------------------------------ queries
    def side(self, side: str) -> _Side:
        return self._bids if side == BUY else self._asks

    def best_bid(self) -> Decimal | None:
        return self._bids.best()

    def best_ask(self) -> Decimal | None:
        return self._asks.best()

    def depth(self, limit: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Aggregated (price, qty) levels, best first, at most `limit` per side."""
        bids = [(p, self._bids.qty_at(p)) for p in self._bids.prices[:limit]]
        asks = [(p, self._asks.qty_at(p)) for p in self._asks.prices[:limit]]
        return bids, asks

    def get(self, order_id: int) -> Resting | None:
        return self._index.get(order_id)

    def resting_of(self, account: str) -> list[Resting]:
        return [o for o in self._index.values() if o.account == account]

    def opposite_levels(self, side: str) -> Iterator[tuple[Decimal, deque[Resting]]]:
        """Levels a taker on `side` would hit, best first (a live view: callers may consume)."""
        book = self._asks if side == BUY else self._bids
        if not book.prices:
            return
        price = book.prices[0]
        while True:  # the next level is looked up after each one: callers may empty levels meanwhile
            level = book.levels.get(price)
            if level:
                yield price, level
            index = bisect.bisect_right(book.prices, book._key(price), key=book._key)
            if index >= len(book.prices):
                return
            price = book.prices[index]

    # ---------------------------------------------------------------- mutations
    def _touch(self, side: str, price: Decimal) -> None:
        self.update_id += 1
        if self._diff_first is None:
            self._diff_first = self.update_id
        self._changed[(side, price)] = None

    def add(self, order: Resting) -> None:
        self.side(order.side).add(order)
        self._index[order.order_id] = order
        self._touch(order.side, order.price)

    def remove(self, order_id: int) -> Resting | None:
        order = self._index.pop(order_id, None)
        if order is None:
            return None
        book = self.side(order.side)
        level = book.levels.get(order.price)
        if level is not None:
            level.remove(order)
            book.remove_level_if_empty(order.price)
        self._touch(order.side, order.price)
        return order

    def reduce(self, order: Resting, qty: Decimal) -> None:
        """A resting order traded `qty`; drop it from the book when nothing remains."""
        order.remaining -= qty
        if order.remaining <= 0:
            self.remove(order.order_id)
        else:
            self._touch(order.side, order.price)

    def take_diff(self) -> DepthDiff | None:
        """Levels changed since the last call, with their current quantity (0 = gone)."""
        if self._diff_first is None:
            return None
        bids: list[tuple[Decimal, Decimal]] = []
        asks: list[tuple[Decimal, Decimal]] = []
        for side, price in self._changed:
            (bids if side == BUY else asks).append((price, self.side(side).qty_at(price)))
        diff = DepthDiff(self._diff_first, self.update_id, bids, asks)
        self._diff_first = None
        self._changed = {}
        return diff
