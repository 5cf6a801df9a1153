"""The day's PnL for the daily loss limit: realized + unrealized of the fills of the current UTC day,
per quote currency.

Each fill of the day is folded into an average-cost book per (strategy, quote currency)
(`nonstop.model.strategy_book.StrategyBooks`, the same method the PnL metrics use); the day's PnL is
the sum of the books of each quote currency, never a sum across two (a USDT loss and a BTC gain do
not offset); positions are marked at the consensus mid (else the last fill
price). The book starts empty at 00:00 UTC, so a position carried over midnight counts only through
the trades made on it today. Built from the journal's fills at start, so a restart keeps the day
(fills archived out of the state count through the books the state carries for their day).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from nonstop.model import EngineState, InstrumentId, OrderFilled
from nonstop.model.strategy_book import StrategyBooks


class DailyPnl:
    """Realized + unrealized PnL of today's fills of every strategy, per quote currency."""

    def __init__(self, state: EngineState, now: datetime) -> None:
        self._state = state
        self._day = now.date()
        self._books: StrategyBooks = state.carried.day_books(self._day)  # today's archived fills
        for _, fill in sorted(state.fills.items(), key=lambda kf: (kf[1].ts, kf[0])):  # as after a restart
            self.on_fill(fill)

    def on_fill(self, fill: OrderFilled) -> None:
        if fill.ts.date() != self._day:
            return
        order = self._state.orders.get(fill.client_order_id.value)
        if order is None:
            return
        self._books.fill(fill.client_order_id.strategy, order.instrument_id, order.side, fill.quantity, fill.price,
                         fill.fee, fill.fee_asset)

    def pnl(self, now: datetime, mark: Callable[[InstrumentId], Decimal | None]) -> dict[str, Decimal]:
        """Today's PnL of every strategy, per quote currency (in it); a new UTC day starts from nothing."""
        if now.date() != self._day:
            self._day, self._books = now.date(), StrategyBooks()
        return self._books.by_quote(mark)
