"""The Binance spot adapter: ccxt (async REST and ccxt.pro websockets) behind `VenuePort`.

Numbers are read from Binance's raw payloads (`info`), not from ccxt's float-parsed fields, so
prices, quantities and fees stay exact `Decimal`s. Every ccxt/aiohttp failure is translated once,
by `nonstop.connectivity.classify` with Binance's code table (`binance_errors`), into a classified
`VenueError`.

Connectivity: one ccxt client per endpoint base URL (URLs are fixed when a ccxt client is made;
markets are loaded once and shared with `set_markets`, ccxt's own throttler is off), all driven by a
`VenueGateway` (venue breaker -> rate limiter -> endpoint pool -> retry; see `gateway.py`):

* submit: ORDER priority, weight 1 and an order slot; one attempt on one healthy endpoint, never
  hedged, never retried (an unknown outcome is raised as OutcomeUnknownError: IN DOUBT). The request
  is Binance's own (`binance_order_entry.new_order_params`, sent with ccxt's signing by
  `private_post_order`), not ccxt's unified `create_order`, and the raw answer is read directly.
* with `order_entry="ws"`, submit, cancel and fetch_order go over the WebSocket API session
  (`binance_ws_api.py`) while it is up, over REST otherwise, under the same in-doubt rules.
* cancel: ORDER priority; one endpoint per attempt; retried only when safe (never after an unknown
  outcome).
* connect, fetch_order, open_orders, fills, fills_of_order, balances: ACCOUNT priority; hedged reads,
  retried with backoff.
* quote: MARKET_DATA priority; hedged, retried; dropped (`DataDropped`) when its share of the budget
  is spent, unless `GatewayConfig.drop_market_data` is off.
* watch_order_updates / watch_fills: the user-data stream sticks to one endpoint and moves to the
  next usable one when it fails there.

Weights come from ccxt's own Binance cost table (`WeightTable.from_ccxt_binance`). The HTTP status
and headers of every answer reach the limiter and `classify` through `on_rest_response`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ccxt.pro as ccxt_pro
import structlog

from nonstop.clock import Clock
from nonstop.connectivity import (
    OperationKind,
    OrderNotFoundError,
    Priority,
    WeightTable,
)
from nonstop.errors import ConfigError
from nonstop.model import (
    Balance,
    ClientIdRule,
    Instrument,
    InstrumentId,
    Liquidity,
    OrderIntent,
    TradeId,
    VenueOrderId,
)
from nonstop.venues.binance_errors import BINANCE_CODES
from nonstop.venues.binance_market import MarketDataClient
from nonstop.venues.binance_order_entry import OrderEntryMode, WsOrderEntry, new_order_params, ws_or_rest
from nonstop.venues.ccxt_futures import RetrievedFutures
from nonstop.venues.ccxt_venue import CcxtVenue
from nonstop.venues.gateway import GatewayConfig, RequestSpec, record_response
from nonstop.venues.port import VenueFill, VenueOrderReport, VenueOrderStatus
from nonstop.venues.profile import VenueProfile
from nonstop.venues.raw_values import venue_decimal, venue_time

log = structlog.get_logger("nonstop.venues.binance")

_STATUS = {
    "NEW": VenueOrderStatus.OPEN,
    "PARTIALLY_FILLED": VenueOrderStatus.PARTIALLY_FILLED,
    "FILLED": VenueOrderStatus.FILLED,
    "CANCELED": VenueOrderStatus.CANCELED,
    "PENDING_CANCEL": VenueOrderStatus.OPEN,
    "REJECTED": VenueOrderStatus.REJECTED,
    "EXPIRED": VenueOrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": VenueOrderStatus.EXPIRED,
}


_READ, _SUBMIT, _CANCEL = OperationKind.READ, OperationKind.SUBMIT, OperationKind.CANCEL
# (name, operation, priority, HTTP method, path relative to /api/v3)
_ENDPOINTS: dict[str, tuple[OperationKind, Priority, str, str]] = {
    "load_markets": (_READ, Priority.ACCOUNT, "GET", "exchangeInfo"),
    "ping": (_READ, Priority.ACCOUNT, "GET", "ping"),
    "fetch_time": (_READ, Priority.ACCOUNT, "GET", "time"),
    "create_order": (_SUBMIT, Priority.ORDER, "POST", "order"),
    "cancel_order": (_CANCEL, Priority.ORDER, "DELETE", "order"),
    "fetch_order": (_READ, Priority.ACCOUNT, "GET", "order"),
    "fetch_open_orders": (_READ, Priority.ACCOUNT, "GET", "openOrders"),
    "fetch_my_trades": (_READ, Priority.ACCOUNT, "GET", "myTrades"),
    "fetch_balance": (_READ, Priority.ACCOUNT, "GET", "account"),
    "fetch_ticker": (_READ, Priority.MARKET_DATA, "GET", "ticker/24hr"),
    "fetch_order_book": (_READ, Priority.MARKET_DATA, "GET", "depth"),
    "fetch_ohlcv": (_READ, Priority.MARKET_DATA, "GET", "klines"),
}


@functools.cache
def _ccxt_weights() -> WeightTable:
    return WeightTable.from_ccxt_binance()


class _BinanceClient(RetrievedFutures, ccxt_pro.binance):  # type: ignore[misc]
    """ccxt's client, handing every HTTP answer's status and headers to the gateway (its websocket
    futures retrieved, see `ccxt_futures.py`)."""

    def on_rest_response(self, code: Any, reason: Any, url: Any, method: Any, response_headers: Any,
                         response_body: Any, request_headers: Any, request_body: Any) -> Any:
        body = response_body if isinstance(response_body, str) else None
        if not record_response(int(code), response_headers or {}, body):
            log.debug("request_outside_gateway", method=method, path=str(url).split("?", 1)[0])
        return super().on_rest_response(code, reason, url, method, response_headers, response_body,
                                         request_headers, request_body)


def _base_url(config: Mapping[str, Any]) -> str:
    try:
        public = str(config["urls"]["api"]["public"])
    except (KeyError, TypeError):
        raise ConfigError("a Binance endpoint config needs urls.api.public") from None
    return public.removesuffix("/").removesuffix("/api/v3")


BINANCE_CLIENT_IDS = ClientIdRule("binance", r"[.A-Z:/a-z0-9_-]{1,36}")


class BinanceVenue(CcxtVenue):
    """One Binance(-compatible) venue reached through ccxt at one or more base URLs."""

    codes = BINANCE_CODES
    client_ids = BINANCE_CLIENT_IDS
    ticker_fields = ("bidPrice", "askPrice", "lastPrice", "closeTime")

    def __init__(
        self,
        name: str,
        ccxt_configs: list[dict[str, Any]],
        *,
        timeout_ms: int = 5000,
        connectivity: GatewayConfig | None = None,
        clock: Clock | None = None,
        weights: WeightTable | None = None,
        profile: VenueProfile | None = None,
        order_entry: OrderEntryMode = "rest",
    ) -> None:
        super().__init__(name, ccxt_configs, client_class=_BinanceClient, base_url=_base_url, timeout_ms=timeout_ms,
                         connectivity=connectivity, clock=clock, profile=profile)
        self._weights = weights or _ccxt_weights()
        if order_entry not in ("rest", "ws"):
            raise ConfigError(f"venue {name}: order_entry must be \"rest\" or \"ws\", got {order_entry!r}")
        self.order_entry = order_entry
        self._ws = (WsOrderEntry(name, self._gateway, self._clients, self._clock, codes=self.codes,
                                 timeout_s=timeout_ms / 1000) if order_entry == "ws" else None)
        self._market_ids: dict[InstrumentId, str] = {}

    def _spec(self, name: str, *, has_symbol: bool = True, limit: int | None = None) -> RequestSpec:
        operation, priority, method, path = _ENDPOINTS[name]
        return RequestSpec(
            name,
            operation,
            priority,
            self._weights.weight(method, path, has_symbol=has_symbol, limit=limit),
            is_order=operation is _SUBMIT,
            droppable=priority is Priority.MARKET_DATA and self._config.drop_market_data,
        )

    async def _ping(self, url: str) -> object:
        return await self._clients[url].public_get_ping()

    # --------------------------------------------------------------- lifecycle
    async def connect(self) -> None:
        """Start probing, then load markets (from any endpoint) and share them with every client."""
        self._gateway.start(self._ping, self._weights.weight("GET", "ping"))
        markets = await self._call("load_markets", lambda c: c.load_markets(True))
        for client in self._clients.values():
            if client.markets is not markets:
                client.set_markets(markets)
        self._instruments.clear()
        for symbol, m in markets.items():
            if not m.get("spot"):
                continue
            iid = InstrumentId(self.name, symbol)
            f = {x["filterType"]: x for x in m["info"].get("filters", [])}
            self._instruments[iid] = Instrument(
                id=iid,
                tick_size=venue_decimal(f["PRICE_FILTER"]["tickSize"]).normalize(),
                step_size=venue_decimal(f["LOT_SIZE"]["stepSize"]).normalize(),
                min_qty=venue_decimal(f["LOT_SIZE"]["minQty"]).normalize(),
                min_notional=venue_decimal(f.get("NOTIONAL", {}).get("minNotional", 0)).normalize(),
            )
            self._symbols[iid] = symbol
            self._market_ids[iid] = str(m["id"])
        if self._ws is not None:
            self._ws.session.start()

    async def order_entry_up(self, timeout_s: float) -> bool:
        """True once orders go over the ws-api session (waits up to `timeout_s`); False for REST."""
        return self._ws is not None and await self._ws.session.wait_up(timeout_s)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.session.stop()
        await super().close()

    async def clock_offset_ms(self) -> int:
        """Measure how far our clock is ahead of the venue's (ms, midpoint of the round trip) and make
        every client's signed requests use it (ccxt's `options["timeDifference"]`, read by `nonce()`)."""
        ccxt_clock = next(iter(self._clients.values()))  # ccxt's nonce() reads the system clock: so do we
        before = ccxt_clock.milliseconds()
        raw = await self._call("fetch_time", lambda c: c.public_get_time())
        after = ccxt_clock.milliseconds()
        offset = round((before + after) / 2 - int(raw["serverTime"]))
        for client in self._clients.values():
            client.options["timeDifference"] = offset
        return offset

    async def account_id(self) -> str:
        """The account the API key belongs to (Binance's `uid` from GET /api/v3/account)."""
        raw = await self._call("fetch_balance", lambda c: c.private_get_account())
        uid = raw.get("uid") if isinstance(raw, dict) else None
        if uid in (None, ""):
            raise ConfigError(f"venue {self.name}: the account endpoint gave no uid")
        return str(uid)

    # ------------------------------------------------------------------ orders
    def _report(self, iid: InstrumentId, info: dict[str, Any]) -> VenueOrderReport:
        price = venue_decimal(info.get("price"))
        return VenueOrderReport(
            instrument_id=iid,
            client_order_id=str(info.get("origClientOrderId") or info.get("clientOrderId") or ""),
            venue_order_id=VenueOrderId(str(info["orderId"])),
            status=_STATUS.get(str(info.get("status")), VenueOrderStatus.OPEN),
            quantity=venue_decimal(info.get("origQty")),
            filled_qty=venue_decimal(info.get("executedQty")),
            price=price if price > 0 else None,
            ts=venue_time(info.get("updateTime") or info.get("transactTime") or info.get("time")),
            fills=tuple(
                VenueFill(
                    instrument_id=iid,
                    trade_id=TradeId(str(f["tradeId"])),
                    venue_order_id=VenueOrderId(str(info["orderId"])),
                    client_order_id=str(info.get("clientOrderId")),
                    price=venue_decimal(f["price"]),
                    quantity=venue_decimal(f["qty"]),
                    fee=venue_decimal(f.get("commission")),
                    fee_asset=str(f.get("commissionAsset") or iid.quote),
                    liquidity=Liquidity.TAKER,
                    ts=venue_time(info.get("transactTime")),
                )
                for f in info.get("fills") or ()
                if "tradeId" in f
            ),
        )

    def _market_id(self, iid: InstrumentId) -> str:
        self._symbol(iid)  # checks the venue
        try:
            return self._market_ids[iid]
        except KeyError:
            raise ValueError(f"instrument {iid} is not listed on venue {self.name} (markets not loaded?)") from None

    async def submit(self, intent: OrderIntent) -> VenueOrderReport:
        """Binance's own order request (`binance_order_entry.new_order_params`), over the ws-api when
        its session is up, else REST; the raw answer is read directly (no ccxt unified parsing)."""
        iid = intent.instrument_id
        params = new_order_params(intent, self._market_id(iid))
        raw = await ws_or_rest(self._ws, "order.place", params, self._spec("create_order"),
                               lambda: self._call("create_order", lambda c: c.private_post_order(dict(params))))
        return self._report(iid, raw)

    async def _by_client_id(self, name: str, ws_method: str, iid: InstrumentId, client_order_id: str) -> Any:
        """One request naming an order by our client id (cancel, lookup): over the ws-api when its
        session is up, else through ccxt (`cancel_order` / `fetch_order`); Binance's raw order."""
        params = {"symbol": self._market_id(iid), "origClientOrderId": client_order_id}

        async def rest() -> Any:
            order = await self._call(name, lambda c: getattr(c, name)(None, self._symbol(iid),
                                                                      {"origClientOrderId": client_order_id}))
            return order["info"]

        return await ws_or_rest(self._ws, ws_method, params, self._spec(name), rest)

    async def cancel(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport:
        raw = await self._by_client_id("cancel_order", "order.cancel", instrument_id, client_order_id)
        return self._report(instrument_id, raw)

    async def fetch_order(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport | None:
        try:
            raw = await self._by_client_id("fetch_order", "order.status", instrument_id, client_order_id)
        except OrderNotFoundError:
            return None
        return self._report(instrument_id, raw)

    async def open_orders(self, instrument_id: InstrumentId) -> list[VenueOrderReport]:
        orders = await self._call("fetch_open_orders", lambda c: c.fetch_open_orders(self._symbol(instrument_id)))
        return [self._report(instrument_id, o["info"]) for o in orders]

    # ------------------------------------------------------------------- fills
    def _fill(self, iid: InstrumentId, info: dict[str, Any], client_order_id: str | None) -> VenueFill:
        maker = info.get("isMaker")
        return VenueFill(
            instrument_id=iid,
            trade_id=TradeId(str(info["id"])),
            venue_order_id=VenueOrderId(str(info["orderId"])),
            client_order_id=client_order_id,
            price=venue_decimal(info["price"]),
            quantity=venue_decimal(info["qty"]),
            fee=venue_decimal(info.get("commission")),
            fee_asset=str(info.get("commissionAsset") or iid.quote),
            liquidity=Liquidity.UNKNOWN if maker is None else (Liquidity.MAKER if maker else Liquidity.TAKER),
            ts=venue_time(info.get("time")),
        )

    async def fills(self, instrument_id: InstrumentId, since: datetime | None) -> list[VenueFill]:
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        out: list[VenueFill] = []
        while True:
            rows = await self._call(
                "fetch_my_trades",
                lambda c, start=since_ms: c.fetch_my_trades(self._symbol(instrument_id), start, 1000),
            )
            out.extend(self._fill(instrument_id, r["info"], None) for r in rows)
            if len(rows) < 1000:
                return out
            since_ms = int(rows[-1]["info"]["time"]) + 1

    async def fills_of_order(self, instrument_id: InstrumentId, venue_order_id: VenueOrderId) -> list[VenueFill]:
        rows = await self._call(
            "fetch_my_trades",
            lambda c: c.fetch_my_trades(self._symbol(instrument_id), None, 1000, {"orderId": str(venue_order_id)}),
        )
        # keep only this order's executions even if a venue ignores the orderId filter
        return [self._fill(instrument_id, r["info"], None) for r in rows
                if str(r["info"].get("orderId")) == venue_order_id.value]

    def _balances(self, info: dict[str, Any]) -> list[Balance]:
        return [Balance(b["asset"], venue_decimal(b["free"]), venue_decimal(b["locked"])) for b in info["balances"]]

    def market_data_client(self) -> Any:
        """A ccxt.pro client for this venue's market-data websockets (first endpoint) whose REST
        requests — order-book snapshots, markets — go through this adapter's gateway (see
        `binance_market.py`); the caller owns it and closes it."""
        return MarketDataClient(self, {**self._market_config, "timeout": self._timeout_ms})

    async def order_book_snapshot(self, symbol: str, limit: int | None, params: dict[str, Any]) -> Any:
        """One REST order-book snapshot in ccxt's shape (for ccxt.pro's book sync): MARKET_DATA
        priority, weight by `limit`, dropped (DataDropped, with the pause's `retry_in`) while the
        limiter grants nothing."""
        spec = self._spec("fetch_order_book", limit=limit)
        return await self._gateway.execute(
            spec, lambda url: self._clients[url].fetch_order_book(symbol, limit, params)
        )

    async def ohlcv(self, symbol: str, timeframe: str, since: int | None, limit: int | None) -> list[list[Any]]:
        """Candles in ccxt's `fetch_ohlcv` shape (history warm-up): MARKET_DATA priority, queued for
        budget rather than dropped."""
        spec = dataclasses.replace(self._spec("fetch_ohlcv"), droppable=False)
        return await self._gateway.execute(  # type: ignore[no-any-return]
            spec, lambda url: self._clients[url].fetch_ohlcv(symbol, timeframe, since, limit)
        )


    # ---------------------------------------------------------------- streams
    def _stream_report(self, iid: InstrumentId, info: dict[str, Any]) -> VenueOrderReport | None:
        """An executionReport of the user-data stream."""
        if "i" not in info:
            return None
        return VenueOrderReport(
            instrument_id=iid,
            client_order_id=str(info.get("C") or info.get("c", "")),
            venue_order_id=VenueOrderId(str(info["i"])),
            status=_STATUS.get(str(info.get("X")), VenueOrderStatus.OPEN),
            quantity=venue_decimal(info.get("q")),
            filled_qty=venue_decimal(info.get("z")),
            price=venue_decimal(info.get("p")) or None,
            ts=venue_time(info.get("E")),
        )

    def _stream_fill(self, iid: InstrumentId, info: dict[str, Any]) -> VenueFill | None:
        """A TRADE executionReport of the user-data stream (each trade separately)."""
        if info.get("x") != "TRADE" or venue_decimal(info.get("l")) <= 0:
            return None
        return VenueFill(
            instrument_id=iid,
            trade_id=TradeId(str(info["t"])),
            venue_order_id=VenueOrderId(str(info["i"])),
            client_order_id=str(info.get("C") or info.get("c", "")) or None,
            price=venue_decimal(info["L"]),
            quantity=venue_decimal(info["l"]),
            fee=venue_decimal(info.get("n")),
            fee_asset=str(info.get("N") or iid.quote),
            liquidity=Liquidity.MAKER if info.get("m") else Liquidity.TAKER,
            ts=venue_time(info.get("T")),
        )
