"""The account side of matching on the simulated venue (`SimVenue` mixes this in): funds locked
when an order is accepted, moved and charged a fee on each trade, released when it ends.

Fees are Binance spot's default, 0.1 % for maker and taker, unless the venue is given others
(`maker_fee` / `taker_fee`: a paper venue takes its source venue's); the fee is charged in the
asset received, like Binance without BNB.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from nonstop.config_sim import SimSymbol
from nonstop.sim import rejects
from nonstop.sim.book import BUY, SELL, OrderBook
from nonstop.sim.records import BACKGROUND, PRICED_TYPES, Account, BalanceUpdate, SimOrder, VenueEvent

FEE_RATE = Decimal("0.001")  # Binance spot's default maker and taker commission
FEE_QUANT = Decimal("0.00000001")


class Settlement:
    """Balances: reserve, settle a trade (with its fee), release; and the balance updates they emit."""

    symbols: dict[str, SimSymbol]
    books: dict[str, OrderBook]
    accounts: dict[str, Account]
    maker_fee: Decimal = FEE_RATE
    taker_fee: Decimal = FEE_RATE
    _now: Callable[[], int]
    _emit: Callable[[VenueEvent], None]
    _lock_of: Callable[[SimOrder, Decimal], tuple[str, Decimal]]
    _locks: Callable[[SimOrder], bool]

    def _emit_balances(self, account: str, assets: set[str]) -> None:
        acct = self.accounts.get(account)
        if acct is None or not assets:
            return
        snap = {a: (acct.free.get(a, Decimal(0)), acct.locked.get(a, Decimal(0))) for a in sorted(assets)}
        self._emit(BalanceUpdate(account, snap, self._now()))

    def _reserve(
        self, account: str, spec: SimSymbol, order: SimOrder, qty: Decimal | None, quote_qty: Decimal | None
    ) -> None:
        acct = self.accounts[account]
        asset, need = self._lock_of(order, qty or Decimal(0))
        if order.side == BUY and order.type not in PRICED_TYPES:
            need = quote_qty if quote_qty is not None else self._market_cost(spec.symbol, qty or Decimal(0))
        elif order.side == SELL:
            need = qty or Decimal(0)
        if acct.free.get(asset, Decimal(0)) < need:
            raise rejects.INSUFFICIENT_BALANCE
        if self._locks(order):
            acct.move(asset, free=-need, locked=need)
            self._emit_balances(account, {asset})

    def _market_cost(self, symbol: str, qty: Decimal) -> Decimal:
        cost, left = Decimal(0), qty
        for price, level in self.books[symbol].opposite_levels(BUY):
            for resting in level:
                take = min(left, resting.remaining)
                cost += take * price
                left -= take
                if left <= 0:
                    return cost
        return cost

    def _settle(self, order: SimOrder, price: Decimal, qty: Decimal, is_maker: bool) -> tuple[Decimal, str]:
        spec = self.symbols[order.symbol]
        if order.account in BACKGROUND:
            return Decimal(0), spec.quote
        acct = self.accounts[order.account]
        resting = self._locks(order)
        rate = self.maker_fee if is_maker else self.taker_fee
        if order.side == BUY:
            fee = (qty * rate).quantize(FEE_QUANT)
            if resting:
                acct.move(spec.quote, free=(order.price - price) * qty, locked=-order.price * qty)
            else:
                acct.move(spec.quote, free=-price * qty)
            acct.move(spec.base, free=qty - fee)
            asset = spec.base
        else:
            fee = (price * qty * rate).quantize(FEE_QUANT)
            if resting:
                acct.move(spec.base, locked=-qty)
            else:
                acct.move(spec.base, free=-qty)
            acct.move(spec.quote, free=price * qty - fee)
            asset = spec.quote
        self._emit_balances(order.account, {spec.base, spec.quote})
        return fee, asset

    def _release(self, order: SimOrder) -> None:
        if not self._locks(order):
            return
        asset, amount = self._lock_of(order, order.orig_qty - order.executed_qty)
        self.accounts[order.account].move(asset, free=amount, locked=-amount)
        self._emit_balances(order.account, {asset})
