"""More of Binance spot REST: system and fee endpoints, rolling-window tickers, average price,
test orders, cancel-replace and OCO order lists (the handlers `BinanceRest` mixes in)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nonstop.sim import rejects, wire
from nonstop.sim.candles import INTERVALS_MS
from nonstop.sim.filters import check_filters
from nonstop.sim.order_lists import Leg, list_status, place_oco
from nonstop.sim.order_request import client_id, order_answer, parse_new_order
from nonstop.sim.params import Call
from nonstop.sim.records import SimOrder
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

_WINDOW_UNITS = {"m": 1, "h": 60, "d": 1440}
_OCO_TYPES = ("LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


def _window_minutes(raw: str | None) -> int:
    """Binance's `windowSize`: 1m..59m, 1h..23h, 1d..7d (default 1d)."""
    if raw is None:
        return 1440
    unit, amount = raw[-1:], raw[:-1]
    limits = {"m": 59, "h": 23, "d": 7}
    if unit not in limits or not amount.isdigit() or not 1 <= int(amount) <= limits[unit]:
        raise BinanceReject(-1100, "Illegal characters found in parameter 'windowSize'.")
    return int(amount) * _WINDOW_UNITS[unit]


class ExtraHandlers:
    """Handlers for the endpoints beyond the first set; `rt` is the venue's runtime."""

    rt: VenueRuntime

    # ------------------------------------------------------------------ system
    async def system_status(self, request: web.Request, call: Call) -> Any:
        return {"status": 0, "msg": "normal"}

    async def delist_schedule(self, request: web.Request, call: Call) -> Any:
        return []  # nothing the simulator lists is scheduled for delisting

    async def trade_fee(self, request: web.Request, call: Call) -> Any:
        symbols = self._wanted(call)
        venue = self.rt.venue
        return [{"symbol": s, "makerCommission": str(venue.maker_fee), "takerCommission": str(venue.taker_fee)}
                for s in symbols]

    def _commission(self) -> dict[str, Any]:
        """The venue's maker and taker commission rates, as Binance writes them."""
        return {"maker": wire.num(self.rt.venue.maker_fee), "taker": wire.num(self.rt.venue.taker_fee)}

    async def account_commission(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        zero = wire.num(Decimal(0))
        return {
            "symbol": symbol,
            "standardCommission": {**self._commission(), "buyer": zero, "seller": zero},
            "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
            "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
            "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                         "discount": zero},
        }

    async def rate_limit_order(self, request: web.Request, call: Call) -> Any:
        counts = self.rt.limits.order_headers(call.account, call.now_ms)
        cfg = self.rt.limits.config
        return [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": cfg.orders_per_10s,
             "count": int(counts["X-MBX-ORDER-COUNT-10S"])},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": cfg.orders_per_day,
             "count": int(counts["X-MBX-ORDER-COUNT-1D"])},
        ]

    # ------------------------------------------------------------- market data
    def _wanted(self, call: Call) -> list[str]:
        one = call.symbol(self.rt, required=False)
        many = call.text("symbols", required=False)
        if one:
            return [one]
        if many:
            names = [n.strip().strip('"').upper() for n in many.strip("[]").split(",") if n.strip()]
            for name in names:
                self.rt.venue.spec(name)
            return names
        return list(self.rt.venue.symbols)

    async def avg_price(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        rows = self.rt.candles[symbol].klines("1m", None, None, 5, call.now_ms)
        volume = sum(Decimal(r[5]) for r in rows)  # type: ignore[arg-type]
        quote = sum(Decimal(r[7]) for r in rows)  # type: ignore[arg-type]
        price = quote / volume if volume else self.rt.venue.last_price[symbol]
        close = int(rows[-1][6]) if rows else call.now_ms  # type: ignore[call-overload]
        return {"mins": 5, "price": wire.num(price), "closeTime": close}

    def _window(self, symbol: str, minutes: int, now_ms: int) -> dict[str, Any]:
        candles = self.rt.candles[symbol].since(now_ms - minutes * 60_000)
        last = self.rt.venue.last_price[symbol]
        open_ = candles[0].open if candles else last
        volume = sum((c.volume for c in candles), Decimal(0))
        quote = sum((c.quote_volume for c in candles), Decimal(0))
        change = last - open_
        return {
            "symbol": symbol,
            "priceChange": wire.num(change),
            "priceChangePercent": f"{(change / open_ * 100) if open_ else 0:.3f}",
            "weightedAvgPrice": wire.num(quote / volume if volume else last),
            "openPrice": wire.num(open_),
            "highPrice": wire.num(max((c.high for c in candles), default=last)),
            "lowPrice": wire.num(min((c.low for c in candles), default=last)),
            "lastPrice": wire.num(last),
            "volume": wire.num(volume),
            "quoteVolume": wire.num(quote),
            "openTime": now_ms - minutes * 60_000,
            "closeTime": now_ms,
            "firstId": 0,
            "lastId": 0,
            "count": sum(c.trades for c in candles),
        }

    async def ticker_window(self, request: web.Request, call: Call) -> Any:
        if not call.params.get("symbol") and not call.params.get("symbols"):
            raise BinanceReject(-1102, "Param 'symbol' or 'symbols' must be sent, but both were empty/null!")
        minutes = _window_minutes(call.text("windowSize", required=False))
        rows = [self._window(s, minutes, call.now_ms) for s in self._wanted(call)]
        return rows[0] if call.params.get("symbol") else rows

    async def ticker_trading_day(self, request: web.Request, call: Call) -> Any:
        if not call.params.get("symbol") and not call.params.get("symbols"):
            raise BinanceReject(-1102, "Param 'symbol' or 'symbols' must be sent, but both were empty/null!")
        midnight = call.now_ms - call.now_ms % 86_400_000
        minutes = max(1, (call.now_ms - midnight) // 60_000 + 1)
        rows = [self._window(s, minutes, call.now_ms) for s in self._wanted(call)]
        return rows[0] if call.params.get("symbol") else rows

    async def ui_klines(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        interval = call.text("interval") or ""
        if interval not in INTERVALS_MS:
            raise BinanceReject(-1120, "Invalid interval.")
        limit = min(call.integer("limit", default=500) or 500, 1000)
        store = self.rt.candles[symbol]
        start, end = call.integer("startTime"), call.integer("endTime")
        await store.prepare(store.history_start(interval, start, end, limit, call.now_ms))
        return store.klines(interval, start, end, limit, call.now_ms)

    # ------------------------------------------------------------------ orders
    async def order_test(self, request: web.Request, call: Call) -> Any:
        """Validated like a new order, then nothing is placed; no order-count charge."""
        req = parse_new_order(call, self.rt.venue)
        spec = self.rt.venue.spec(req.symbol)
        check_filters(spec, req.price, req.quantity, req.quote_order_qty, self.rt.venue.last_price[req.symbol])
        if call.params.get("computeCommissionRates") == "true":
            zero = wire.num(Decimal(0))
            return {
                "standardCommissionForOrder": self._commission(),
                "specialCommissionForOrder": {"maker": zero, "taker": zero},
                "taxCommissionForOrder": {"maker": zero, "taker": zero},
                "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                             "discount": zero},
            }
        return {}

    async def cancel_replace(self, request: web.Request, call: Call) -> Any:
        mode = call.choice("cancelReplaceMode", ("STOP_ON_FAILURE", "ALLOW_FAILURE"), -1100,
                           "Illegal characters found in parameter 'cancelReplaceMode'.")
        symbol = call.symbol(self.rt)
        assert symbol is not None
        order_id = call.integer("cancelOrderId")
        orig = call.text("cancelOrigClientOrderId", required=False)
        if order_id is None and orig is None:
            raise BinanceReject(-1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                                "but both were empty/null!")
        req = parse_new_order(call, self.rt.venue)
        cancel_id = client_id(call, "cancelNewClientOrderId")
        cancel_body: dict[str, Any]
        try:
            canceled = self.rt.venue.cancel(call.account, symbol, order_id, orig, cancel_id)
            cancel_body, cancel_ok = wire.canceled(canceled, cancel_id, call.now_ms), True
        except BinanceReject as reject:
            cancel_body, cancel_ok = reject.body(), False
        new_body: dict[str, Any] | None = None
        new_ok: bool | None = None
        if cancel_ok or mode == "ALLOW_FAILURE":
            try:
                self.rt.limits.admit_order(call.account, call.now_ms)
                placed = req.place(self.rt.venue, call.account, sender=call.sender)
                new_body, new_ok = order_answer(placed, req.resp_type), True
            except BinanceReject as reject:
                new_body, new_ok = reject.body(), False
        data = {
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED" if new_ok is None else "SUCCESS" if new_ok else "FAILURE",
            "cancelResponse": cancel_body,
            "newOrderResponse": new_body,
        }
        if cancel_ok and new_ok:
            return data
        code, msg = (-2021, "Order cancel-replace partially failed.") if cancel_ok or new_ok else (
            -2022, "Order cancel-replace failed.")
        return web.json_response({"code": code, "msg": msg, "data": data}, status=400)

    async def oco_new(self, request: web.Request, call: Call) -> Any:
        """`POST /api/v3/orderList/oco`: an above and a below leg sharing one quantity."""
        legs = []
        for pos in ("above", "below"):
            kind = call.choice(f"{pos}Type", _OCO_TYPES, -1116, "Invalid orderType.") or ""
            price = call.decimal(f"{pos}Price", required=kind in ("LIMIT_MAKER", "STOP_LOSS_LIMIT",
                                                                      "TAKE_PROFIT_LIMIT"))
            stop = call.decimal(f"{pos}StopPrice", required=kind != "LIMIT_MAKER")
            tif = call.text(f"{pos}TimeInForce", required=False) or "GTC"
            legs.append(Leg(kind, price, stop, tif, client_id(call, f"{pos}ClientOrderId")))
        return await self._place_list(call, (legs[0], legs[1]))

    async def oco_legacy(self, request: web.Request, call: Call) -> Any:
        """`POST /api/v3/order/oco` (deprecated): a limit-maker leg and a stop-loss(-limit) leg."""
        side = call.params.get("side")
        limit_leg = Leg("LIMIT_MAKER", call.decimal("price"), None, "GTC", client_id(call, "limitClientOrderId"))
        stop_limit = call.decimal("stopLimitPrice", required=False)
        stop_leg = Leg("STOP_LOSS_LIMIT" if stop_limit else "STOP_LOSS", stop_limit, call.decimal("stopPrice"),
                       call.text("stopLimitTimeInForce", required=False) or "GTC",
                       client_id(call, "stopClientOrderId"))
        legs = (limit_leg, stop_leg) if side == "SELL" else (stop_leg, limit_leg)
        return await self._place_list(call, legs)

    async def _place_list(self, call: Call, legs: tuple[Leg, Leg]) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        side = call.choice("side", ("BUY", "SELL"), -1117, "Invalid side.") or ""
        qty = call.decimal("quantity")
        assert qty is not None
        list_client = client_id(call, "listClientOrderId")
        self.rt.limits.admit_order(call.account, call.now_ms)
        list_id, orders = place_oco(self.rt.venue, call.account, symbol, side, qty, legs)
        self.rt.list_client_ids[list_id] = list_client
        return self._list_body(list_id, orders, call.now_ms, reports=True)

    def _list_body(self, list_id: int, orders: list[SimOrder], now_ms: int, *, reports: bool) -> dict[str, Any]:
        status, order_status = list_status(self.rt.venue, list_id)
        body: dict[str, Any] = {
            "orderListId": list_id,
            "contingencyType": "OCO",
            "listStatusType": status,
            "listOrderStatus": order_status,
            "listClientOrderId": self.rt.list_client_ids.get(list_id, ""),
            "transactionTime": now_ms,
            "symbol": orders[0].symbol,
            "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                       for o in orders],
        }
        if reports:
            body["orderReports"] = [order_answer(o, "RESULT") for o in orders]
        return body

    def _list_ref(self, call: Call) -> int:
        list_id = call.integer("orderListId")
        if list_id is None:
            wanted = call.text("listClientOrderId", required=False) or call.text("origClientOrderId", required=False)
            matches = [i for i, c in self.rt.list_client_ids.items() if c == wanted]
            list_id = matches[-1] if matches else None
        legs = self.rt.venue.order_lists.get(list_id or -1)
        if list_id is None or not legs or self.rt.venue.orders[legs[0]].account != call.account:
            raise BinanceReject(-2011, "Order list does not exist.")
        return list_id

    async def order_list_query(self, request: web.Request, call: Call) -> Any:
        list_id = self._list_ref(call)
        orders = [self.rt.venue.orders[i] for i in self.rt.venue.order_lists[list_id]]
        return self._list_body(list_id, orders, call.now_ms, reports=False)

    async def order_list_cancel(self, request: web.Request, call: Call) -> Any:
        list_id = self._list_ref(call)
        legs = [self.rt.venue.orders[i] for i in self.rt.venue.order_lists[list_id]]
        open_legs = [o for o in legs if o.is_open]
        if not open_legs:
            raise rejects.UNKNOWN_ORDER
        cancel_id = "sim_" + secrets.token_hex(9)
        self.rt.venue.cancel(call.account, legs[0].symbol, open_legs[0].order_id, None, cancel_id)
        return self._list_body(list_id, legs, call.now_ms, reports=True)

    async def open_order_lists(self, request: web.Request, call: Call) -> Any:
        rows = []
        for list_id, ids in self.rt.venue.order_lists.items():
            legs = [self.rt.venue.orders[i] for i in ids if i in self.rt.venue.orders]
            if legs and legs[0].account == call.account and any(o.is_open for o in legs):
                rows.append(self._list_body(list_id, legs, call.now_ms, reports=False))
        return rows
