"""Binance's own order parameters, built from the intent for the hot path (REST and ws-api alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nonstop.model import ClientOrderId, InstrumentId, OrderIntent, OrderType, Side, TimeInForce
from nonstop.venues.binance_order_entry import new_order_params

BTC = InstrumentId("alpha", "BTC/USDT")


def _intent(order_type: OrderType, price: Decimal | None, qty: str = "0.001", tif: TimeInForce = TimeInForce.GTC):
    return OrderIntent(ts=datetime.now(UTC), client_order_id=ClientOrderId.build("a1", "mm", 7), instrument_id=BTC,
                       side=Side.SELL, order_type=order_type, quantity=Decimal(qty), price=price, time_in_force=tif)


def test_limit_order_params_carry_price_time_in_force_and_our_client_id() -> None:
    intent = _intent(OrderType.LIMIT, Decimal("60000.10"), tif=TimeInForce.IOC)
    assert new_order_params(intent, "BTCUSDT") == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.001", "price": "60000.10",
        "timeInForce": "IOC", "newClientOrderId": intent.client_order_id.value, "newOrderRespType": "FULL",
    }


def test_market_order_sends_its_base_quantity_and_no_price() -> None:
    params = new_order_params(_intent(OrderType.MARKET, None, qty="0.5"), "BTCUSDT")
    assert params["type"] == "MARKET" and params["quantity"] == "0.5"
    assert "price" not in params and "timeInForce" not in params and "quoteOrderQty" not in params


def test_limit_maker_has_a_price_and_no_time_in_force() -> None:
    params = new_order_params(_intent(OrderType.LIMIT_MAKER, Decimal("59000")), "BTCUSDT")
    assert params["type"] == "LIMIT_MAKER" and params["price"] == "59000" and "timeInForce" not in params


def test_tiny_quantities_are_written_without_an_exponent() -> None:
    params = new_order_params(_intent(OrderType.LIMIT, Decimal("1E+5"), qty="1E-7"), "BTCUSDT")
    assert params["quantity"] == "0.0000001" and params["price"] == "100000"

