"""The day's PnL per quote currency: a strategy trading ETH/USDT and ETH/BTC has a USDT figure and a BTC
figure whatever fill came first, and the daily loss limit holds each against its own amount."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nonstop.clock import ManualClock
from nonstop.model import EngineState, InstrumentId, Side
from nonstop.risk import RiskSettings
from nonstop.risk.daily_loss import DailyPnl
from nonstop.risk.gate import PreTradeRisk
from tests.fillkit import T0, fill_order

ETH_USDT = InstrumentId("alpha", "ETH/USDT")
ETH_BTC = InstrumentId("alpha", "ETH/BTC")


def _day() -> EngineState:
    """A BTC-quoted buy first (it used to make BTC the strategy's only quote), then a USDT round trip losing 60."""
    state = EngineState()
    fill_order(state, 1, ETH_BTC, Side.BUY, "2", "0.05")
    fill_order(state, 2, ETH_USDT, Side.BUY, "1", "3000", ts=T0 + timedelta(minutes=1))
    fill_order(state, 3, ETH_USDT, Side.SELL, "1", "2940", ts=T0 + timedelta(minutes=2))
    return state


def test_the_day_s_pnl_is_per_quote_currency_whatever_fill_came_first() -> None:
    now = T0 + timedelta(minutes=3)
    daily = DailyPnl(_day(), now)
    marks = {"ETH/BTC": Decimal("0.06")}
    assert daily.pnl(now, lambda i: marks.get(i.symbol)) == {"BTC": Decimal("0.02"), "USDT": Decimal("-60")}
    assert daily.pnl(now + timedelta(days=1), lambda i: None) == {}  # a new UTC day starts from nothing


def test_a_usdt_loss_halts_though_the_btc_side_gains_and_the_tightest_limit_of_a_quote_applies() -> None:
    clock = ManualClock(T0 + timedelta(minutes=3))
    marks: dict[str, Decimal] = {"ETH/BTC": Decimal("0.06")}
    state = _day()
    gate = PreTradeRisk(RiskSettings(daily_loss_limit=Decimal("50")), state, clock, marks.get, instance="a1")
    breach = gate.daily_breach()  # USDT -60 past 50 USDT; the BTC gain never offsets it
    assert breach is not None and breach.halts and (breach.limit, breach.value) == ("50 USDT", "60.00 USDT")
    assert PreTradeRisk(RiskSettings(daily_loss_limit=Decimal("100")), state, clock, marks.get,
                        instance="a1").daily_breach() is None
    marks["ETH/BTC"] = Decimal("0.04")  # BTC side now -0.02
    settings = RiskSettings.model_validate({"daily_loss_limit": "100", "daily_loss_limits": {"BTC": "0.05"},
                                            "strategies": {"mm": {"daily_loss_limits": {"BTC": "0.01"}}}})
    breach = PreTradeRisk(settings, state, clock, marks.get, instance="a1").daily_breach()
    assert breach is not None and (breach.limit, breach.value) == ("0.01 BTC", "0.02000000 BTC")
