"""A filled order in a few lines: the intent, submit, accept and one fill per (qty, price), applied to a state.

For tests of the figures that fold fills (strategy PnL per quote currency, the daily loss, metrics,
status, the dashboard's books)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nonstop.model import (
    ClientOrderId,
    EngineState,
    InstrumentId,
    Liquidity,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def fill_order(state: EngineState, seq: int, iid: InstrumentId, side: Side, qty: str, price: str, *,
               strategy: str = "mm", fee: str = "0", fee_asset: str | None = None, ts: datetime = T0,
               instance: str = "a1") -> list[OrderFilled]:
    """Apply a limit order of `strategy` filled completely at `price` (order number `seq`); its fill events."""
    cid = ClientOrderId.build(instance, strategy, seq)
    q, p = Decimal(qty), Decimal(price)
    fill = OrderFilled(ts=ts, client_order_id=cid, trade_id=TradeId(f"{instance}-{seq}"), price=p, quantity=q,
                       fee=Decimal(fee), fee_asset=fee_asset or iid.quote, liquidity=Liquidity.MAKER)
    for event in (OrderIntent(ts=ts, client_order_id=cid, instrument_id=iid, side=side, order_type=OrderType.LIMIT,
                              quantity=q, price=p),
                  OrderSubmitted(ts=ts, client_order_id=cid),
                  OrderAccepted(ts=ts, client_order_id=cid, venue_order_id=VenueOrderId(f"v-{instance}-{seq}")),
                  fill):
        state.apply(event)
    return [fill]
