"""The day's PnL for the daily loss limit: realized + unrealized of the fills of the current UTC day.

Each fill of the day is folded into an average-cost book (`nonstop.monitor.pnl.StrategyBook`, the
same method the PnL metrics use); positions are marked at the consensus mid (else the last fill
price). The book starts empty at 00:00 UTC, so a position carried over midnight counts only through
the trades made on it today. Built from the journal's fills at start, so a restart keeps the day
(fills archived out of the state count through the books the state carries for their day).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from nonstop.model import EngineState, InstrumentId, OrderFilled
from nonstop.monitor.pnl import StrategyBook


class DailyPnl:
    """Realized + unrealized PnL of today's fills, per strategy and in total (quote currency)."""

    def __init__(self, state: EngineState, now: datetime) -> None:
        self._state = state
        self._day = now.date()
        self._books: dict[str, StrategyBook] = state.carried.day_books(self._day)  # today's archived fills
        for _, fill in sorted(state.fills.items(), key=lambda kf: (kf[1].ts, kf[0])):  # as after a restart
            self.on_fill(fill)

    def on_fill(self, fill: OrderFilled) -> None:
        if fill.ts.date() != self._day:
            return
        order = self._state.orders.get(fill.client_order_id.value)
        if order is None:
            return
        book = self._books.setdefault(fill.client_order_id.strategy, StrategyBook())
        book.fill(order.instrument_id, order.side, fill.quantity, fill.price, fill.fee, fill.fee_asset)

    def pnl(self, now: datetime, mark: Callable[[InstrumentId], Decimal | None]) -> Decimal:
        """Today's PnL of every strategy of this instance; a new UTC day starts from zero."""
        if now.date() != self._day:
            self._day, self._books = now.date(), {}
        return sum((b.figures(mark).pnl for b in self._books.values()), Decimal(0))
