"""The seeded background market: a random-walk fair price, a market maker's ladder and takers.

Deterministic: the fair-price path depends only on (seed, symbol) and the tick number, so two
venues listing the same symbol move together (until a fault spikes or freezes one of them), and
the same seed always gives the same path.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from nonstop.config import SimSymbol
from nonstop.sim import rejects
from nonstop.sim.book import BUY, SELL
from nonstop.sim.records import MARKET_MAKER, TAKER_FLOW
from nonstop.sim.venue import SimVenue

LADDER_LEVELS = 5
HALF_SPREAD_BPS = 2.0
LEVEL_STEP_BPS = 1.5
_BACKGROUND_BALANCE = {"__": Decimal(0)}


class PricePath:
    """The fair price of one symbol: a seeded geometric random walk on the tick grid."""

    def __init__(self, seed: int, spec: SimSymbol) -> None:
        self._rng = random.Random(f"{seed}:{spec.symbol}:path")
        self._spec = spec
        self._log_price = math.log(float(spec.start_price))
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

    def __init__(self, venue: SimVenue, seed: int) -> None:
        self.venue = venue
        self.control = FlowControl()
        self.paths = {sym: PricePath(seed, spec) for sym, spec in venue.symbols.items()}
        self._rng = random.Random(f"{seed}:{venue.name}:flow")
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
        for resting in book.resting_of(MARKET_MAKER):
            book.remove(resting.order_id)
            venue.orders.pop(resting.order_id, None)  # background orders are not part of the record
        fair = self.fair(symbol)
        for level in range(LADDER_LEVELS):
            offset = Decimal(str((HALF_SPREAD_BPS + level * LEVEL_STEP_BPS) / 10_000))
            for side in (BUY, SELL):
                raw = fair * (1 - offset) if side == BUY else fair * (1 + offset)
                rounding = ROUND_DOWN if side == BUY else "ROUND_UP"
                price = (raw / spec.tick_size).to_integral_value(rounding=rounding) * spec.tick_size
                qty = self._size(spec, self._rng.uniform(2_000, 20_000))
                self._place(MARKET_MAKER, symbol, side, "LIMIT", qty, price)

    def _take(self, symbol: str) -> None:
        spec = self.venue.symbols[symbol]
        side = BUY if self._rng.random() < 0.5 else SELL
        qty = self._size(spec, self._rng.uniform(50, 3_000))
        self._place(TAKER_FLOW, symbol, side, "MARKET", qty, None)

    def _place(self, account: str, symbol: str, side: str, kind: str, qty: Decimal, price: Decimal | None) -> None:
        try:
            order = self.venue.new_order(
                account, symbol, side, kind, quantity=qty, price=price, client_order_id=f"bg-{account[2:8]}"
            )
        except rejects.BinanceReject:
            return  # a background order that breaks a filter is simply not placed
        if not order.is_open:
            self.venue.orders.pop(order.order_id, None)
