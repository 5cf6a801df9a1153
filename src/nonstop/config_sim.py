"""`[sim]`: the simulator's venues (ports, dialect, listed symbols, mirrored source), its market
and its Binance-style rate limits.

It lives beside `config.py` rather than in the simulator's package: the configuration is on the
production path, which never imports the simulator (tests/unit/test_architecture.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from nonstop.config_section import Section

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
FeeRate = Annotated[Decimal, Field(ge=0, le=Decimal("0.05"))]  # a commission rate, at most 5 %


class SimSymbol(Section):
    """One spot market the simulator lists, with Binance-style filters."""

    base: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]
    quote: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]
    start_price: PositiveDecimal
    tick_size: PositiveDecimal
    step_size: PositiveDecimal
    min_qty: PositiveDecimal
    max_qty: PositiveDecimal = Decimal("9000")
    min_notional: PositiveDecimal = Decimal("5")
    volatility_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("5")  # per tick, unless the next is set
    volatility_1m_bps: Annotated[Decimal, Field(gt=0, le=10_000)] | None = None  # 1-minute stdev of the fair price
    spread_ticks: Annotated[int, Field(ge=1, le=10_000)] = 1  # the market maker's best bid to best ask
    book_levels: Annotated[int, Field(ge=5, le=5000)] = 1000  # price levels per side of the background book

    @property
    def symbol(self) -> str:
        return f"{self.base}{self.quote}"


def _default_symbols() -> list[SimSymbol]:
    return [
        SimSymbol(
            base="BTC",
            quote="USDT",
            start_price=Decimal("60000"),
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.00001"),
            min_qty=Decimal("0.00001"),
            volatility_1m_bps=Decimal("6"),  # BTC/USDT's typical 1-minute stdev, 0.06 %
        ),
        SimSymbol(
            base="ETH",
            quote="USDT",
            start_price=Decimal("3000"),
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            volatility_1m_bps=Decimal("8"),  # ETH/USDT's
        ),
    ]


class SimMirror(Section):
    """A real venue's public market data the simulated venue mirrors instead of its own flow (paper trading)."""

    exchange: str = "binance"
    network: Literal["live", "testnet", "sim"] = "live"
    url: str | None = None  # network "sim": the source simulator's base URL (a stand-in for the live venue)
    book_depth: Annotated[int, Field(ge=5, le=1000)] = 100


class SimVenue(Section):
    """A named simulated venue, served on one port per endpoint (0 = pick a free port)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    ports: Annotated[list[Annotated[int, Field(ge=0, le=65535)]], Field(min_length=1, max_length=8)]
    # whose wire its ports speak: Binance spot (`/api/v3`, streams) or OKX v5 (`/api/v5`, `/ws/v5/...`)
    dialect: Literal["binance", "okx"] = "binance"
    symbols: list[SimSymbol] = Field(default_factory=_default_symbols)
    mirror: SimMirror | None = None  # set: the book and trades follow this venue's public data
    # this venue's opening balances (unset: sim.starting_balances), e.g. a paper venue's
    starting_balances: dict[str, Annotated[Decimal, Field(ge=0)]] | None = None
    # commission rates as fractions (0.001 = 0.1 %); unset: Binance spot's regular 0.1 % maker and taker
    maker_fee: FeeRate | None = None
    taker_fee: FeeRate | None = None


class SimRateLimits(Section):
    """Binance's spot limits (REQUEST_WEIGHT 6000/min, ORDERS 100/10s and 200000/day)."""

    weight_per_minute: Annotated[int, Field(gt=0)] = 6000
    orders_per_10s: Annotated[int, Field(gt=0)] = 100
    orders_per_day: Annotated[int, Field(gt=0)] = 200_000
    ban_seconds: Annotated[int, Field(gt=0, le=86_400)] = 120


class SimSettings(Section):
    host: Annotated[str, Field(pattern=r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^localhost$")] = "127.0.0.1"
    control_port: Annotated[int, Field(ge=0, le=65535)] = 8900
    seed: int = 42
    tick_ms: Annotated[int, Field(ge=5, le=60_000)] = 200
    venues: Annotated[list[SimVenue], Field(min_length=1)] = Field(
        default_factory=lambda: [
            SimVenue(name="binance-a", ports=[8901, 8902, 8903]),
            SimVenue(name="binance-b", ports=[8911, 8912, 8913]),
        ]
    )
    starting_balances: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=lambda: {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("30")}
    )
    rate_limits: SimRateLimits = SimRateLimits()
    max_body_bytes: Annotated[int, Field(ge=1024, le=10_000_000)] = 65_536

    @model_validator(mode="after")
    def _unique(self) -> SimSettings:
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        ports = [p for v in self.venues for p in v.ports if p] + ([self.control_port] if self.control_port else [])
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports must be unique across venues and the control port, got {sorted(ports)}")
        return self
