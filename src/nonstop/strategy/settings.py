"""`[engine.strategy]`: which strategy the engine runs, where, and its parameters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from nonstop.config_section import Section

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
BUILT_IN_STRATEGIES = "^(market_maker|trend|quoter)$"
IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class StrategySettings(Section):
    """The strategy the engine runs: `kind` picks it; the other keys are its parameters.

    market_maker: inventory-skewed maker on the consensus price (fallback: wider, slower, smaller);
    trend: EMA-crossover trend follower (fallback: exit-only); quoter: the first two-sided quoter;
    "package.module:Class": your own strategy, its parameters in `params` (`nonstop.strategy.loader`).
    """

    # a built-in name, or your own class by import path ("package.module:Class", see README)
    kind: Annotated[str, Field(pattern=BUILT_IN_STRATEGIES + "|" + IMPORT_PATH)] = "market_maker"
    params: dict[str, Any] = Field(default_factory=dict)  # your strategy's own parameters (its `Params` model)
    path: Path | None = None  # a folder to import your strategy from
    id: Annotated[str, Field(pattern=r"^[a-z0-9]{1,10}$")] = "mm"
    # the venue it trades on, or "auto": each order routed to the best trading venue (M12)
    venue: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = "binance-a"
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")] = "BTC/USDT"
    size: PositiveDecimal = Decimal("0.001")
    half_spread_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("1")
    requote_bps: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal("2")
    max_position: PositiveDecimal = Decimal("0.01")
    # the strategy sees at most one market update per interval (the newest; older ones are conflated)
    interval_s: Annotated[float, Field(ge=0.05, le=3600)] = 0.5
    skew_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("5")  # market_maker: mid shift at max_position
    fast: Annotated[int, Field(ge=1, le=10_000)] = 10  # trend: fast EMA period (bars)
    slow: Annotated[int, Field(ge=2, le=10_000)] = 30  # trend: slow EMA period (bars)
    bar_s: Annotated[int, Field(ge=1, le=86_400)] = 60  # trend: bar length
    slippage_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("10")  # trend: IOC limit through the mid

    @model_validator(mode="after")
    def _periods(self) -> StrategySettings:
        if ":" not in self.kind and self.params:
            raise ValueError(f"params are for a strategy given by import path; {self.kind!r} takes its keys directly")
        if self.kind == "trend" and not self.fast < self.slow:
            raise ValueError(f"trend needs fast < slow, got fast={self.fast} slow={self.slow}")
        return self


QuoterSettings = StrategySettings  # the name before strategies were selectable
