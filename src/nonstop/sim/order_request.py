"""A Binance new-order request read from its parameters, and the answer Binance gives to it.

Shared by `POST /api/v3/order`, `/order/test`, `/order/cancelReplace` and the WebSocket API's
`order.place`, so all of them validate alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nonstop.sim import wire
from nonstop.sim.params import CLIENT_ID, Call
from nonstop.sim.records import ORDER_TYPES, PRICED_TYPES, STOP_TYPES, SimOrder
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.venue import SimVenue


@dataclass(frozen=True)
class NewOrder:
    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    price: Decimal | None
    quote_order_qty: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    client_order_id: str
    resp_type: str | None

    def place(self, venue: SimVenue, account: str, *, sender: str = "") -> SimOrder:
        return venue.new_order(
            account,
            self.symbol,
            self.side,
            self.type,
            quantity=self.quantity,
            price=self.price,
            quote_order_qty=self.quote_order_qty,
            time_in_force=self.time_in_force,
            client_order_id=self.client_order_id,
            stop_price=self.stop_price,
            sender=sender,
        )


def client_id(call: Call, name: str = "newClientOrderId") -> str:
    value = call.text(name, required=False)
    if value is None:
        return "sim_" + secrets.token_urlsafe(16)[:18].replace("-", "x")
    if not CLIENT_ID.match(value):
        raise BinanceReject(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'.",
        )
    return value


def parse_new_order(call: Call, venue: SimVenue) -> NewOrder:
    """Validate the parameters of a new order the way Binance does (without placing it)."""
    symbol = call.text("symbol")
    assert symbol is not None
    venue.spec(symbol.upper())
    side = call.choice("side", ("BUY", "SELL"), -1117, "Invalid side.") or ""
    kind = call.choice("type", ORDER_TYPES, -1116, "Invalid orderType.") or ""
    cid = client_id(call)
    resp_type = call.choice(
        "newOrderRespType",
        ("ACK", "RESULT", "FULL"),
        -1100,
        "Illegal characters found in parameter 'newOrderRespType'.",
        required=False,
    )
    tif, price, qty, quote_qty, stop = "GTC", None, None, None, None
    if kind in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        tif = call.choice("timeInForce", ("GTC", "IOC", "FOK"), -1115, "Invalid timeInForce.") or "GTC"
    if kind in STOP_TYPES:
        stop = call.decimal("stopPrice")
    if kind in PRICED_TYPES:
        price, qty = call.decimal("price"), call.decimal("quantity")
    elif kind == "MARKET":
        qty = call.decimal("quantity", required=False)
        quote_qty = call.decimal("quoteOrderQty", required=False)
        if (qty is None) == (quote_qty is None):
            raise BinanceReject(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty!")
    else:
        qty = call.decimal("quantity")
    return NewOrder(symbol.upper(), side, kind, qty, price, quote_qty, stop, tif, cid, resp_type)


def order_answer(order: SimOrder, resp_type: str | None) -> dict[str, Any]:
    """The body of a new-order answer: ACK, RESULT or FULL (FULL is the default for every type)."""
    if resp_type == "ACK":
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": order.order_list_id,
            "clientOrderId": order.client_order_id,
            "transactTime": order.time_ms,
        }
    body = wire.order_full(order)
    if resp_type == "RESULT":
        body.pop("fills")
    return body
