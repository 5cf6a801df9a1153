"""The WebSocket API's trading and account methods (`order.place`, `order.cancel`, `order.status`,
`order.test`, `openOrders.status`, `account.status`): signed like REST, answered with REST's bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nonstop.sim import rejects, wire
from nonstop.sim.auth import check_signature, check_timestamp, key_holder
from nonstop.sim.order_request import order_answer, parse_new_order
from nonstop.sim.params import Call
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

METHODS = ("order.place", "order.test", "order.cancel", "order.status", "openOrders.status", "account.status")


def _signed_call(rt: VenueRuntime, params: dict[str, Any], now_ms: int) -> Call:
    flat = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    holder = key_holder(rt.venue, flat.get("apiKey"))
    payload = "&".join(f"{k}={flat[k]}" for k in sorted(flat) if k != "signature")
    check_signature(holder, payload, flat.get("signature"))
    check_timestamp(flat, now_ms)
    return Call(flat, holder.account.api_key, now_ms, sender=holder.label)


def _order_ref(call: Call) -> tuple[int | None, str | None]:
    order_id = call.integer("orderId")
    client_id = call.text("origClientOrderId", required=False)
    if order_id is None and client_id is None:
        raise BinanceReject(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return order_id, client_id


def ws_api_call(rt: VenueRuntime, method: str, params: dict[str, Any], now_ms: int) -> Any:
    """The `result` of one WebSocket API request; raise BinanceReject for its `error`."""
    if method not in METHODS:
        raise BinanceReject(-1000, f"Unknown method {method!r}.")
    call = _signed_call(rt, params, now_ms)
    venue = rt.venue
    if method == "account.status":
        return wire.account(venue.accounts[call.account], now_ms)
    if method == "openOrders.status":
        return [wire.order(o) for o in venue.open_orders(call.account, call.symbol(rt, required=False))]
    if method in ("order.place", "order.test"):
        req = parse_new_order(call, venue)
        if method == "order.test":
            return {}
        rt.limits.admit_order(call.account, now_ms)
        return order_answer(req.place(venue, call.account, sender=call.sender), req.resp_type)
    symbol = call.symbol(rt)
    assert symbol is not None
    order_id, client_id = _order_ref(call)
    if method == "order.status":
        return wire.order(venue.find(call.account, symbol, order_id, client_id, rejects.NO_SUCH_ORDER))
    cancel_id = call.text("newClientOrderId", required=False) or f"sim_ws_{now_ms}"
    return wire.canceled(venue.cancel(call.account, symbol, order_id, client_id, cancel_id), cancel_id, now_ms)
