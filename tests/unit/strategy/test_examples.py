"""Example strategies (market maker, trend follower) with their fallbacks, driven through the runner."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from nonstop.data.history import Candle
from nonstop.model import OrderState, OrderType, Side, TimeInForce
from nonstop.strategy.base import Cancel, Place
from nonstop.strategy.degradation import Level, LevelChanged
from nonstop.strategy.interface import TradingStrategy
from nonstop.strategy.market_maker import MarketMaker
from nonstop.strategy.runner import StrategyRunner
from nonstop.strategy.trend import TrendExit, TrendFollower
from tests.unit.strategy.kit import IID, T0, consensus, order, view

pytestmark = pytest.mark.timeout(20)
D = Decimal


def maker() -> MarketMaker:
    return MarketMaker("s1", IID, D("0.001"), half_spread_bps=D("10"), requote_bps=D("5"), max_position=D("0.01"))


def test_market_maker_flat_quotes_both_sides_around_consensus() -> None:
    intents = maker().on_market(consensus("60000"), view())
    assert intents == [
        Place(IID, Side.BUY, D("0.001"), D("59940.00")),
        Place(IID, Side.SELL, D("0.001"), D("60060.00")),
    ]


def test_market_maker_long_inventory_skews_quotes_down_and_stops_buying_at_max() -> None:
    mm = maker()
    half = mm.on_market(consensus("60000"), view("0.005"))
    # center 59985 = 60000 - 2.5 bps (half inventory x 5 bps skew), then +-10 bps
    assert [p.price for p in half if isinstance(p, Place)] == [D("59925.01"), D("60044.99")]
    full = mm.on_market(consensus("60000"), view("0.01"))
    assert [p.side for p in full if isinstance(p, Place)] == [Side.SELL]


def test_market_maker_requotes_a_drifted_side_and_keeps_a_close_one() -> None:
    resting = [order(1, Side.BUY, "0.001", "59940.00"), order(2, Side.SELL, "0.001", "60060.00")]
    intents = maker().on_market(consensus("60100"), view(orders=resting))
    assert intents == [Cancel(resting[0].client_order_id), Cancel(resting[1].client_order_id)]
    assert maker().on_market(consensus("60010"), view(orders=resting)) == []


def test_market_maker_untrusted_price_pulls_quotes_and_places_nothing() -> None:
    resting = [order(1, Side.BUY, "0.001", "59940.00")]
    assert maker().on_market(consensus(None), view(orders=resting)) == [Cancel(resting[0].client_order_id)]
    assert maker().on_market(consensus(None), view()) == []


def test_market_maker_fallback_is_wider_slower_and_smaller() -> None:
    fb = maker().fallback()
    assert isinstance(fb, MarketMaker) and fb.id == "s1" and fb.fallback() is None
    assert fb.half_spread_bps == D("30") and fb.requote_bps == D("25") and fb.size == D("0.0005")
    assert isinstance(fb, TradingStrategy)


def candles(closes: list[str]) -> list[Candle]:
    return [
        Candle(T0 - timedelta(minutes=len(closes) - i), D(c), D(c), D(c), D(c), D(1)) for i, c in enumerate(closes)
    ]


def trend() -> TrendFollower:
    return TrendFollower("s1", IID, D("0.01"), fast=3, slow=6, bar_s=60, slippage_bps=D("10"))


def test_trend_follower_warm_up_from_candles_then_buys_on_uptrend() -> None:
    tf = trend()
    assert tf.on_market(consensus("100"), view()) == []  # not warmed up: no signal yet
    tf = trend()
    tf.warm_up({IID: candles(["100", "101", "102", "103", "104", "105", "106"])})
    assert tf.signal.ready and tf.signal.bullish
    intents = tf.on_market(consensus("60000"), view())
    assert intents == [Place(IID, Side.BUY, D("0.01"), D("60060.00"), OrderType.LIMIT, TimeInForce.IOC)]
    assert tf.on_market(consensus("60000"), view("0.01")) == []  # at target


def test_trend_follower_downtrend_sells_long_and_never_shorts() -> None:
    tf = trend()
    tf.warm_up({IID: candles(["61000", "60900", "60800", "60700", "60600", "60500", "60400"])})
    assert not tf.signal.bullish
    assert tf.on_market(consensus("60000"), view("0")) == []
    sell = tf.on_market(consensus("60000"), view("0.01"))
    assert sell == [Place(IID, Side.SELL, D("0.01"), D("59940.00"), OrderType.LIMIT, TimeInForce.IOC)]


def test_trend_follower_untrusted_or_pending_order_sends_nothing() -> None:
    tf = trend()
    tf.warm_up({IID: candles(["100", "101", "102", "103", "104", "105", "106"])})
    assert tf.on_market(consensus(None), view()) == []
    pending = [order(1, Side.BUY, "0.01", "106", OrderState.SUBMITTING)]
    assert tf.on_market(consensus("106"), view(orders=pending)) == []


def test_trend_bars_close_on_consensus_time_and_move_the_emas() -> None:
    tf = trend()
    tf.on_market(consensus("100", at_s=0), view())
    tf.on_market(consensus("101", at_s=30), view())
    assert tf.signal.bars == 0
    tf.on_market(consensus("102", at_s=61), view())
    assert tf.signal.bars == 1 and tf.signal.last_close == D("101")


def test_trend_exit_fallback_never_opens_and_closes_long_below_slow_ema() -> None:
    tf = trend()
    tf.warm_up({IID: candles(["61000", "60900", "60800", "60700", "60600", "60500", "60400"])})
    fb = tf.fallback()
    assert isinstance(fb, TrendExit) and fb.signal is tf.signal
    assert fb.on_market(consensus("60300", at_s=0), view("0.01")) == []  # no bar closed yet
    out = fb.on_market(consensus("60300", at_s=60), view("0.01"))
    assert [(p.side, p.quantity) for p in out if isinstance(p, Place)] == [(Side.SELL, D("0.01"))]
    assert fb.on_market(consensus("60300", at_s=120), view("0")) == []  # flat: nothing to close, never opens


def change(old: Level, new: Level) -> LevelChanged:
    return LevelChanged(T0, old, new, ("test",))


def test_runner_fallback_level_switches_strategy_and_cancels_primary_orders() -> None:
    runner = StrategyRunner(maker())
    resting = [order(1, Side.BUY, "0.001", "59940.00")]
    result = runner.on_level(change(Level.REDUCED_DATA, Level.FALLBACK), view(orders=resting))
    assert result.allowed == (Cancel(resting[0].client_order_id),)
    assert isinstance(runner.active, MarketMaker) and runner.active.is_fallback
    quotes = runner.on_market(consensus("60000"), view()).allowed
    assert [p.price for p in quotes if isinstance(p, Place)] == [D("59820.00"), D("60180.00")]
    runner.on_level(change(Level.FALLBACK, Level.REDUCED_DATA), view())
    assert runner.active is runner.primary


def test_runner_reduce_only_rejects_exposure_increasing_quotes() -> None:
    runner = StrategyRunner(maker())
    runner.on_level(change(Level.FALLBACK, Level.REDUCE_ONLY), view())
    result = runner.on_market(consensus("60000"), view("0.004"))
    assert [(p.side, p.quantity) for p in result.allowed if isinstance(p, Place)] == [(Side.SELL, D("0.0005"))]
    assert [i.side for i, _ in result.rejected if isinstance(i, Place)] == [Side.BUY]
    flat = runner.on_market(consensus("60000"), view("0"))
    assert flat.allowed == () and len(flat.rejected) == 2


def test_runner_halted_cancels_everything_and_sends_nothing_else() -> None:
    runner = StrategyRunner(maker())
    resting = [order(1, Side.BUY, "0.001", "59940.00"), order(2, Side.SELL, "0.001", "60060.00")]
    result = runner.on_level(change(Level.NORMAL, Level.HALTED), view(orders=resting))
    assert set(result.allowed) == {Cancel(o.client_order_id) for o in resting}
    assert runner.on_market(consensus("60000"), view()).allowed == ()


def test_runner_ignores_other_symbols_and_rejects_fallback_with_other_id() -> None:
    runner = StrategyRunner(maker())
    assert runner.on_market(consensus("3000", symbol="ETH/USDT"), view()).allowed == ()

    class Bad(MarketMaker):
        def fallback(self) -> TradingStrategy | None:
            return MarketMaker("other", IID, D("0.001"))

    with pytest.raises(ValueError, match="same id"):
        StrategyRunner(Bad("s1", IID, D("0.001")))
