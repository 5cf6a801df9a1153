"""The Binance spot adapter: ccxt (async REST and ccxt.pro websockets) behind `VenuePort`.

Numbers are read from Binance's raw payloads (`info`), not from ccxt's float-parsed fields, so
prices, quantities and fees stay exact `Decimal`s. Every ccxt/aiohttp failure is translated once,
by `nonstop.connectivity.classify`, into a classified `VenueError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxt_pro
import structlog

from nonstop.connectivity import classify
from nonstop.connectivity.errors import OperationKind, OrderNotFoundError
from nonstop.model import (
    Balance,
    Instrument,
    InstrumentId,
    Liquidity,
    OrderIntent,
    OrderType,
    TradeId,
    VenueOrderId,
)
from nonstop.venues.port import Quote, VenueFill, VenueOrderReport, VenueOrderStatus

log = structlog.get_logger("nonstop.venues.binance")
T = TypeVar("T")

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


def _ts(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC) if ms else datetime.now(UTC)


def _dec(value: Any) -> Decimal:
    """An exact Decimal from Binance's text, without its padding zeros (`"0.01000000"` -> 0.01)."""
    if value in (None, ""):
        return Decimal(0)
    d = Decimal(str(value))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


class BinanceVenue:
    """One Binance(-compatible) venue reached through ccxt at one or more base URLs.

    Endpoint choice here is deliberately simple (the first endpoint, moving to the next after a
    transport failure on a read); the connectivity layer's endpoint pool replaces it.
    """

    def __init__(self, name: str, ccxt_configs: list[dict[str, Any]], *, timeout_ms: int = 5000) -> None:
        if not ccxt_configs:
            raise ValueError(f"venue {name}: at least one endpoint is needed")
        self.name = name
        self._clients = [ccxt_pro.binance({**cfg, "timeout": timeout_ms}) for cfg in ccxt_configs]
        self._active = 0
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._symbols: dict[InstrumentId, str] = {}

    @property
    def _client(self) -> Any:
        return self._clients[self._active]

    async def _call(self, op: OperationKind, fn: Callable[[Any], Awaitable[T]]) -> T:
        client = self._client
        try:
            return await fn(client)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # translated at the boundary, in one place
            err = classify(
                exc,
                operation=op,
                venue=self.name,
                endpoint=str(client.urls["api"]["public"]),
                headers=getattr(client, "last_response_headers", None),
            )
            if err.error_class.retry_safe_for_reads and len(self._clients) > 1 and self._client is client:
                self._active = (self._active + 1) % len(self._clients)
                log.warning("endpoint_switched", venue=self.name, to=self._active, reason=str(err))
            raise err from exc

    # --------------------------------------------------------------- lifecycle
    async def connect(self) -> None:
        markets = await self._call(OperationKind.READ, lambda c: c.load_markets())
        for client in self._clients:
            if client is not self._client:
                client.set_markets(markets)
        self._instruments.clear()
        for symbol, m in markets.items():
            if not m.get("spot"):
                continue
            iid = InstrumentId(self.name, symbol)
            f = {x["filterType"]: x for x in m["info"].get("filters", [])}
            self._instruments[iid] = Instrument(
                id=iid,
                tick_size=_dec(f["PRICE_FILTER"]["tickSize"]).normalize(),
                step_size=_dec(f["LOT_SIZE"]["stepSize"]).normalize(),
                min_qty=_dec(f["LOT_SIZE"]["minQty"]).normalize(),
                min_notional=_dec(f.get("NOTIONAL", {}).get("minNotional", 0)).normalize(),
            )
            self._symbols[iid] = symbol

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    def instruments(self) -> dict[InstrumentId, Instrument]:
        return dict(self._instruments)

    def _symbol(self, iid: InstrumentId) -> str:
        if iid.venue != self.name:
            raise ValueError(f"instrument {iid} is not on venue {self.name}")
        return iid.symbol

    # ------------------------------------------------------------------ orders
    def _report(self, iid: InstrumentId, info: dict[str, Any]) -> VenueOrderReport:
        price = _dec(info.get("price"))
        return VenueOrderReport(
            instrument_id=iid,
            client_order_id=str(info.get("origClientOrderId") or info.get("clientOrderId") or ""),
            venue_order_id=VenueOrderId(str(info["orderId"])),
            status=_STATUS.get(str(info.get("status")), VenueOrderStatus.OPEN),
            quantity=_dec(info.get("origQty")),
            filled_qty=_dec(info.get("executedQty")),
            price=price if price > 0 else None,
            ts=_ts(info.get("updateTime") or info.get("transactTime") or info.get("time")),
            fills=tuple(
                VenueFill(
                    instrument_id=iid,
                    trade_id=TradeId(str(f["tradeId"])),
                    venue_order_id=VenueOrderId(str(info["orderId"])),
                    client_order_id=str(info.get("clientOrderId")),
                    price=_dec(f["price"]),
                    quantity=_dec(f["qty"]),
                    fee=_dec(f.get("commission")),
                    fee_asset=str(f.get("commissionAsset") or iid.quote),
                    liquidity=Liquidity.TAKER,
                    ts=_ts(info.get("transactTime")),
                )
                for f in info.get("fills") or ()
                if "tradeId" in f
            ),
        )

    async def submit(self, intent: OrderIntent) -> VenueOrderReport:
        iid = intent.instrument_id
        params: dict[str, Any] = {"clientOrderId": str(intent.client_order_id)}
        kind = {OrderType.LIMIT: "limit", OrderType.MARKET: "market", OrderType.LIMIT_MAKER: "LIMIT_MAKER"}
        if intent.order_type is OrderType.LIMIT:
            params["timeInForce"] = str(intent.time_in_force)
        price = str(intent.price) if intent.price is not None else None
        order = await self._call(
            OperationKind.SUBMIT,
            lambda c: c.create_order(
                self._symbol(iid),
                kind[intent.order_type],
                str(intent.side).lower(),
                str(intent.quantity),
                price,
                params,
            ),
        )
        return self._report(iid, order["info"])

    async def cancel(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport:
        order = await self._call(
            OperationKind.CANCEL,
            lambda c: c.cancel_order(None, self._symbol(instrument_id), {"origClientOrderId": client_order_id}),
        )
        return self._report(instrument_id, order["info"])

    async def fetch_order(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport | None:
        try:
            order = await self._call(
                OperationKind.READ,
                lambda c: c.fetch_order(None, self._symbol(instrument_id), {"origClientOrderId": client_order_id}),
            )
        except OrderNotFoundError:
            return None
        return self._report(instrument_id, order["info"])

    async def open_orders(self, instrument_id: InstrumentId) -> list[VenueOrderReport]:
        orders = await self._call(OperationKind.READ, lambda c: c.fetch_open_orders(self._symbol(instrument_id)))
        return [self._report(instrument_id, o["info"]) for o in orders]

    # ------------------------------------------------------------------- fills
    def _fill(self, iid: InstrumentId, info: dict[str, Any], client_order_id: str | None) -> VenueFill:
        maker = info.get("isMaker")
        return VenueFill(
            instrument_id=iid,
            trade_id=TradeId(str(info["id"])),
            venue_order_id=VenueOrderId(str(info["orderId"])),
            client_order_id=client_order_id,
            price=_dec(info["price"]),
            quantity=_dec(info["qty"]),
            fee=_dec(info.get("commission")),
            fee_asset=str(info.get("commissionAsset") or iid.quote),
            liquidity=Liquidity.UNKNOWN if maker is None else (Liquidity.MAKER if maker else Liquidity.TAKER),
            ts=_ts(info.get("time")),
        )

    async def fills(self, instrument_id: InstrumentId, since: datetime | None) -> list[VenueFill]:
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        out: list[VenueFill] = []
        while True:
            rows = await self._call(
                OperationKind.READ,
                lambda c, start=since_ms: c.fetch_my_trades(self._symbol(instrument_id), start, 1000),
            )
            out.extend(self._fill(instrument_id, r["info"], None) for r in rows)
            if len(rows) < 1000:
                return out
            since_ms = int(rows[-1]["info"]["time"]) + 1

    async def fills_of_order(self, instrument_id: InstrumentId, venue_order_id: VenueOrderId) -> list[VenueFill]:
        rows = await self._call(
            OperationKind.READ,
            lambda c: c.fetch_my_trades(self._symbol(instrument_id), None, 1000, {"orderId": str(venue_order_id)}),
        )
        return [self._fill(instrument_id, r["info"], None) for r in rows]

    async def balances(self) -> list[Balance]:
        raw = await self._call(OperationKind.READ, lambda c: c.fetch_balance())
        return [Balance(b["asset"], _dec(b["free"]), _dec(b["locked"])) for b in raw["info"]["balances"]]

    async def quote(self, instrument_id: InstrumentId) -> Quote:
        t = await self._call(OperationKind.READ, lambda c: c.fetch_ticker(self._symbol(instrument_id)))
        info = t["info"]
        return Quote(
            instrument_id,
            _dec(info.get("bidPrice")) or None,
            _dec(info.get("askPrice")) or None,
            _dec(info.get("lastPrice")) or None,
            _ts(info.get("closeTime")),
        )

    # ---------------------------------------------------------------- streams
    def _stream_iid(self, symbol: str) -> InstrumentId | None:
        iid = InstrumentId(self.name, symbol) if symbol else None
        return iid if iid in self._instruments else None

    async def watch_order_updates(self) -> list[VenueOrderReport]:
        """The next order updates (executionReports) from the user-data stream."""
        orders = await self._call(OperationKind.READ, lambda c: c.watch_orders())
        reports = []
        for o in orders:
            info, iid = o.get("info", {}), self._stream_iid(o.get("symbol", ""))
            if iid is None or "i" not in info:
                continue
            reports.append(
                VenueOrderReport(
                    instrument_id=iid,
                    client_order_id=str(info.get("C") or info.get("c", "")),
                    venue_order_id=VenueOrderId(str(info["i"])),
                    status=_STATUS.get(str(info.get("X")), VenueOrderStatus.OPEN),
                    quantity=_dec(info.get("q")),
                    filled_qty=_dec(info.get("z")),
                    price=_dec(info.get("p")) or None,
                    ts=_ts(info.get("E")),
                )
            )
        return reports

    async def watch_fills(self) -> list[VenueFill]:
        """The next executions from the user-data stream (each trade separately)."""
        trades = await self._call(OperationKind.READ, lambda c: c.watch_my_trades())
        fills = []
        for t in trades:
            info, iid = t.get("info", {}), self._stream_iid(t.get("symbol", ""))
            if iid is None or info.get("x") != "TRADE" or _dec(info.get("l")) <= 0:
                continue
            fills.append(
                VenueFill(
                    instrument_id=iid,
                    trade_id=TradeId(str(info["t"])),
                    venue_order_id=VenueOrderId(str(info["i"])),
                    client_order_id=str(info.get("C") or info.get("c", "")) or None,
                    price=_dec(info["L"]),
                    quantity=_dec(info["l"]),
                    fee=_dec(info.get("n")),
                    fee_asset=str(info.get("N") or iid.quote),
                    liquidity=Liquidity.MAKER if info.get("m") else Liquidity.TAKER,
                    ts=_ts(info.get("T")),
                )
            )
        return fills
