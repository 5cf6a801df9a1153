"""How the Binance adapter sends orders: Binance's own request parameters built from the intent
(the hot path skips ccxt's unified `create_order` and its parsing; the adapter reads the raw
answer anyway), over the WebSocket API when `order_entry = "ws"` and its session is up, else REST.

The same parameters, the same client order id and the same signing go either way, so the venue
sees one order whichever path carried it. Routing rule (the in-doubt rules do not change):

- the ws-api session is not up (or the venue breaker is open): REST, nothing having been sent;
- sent over ws and the answer lost (timeout, connection dropped): `OutcomeUnknownError`, the order
  is IN DOUBT and resolved by client-order-id lookup, exactly as over REST — never re-sent over REST;
- a read (`order.status`) whose answer is lost is asked again over REST (reads are safe to repeat).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Literal

from nonstop.clock import Clock
from nonstop.connectivity import OperationKind
from nonstop.connectivity.classify import VenueCodes
from nonstop.connectivity.errors import TransientNetworkError, VenueError
from nonstop.model import OrderIntent, OrderType
from nonstop.venues.binance_ws_api import WsApiDown, WsApiSession
from nonstop.venues.gateway import RequestRecord, RequestSpec, VenueGateway

OrderEntryMode = Literal["rest", "ws"]
_TYPES = {OrderType.LIMIT: "LIMIT", OrderType.MARKET: "MARKET", OrderType.LIMIT_MAKER: "LIMIT_MAKER"}


def _text(value: Decimal) -> str:
    return format(value, "f")  # never exponent notation ("1E-7"), which Binance refuses


def new_order_params(intent: OrderIntent, market_id: str) -> dict[str, str]:
    """Binance's `newOrder` parameters (REST `POST /api/v3/order` and ws-api `order.place` alike).

    Quantities and prices go exactly as given (no ccxt rounding: a value off the venue's step is
    refused, never silently changed); a market order sends its base `quantity`."""
    params = {
        "symbol": market_id,
        "side": str(intent.side).upper(),
        "type": _TYPES[intent.order_type],
        "quantity": _text(intent.quantity),
        "newClientOrderId": str(intent.client_order_id),
        "newOrderRespType": "FULL",
    }
    if intent.order_type is not OrderType.MARKET:
        assert intent.price is not None  # OrderIntent refuses a LIMIT / LIMIT_MAKER without a price
        params["price"] = _text(intent.price)
    if intent.order_type is OrderType.LIMIT:
        params["timeInForce"] = str(intent.time_in_force)
    return params


class WsOrderEntry:
    """The ws-api path of one venue: its session, budgeted by the venue's own rate limiter."""

    def __init__(self, venue: str, gateway: VenueGateway, clients: dict[str, Any], clock: Clock, *,
                 codes: VenueCodes, timeout_s: float) -> None:
        self._gateway = gateway
        self._clients = clients
        self.session = WsApiSession(venue, self._pick_url, self._sign, clock, codes=codes, timeout_s=timeout_s)

    def _pick_url(self) -> tuple[str, ssl.SSLContext | None]:
        client = self._clients[self._gateway.stream_endpoint()]
        url = str(client.urls["api"]["ws"]["ws-api"]["spot"])
        return url, ssl.create_default_context(cafile=client.cafile) if url.startswith("wss") else None

    def _sign(self, params: dict[str, Any]) -> dict[str, Any]:
        return next(iter(self._clients.values())).sign_params(params)  # type: ignore[no-any-return]

    @property
    def usable(self) -> bool:
        return self.session.up and self._gateway.pool.breaker.allows()

    async def call(self, method: str, params: dict[str, Any], spec: RequestSpec) -> Any:
        """One request over the session (raises `WsApiDown` when nothing was sent)."""
        if not self.usable:
            raise WsApiDown(f"the ws-api session of {self._gateway.venue!r} is not usable")
        started, error = time.monotonic(), None
        try:
            async with self._gateway.limiter.acquire(spec.priority, spec.weight, is_order=spec.is_order) as permit:
                try:
                    return await self.session.request(method, params, spec.operation)
                except VenueError as err:
                    error = err.error_class.value
                    permit.observe(None, error=err)
                    raise
        finally:
            observer = self._gateway.on_request
            if observer is not None:
                record = RequestRecord(f"{spec.name}_ws", spec.operation, spec.priority, 0.0,
                                       time.monotonic() - started, error)
                self._gateway._notify(observer, record, "request_observer_failed")


async def ws_or_rest(ws: WsOrderEntry | None, method: str, params: dict[str, Any], spec: RequestSpec,
                     rest: Callable[[], Awaitable[Any]]) -> Any:
    """Send over the ws-api when it is usable, else (or when nothing was sent) over REST."""
    if ws is not None and ws.usable:
        try:
            return await ws.call(method, params, spec)
        except WsApiDown:
            pass  # nothing was sent: REST carries it
        except TransientNetworkError:
            if spec.operation is not OperationKind.READ:
                raise
            # a read whose answer was lost: ask again over REST
    return await rest()
