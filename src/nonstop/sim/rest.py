"""Binance spot REST (`/api/v3/...`) served by aiohttp for one endpoint of one simulated venue."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from multidict import MultiDict

from nonstop.clock import utc_ms
from nonstop.sim import rejects, wire
from nonstop.sim.auth import check_signature, check_timestamp, key_holder, split_signature
from nonstop.sim.candles import INTERVALS_MS
from nonstop.sim.chaos_middleware import fault_middleware
from nonstop.sim.faults import FaultKind
from nonstop.sim.order_request import order_answer, parse_new_order
from nonstop.sim.params import Call, parse_form
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.rest_extras import ExtraHandlers

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.rest")


def _depth_weight(p: Mapping[str, str]) -> int:
    limit = int(p["limit"]) if p.get("limit", "").isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


# (method, path) -> (weight, signed, handler name); weights are Binance's spot REQUEST_WEIGHT.
Weight = int | Callable[[Mapping[str, str]], int]
ROUTES: dict[tuple[str, str], tuple[Weight, str, str]] = {
    ("GET", "/api/v3/ping"): (1, "none", "ping"),
    ("GET", "/api/v3/time"): (1, "none", "time"),
    ("GET", "/api/v3/exchangeInfo"): (20, "none", "exchange_info"),
    ("GET", "/api/v3/ticker/24hr"): (lambda p: 2 if p.get("symbol") else 80, "none", "ticker_24hr"),
    ("GET", "/api/v3/ticker/price"): (lambda p: 2 if p.get("symbol") else 4, "none", "ticker_price"),
    ("GET", "/api/v3/ticker/bookTicker"): (lambda p: 2 if p.get("symbol") else 4, "none", "book_ticker"),
    ("GET", "/api/v3/depth"): (_depth_weight, "none", "depth"),
    ("GET", "/api/v3/klines"): (2, "none", "klines"),
    ("GET", "/api/v3/trades"): (25, "none", "trades"),
    ("GET", "/api/v3/aggTrades"): (2, "none", "agg_trades"),
    ("GET", "/api/v3/account"): (20, "signed", "account"),
    ("POST", "/api/v3/order"): (1, "signed", "new_order"),
    ("GET", "/api/v3/order"): (4, "signed", "query_order"),
    ("DELETE", "/api/v3/order"): (1, "signed", "cancel_order"),
    ("DELETE", "/api/v3/openOrders"): (1, "signed", "cancel_all"),
    ("GET", "/api/v3/openOrders"): (lambda p: 6 if p.get("symbol") else 80, "signed", "open_orders"),
    ("GET", "/api/v3/allOrders"): (20, "signed", "all_orders"),
    ("GET", "/api/v3/myTrades"): (20, "signed", "my_trades"),
    ("POST", "/api/v3/userDataStream"): (2, "key", "listen_key_new"),
    ("PUT", "/api/v3/userDataStream"): (2, "key", "listen_key_keepalive"),
    ("DELETE", "/api/v3/userDataStream"): (2, "key", "listen_key_close"),
    ("GET", "/sapi/v1/system/status"): (1, "none", "system_status"),
    ("GET", "/sapi/v1/spot/delist-schedule"): (100, "signed", "delist_schedule"),
    ("GET", "/sapi/v1/asset/tradeFee"): (1, "signed", "trade_fee"),
    ("GET", "/api/v3/avgPrice"): (2, "none", "avg_price"),
    ("GET", "/api/v3/ticker"): (4, "none", "ticker_window"),
    ("GET", "/api/v3/ticker/tradingDay"): (4, "none", "ticker_trading_day"),
    ("GET", "/api/v3/uiKlines"): (2, "none", "ui_klines"),
    ("GET", "/api/v3/account/commission"): (20, "signed", "account_commission"),
    ("GET", "/api/v3/rateLimit/order"): (40, "signed", "rate_limit_order"),
    ("POST", "/api/v3/order/test"): (lambda p: 20 if p.get("computeCommissionRates") == "true" else 1, "signed",
                                     "order_test"),
    ("POST", "/api/v3/order/cancelReplace"): (1, "signed", "cancel_replace"),
    ("POST", "/api/v3/orderList/oco"): (1, "signed", "oco_new"),
    ("POST", "/api/v3/order/oco"): (1, "signed", "oco_legacy"),
    ("GET", "/api/v3/orderList"): (4, "signed", "order_list_query"),
    ("DELETE", "/api/v3/orderList"): (1, "signed", "order_list_cancel"),
    ("GET", "/api/v3/openOrderList"): (6, "signed", "open_order_lists"),
}


class BinanceRest(ExtraHandlers):
    """The handlers; one instance per endpoint, all endpoints of a venue share its runtime."""

    def __init__(self, rt: VenueRuntime, endpoint: int) -> None:
        self.rt = rt
        self.endpoint = endpoint

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        route = ROUTES.get((request.method, request.path))
        if route is None:
            raise BinanceReject(-1000, f"Unknown endpoint {request.method} {request.path}.", status=404)
        weight, auth, name = route
        raw_query = request.rel_url.raw_query_string
        raw_body = ""
        if request.method in ("POST", "PUT"):
            if request.content_length and request.content_length > self.rt.max_body_bytes:
                raise BinanceReject(
                    -1000, f"Request body too large (limit {self.rt.max_body_bytes} bytes).", status=413
                )
            raw_body = (await request.read()).decode("utf-8", errors="replace")
        params: MultiDict[str] = MultiDict(request.query)
        if raw_body:
            params.extend(MultiDict(parse_form(raw_body)))
        for key in set(params.keys()):
            if len(params.getall(key)) > 1:
                raise BinanceReject(-1101, f"Duplicate values for parameter '{key}'.")
        flat = {k: params[k] for k in params}
        now_ms = utc_ms(self.rt.clock.now())
        w = weight(flat) if callable(weight) else weight
        ip = request.remote or "?"
        headers = self.rt.limits.admit(ip, w, now_ms)
        account, sender = None, ""
        if auth in ("signed", "key"):
            acct = key_holder(self.rt.venue, request.headers.get("X-MBX-APIKEY"))
            account, sender = acct.account.api_key, acct.label
            if auth == "signed":
                query_part, sig_q = split_signature(raw_query)
                body_part, sig_b = split_signature(raw_body)
                check_signature(acct, query_part + body_part, sig_b or sig_q)
                check_timestamp(flat, now_ms)
        call = Call(flat, account, now_ms, sender=sender)
        if name == "new_order":
            headers.update(self.rt.limits.admit_order(call.account, now_ms))
        result = await getattr(self, name)(request, call)
        if name in ("new_order", "query_order", "cancel_order", "cancel_all", "open_orders") and account:
            headers.update(self.rt.limits.order_headers(account, now_ms))
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, headers=headers)

    # ------------------------------------------------------------ market data
    async def ping(self, request: web.Request, call: Call) -> Any:
        return {}

    async def time(self, request: web.Request, call: Call) -> Any:
        return {"serverTime": call.now_ms}

    async def exchange_info(self, request: web.Request, call: Call) -> Any:
        wanted = call.text("symbol", required=False)
        specs = [self.rt.venue.spec(wanted.upper())] if wanted else list(self.rt.venue.symbols.values())
        return {
            "timezone": "UTC",
            "serverTime": call.now_ms,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.rt.limits.config.weight_per_minute,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.rt.limits.config.orders_per_10s,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "DAY",
                    "intervalNum": 1,
                    "limit": self.rt.limits.config.orders_per_day,
                },
            ],
            "exchangeFilters": [],
            "symbols": [wire.symbol_info(s) for s in specs],
        }

    def _symbols(self, call: Call) -> list[str]:
        one = call.symbol(self.rt, required=False)
        return [one] if one else list(self.rt.venue.symbols)

    async def ticker_24hr(self, request: web.Request, call: Call) -> Any:
        rows = [self.rt.ticker(s, call.now_ms) for s in self._symbols(call)]
        return rows[0] if call.params.get("symbol") else rows

    async def ticker_price(self, request: web.Request, call: Call) -> Any:
        rows = [{"symbol": s, "price": wire.num(self.rt.venue.last_price[s])} for s in self._symbols(call)]
        return rows[0] if call.params.get("symbol") else rows

    async def book_ticker(self, request: web.Request, call: Call) -> Any:
        rows = [self.rt.book_ticker(s) for s in self._symbols(call)]
        return rows[0] if call.params.get("symbol") else rows

    async def depth(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        limit = call.integer("limit", default=100) or 100
        if limit > 5000:
            raise BinanceReject(-1100, "Illegal characters found in parameter 'limit'; legal range is '1..5000'.")
        book = self.rt.venue.books[symbol]
        bids, asks = book.depth(limit)
        return {
            "lastUpdateId": book.update_id,
            "bids": [[wire.num(p), wire.num(q)] for p, q in bids],
            "asks": [[wire.num(p), wire.num(q)] for p, q in asks],
        }

    async def klines(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        interval = call.text("interval")
        if interval not in INTERVALS_MS:
            raise BinanceReject(-1120, "Invalid interval.")
        limit = min(call.integer("limit", default=500) or 500, 1000)
        store = self.rt.candles[symbol]
        start, end = call.integer("startTime"), call.integer("endTime")
        await store.prepare(store.history_start(interval, start, end, limit, call.now_ms))
        return store.klines(interval, start, end, limit, call.now_ms)

    async def trades(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        limit = min(call.integer("limit", default=500) or 500, 1000)
        return [
            {
                "id": t.trade_id,
                "price": wire.num(t.price),
                "qty": wire.num(t.qty),
                "quoteQty": wire.num(t.price * t.qty),
                "time": t.time_ms,
                "isBuyerMaker": t.buyer_is_maker,
                "isBestMatch": True,
            }
            for t in self.rt.venue.trades[symbol][-limit:]
        ]

    async def agg_trades(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        limit = min(call.integer("limit", default=500) or 500, 1000)
        start, end = call.integer("startTime"), call.integer("endTime")
        rows = [
            t
            for t in self.rt.venue.trades[symbol]
            if (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [wire.agg_trade(t) for t in rows]

    # ---------------------------------------------------------------- account
    async def account(self, request: web.Request, call: Call) -> Any:
        return wire.account(self.rt.venue.accounts[call.account], call.now_ms)

    async def new_order(self, request: web.Request, call: Call) -> Any:
        req = parse_new_order(call, self.rt.venue)
        order = req.place(self.rt.venue, call.account, sender=call.sender)
        client_id = order.client_order_id
        drop = self.rt.faults.strike(self.rt.name, self.endpoint, FaultKind.DROP_ORDER_RESPONSE)
        if drop is not None:
            log.warning(
                "order_response_dropped",
                venue=self.rt.name,
                endpoint=self.endpoint,
                client_order_id=client_id,
                order_id=order.order_id,
                mode=drop.params["mode"],
            )
            return await self.rt.drop_response(request, drop.params["mode"])
        return order_answer(order, req.resp_type)

    def _order_ref(self, call: Call) -> tuple[str, int | None, str | None]:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        order_id = call.integer("orderId")
        client_id = call.text("origClientOrderId", required=False)
        if order_id is None and client_id is None:
            raise BinanceReject(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return symbol, order_id, client_id

    async def query_order(self, request: web.Request, call: Call) -> Any:
        symbol, order_id, client_id = self._order_ref(call)
        return wire.order(self.rt.venue.find(call.account, symbol, order_id, client_id, rejects.NO_SUCH_ORDER))

    async def cancel_order(self, request: web.Request, call: Call) -> Any:
        symbol, order_id, client_id = self._order_ref(call)
        new_id = call.text("newClientOrderId", required=False) or "sim_" + secrets.token_hex(9)
        order = self.rt.venue.cancel(call.account, symbol, order_id, client_id, new_id)
        return wire.canceled(order, new_id, call.now_ms)

    async def cancel_all(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        return [
            wire.canceled(o, "sim_" + secrets.token_hex(9), call.now_ms)
            for o in self.rt.venue.cancel_all(call.account, symbol)
        ]

    async def open_orders(self, request: web.Request, call: Call) -> Any:
        return [wire.order(o) for o in self.rt.venue.open_orders(call.account, call.symbol(self.rt, required=False))]

    async def all_orders(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        limit = min(call.integer("limit", default=500) or 500, 1000)
        start, end, from_id = call.integer("startTime"), call.integer("endTime"), call.integer("orderId")
        rows = [
            o
            for o in self.rt.venue.orders.values()
            if o.account == call.account
            and o.symbol == symbol
            and (from_id is None or o.order_id >= from_id)
            and (start is None or o.time_ms >= start)
            and (end is None or o.time_ms <= end)
        ]
        rows = rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
        return [wire.order(o) for o in rows]

    async def my_trades(self, request: web.Request, call: Call) -> Any:
        symbol = call.symbol(self.rt)
        assert symbol is not None
        limit = min(call.integer("limit", default=500) or 500, 1000)
        rows = self.rt.venue.my_trades(
            call.account,
            symbol,
            start=call.integer("startTime"),
            end=call.integer("endTime"),
            from_id=call.integer("fromId"),
            order_id=call.integer("orderId"),
            limit=limit,
        )
        return [wire.my_trade(t) for t in rows]

    # -------------------------------------------------------- listen keys
    async def listen_key_new(self, request: web.Request, call: Call) -> Any:
        return {"listenKey": self.rt.new_listen_key(call.account)}

    async def listen_key_keepalive(self, request: web.Request, call: Call) -> Any:
        self._known_listen_key(call)
        return {}

    async def listen_key_close(self, request: web.Request, call: Call) -> Any:
        self.rt.listen_keys.pop(self._known_listen_key(call), None)
        return {}

    def _known_listen_key(self, call: Call) -> str:
        key = call.text("listenKey") or ""
        if self.rt.listen_keys.get(key) != call.account:
            raise BinanceReject(-1125, "This listenKey does not exist.")
        return key


def make_rest_app(rt: VenueRuntime, endpoint: int) -> web.Application:
    """The aiohttp application of one endpoint: Binance REST, streams and the fault middleware."""
    rest = BinanceRest(rt, endpoint)
    app = web.Application(middlewares=[fault_middleware(rt, endpoint)], client_max_size=rt.max_body_bytes)
    app.router.add_route("*", "/api/{tail:.*}", rest.dispatch)
    app.router.add_route("*", "/sapi/{tail:.*}", rest.dispatch)
    app.router.add_route("*", "/fapi/{tail:.*}", rest.dispatch)
    rt.streams.add_routes(app, endpoint)
    return app
