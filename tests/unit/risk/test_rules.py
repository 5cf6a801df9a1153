"""The pure pre-trade rules: each limit at its edge, exposure-shrinking orders, per-strategy overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from nonstop.config import parse_settings
from nonstop.errors import ConfigError
from nonstop.model import ClientOrderId, InstrumentId, Order, OrderIntent, OrderType, Side
from nonstop.risk import OrderProposal, RiskContext, RiskLimits, RiskSettings, check, shrinks_exposure
from nonstop.risk.rules import OrderRate

A = InstrumentId("binance-a", "BTC/USDT")
B = InstrumentId("binance-b", "BTC/USDT")
TS = datetime(2026, 1, 1, tzinfo=UTC)
MID = Decimal("60000")


def _ctx(**kw: Any) -> RiskContext:
    base: dict[str, Any] = {"positions": {}, "open_orders": [], "in_doubt": 0, "mid": MID, "orders_last_second": 0,
                            "orders_last_minute": 0, "daily_pnl": {}}
    return RiskContext(**{**base, **kw})


def _p(side: Side = Side.BUY, qty: str = "0.001", price: str | None = "59990", iid: InstrumentId = A) -> OrderProposal:
    return OrderProposal("mm", iid, side, Decimal(qty), Decimal(price) if price else None,
                         OrderType.LIMIT if price else OrderType.MARKET)


def _resting(side: Side, price: str, seq: int = 1, strategy: str = "mm") -> Order:
    return Order.from_intent(OrderIntent(ts=TS, client_order_id=ClientOrderId.build("a1", strategy, seq),
                                         instrument_id=A, side=side, order_type=OrderType.LIMIT,
                                         quantity=Decimal("0.001"), price=Decimal(price)))


NONE = RiskLimits()


@pytest.mark.parametrize(("limits", "proposal", "ctx", "rule"), [
    (RiskLimits(max_order_qty=Decimal("0.001")), _p(qty="0.002"), _ctx(), "max_order_qty"),
    (RiskLimits(max_order_notional=Decimal("50")), _p(), _ctx(), "max_order_notional"),
    (RiskLimits(price_collar_bps=Decimal("1")), _p(price="59980"), _ctx(), "price_collar_bps"),
    (RiskLimits(price_collar_bps=Decimal("100")), _p(), _ctx(mid=None), "price_collar_bps"),
    (RiskLimits(max_open_orders=1), _p(), _ctx(open_orders=[_resting(Side.BUY, "59000")]), "max_open_orders"),
    (RiskLimits(max_orders_per_second=3), _p(), _ctx(orders_last_second=3), "max_orders_per_second"),
    (RiskLimits(max_orders_per_minute=3), _p(), _ctx(orders_last_minute=3), "max_orders_per_minute"),
    (RiskLimits(max_in_doubt=2), _p(), _ctx(in_doubt=2), "max_in_doubt"),
    (RiskLimits(daily_loss_limit=Decimal("100")), _p(), _ctx(daily_pnl={"USDT": Decimal("-100")}),
     "daily_loss_limit"),
    (RiskLimits(self_cross_guard=True), _p(price="60010"), _ctx(open_orders=[_resting(Side.SELL, "60010")]),
     "self_cross_guard"),
    (RiskLimits(self_cross_guard=True), _p(price=None), _ctx(open_orders=[_resting(Side.SELL, "61000")]),
     "self_cross_guard"),
    (RiskLimits(max_position_qty=Decimal("0.01")), _p(), _ctx(positions={str(A): Decimal("0.01")}),
     "max_position_qty"),
    (RiskLimits(max_position_notional=Decimal("600")), _p(), _ctx(positions={str(A): Decimal("0.01")}),
     "max_position_notional"),
    (RiskLimits(max_total_position_notional=Decimal("1000")), _p(),
     _ctx(positions={str(A): Decimal("0.01"), str(B): Decimal("0.007")}), "max_total_position_notional"),
])
def test_each_rule_refuses_over_its_limit(limits: RiskLimits, proposal: OrderProposal, ctx: RiskContext,
                                          rule: str) -> None:
    refusal = check(proposal, limits, ctx)
    assert refusal is not None and refusal.rule == rule
    assert rule in refusal.reason and str(refusal.limit) in refusal.reason
    assert refusal.halts == (rule == "daily_loss_limit")


def test_at_the_limit_passes() -> None:
    limits = RiskLimits(max_order_qty=Decimal("0.001"), max_open_orders=2, max_orders_per_second=3,
                        max_position_qty=Decimal("0.011"), price_collar_bps=Decimal("2"), self_cross_guard=True)
    ctx = _ctx(positions={str(A): Decimal("0.01")}, open_orders=[_resting(Side.SELL, "60010.01")],
               orders_last_second=2)
    assert check(_p(price="59990"), limits, ctx) is None
    assert check(_p(), NONE, _ctx()) is None


def test_exposure_shrinking_orders_pass_position_and_daily_loss_limits() -> None:
    limits = RiskLimits(max_position_qty=Decimal("0.001"), max_position_notional=Decimal("1"),
                        max_total_position_notional=Decimal("1"), daily_loss_limit=Decimal("10"))
    ctx = _ctx(positions={str(A): Decimal("0.05")}, daily_pnl={"USDT": Decimal("-50")})
    assert check(_p(Side.SELL, "0.05", "60010"), limits, ctx) is None  # to zero
    assert check(_p(Side.SELL, "0.06", "60010"), limits, ctx) is not None  # across zero: grows the other way
    assert check(_p(Side.BUY, "0.001"), limits, ctx) is not None
    assert shrinks_exposure(Decimal("-0.02"), _p(Side.BUY, "0.01"))
    assert not shrinks_exposure(Decimal(0), _p(Side.SELL, "0.01"))


def test_the_daily_loss_limit_holds_each_quote_currency_in_its_own_amount() -> None:
    limits = RiskLimits(daily_loss_limit=Decimal("100"), daily_loss_limits={"BTC": Decimal("0.01")})
    assert limits.daily_loss_limit_in("USDT") == Decimal("100") and limits.daily_loss_limit_in("BTC") == Decimal("0.01")
    # a BTC gain never offsets a USDT loss: each currency is held against its own limit
    refusal = check(_p(), limits, _ctx(daily_pnl={"USDT": Decimal("-100"), "BTC": Decimal("5")}))
    assert refusal is not None and refusal.limit == "100 USDT" and refusal.value == "100.00 USDT" and refusal.halts
    refusal = check(_p(), limits, _ctx(daily_pnl={"USDT": Decimal("-99.99"), "BTC": Decimal("-0.0123")}))
    assert refusal is not None and "0.01230000 BTC breaches the limit 0.01 BTC" in refusal.reason
    assert check(_p(), limits, _ctx(daily_pnl={"USDT": Decimal("-99.99"), "BTC": Decimal("-0.0099")})) is None
    settings = parse_settings({"risk": {"daily_loss_limits": {"BTC": "0.02"},
                                        "strategies": {"mm": {"daily_loss_limits": {"BTC": "0.005"}}}}})
    assert settings.risk.limits_for("mm").daily_loss_limit_in("BTC") == Decimal("0.005")
    assert settings.risk.limits_for("other").daily_loss_limit_in("BTC") == Decimal("0.02")
    assert settings.risk.limits_for("other").daily_loss_limit_in("USDT") == Decimal("500")  # the default
    with pytest.raises(ConfigError, match="daily_loss_limits"):
        parse_settings({"risk": {"daily_loss_limits": {"usdt": "5"}}})  # currencies as in the symbol


def test_our_market_orders_never_count_as_resting() -> None:
    market = Order.from_intent(OrderIntent(ts=TS, client_order_id=ClientOrderId.build("a1", "mm", 9),
                                           instrument_id=A, side=Side.BUY, order_type=OrderType.MARKET,
                                           quantity=Decimal("0.001")))
    assert check(_p(Side.SELL, price="59000"), RiskLimits(self_cross_guard=True), _ctx(open_orders=[market])) is None


def test_order_rate_windows() -> None:
    rate = OrderRate()
    for s in (0.0, 0.5, 30.0, 59.5):
        rate.add(TS + timedelta(seconds=s))
    assert rate.counts(TS + timedelta(seconds=59.9)) == (1, 4)
    assert rate.counts(TS + timedelta(seconds=60.2)) == (1, 3)
    assert rate.counts(TS + timedelta(seconds=60.6)) == (0, 2)


def test_strategy_limits_override_the_global_ones_key_by_key() -> None:
    settings = parse_settings({"risk": {"max_open_orders": 5, "strategies": {"mm": {"max_open_orders": 2}}}})
    assert settings.risk.limits_for("mm").max_open_orders == 2
    assert settings.risk.limits_for("mm").max_order_notional == RiskSettings().max_order_notional
    assert settings.risk.limits_for("other").max_open_orders == 5
    with pytest.raises(ConfigError, match="risk.max_open_orders"):
        parse_settings({"risk": {"max_open_orders": -1}})
    with pytest.raises(ConfigError, match="risk.strategies"):
        parse_settings({"risk": {"strategies": {"mm": {"enabled": False}}}})
