"""Builders for strategy tests: an engine state with positions and open orders, and consensus quotes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nonstop.data.consensus import ConsensusQuote
from nonstop.model import (
    ClientOrderId,
    EngineState,
    Instrument,
    InstrumentId,
    Order,
    OrderState,
    OrderType,
    Side,
    TimeInForce,
)
from nonstop.strategy.base import StrategyView

IID = InstrumentId("alpha", "BTC/USDT")
INSTRUMENT = Instrument(IID, Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def view(position: str = "0", orders: list[Order] | None = None, strategy: str = "s1") -> StrategyView:
    state = EngineState()
    state.positions[str(IID)] = Decimal(position)
    for o in orders or []:
        state.orders[o.client_order_id.value] = o
    return StrategyView(strategy, state, {IID: INSTRUMENT})


def order(seq: int, side: Side, qty: str, price: str | None, state: OrderState = OrderState.ACCEPTED) -> Order:
    return Order(
        ClientOrderId.build("a1", "s1", seq),
        IID,
        side,
        OrderType.LIMIT,
        Decimal(qty),
        Decimal(price) if price else None,
        TimeInForce.GTC,
        state=state,
    )


def consensus(mid: str | None, at_s: float = 0.0, symbol: str = "BTC/USDT") -> ConsensusQuote:
    ts = T0 + timedelta(seconds=at_s)
    if mid is None:
        return ConsensusQuote(symbol, ts, None, None, None, (), (), "0 good source(s), 2 needed")
    m = Decimal(mid)
    return ConsensusQuote(symbol, ts, m, m - Decimal("0.5"), m + Decimal("0.5"), ("a", "b"), ())
