"""One simulated spot venue: accounts, the order record, matching, balances and Binance's filters.

Pure logic with an injected clock; the HTTP and websocket layers render its objects on the wire.
Every new-order request ever received is kept (`received`), so tests can count duplicates per
client order id.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from nonstop.clock import Clock, utc_ms
from nonstop.config_sim import SimSymbol
from nonstop.errors import SimulatorError
from nonstop.sim import rejects
from nonstop.sim.book import BUY, OrderBook, Resting
from nonstop.sim.conditional import ConditionalOrders
from nonstop.sim.filters import check_filters
from nonstop.sim.order_queries import OrderQueries
from nonstop.sim.records import (
    BACKGROUND,
    STOP_TYPES,
    Account,
    Execution,
    PublicTrade,
    ReceivedOrder,
    SimOrder,
    VenueEvent,
)
from nonstop.sim.settlement import Settlement

WOULD_TRIGGER = rejects.BinanceReject(-2010, "Order would trigger immediately.")


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


class SimVenue(ConditionalOrders, OrderQueries, Settlement):
    """The matching engine and books of one named venue."""

    def __init__(self, name: str, symbols: list[SimSymbol], clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.symbols = {s.symbol: s for s in symbols}
        self.books = {s.symbol: OrderBook(s.symbol) for s in symbols}
        self.accounts: dict[str, Account] = {}
        self.api_keys: dict[str, tuple[str, str, str]] = {}  # extra key -> (account's own key, secret, label)
        self.orders: dict[int, SimOrder] = {}
        self.received: list[ReceivedOrder] = []
        self.by_client: dict[tuple[str, str], list[int]] = {}
        self.trades: dict[str, list[PublicTrade]] = {s.symbol: [] for s in symbols}
        self.account_trades: dict[str, list[dict[str, object]]] = {}
        self.last_price = {s.symbol: s.start_price for s in symbols}
        self._order_ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.pending: dict[int, SimOrder] = {}  # stop orders waiting for their trigger
        self.order_lists: dict[int, list[int]] = {}  # OCO list id -> its legs' order ids
        self._list_ids = itertools.count(1)
        self.listeners: list[Callable[[VenueEvent], None]] = []

    # ----------------------------------------------------------------- accounts
    def add_account(
        self, api_key: str, secret: str, balances: dict[str, Decimal], passphrase: str = ""
    ) -> Account:
        account = Account(api_key, secret, free=dict(balances), locked=dict.fromkeys(balances, Decimal(0)),
                          passphrase=passphrase)
        self.accounts[api_key] = account
        return account

    def add_api_key(self, account_key: str, api_key: str, secret: str, label: str) -> None:
        """Give the account of `account_key` one more key pair (Binance allows several per account)."""
        if account_key not in self.accounts:
            raise SimulatorError(f"no account with the key given as account_key on venue {self.name}")
        if api_key in self.accounts or api_key in self.api_keys:
            raise SimulatorError(f"that api_key is already in use on venue {self.name}")
        self.api_keys[api_key] = (account_key, secret, label)

    def _now(self) -> int:
        return utc_ms(self.clock.now())

    def _emit(self, event: VenueEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def spec(self, symbol: str) -> SimSymbol:
        spec = self.symbols.get(symbol)
        if spec is None:
            raise rejects.INVALID_SYMBOL
        return spec

    # ------------------------------------------------------------------- orders
    def new_order(
        self,
        account: str,
        symbol: str,
        side: str,
        order_type: str,
        *,
        quantity: Decimal | None,
        price: Decimal | None = None,
        quote_order_qty: Decimal | None = None,
        time_in_force: str = "GTC",
        client_order_id: str,
        stop_price: Decimal | None = None,
        order_list_id: int = -1,
        lock_owner: bool = True,
        sender: str = "",
    ) -> SimOrder:
        """Validate, record, match and rest an order; raise BinanceReject like Binance would.
        `sender` (the label of the signing key) is kept with the record of the request.

        A stop order (stop-loss / take-profit, market or limit) waits unworking until a trade at or
        through its stop price triggers it; then it matches like the market or limit order it becomes."""
        now = self._now()
        record = account not in BACKGROUND
        try:
            order = self._accept(
                account, symbol, side, order_type, quantity, price, quote_order_qty, time_in_force, client_order_id,
                now, stop_price, order_list_id, lock_owner,
            )
        except rejects.BinanceReject as reject:
            if record:
                self.received.append(
                    ReceivedOrder(client_order_id, account, symbol, now, None, reject.msg, sender)
                )
            raise
        if record:
            self.received.append(ReceivedOrder(client_order_id, account, symbol, now, order.order_id, None, sender))
            self.by_client.setdefault((account, client_order_id), []).append(order.order_id)
        if order.working:
            self._match(order)
        self.fire_triggers(symbol)
        return order

    def _accept(
        self,
        account: str,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal | None,
        price: Decimal | None,
        quote_order_qty: Decimal | None,
        tif: str,
        client_order_id: str,
        now: int,
        stop_price: Decimal | None = None,
        order_list_id: int = -1,
        lock_owner: bool = True,
    ) -> SimOrder:
        spec = self.spec(symbol)
        book = self.books[symbol]
        background = account in BACKGROUND
        if not background and any(
            self.orders[oid].is_open for oid in self.by_client.get((account, client_order_id), ())
        ):
            raise rejects.DUPLICATE_ORDER
        ref = self.last_price[symbol]
        check_filters(spec, price, quantity, quote_order_qty, ref)
        if order_type == "LIMIT_MAKER":
            best = book.best_ask() if side == BUY else book.best_bid()
            assert price is not None
            if best is not None and (price >= best if side == BUY else price <= best):
                raise rejects.WOULD_TAKE
        order = SimOrder(
            order_id=0,
            client_order_id=client_order_id,
            account=account,
            symbol=symbol,
            side=side,
            type=order_type,
            time_in_force=tif if order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else "GTC",
            price=price if price is not None else Decimal(0),
            orig_qty=quantity or Decimal(0),
            quote_order_qty=quote_order_qty or Decimal(0),
            time_ms=now,
            update_ms=now,
            stop_price=stop_price or Decimal(0),
            working=order_type not in STOP_TYPES,
            order_list_id=order_list_id,
            lock_owner=lock_owner,
        )
        if not order.working:
            if stop_price is None or stop_price <= 0 or stop_price % spec.tick_size:
                raise rejects.filter_failure("PRICE_FILTER")
            if order.triggered_by(ref):
                raise WOULD_TRIGGER
        if not background and lock_owner:
            self._reserve(account, spec, order, quantity, quote_order_qty)
        order.order_id = next(self._order_ids)
        self.orders[order.order_id] = order
        if not order.working:
            self.pending[order.order_id] = order
        self._report(order, "NEW")
        return order

    def rest_background(
        self, account: str, symbol: str, side: str, price: Decimal, qty: Decimal, *, match: bool = True
    ) -> int | None:
        """Rest a background liquidity order directly when it crosses nothing (the common case: a deep
        ladder level); otherwise it goes through `new_order` and matches (or, `match=False`, is not
        placed). The order id if it rests."""
        opposite = self.books[symbol].best_ask() if side == BUY else self.books[symbol].best_bid()
        if opposite is None or (price < opposite if side == BUY else price > opposite):
            order = SimOrder(next(self._order_ids), "bg", account, symbol, side, "LIMIT", "GTC", price, qty,
                             Decimal(0), self._now())
            self.orders[order.order_id] = order
            self.books[symbol].add(Resting(order.order_id, account, side, price, qty))
            return order.order_id
        if not match:
            return None
        order = self.new_order(account, symbol, side, "LIMIT", quantity=qty, price=price, client_order_id="bg")
        if not order.is_open:
            self.orders.pop(order.order_id, None)
            return None
        return order.order_id

    def _match(self, order: SimOrder) -> None:
        book = self.books[order.symbol]
        spec = self.symbols[order.symbol]
        limit = None if order.is_market else order.price
        if order.time_in_force == "FOK" and not self._fillable(order):
            self._finish(order, "EXPIRED", release=True)
            return
        for price, level in book.opposite_levels(order.side):
            if limit is not None and (price > limit if order.side == BUY else price < limit):
                break
            while level:
                maker = level[0]
                if maker.account == order.account and order.account not in BACKGROUND:
                    book.remove(maker.order_id)  # self-trade prevention: EXPIRE_MAKER, Binance's default
                    self._finish(self.orders[maker.order_id], "EXPIRED_IN_MATCH", release=True)
                    continue
                qty = self._fill_qty(order, maker, price, spec)
                if qty <= 0:
                    break
                if order.quote_order_qty > 0 and self._quote_spent(order, spec, maker, price, qty):
                    order.orig_qty = order.executed_qty + qty  # Binance: origQty = executedQty, FILLED
                self._trade(order, maker, price, qty)
                book.reduce(maker, qty)
            if self._remaining(order) <= 0 or (order.is_market and self._quote_left(order, spec) <= 0):
                break
        if order.executed_qty >= order.orig_qty > 0:
            self._finish(order, "FILLED")
        elif order.is_market or order.time_in_force == "IOC":
            self._finish(order, "EXPIRED", release=True)
        else:
            book.add(Resting(order.order_id, order.account, order.side, order.price, self._remaining(order)))

    def _quote_spent(self, order: SimOrder, spec: SimSymbol, maker: Resting, price: Decimal, qty: Decimal) -> bool:
        """Whether this fill leaves too little of a quote-amount order's budget for one more step."""
        left = self._quote_left(order, spec) - qty * price
        next_price = price
        if maker.remaining <= qty:
            nxt = [p for p, _ in self.books[order.symbol].opposite_levels(order.side) if p != price]
            if not nxt:
                return left < price * spec.step_size  # the book runs dry: filled only if the budget is spent
            next_price = nxt[0]
        return left < next_price * spec.step_size

    def _fillable(self, order: SimOrder) -> bool:
        available = Decimal(0)
        for price, level in self.books[order.symbol].opposite_levels(order.side):
            if price > order.price if order.side == BUY else price < order.price:
                break
            available += sum((r.remaining for r in level if r.account != order.account), Decimal(0))
        return available >= order.orig_qty

    @staticmethod
    def _remaining(order: SimOrder) -> Decimal:
        return order.orig_qty - order.executed_qty if order.orig_qty > 0 else Decimal(1)

    @staticmethod
    def _quote_left(order: SimOrder, spec: SimSymbol) -> Decimal:
        if order.quote_order_qty <= 0:
            return Decimal(1)
        return order.quote_order_qty - order.cum_quote

    def _fill_qty(self, order: SimOrder, maker: Resting, price: Decimal, spec: SimSymbol) -> Decimal:
        if order.quote_order_qty > 0:
            affordable = _floor(self._quote_left(order, spec) / price, spec.step_size)
            return min(affordable, maker.remaining)
        return min(order.orig_qty - order.executed_qty, maker.remaining)

    def _trade(self, taker: SimOrder, maker_rest: Resting, price: Decimal, qty: Decimal) -> None:
        now = self._now()
        trade_id = next(self._trade_ids)
        maker = self.orders[maker_rest.order_id]
        self.leg_active(maker)
        public = PublicTrade(trade_id, taker.symbol, price, qty, now, buyer_is_maker=maker.side == BUY)
        self.trades[taker.symbol].append(public)
        if len(self.trades[taker.symbol]) > 5000:
            del self.trades[taker.symbol][:1000]
        self.last_price[taker.symbol] = price
        for order, is_maker in ((maker, True), (taker, False)):
            order.executed_qty += qty
            order.cum_quote += qty * price
            order.update_ms = now
            order.status = "FILLED" if order.executed_qty >= order.orig_qty > 0 else "PARTIALLY_FILLED"
            fee, fee_asset = self._settle(order, price, qty, is_maker)
            fill = {"price": price, "qty": qty, "commission": fee, "commissionAsset": fee_asset, "tradeId": trade_id}
            if order.account in BACKGROUND:
                if not order.is_open:  # the background flow's closed orders are not kept (bounded memory)
                    self.orders.pop(order.order_id, None)
                continue
            order.fills.append(fill)
            self.account_trades.setdefault(order.account, []).append(
                {
                    "symbol": order.symbol,
                    "id": trade_id,
                    "orderId": order.order_id,
                    "orderListId": -1,
                    "price": price,
                    "qty": qty,
                    "quoteQty": price * qty,
                    "commission": fee,
                    "commissionAsset": fee_asset,
                    "time": now,
                    "isBuyer": order.side == BUY,
                    "isMaker": is_maker,
                    "isBestMatch": True,
                }
            )
            self._emit(
                Execution(
                    order,
                    "TRADE",
                    order.status,
                    order.executed_qty,
                    order.cum_quote,
                    qty,
                    price,
                    fee,
                    fee_asset,
                    trade_id,
                    is_maker,
                    now,
                )
            )
        self._emit(public)

    def _finish(self, order: SimOrder, status: str, *, release: bool = False, cancel_id: str = "") -> None:
        if release:
            self._release(order)
        order.status = status
        order.update_ms = self._now()
        exec_type = {"EXPIRED_IN_MATCH": "TRADE_PREVENTION", "FILLED": "TRADE"}.get(status, status)
        if status != "FILLED":  # a fill already reported itself as a TRADE execution
            self._report(order, exec_type, cancel_id)

    def _report(self, order: SimOrder, exec_type: str, cancel_id: str = "") -> None:
        if order.account not in BACKGROUND:
            self._emit(
                Execution(order, exec_type, order.status, order.executed_qty, order.cum_quote, time_ms=self._now(),
                          cancel_client_order_id=cancel_id)
            )

    # ------------------------------------------------------- cancels and queries
    def cancel(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str | None, cancel_id: str = ""
    ) -> SimOrder:
        order = self.find(account, symbol, order_id, client_order_id, rejects.UNKNOWN_ORDER)
        if not order.is_open:
            raise rejects.UNKNOWN_ORDER
        legs = self.order_lists.get(order.order_list_id, []) if order.order_list_id >= 0 else [order.order_id]
        for leg_id in legs:  # canceling one leg of an OCO cancels the list
            leg = self.orders[leg_id]
            if leg.is_open:
                self.books[symbol].remove(leg.order_id)
                self.pending.pop(leg.order_id, None)
                self._finish(leg, "CANCELED", release=True, cancel_id=cancel_id if leg is order else "")
        return order

    def cancel_all(self, account: str, symbol: str) -> list[SimOrder]:
        self.spec(symbol)
        open_orders = self.open_orders(account, symbol)
        if not open_orders:
            raise rejects.UNKNOWN_ORDER
        return [self.cancel(account, symbol, o.order_id, None) for o in open_orders]
