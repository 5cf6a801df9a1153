"""Shared journal builders: one order's lifecycle as the events the engine journals for it
(tests and the journal benchmarks build their journals from it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from nonstop.model import (
    ClientOrderId,
    Event,
    InstrumentId,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)


def order_lifecycle(
    cid: ClientOrderId,
    instrument: InstrumentId,
    ts: datetime,
    *,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    venue_order_id: str,
    trade_id: str | None,
    fee: Decimal,
    cancel: bool = True,
) -> list[Event]:
    """A limit order placed, submitted and accepted; then filled in full (`trade_id` given), or
    canceled unfilled (`cancel`), or left open."""
    events: list[Event] = [
        OrderIntent(ts=ts, client_order_id=cid, instrument_id=instrument, side=side, order_type=OrderType.LIMIT,
                    quantity=quantity, price=price),
        OrderSubmitted(ts=ts, client_order_id=cid),
        OrderAccepted(ts=ts, client_order_id=cid, venue_order_id=VenueOrderId(venue_order_id)),
    ]
    if trade_id is not None:
        events.append(OrderFilled(ts=ts, client_order_id=cid, trade_id=TradeId(trade_id), price=price,
                                  quantity=quantity, fee=fee, fee_asset=instrument.quote, liquidity=Liquidity.MAKER))
    elif cancel:
        events += [OrderCancelRequested(ts=ts, client_order_id=cid), OrderCanceled(ts=ts, client_order_id=cid)]
    return events
