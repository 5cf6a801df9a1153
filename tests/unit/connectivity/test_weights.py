"""WeightTable: Binance weights derived from ccxt's cost table."""

from __future__ import annotations

import pytest

from nonstop.connectivity import WeightTable
from nonstop.errors import ConfigError


@pytest.fixture(scope="module")
def table() -> WeightTable:
    return WeightTable.from_ccxt_binance()


# Binance's documented spot weights.
@pytest.mark.parametrize(("method", "path", "limit", "has_symbol", "weight"), [
    ("POST", "/api/v3/order", None, True, 1),
    ("DELETE", "/api/v3/order", None, True, 1),
    ("GET", "/api/v3/order", None, True, 4),
    ("GET", "/api/v3/account", None, True, 20),
    ("GET", "/api/v3/myTrades", None, True, 20),
    ("GET", "/api/v3/openOrders", None, True, 6),
    ("GET", "/api/v3/openOrders", None, False, 80),
    ("GET", "/api/v3/exchangeInfo", None, True, 20),
    ("GET", "/api/v3/ticker/24hr", None, True, 2),
    ("GET", "/api/v3/ticker/24hr", None, False, 80),
    ("GET", "/api/v3/depth", None, True, 5),
    ("GET", "/api/v3/depth", 100, True, 5),
    ("GET", "/api/v3/depth", 500, True, 25),
    ("GET", "/api/v3/depth", 1000, True, 50),
    ("GET", "/api/v3/depth", 5000, True, 250),
    ("GET", "/api/v3/klines", None, True, 2),
    ("GET", "/api/v3/time", None, True, 1),
    ("get", "depth?symbol=BTCUSDT&limit=500", 500, True, 25),
])
def test_weight_table_spot_endpoint_has_binance_weight(
    table: WeightTable, method: str, path: str, limit: int | None, has_symbol: bool, weight: int
) -> None:
    assert table.weight(method, path, limit=limit, has_symbol=has_symbol) == weight


def test_weight_table_unknown_path_gets_conservative_default(table: WeightTable) -> None:
    assert ("GET", "/api/v3/nope") not in table
    assert table.weight("GET", "/api/v3/nope") == table.default_weight == 20


def test_weight_table_override_wins() -> None:
    t = WeightTable.from_ccxt_binance(overrides={("GET", "/api/v3/account"): 7})
    assert t.weight("GET", "account") == 7


def test_weight_table_negative_override_is_config_error() -> None:
    with pytest.raises(ConfigError):
        WeightTable.from_ccxt_api({}, rate_limit_ms=50, weight_per_minute=6000, overrides={("GET", "x"): -1})
