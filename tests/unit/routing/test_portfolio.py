"""Positions across venues: average cost, realized / unrealized PnL, aggregation, exact on replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nonstop.model import (
    ANY_VENUE,
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.model.testing import random_valid_events
from nonstop.routing.portfolio import Position, fold_fill, portfolio_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)
D = Decimal


class Book:
    def __init__(self) -> None:
        self.state = EngineState()
        self.seq = 0
        self.t = T0

    def trade(self, venue: str, side: Side, qty: str, price: str, fee: str = "0", fee_asset: str = "USDT") -> None:
        self.seq += 1
        self.t += timedelta(seconds=1)
        cid = ClientOrderId.build("a1", "mm", self.seq)
        events: list[Event] = [
            OrderIntent(ts=self.t, client_order_id=cid, instrument_id=InstrumentId(venue, "BTC/USDT"), side=side,
                        order_type=OrderType.LIMIT, quantity=D(qty), price=D(price)),
            OrderSubmitted(ts=self.t, client_order_id=cid),
            OrderAccepted(ts=self.t, client_order_id=cid, venue_order_id=VenueOrderId(str(self.seq))),
            OrderFilled(ts=self.t, client_order_id=cid, trade_id=TradeId(str(self.seq)), price=D(price),
                        quantity=D(qty), fee=D(fee), fee_asset=fee_asset),
        ]
        for e in events:
            self.state.apply(e)


def test_portfolio_average_cost_and_realized_pnl_per_venue() -> None:
    b = Book()
    b.trade("binance-a", Side.BUY, "1", "100")
    b.trade("binance-a", Side.BUY, "1", "110")  # avg 105
    b.trade("binance-a", Side.SELL, "1.5", "120", fee="0.5")  # realizes 1.5 * 15 - 0.5
    pos = portfolio_of(b.state).position("binance-a", "BTC/USDT")
    assert pos.quantity == D("0.5")
    assert pos.avg_cost == D(105)
    assert pos.realized == D("22.0")
    assert pos.unrealized(D(100)) == D("-2.5")
    assert pos.fills == 3


def test_portfolio_flip_through_zero_opens_the_remainder_at_the_fill_price() -> None:
    pos = Position("v", "BTC/USDT")
    pos = fold_fill(pos, Side.BUY, D(100), D(1), D(0), "USDT")
    pos = fold_fill(pos, Side.SELL, D(90), D(3), D(0), "USDT")
    assert (pos.quantity, pos.avg_cost, pos.realized) == (D(-2), D(90), D(-10))
    pos = fold_fill(pos, Side.BUY, D(80), D(2), D("0.001"), "BTC")
    assert (pos.quantity, pos.avg_cost, pos.realized, pos.fees_other) == (D(0), D(0), D(10), D("0.001"))
    assert pos.unrealized(D(1)) == 0


def test_portfolio_aggregated_nets_venues_and_equals_the_sum_of_per_venue_quantities() -> None:
    b = Book()
    b.trade("binance-a", Side.BUY, "2", "100")
    b.trade("binance-b", Side.SELL, "0.5", "101")
    b.trade("binance-b", Side.BUY, "1", "99")
    p = portfolio_of(b.state)
    per = p.by_venue("BTC/USDT")
    assert set(per) == {"binance-a", "binance-b"}
    agg = p.position(ANY_VENUE, "BTC/USDT")
    assert agg.quantity == per["binance-a"].quantity + per["binance-b"].quantity == D("2.5")
    assert agg.realized == D("0.5")  # the sell on b closed 0.5 of a's long at +1
    assert p.position("binance-c", "BTC/USDT").quantity == 0
    assert {r["venue"] for r in p.to_dict({"BTC/USDT": D(100)})["per_venue"]} == {"binance-a", "binance-b"}


def test_portfolio_rebuilt_exactly_from_a_snapshot_and_from_a_replay() -> None:
    rng = random.Random(12)
    events = random_valid_events(rng, 3000)
    live = EngineState()
    for seq, e in enumerate(events, 1):
        live.apply(e, seq=seq)
    replayed = EngineState()
    for seq, e in enumerate(events, 1):
        replayed.apply(e, seq=seq)
    loaded = EngineState.from_dict(live.to_dict())  # a snapshot holds its fills in another order
    assert live.fills, "the sample must contain fills"
    assert portfolio_of(live) == portfolio_of(replayed) == portfolio_of(loaded)
    agg = portfolio_of(live)
    for symbol, pos in agg.aggregated.items():
        assert pos.quantity == sum(p.quantity for p in agg.by_venue(symbol).values())
    for (venue, symbol), pos in agg.per_venue.items():
        assert pos.quantity == live.positions[f"{venue}:{symbol}"]
