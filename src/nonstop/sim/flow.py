"""The seeded background market: a random-walk fair price, a market maker's ladder and takers.

The ladder has an inner part (`INNER_LEVELS` levels one tick apart from a best bid and ask
`spread_ticks` apart, re-quoted every tick) and an outer part (levels on a fixed price grid
`OUTER_STEP_BPS` apart, out to `book_levels` per side, adjusted incrementally as the fair price moves:
only levels that leave or enter the band change, so a deep book costs little per tick).

Deterministic: the fair-price path depends only on (seed, symbol) and the tick number, so two
venues listing the same symbol move together (until a fault spikes or freezes one of them), and
the same seed always gives the same path.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from nonstop.config_sim import SimSymbol
from nonstop.sim import rejects
from nonstop.sim.book import BUY, SELL
from nonstop.sim.records import MARKET_MAKER, TAKER_FLOW
from nonstop.sim.venue import SimVenue

INNER_LEVELS = 20
OUTER_STEP_BPS = 0.2
MINUTE_MS = 60_000
_BACKGROUND_BALANCE = {"__": Decimal(0)}


class PricePath:
    """The fair price of one symbol: a seeded geometric random walk on the tick grid."""

    def __init__(self, seed: int, spec: SimSymbol, tick_ms: int = 200) -> None:
        self._rng = random.Random(f"{seed}:{spec.symbol}:path")
        self._spec = spec
        self._log_price = math.log(float(spec.start_price))
        if spec.volatility_1m_bps is not None:  # calibrated per minute: scale to one tick of the flow
            self._sigma = float(spec.volatility_1m_bps) / 10_000 / math.sqrt(MINUTE_MS / tick_ms)
        else:
            self._sigma = float(spec.volatility_bps) / 10_000
        self.price = spec.start_price
        self.tick = 0

    def step(self) -> Decimal:
        self.tick += 1
        self._log_price += self._rng.gauss(0.0, self._sigma)
        raw = Decimal(str(math.exp(self._log_price)))
        self.price = max(self._spec.tick_size, raw.quantize(self._spec.tick_size, rounding=ROUND_HALF_EVEN))
        return self.price


@dataclass
class FlowControl:
    """What faults do to the flow: a frozen feed stops it, a spike shifts the venue's prices."""

    frozen: bool = False
    spike_factor: Decimal = Decimal(1)


class MarketFlow:
    """Drives one venue's books each tick: re-quote the market maker's ladder, then maybe a taker."""

    def __init__(self, venue: SimVenue, seed: int, tick_ms: int = 200) -> None:
        self.venue = venue
        self.control = FlowControl()
        self.paths = {sym: PricePath(seed, spec, tick_ms) for sym, spec in venue.symbols.items()}
        self._rng = random.Random(f"{seed}:{venue.name}:flow")
        self._inner: dict[str, list[int]] = {sym: [] for sym in venue.symbols}
        self._outer: dict[str, dict[tuple[str, int], int]] = {sym: {} for sym in venue.symbols}
        for key in (MARKET_MAKER, TAKER_FLOW):
            venue.accounts[key] = venue.add_account(key, "", {})
        for sym in venue.symbols:
            self._quote(sym)

    def tick(self) -> None:
        """Advance every symbol's fair price one step (the walk advances even while frozen)."""
        for sym, path in self.paths.items():
            path.step()
            if self.control.frozen:
                continue
            self._quote(sym)
            if self._rng.random() < 0.6:
                self._take(sym)

    def fair(self, symbol: str) -> Decimal:
        spec = self.venue.symbols[symbol]
        shifted = self.paths[symbol].price * self.control.spike_factor
        return max(spec.tick_size, shifted.quantize(spec.tick_size, rounding=ROUND_HALF_EVEN))

    def _size(self, spec: SimSymbol, notional: float) -> Decimal:
        qty = Decimal(str(notional)) / self.fair(spec.symbol)
        qty = (qty / spec.step_size).to_integral_value(rounding=ROUND_DOWN) * spec.step_size
        return max(qty, spec.min_qty)

    def _quote(self, symbol: str) -> None:
        venue, spec = self.venue, self.venue.symbols[symbol]
        book = venue.books[symbol]
        for order_id in self._inner[symbol]:
            book.remove(order_id)
            venue.orders.pop(order_id, None)  # background orders are not part of the record
        self._inner[symbol] = []
        fair = self.fair(symbol)
        tick = spec.tick_size
        bid0 = (fair / tick - Decimal(spec.spread_ticks) / 2).to_integral_value(rounding=ROUND_DOWN)
        ask0 = bid0 + spec.spread_ticks  # both in ticks
        inner = min(INNER_LEVELS, spec.book_levels)
        # the outer ladder moves first: a new inner quote must never meet a stale outer one
        self._quote_outer(symbol, int(bid0) - inner, int(ask0) + inner, spec.book_levels - inner)
        for level in range(inner):
            for side, price_ticks in ((BUY, bid0 - level), (SELL, ask0 + level)):
                if price_ticks <= 0:
                    continue
                qty = self._size(spec, self._rng.uniform(2_000, 20_000) * (1 + level / 4))
                order_id = venue.rest_background(MARKET_MAKER, symbol, side, price_ticks * tick, qty)
                if order_id is not None:
                    self._inner[symbol].append(order_id)

    def _quote_outer(self, symbol: str, bid_top: int, ask_top: int, levels: int) -> None:
        """Keep `levels` grid levels per side beyond the inner ladder; change only what moved."""
        venue, spec = self.venue, self.venue.symbols[symbol]
        book, outer = venue.books[symbol], self._outer[symbol]
        step = max(1, int(spec.start_price / spec.tick_size * Decimal(OUTER_STEP_BPS) / 10_000))  # a fixed grid
        first_bid, first_ask = bid_top // step, -(-ask_top // step)
        want = {(BUY, (first_bid - i) * step) for i in range(levels) if (first_bid - i) * step > 0}
        want |= {(SELL, (first_ask + i) * step) for i in range(levels)}
        near = {(BUY, (first_bid - i) * step) for i in range(10)} | {(SELL, (first_ask + i) * step) for i in range(10)}
        eaten = {k for k in near & outer.keys() if book.get(outer[k]) is None}  # takers reach only the top levels
        for key in (outer.keys() - want) | eaten:
            order_id = outer.pop(key)
            book.remove(order_id)
            venue.orders.pop(order_id, None)
        for side, price_ticks in want - outer.keys():
            qty = self._size(spec, self._rng.uniform(5_000, 60_000))
            order_id = venue.rest_background(MARKET_MAKER, symbol, side, price_ticks * spec.tick_size, qty)
            if order_id is not None:
                outer[(side, price_ticks)] = order_id

    def _take(self, symbol: str) -> None:
        spec = self.venue.symbols[symbol]
        side = BUY if self._rng.random() < 0.5 else SELL
        # many small takers and a long tail (log-normal, median ~150 USDT), as on a liquid pair
        qty = self._size(spec, min(50_000.0, max(10.0, math.exp(self._rng.gauss(math.log(150), 1.4)))))
        self._place(TAKER_FLOW, symbol, side, "MARKET", qty, None)

    def _place(
        self, account: str, symbol: str, side: str, kind: str, qty: Decimal, price: Decimal | None
    ) -> int | None:
        """The order id when the order rests in the book."""
        try:
            order = self.venue.new_order(
                account, symbol, side, kind, quantity=qty, price=price, client_order_id=f"bg-{account[2:8]}"
            )
        except rejects.BinanceReject:
            return None  # a background order that breaks a filter is simply not placed
        if not order.is_open:
            self.venue.orders.pop(order.order_id, None)
            return None
        return order.order_id
