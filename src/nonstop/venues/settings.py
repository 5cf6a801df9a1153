"""The TOML side of a venue's connectivity: `ConnectivitySettings`, mapped onto `GatewayConfig`.

Every knob has Binance spot's default; `[engine.venues.connectivity]` in the config overrides them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nonstop.connectivity.breaker import BreakerConfig
from nonstop.connectivity.endpoints import PoolConfig
from nonstop.connectivity.ratelimit import LimiterConfig
from nonstop.venues.gateway import GatewayConfig

Seconds = Annotated[float, Field(gt=0, le=3600)]


class ConnectivitySettings(BaseModel):
    """Hedging, breakers, budgets, retries and probes of one venue (defaults suit Binance spot)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hedge_min_s: Seconds = 0.05
    hedge_max_s: Seconds = 1.0
    hedge_attempts: Annotated[int, Field(ge=1, le=8)] = 2
    attempt_timeout_s: Seconds = 10.0
    slow_call_s: Seconds = 5.0
    remeasure_idle_s: Seconds | None = 15.0
    endpoint_breaker_failures: Annotated[int, Field(ge=1, le=1000)] | None = 5
    endpoint_breaker_failure_rate: Annotated[float, Field(gt=0, le=1)] | None = 0.5
    endpoint_breaker_open_s: Seconds = 5.0
    endpoint_breaker_max_open_s: Seconds = 60.0
    venue_breaker_open_s: Seconds = 30.0
    venue_open_share: Annotated[float, Field(gt=0, le=1)] = 1.0
    orders_per_10s: Annotated[int, Field(ge=1)] = 100
    orders_per_day: Annotated[int, Field(ge=1)] = 200_000
    read_retry_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    read_retry_total_s: Seconds = 15.0
    cancel_retry_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    cancel_retry_total_s: Seconds = 10.0
    probe_interval_s: Seconds = 1.0
    drop_market_data: bool = True
    stream_cooldown_s: Seconds = 2.0

    def gateway_config(self, weight_per_minute: int = 6000) -> GatewayConfig:
        """The gateway configuration these settings describe, for a venue budget of
        `weight_per_minute` (set per venue: `engine.venues[].weight_per_minute`)."""
        base = GatewayConfig()
        return replace(
            base,
            pool=PoolConfig(
                hedge_min=self.hedge_min_s,
                hedge_max=self.hedge_max_s,
                hedge_attempts=self.hedge_attempts,
                attempt_timeout=self.attempt_timeout_s,
                slow_call=self.slow_call_s,
                remeasure_idle=self.remeasure_idle_s,
            ),
            endpoint_breaker=BreakerConfig(
                consecutive_failures=self.endpoint_breaker_failures,
                failure_rate=self.endpoint_breaker_failure_rate,
                open_duration=self.endpoint_breaker_open_s,
                max_open_duration=self.endpoint_breaker_max_open_s,
            ),
            venue_breaker=replace(base.venue_breaker, open_duration=self.venue_breaker_open_s),
            venue_open_share=self.venue_open_share,
            limiter=LimiterConfig(
                weight_per_minute=weight_per_minute,
                orders_per_10s=self.orders_per_10s,
                orders_per_day=self.orders_per_day,
            ),
            read_retry=replace(
                base.read_retry, max_attempts=self.read_retry_attempts, total_timeout=self.read_retry_total_s
            ),
            cancel_retry=replace(
                base.cancel_retry, max_attempts=self.cancel_retry_attempts, total_timeout=self.cancel_retry_total_s
            ),
            probe_interval=self.probe_interval_s,
            drop_market_data=self.drop_market_data,
            stream_cooldown=self.stream_cooldown_s,
        )
