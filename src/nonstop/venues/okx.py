"""The OKX spot adapter: ccxt `okx` (async REST and ccxt.pro websockets) behind `VenuePort`.

The same gateway as Binance (`CcxtVenue`: pool, breakers, limiter, retry) with OKX's own parts:

* numbers read from OKX's raw payloads (`info`: `px`, `sz`, `accFillSz`, `fillPx`, `fillSz`, `fee`
  — OKX reports fees negative), exact `Decimal`s;
* errors classified with OKX's code table (`okx_errors.OKX_CODES`, per-order `sCode`);
* OKX's per-endpoint budgets (`okx_budgets`: no usage headers to synchronise with); every request
  weighs 1 in the shared limiter, which keeps the priorities, the order-count and the 429 pause;
* client ids: OKX's `clOrdId` takes 1..32 alphanumerics, so ours travel with `-` as `Z`
  (`OKX_CLIENT_IDS`) and are read back;
* the dead man's switch (`venues.port.CancelAllAfter`, armed and re-armed by the engine's
  `watchdog.venue_countdown`): OKX's `trade/cancel-all-after`, which the venue enforces by
  cancelling every open order when it is not re-armed in time.

Placing answers only ids (OKX acknowledges, it does not report the fill), so `submit` reports the
order OPEN and fills arrive on the `orders` channel or through a lookup; a cancel is acknowledged
the same way, so `cancel` follows it with a lookup of the order's final state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxt_pro
import structlog

from nonstop.clock import Clock
from nonstop.connectivity import OperationKind, OrderNotFoundError, Priority
from nonstop.errors import ConfigError
from nonstop.model import (
    Balance,
    ClientIdRule,
    Instrument,
    InstrumentId,
    Liquidity,
    OrderIntent,
    OrderType,
    TradeId,
    VenueOrderId,
)
from nonstop.venues.ccxt_futures import RetrievedFutures
from nonstop.venues.ccxt_venue import CcxtVenue
from nonstop.venues.gateway import GatewayConfig, RequestSpec, record_response
from nonstop.venues.okx_budgets import EndpointBudgets
from nonstop.venues.okx_errors import OKX_CODES
from nonstop.venues.okx_market import OkxMarketDataClient
from nonstop.venues.port import VenueFill, VenueOrderReport, VenueOrderStatus
from nonstop.venues.profile import VenueProfile
from nonstop.venues.raw_values import venue_decimal, venue_time

log = structlog.get_logger("nonstop.venues.okx")
T = TypeVar("T")
OKX_CLIENT_IDS = ClientIdRule("okx", r"[A-Za-z0-9]{1,32}", dash_as="Z")
COUNTDOWN_MIN_S, COUNTDOWN_MAX_S = 10, 120  # OKX's cancel-all-after `timeOut` range

_STATUS = {
    "live": VenueOrderStatus.OPEN,
    "partially_filled": VenueOrderStatus.PARTIALLY_FILLED,
    "filled": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "mmp_canceled": VenueOrderStatus.CANCELED,
    "order_failed": VenueOrderStatus.REJECTED,
}
_READ, _SUBMIT, _CANCEL = OperationKind.READ, OperationKind.SUBMIT, OperationKind.CANCEL
# name -> (operation, priority, OKX endpoint path for its budget)
_ENDPOINTS: dict[str, tuple[OperationKind, Priority, str]] = {
    "load_markets": (_READ, Priority.ACCOUNT, "public/instruments"),
    "fetch_time": (_READ, Priority.ACCOUNT, "public/time"),
    "create_order": (_SUBMIT, Priority.ORDER, "trade/order"),
    "cancel_order": (_CANCEL, Priority.ORDER, "trade/cancel-order"),
    "cancel_all_after": (_CANCEL, Priority.ORDER, "trade/cancel-all-after"),
    "fetch_order": (_READ, Priority.ACCOUNT, "trade/order"),
    "fetch_open_orders": (_READ, Priority.ACCOUNT, "trade/orders-pending"),
    "fetch_my_trades": (_READ, Priority.ACCOUNT, "trade/fills-history"),
    "fetch_balance": (_READ, Priority.ACCOUNT, "account/balance"),
    "fetch_config": (_READ, Priority.ACCOUNT, "account/config"),
    "fetch_ticker": (_READ, Priority.MARKET_DATA, "market/ticker"),
    "fetch_ohlcv": (_READ, Priority.MARKET_DATA, "market/history-candles"),  # the stricter of the two
}


class _OkxClient(RetrievedFutures, ccxt_pro.okx):  # type: ignore[misc]
    """ccxt's client, handing every HTTP answer's status and headers to the gateway (its websocket
    futures retrieved, see `ccxt_futures.py`)."""

    def on_rest_response(self, code: Any, reason: Any, url: Any, method: Any, response_headers: Any,
                         response_body: Any, request_headers: Any, request_body: Any) -> Any:
        body = response_body if isinstance(response_body, str) else None
        record_response(int(code), response_headers or {}, body)
        return super().on_rest_response(code, reason, url, method, response_headers, response_body,
                                         request_headers, request_body)


def _base_url(config: Mapping[str, Any]) -> str:
    try:
        return str(config["urls"]["api"]["rest"]).removesuffix("/")
    except (KeyError, TypeError):
        raise ConfigError("an OKX endpoint config needs urls.api.rest") from None


class OkxVenue(CcxtVenue):
    """One OKX venue reached through ccxt at one or more base URLs."""

    codes = OKX_CODES
    client_ids = OKX_CLIENT_IDS
    ticker_fields = ("bidPx", "askPx", "last", "ts")

    def __init__(
        self,
        name: str,
        ccxt_configs: list[dict[str, Any]],
        *,
        timeout_ms: int = 5000,
        connectivity: GatewayConfig | None = None,
        clock: Clock | None = None,
        profile: VenueProfile | None = None,
    ) -> None:
        configs = [{**c, "options": {**c.get("options", {}), "createOrder": "privatePostTradeOrder"}}
                   for c in ccxt_configs]
        super().__init__(name, configs, client_class=_OkxClient, base_url=_base_url, timeout_ms=timeout_ms,
                         connectivity=connectivity, clock=clock, profile=profile)
        self.budgets = EndpointBudgets(self._clock)
        self._countdown_adjusted: set[int] = set()

    def _spec(self, name: str, *, has_symbol: bool = True) -> RequestSpec:
        operation, priority, _ = _ENDPOINTS[name]
        return RequestSpec(name, operation, priority, 1, is_order=operation is _SUBMIT,
                           droppable=priority is Priority.MARKET_DATA and self._config.drop_market_data)

    async def _call(self, name: str, fn: Callable[[Any], Awaitable[T]], instrument: str = "") -> T:
        path = _ENDPOINTS[name][2]

        async def send(url: str) -> T:
            await self.budgets.take(path, instrument)
            return await fn(self._clients[url])

        return await self._gateway.execute(self._spec(name), send)

    async def _ping(self, url: str) -> object:
        await self.budgets.take("public/time")
        return await self._clients[url].public_get_public_time()

    def _wire_id(self, client_order_id: str) -> str:
        return OKX_CLIENT_IDS.to_wire(client_order_id)

    def _our_id(self, text: Any) -> str:
        return OKX_CLIENT_IDS.from_wire(str(text or ""))

    # --------------------------------------------------------------- lifecycle
    async def connect(self) -> None:
        """Start probing, then load markets (from any endpoint) and share them with every client."""
        self._gateway.start(self._ping, 1)
        markets = await self._call("load_markets", lambda c: c.load_markets(True))
        for client in self._clients.values():
            if client.markets is not markets:
                client.set_markets(markets)
        self._instruments.clear()
        for symbol, m in markets.items():
            if not m.get("spot"):
                continue
            iid = InstrumentId(self.name, symbol)
            info = m["info"]
            self._instruments[iid] = Instrument(
                id=iid,
                tick_size=venue_decimal(info["tickSz"]),
                step_size=venue_decimal(info["lotSz"]),
                min_qty=venue_decimal(info["minSz"]),
                min_notional=Decimal(0),  # OKX has a minimum size, no minimum notional
            )
            self._symbols[iid] = symbol

    async def clock_offset_ms(self) -> int:
        """How far our clock is ahead of OKX's (ms, midpoint of the round trip); every client's
        signed requests use it (ccxt's `options["timeDifference"]`, read by okx's `nonce()`)."""
        ccxt_clock = next(iter(self._clients.values()))
        before = ccxt_clock.milliseconds()
        raw = await self._call("fetch_time", lambda c: c.public_get_public_time())
        after = ccxt_clock.milliseconds()
        offset = round((before + after) / 2 - int(raw["data"][0]["ts"]))
        for client in self._clients.values():
            client.options["timeDifference"] = offset
        return offset

    async def account_id(self) -> str:
        """The account the API key belongs to (OKX's `uid` from GET /api/v5/account/config)."""
        raw = await self._call("fetch_config", lambda c: c.private_get_account_config())
        rows = raw.get("data") if isinstance(raw, dict) else None
        uid = rows[0].get("uid") if rows else None
        if uid in (None, ""):
            raise ConfigError(f"venue {self.name}: the account config endpoint gave no uid")
        return str(uid)

    async def arm_cancel_all_after(self, seconds: int) -> datetime | None:
        """Arm (or re-arm) OKX's dead man's switch (`CancelAllAfter`): unless re-armed within
        `seconds`, the venue cancels every open order of the account. OKX takes 10..120 s: a longer
        countdown is shortened to 120 s, a shorter one lengthened to 10 s (logged). 0 disarms it.
        Returns the venue's trigger time (None when disarmed)."""
        wanted = seconds
        if seconds != 0:
            seconds = min(max(seconds, COUNTDOWN_MIN_S), COUNTDOWN_MAX_S)
            if seconds != wanted and wanted not in self._countdown_adjusted:
                self._countdown_adjusted.add(wanted)
                log.warning("cancel_all_after_adjusted", venue=self.name, wanted_s=wanted, armed_s=seconds,
                            detail=f"OKX's countdown is {COUNTDOWN_MIN_S}..{COUNTDOWN_MAX_S} s")
        raw = await self._call("cancel_all_after", lambda c: c.cancel_all_orders_after(seconds * 1000))
        trigger = int(raw["data"][0].get("triggerTime") or 0)
        return venue_time(trigger) if trigger else None

    async def disarm_cancel_all_after(self) -> None:
        """Stop OKX's countdown (a clean stop)."""
        await self.arm_cancel_all_after(0)

    # ------------------------------------------------------------------ orders
    def _report(self, iid: InstrumentId, info: Mapping[str, Any]) -> VenueOrderReport:
        price = venue_decimal(info.get("px"))
        return VenueOrderReport(
            instrument_id=iid,
            client_order_id=self._our_id(info.get("clOrdId")),
            venue_order_id=VenueOrderId(str(info["ordId"])),
            status=_STATUS.get(str(info.get("state")), VenueOrderStatus.OPEN),
            quantity=venue_decimal(info.get("sz")),
            filled_qty=venue_decimal(info.get("accFillSz")),
            price=price if price > 0 else None,
            ts=venue_time(info.get("uTime") or info.get("cTime")),
        )

    async def submit(self, intent: OrderIntent) -> VenueOrderReport:
        iid = intent.instrument_id
        wire = self._wire_id(str(intent.client_order_id))
        params: dict[str, Any] = {"clOrdId": wire}
        if intent.order_type is OrderType.LIMIT:
            params["timeInForce"] = str(intent.time_in_force)
        elif intent.order_type is OrderType.LIMIT_MAKER:
            params["postOnly"] = True
        kind = "market" if intent.order_type is OrderType.MARKET else "limit"
        price = str(intent.price) if intent.price is not None else None
        symbol = self._symbol(iid)
        order = await self._call(
            "create_order",
            lambda c: c.create_order(symbol, kind, str(intent.side).lower(), str(intent.quantity), price, params),
            symbol,
        )
        ack = order["info"]
        return VenueOrderReport(
            instrument_id=iid,
            client_order_id=str(intent.client_order_id),
            venue_order_id=VenueOrderId(str(ack["ordId"])),
            status=VenueOrderStatus.OPEN,
            quantity=intent.quantity,
            filled_qty=Decimal(0),
            price=intent.price,
            ts=venue_time(ack.get("ts")),
        )

    async def cancel(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport:
        symbol = self._symbol(instrument_id)
        wire = self._wire_id(client_order_id)
        await self._call("cancel_order", lambda c: c.cancel_order(None, symbol, {"clOrdId": wire}), symbol)
        report = await self.fetch_order(instrument_id, client_order_id)
        if report is None:  # acknowledged, then unknown: the lookup loop settles it
            raise OrderNotFoundError(f"venue {self.name}: order {client_order_id} canceled, then not found",
                                     venue=self.name, operation=_CANCEL)
        return report

    async def fetch_order(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport | None:
        symbol = self._symbol(instrument_id)
        wire = self._wire_id(client_order_id)
        try:
            order = await self._call(
                "fetch_order", lambda c: c.fetch_order(None, symbol, {"clOrdId": wire}), symbol
            )
        except OrderNotFoundError:
            return None
        return self._report(instrument_id, order["info"])

    async def open_orders(self, instrument_id: InstrumentId) -> list[VenueOrderReport]:
        symbol = self._symbol(instrument_id)
        orders = await self._call("fetch_open_orders", lambda c: c.fetch_open_orders(symbol))
        return [self._report(instrument_id, o["info"]) for o in orders]

    # ------------------------------------------------------------------- fills
    def _fill(self, iid: InstrumentId, info: Mapping[str, Any]) -> VenueFill:
        exec_type = info.get("execType")
        fee = info.get("fillFee") if "fillFee" in info else info.get("fee")
        fee_ccy = info.get("fillFeeCcy") if "fillFeeCcy" in info else info.get("feeCcy")
        return VenueFill(
            instrument_id=iid,
            trade_id=TradeId(str(info["tradeId"])),
            venue_order_id=VenueOrderId(str(info["ordId"])),
            client_order_id=self._our_id(info.get("clOrdId")) or None,
            price=venue_decimal(info["fillPx"]),
            quantity=venue_decimal(info["fillSz"]),
            fee=-venue_decimal(fee),  # OKX reports a charged fee as a negative number
            fee_asset=str(fee_ccy or iid.quote),
            liquidity={"M": Liquidity.MAKER, "T": Liquidity.TAKER}.get(str(exec_type), Liquidity.UNKNOWN),
            ts=venue_time(info.get("fillTime") or info.get("ts")),
        )

    async def fills(self, instrument_id: InstrumentId, since: datetime | None) -> list[VenueFill]:
        symbol = self._symbol(instrument_id)
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        seen: dict[str, VenueFill] = {}
        while True:
            rows = await self._call(
                "fetch_my_trades", lambda c, start=since_ms: c.fetch_my_trades(symbol, start, None if start else 100)
            )
            new = [self._fill(instrument_id, r["info"]) for r in rows if str(r["info"]["tradeId"]) not in seen]
            for f in new:
                seen[f.trade_id.value] = f
            if len(rows) < 100 or not new or since_ms is None:
                return sorted(seen.values(), key=lambda f: (f.ts, int(f.trade_id.value)))
            since_ms = max(int(r["info"]["ts"]) for r in rows)  # inclusive: the same ms may hold more

    async def fills_of_order(self, instrument_id: InstrumentId, venue_order_id: VenueOrderId) -> list[VenueFill]:
        symbol = self._symbol(instrument_id)
        rows = await self._call(
            "fetch_my_trades", lambda c: c.fetch_my_trades(symbol, None, 100, {"ordId": venue_order_id.value})
        )
        return [self._fill(instrument_id, r["info"]) for r in rows
                if str(r["info"].get("ordId")) == venue_order_id.value]

    def _balances(self, info: dict[str, Any]) -> list[Balance]:
        details = info["data"][0]["details"] if info.get("data") else []
        return [Balance(d["ccy"], venue_decimal(d["availBal"]), venue_decimal(d["frozenBal"])) for d in details]

    # ------------------------------------------------------------ market data
    def market_data_client(self) -> Any:
        """A ccxt.pro `okx` client for this venue's public channels (first endpoint) whose REST
        requests go through this adapter's gateway (`okx_market.py`); the caller owns and closes it."""
        return OkxMarketDataClient(self, {**self._market_config, "timeout": self._timeout_ms})

    async def ohlcv(self, symbol: str, timeframe: str, since: int | None, limit: int | None) -> list[list[Any]]:
        """Candles in ccxt's `fetch_ohlcv` shape (history warm-up): MARKET_DATA priority, queued for
        budget rather than dropped."""
        spec = dataclasses.replace(self._spec("fetch_ohlcv"), droppable=False)
        path = _ENDPOINTS["fetch_ohlcv"][2]

        async def send(url: str) -> list[list[Any]]:
            await self.budgets.take(path)
            return await self._clients[url].fetch_ohlcv(symbol, timeframe, since, limit)  # type: ignore[no-any-return]

        return await self._gateway.execute(spec, send)

    # ---------------------------------------------------------------- streams
    def _stream_report(self, iid: InstrumentId, info: dict[str, Any]) -> VenueOrderReport | None:
        """An order of the private `orders` channel."""
        return self._report(iid, info) if "ordId" in info else None

    def _stream_fill(self, iid: InstrumentId, info: dict[str, Any]) -> VenueFill | None:
        """A trade of the private `orders` channel (each trade separately)."""
        if not info.get("tradeId") or venue_decimal(info.get("fillSz")) <= 0:
            return None
        return self._fill(iid, info)
