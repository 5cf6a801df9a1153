"""One-cancels-the-other order lists on the simulated venue (venue-neutral: dialects render them).

Both legs share one balance lock, as on Binance: the leg that needs more holds it, and when the
other leg triggers or trades first it expires its sibling and takes the lock over
(`SimVenue.leg_active`). Canceling either leg cancels the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.sim import rejects
from nonstop.sim.records import SimOrder
from nonstop.sim.venue import SimVenue


@dataclass(frozen=True)
class Leg:
    """One leg of an OCO: its order type, limit price, stop price, time in force and client id."""

    type: str
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    client_order_id: str


def place_oco(
    venue: SimVenue, account: str, symbol: str, side: str, quantity: Decimal, legs: tuple[Leg, Leg]
) -> tuple[int, list[SimOrder]]:
    """Place both legs as one list; raise (and leave nothing placed) when either is refused."""
    list_id = next(venue._list_ids)
    spec = venue.spec(symbol)
    need = [
        (leg.price or venue.last_price[symbol]) * quantity if side == "BUY" else quantity for leg in legs
    ]
    owner = 0 if need[0] >= need[1] else 1
    placed: dict[int, SimOrder] = {}
    venue.order_lists[list_id] = []
    try:
        for index in (owner, 1 - owner):
            leg = legs[index]
            order = venue.new_order(
                account,
                spec.symbol,
                side,
                leg.type,
                quantity=quantity,
                price=leg.price,
                time_in_force=leg.time_in_force,
                client_order_id=leg.client_order_id,
                stop_price=leg.stop_price,
                order_list_id=list_id,
                lock_owner=index == owner,
            )
            placed[index] = order
            venue.order_lists[list_id].append(order.order_id)
    except rejects.BinanceReject:
        for order in placed.values():
            if order.is_open:
                venue.cancel(account, symbol, order.order_id, None)
        venue.order_lists.pop(list_id, None)
        raise
    return list_id, [placed[0], placed[1]]


def list_status(venue: SimVenue, list_id: int) -> tuple[str, str]:
    """Binance's (listStatusType, listOrderStatus) of an order list."""
    legs = [venue.orders[i] for i in venue.order_lists.get(list_id, []) if i in venue.orders]
    if legs and any(o.is_open for o in legs):
        return "EXEC_STARTED", "EXECUTING"
    return "ALL_DONE", "ALL_DONE"
