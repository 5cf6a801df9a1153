"""Connectivity settings from the TOML config map onto the gateway's configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nonstop.venues.gateway import GatewayConfig
from nonstop.venues.settings import ConnectivitySettings


def test_defaults_are_exactly_the_gateway_defaults() -> None:
    assert ConnectivitySettings().gateway_config() == GatewayConfig()


def test_overrides_reach_pool_breakers_limiter_and_retries() -> None:
    cfg = ConnectivitySettings(hedge_max_s=0.3, endpoint_breaker_failures=2, venue_breaker_open_s=7,
                               orders_per_10s=50, read_retry_attempts=5, drop_market_data=False).gateway_config(1200)
    assert cfg.pool.hedge_max == 0.3 and cfg.endpoint_breaker.consecutive_failures == 2
    assert cfg.venue_breaker.open_duration == 7 and cfg.limiter.orders_per_10s == 50
    assert cfg.limiter.weight_per_minute == 1200
    assert cfg.read_retry.max_attempts == 5 and cfg.drop_market_data is False


def test_bad_values_name_the_field() -> None:
    with pytest.raises(ValidationError, match="venue_open_share"):
        ConnectivitySettings(venue_open_share=2)
    with pytest.raises(ValidationError, match="nonsense"):
        ConnectivitySettings(nonsense=1)  # type: ignore[call-arg]
