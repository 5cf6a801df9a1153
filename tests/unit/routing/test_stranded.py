"""Stranded exposure: shown per downed venue; the hedge policy offsets it once, and unwinds it when
the venue is back."""

from __future__ import annotations

from decimal import Decimal

from nonstop.model import (
    ClientOrderId,
    InstrumentId,
    OrderAccepted,
    OrderExpired,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.routing.portfolio import portfolio_of
from nonstop.routing.stranded import HedgePlanner, stranded
from tests.unit.routing.test_portfolio import T0, Book

D = Decimal
STEPS = {"BTC/USDT": D("0.001")}


def fill(b: Book, cid: str, qty: str, price: str = "100") -> None:
    b.seq += 1
    c = ClientOrderId(cid)
    b.state.apply(OrderAccepted(ts=T0, client_order_id=c, venue_order_id=VenueOrderId(f"h{b.seq}")))
    b.state.apply(OrderFilled(ts=b.t, client_order_id=c, trade_id=TradeId(f"h{b.seq}"), price=D(price),
                              quantity=D(qty), fee=D(0), fee_asset="USDT"))


def intent(b: Book, venue: str, side: Side, qty: str) -> str:
    b.seq += 1
    cid = ClientOrderId.build("a1", "mm", b.seq)
    b.state.apply(OrderIntent(ts=T0, client_order_id=cid, instrument_id=InstrumentId(venue, "BTC/USDT"), side=side,
                              order_type=OrderType.LIMIT, quantity=D(qty), price=D(100)))
    b.state.apply(OrderSubmitted(ts=T0, client_order_id=cid))
    return cid.value


def test_stranded_lists_only_positions_on_downed_venues() -> None:
    b = Book()
    b.trade("binance-a", Side.BUY, "0.5", "100")
    b.trade("binance-b", Side.BUY, "0.2", "100")
    out = stranded(portfolio_of(b.state), {"binance-a": "venue breaker open"})
    assert [(s.venue, s.quantity) for s in out] == [("binance-a", D("0.5"))]


def test_hedge_planner_waits_hedges_once_then_unwinds_reduce_only_when_back() -> None:
    b = Book()
    b.trade("binance-a", Side.BUY, "0.5", "100")
    planner = HedgePlanner(hedge_after_s=2.0)
    down = {"binance-a": "maintenance"}
    assert planner.plan(b.state, portfolio_of(b.state), down, 0.0, STEPS) == []  # not yet down long enough
    [order] = planner.plan(b.state, portfolio_of(b.state), down, 2.5, STEPS)
    assert (order.side, order.quantity, order.venue, order.reduce_only) == (Side.SELL, D("0.5"), None, False)
    cid = intent(b, "binance-b", Side.SELL, "0.5")
    planner.placed(order, cid, "binance-b")
    assert planner.plan(b.state, portfolio_of(b.state), down, 3.0, STEPS) == []  # the hedge is open: wait
    fill(b, cid, "0.3")  # partly filled, then the IOC remainder expires
    b.state.apply(OrderExpired(ts=T0, client_order_id=ClientOrderId(cid)))
    [top_up] = planner.plan(b.state, portfolio_of(b.state), down, 3.5, STEPS)
    assert (top_up.side, top_up.quantity) == (Side.SELL, D("0.2"))
    cid2 = intent(b, "binance-b", Side.SELL, "0.2")
    planner.placed(top_up, cid2, "binance-b")
    fill(b, cid2, "0.2")
    assert planner.net(b.state, "binance-a", "BTC/USDT") == {"binance-b": D("-0.5")}
    assert portfolio_of(b.state).aggregated["BTC/USDT"].quantity == 0  # hedged
    assert planner.plan(b.state, portfolio_of(b.state), down, 4.0, STEPS) == []
    # the venue is back: unwind on binance-b, reduce-only
    [unwind] = planner.plan(b.state, portfolio_of(b.state), {}, 5.0, STEPS)
    assert (unwind.side, unwind.quantity, unwind.venue, unwind.reduce_only) == (Side.BUY, D("0.5"), "binance-b", True)
    cid3 = intent(b, "binance-b", Side.BUY, "0.5")
    planner.placed(unwind, cid3, "binance-b")
    fill(b, cid3, "0.5")
    assert planner.plan(b.state, portfolio_of(b.state), {}, 6.0, STEPS) == []
    assert planner.net(b.state, "binance-a", "BTC/USDT") == {}  # done: forgotten
