"""Stop orders and OCO legs on the simulated venue (venue-neutral; `SimVenue` mixes this in).

A stop order (stop-loss or take-profit, market or limit) waits unworking, outside the book, until
the last trade price reaches its stop; then it matches as the market or limit order it becomes.
The legs of an OCO share one balance lock: the first leg to trigger or trade expires the other and
takes the lock over.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from nonstop.config_sim import SimSymbol
from nonstop.sim.book import BUY, OrderBook
from nonstop.sim.records import BACKGROUND, PRICED_TYPES, STOP_TYPES, Account, SimOrder


class ConditionalOrders:
    """Trigger handling and OCO lock sharing; relies on the venue's matching internals."""

    symbols: dict[str, SimSymbol]
    books: dict[str, OrderBook]
    accounts: dict[str, Account]
    orders: dict[int, SimOrder]
    pending: dict[int, SimOrder]
    order_lists: dict[int, list[int]]
    last_price: dict[str, Decimal]
    _now: Callable[[], int]
    _report: Callable[..., None]
    _match: Callable[[SimOrder], None]
    _finish: Callable[..., None]
    _emit_balances: Callable[[str, set[str]], None]

    def fire_triggers(self, symbol: str) -> None:
        """Start the stop orders the last trade price has reached, until none more does (bounded)."""
        for _ in range(1000):
            last = self.last_price[symbol]
            due = [o for o in self.pending.values() if o.symbol == symbol and o.triggered_by(last)]
            if not due:
                return
            order = min(due, key=lambda o: o.order_id)
            del self.pending[order.order_id]
            if not order.is_open:
                continue
            self.leg_active(order)
            order.working = True
            order.update_ms = self._now()
            self._report(order, "NEW")
            self._match(order)

    def leg_active(self, order: SimOrder) -> None:
        """An OCO leg triggered or traded: its other leg expires and this one takes over the shared lock."""
        if order.order_list_id < 0:
            return
        for other_id in self.order_lists.get(order.order_list_id, []):
            other = self.orders.get(other_id)
            if other is None or other is order or not other.is_open:
                continue
            self.books[other.symbol].remove(other.order_id)
            self.pending.pop(other.order_id, None)
            self._finish(other, "EXPIRED", release=True)
        if not order.lock_owner:
            order.lock_owner = True
            asset, amount = self._lock_of(order, order.orig_qty - order.executed_qty)
            if amount:
                self.accounts[order.account].move(asset, free=-amount, locked=amount)
                self._emit_balances(order.account, {asset})

    def _lock_of(self, order: SimOrder, qty: Decimal) -> tuple[str, Decimal]:
        """The asset and amount an order holds locked for `qty` still to fill (0 when it locks nothing)."""
        spec = self.symbols[order.symbol]
        if order.side == BUY:
            return spec.quote, (order.price * qty if order.type in PRICED_TYPES else Decimal(0))
        return spec.base, (qty if order.type in PRICED_TYPES or order.type in STOP_TYPES else Decimal(0))

    def _locks(self, order: SimOrder) -> bool:
        return order.account not in BACKGROUND and order.lock_owner and self._lock_of(order, Decimal(1))[1] > 0

