"""The TOML side of a venue: `EngineVenue` (exchange, network, endpoints, keys) and its
connectivity (`ConnectivitySettings`, mapped onto `GatewayConfig`).

Every connectivity knob has Binance spot's default; `[engine.venues.connectivity]` overrides them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nonstop.connectivity.breaker import BreakerConfig
from nonstop.connectivity.endpoints import PoolConfig
from nonstop.connectivity.ratelimit import LimiterConfig
from nonstop.venues.gateway import GatewayConfig
from nonstop.venues.profile import is_loopback

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


class PaperSettings(BaseModel):
    """`network = "paper"`: whose public market data the paper venue mirrors, and the paper account.

    The paper venue is the engine's embedded simulator (loopback), its book and trades following the
    source venue's public data; the source is read with no keys, so no order, no signed request and
    no key ever reaches it. `source = "sim"` (with `source_url`, a loopback simulator) stands in for
    the live venue in tests and demos.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["live", "testnet", "sim"] = "live"
    source_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(:[0-9]+)?$")] | None = None
    # the paper account's balances at its first start (then kept under <data_dir>/paper across restarts)
    balances: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=lambda: {"USDT": Decimal("10000"), "BTC": Decimal("0.1")}
    )
    # the markets listed (ccxt symbols, filters read from the source); empty: the strategy's symbol
    symbols: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")]] = Field(default_factory=list)
    book_depth: Annotated[int, Field(ge=5, le=1000)] = 100  # mirrored levels per side
    # the paper account's commission rates (0.001 = 0.1 %); unset: the source venue's, from ccxt's
    # market data for the first listed symbol (its fee schedule: the regular tier, no discounts)
    maker_fee: Annotated[Decimal, Field(ge=0, le=Decimal("0.05"))] | None = None
    taker_fee: Annotated[Decimal, Field(ge=0, le=Decimal("0.05"))] | None = None

    @model_validator(mode="after")
    def _source(self) -> PaperSettings:
        if self.source == "sim" and (self.source_url is None or not _loopback_url(self.source_url)):
            raise ValueError(f"paper.source = \"sim\" needs source_url at a loopback host, got {self.source_url!r}")
        if self.source != "sim" and self.source_url is not None:
            raise ValueError(f"paper.source_url is for source = \"sim\" only; the {self.source} venue's "
                             "public endpoints come from its profile")
        return self


DEMO_CREDENTIALS = ("sim-demo-key", "sim-demo-secret")  # simulator-only, documented in the README
DEMO_ENV = "NONSTOP_SIM"  # the credentials prefix that falls back to the demo key pair
DEMO_PASSPHRASE = "sim-demo-passphrase"  # the demo pair's OKX passphrase (simulator-only)


class EngineVenue(BaseModel):
    """A venue the engine trades on (or reads market data from).

    `exchange` and `network` pick its profile (`nonstop.venues.profile`): every URL comes from ccxt's
    own exchange class. `endpoints` names the venue's alternative hosts (empty: the profile's usual
    set); `urls` instead points ccxt's URL set at other hosts: a standalone simulator for the `sim` network,
    an https proxy or a test server otherwise. `credentials_env` is the prefix of the environment
    variables holding its API key pair (`<PREFIX>_API_KEY/_API_SECRET`); `ca_file` adds a CA to trust
    (a private proxy) instead of the public ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    exchange: Literal["binance", "okx"] = "binance"
    network: Literal["live", "testnet", "sim", "paper"] = "sim"
    endpoints: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{1,20}$")]] = Field(default_factory=list)
    urls: list[Annotated[str, Field(pattern=r"^https?://[^\s/]+(:[0-9]+)?$")]] = Field(default_factory=list)
    ca_file: Path | None = None
    credentials_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,40}$")] = DEMO_ENV
    # the venue's REQUEST_WEIGHT budget per minute for this account/IP (Binance spot: 6000); the
    # rate limiter and the degradation ladder's rate-limit share are measured against it
    weight_per_minute: Annotated[int, Field(ge=10, le=1_000_000)] = 6000
    # hedging, breakers, order budgets, retries, probes: defaults suit Binance spot
    connectivity: ConnectivitySettings = ConnectivitySettings()
    # how orders, cancels and order lookups travel: "ws" = Binance's WebSocket API session while it
    # is up (REST while it is not), "rest" = REST only (the default; see the README's Speed section)
    order_entry: Literal["rest", "ws"] = "rest"
    # network = "paper": the mirrored source and the paper account (defaults: Binance live, 10000 USDT)
    paper: PaperSettings | None = None

    @model_validator(mode="after")
    def _profile_keys(self) -> EngineVenue:
        where = f"engine venue {self.name!r}"
        if self.endpoints and self.urls:
            raise ValueError(f"{where}: give either endpoints (the venue's own hosts) or urls, not both")
        if self.network == "sim" and self.endpoints:
            raise ValueError(
                f"{where}: network = \"sim\" has no named endpoints; give urls or use the embedded simulator"
            )
        if self.order_entry == "ws" and self.exchange != "binance":
            raise ValueError(f"{where}: order_entry = \"ws\" is built for Binance's WebSocket API only")
        if self.is_paper:
            self._paper_rules(where)
        elif self.paper is not None:
            raise ValueError(f"{where}: a [paper] table belongs to network = \"paper\", not {self.network!r}")
        if self.network != "sim" and any(u.startswith("http://") for u in self.urls):
            raise ValueError(f"{where}: network = {self.network!r} needs https urls, got {self.urls}")
        if self.is_sim and self.credentials_env == DEMO_ENV and not all(_loopback_url(u) for u in self.urls):
            raise ValueError(
                f"{where}: credentials_env = {DEMO_ENV!r} (the simulator's demo key pair) may only be sent to "
                f"loopback hosts, but urls = {self.urls}; set credentials_env to your own key prefix"
            )
        return self

    def _paper_rules(self, where: str) -> None:
        """A paper venue is only ever the engine's embedded simulator: no hosts, no keys of yours."""
        if self.urls or self.endpoints:
            raise ValueError(f"{where}: network = \"paper\" trades on the engine's embedded simulator; remove "
                             f"urls/endpoints (the mirrored venue is paper.source)")
        if self.credentials_env != DEMO_ENV:
            raise ValueError(f"{where}: network = \"paper\" never uses your keys (nothing is sent to the real "
                             f"venue's private endpoints); remove credentials_env = {self.credentials_env!r}")

    @property
    def is_sim(self) -> bool:
        """Served by our simulator (loopback, the demo key pair): `sim`, and `paper` (the embedded one)."""
        return self.network in ("sim", "paper")

    @property
    def is_paper(self) -> bool:
        return self.network == "paper"

    @property
    def market(self) -> str:
        """Which market its prices come from: `simulated`, `paper` (mirrored real data) or `real`."""
        return {"sim": "simulated", "paper": "paper"}.get(self.network, "real")

    @property
    def paper_settings(self) -> PaperSettings:
        return self.paper or PaperSettings()


def _loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")
