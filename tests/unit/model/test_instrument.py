"""Instrument filters and rounding."""

from decimal import Decimal

import pytest

from nonstop.errors import ModelError
from nonstop.model import Instrument, InstrumentId, Side

BTC = Instrument(InstrumentId("binance-a", "BTC/USDT"), tick_size=Decimal("0.01"), step_size=Decimal("0.00001"),
                 min_qty=Decimal("0.00001"), min_notional=Decimal("5"))


def test_instrument_round_qty_floors_to_step() -> None:
    assert BTC.round_qty(Decimal("0.123456789")) == Decimal("0.12345")
    assert BTC.round_qty(Decimal("0.000009")) == Decimal("0.00000")


def test_instrument_round_price_rounds_to_passive_side() -> None:
    assert BTC.round_price(Decimal("100.019"), Side.BUY) == Decimal("100.01")
    assert BTC.round_price(Decimal("100.011"), Side.SELL) == Decimal("100.02")
    assert BTC.round_price(Decimal("100.01"), Side.SELL) == Decimal("100.01")


def test_instrument_check_valid_order_has_no_problems() -> None:
    assert BTC.check(Decimal("0.001"), Decimal("60000.00")) == []


@pytest.mark.parametrize(
    ("qty", "price", "needle"),
    [("0.000001", "60000", "step size"), ("0.00001", "60000", "min notional"),
     ("0.001", "60000.001", "tick size"), ("0", "60000", "must be > 0"), ("0.001", "-1", "price")],
)
def test_instrument_check_reports_each_broken_filter(qty: str, price: str, needle: str) -> None:
    problems = BTC.check(Decimal(qty), Decimal(price))
    assert any(needle in p for p in problems), problems


def test_instrument_float_or_zero_tick_is_refused() -> None:
    with pytest.raises(ModelError, match="tick_size"):
        Instrument(BTC.id, tick_size=0.01, step_size=Decimal(1), min_qty=Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="must be > 0"):
        Instrument(BTC.id, tick_size=Decimal(0), step_size=Decimal(1), min_qty=Decimal(1))
