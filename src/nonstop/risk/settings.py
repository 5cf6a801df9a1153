"""Pre-trade risk limits: `[risk]` (global) and `[risk.strategies.<id>]` (a strategy's own, tighter or
looser, key by key). Amounts in the instrument's quote currency; quantities in its base asset.

The daily loss limit is per quote currency: the day's PnL in each quote currency (never a sum across
two) is held against `daily_loss_limits[quote]` when the table names that currency, else against
`daily_loss_limit`, read in that currency (500 means 500 USDT for USDT-quoted trades, and 500 BTC for
BTC-quoted ones: an instance trading in BTC names its own BTC amount).

The defaults are what a cautious user would pick for a first live run of the example strategies on
BTC/USDT: a few hundred dollars per order, a few thousand per position, at most 10 orders a second
(Binance's own ORDERS limit, 100 per 10 s) and 600 a minute,
no order more than 1 % from the consensus price, a 500 quote-currency daily loss limit. The example
market maker on the simulator (0.001 BTC quotes, 0.01 BTC inventory cap) lives well within them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$")]  # as in the symbol: "USDT" of BTC/USDT


class RiskLimits(BaseModel):
    """One set of limits; None means "no limit" (in a strategy's table: "the global value")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_qty: PositiveDecimal | None = None  # base asset, per order
    max_order_notional: PositiveDecimal | None = None  # quote currency, per order (qty x price)
    max_position_qty: PositiveDecimal | None = None  # |net position| per instrument after the order
    max_position_notional: PositiveDecimal | None = None  # per instrument, at the consensus price
    max_total_position_notional: PositiveDecimal | None = None  # one base asset summed across venues
    max_open_orders: Count | None = None  # open orders of the strategy, the new one included
    max_orders_per_second: Count | None = None
    max_orders_per_minute: Count | None = None
    price_collar_bps: Annotated[Decimal, Field(gt=0, le=10_000)] | None = None  # vs the consensus mid
    daily_loss_limit: PositiveDecimal | None = None  # realized + unrealized of the UTC day; halts
    daily_loss_limits: dict[Currency, PositiveDecimal] | None = None  # per quote currency, over daily_loss_limit
    max_in_doubt: Count | None = None  # orders in doubt at which new orders pause
    self_cross_guard: bool | None = None  # never send an order that would trade against our own


    def daily_loss_limit_in(self, quote: str) -> Decimal | None:
        """The daily loss limit of the PnL in `quote`, an amount in `quote` (None: no limit)."""
        own = (self.daily_loss_limits or {}).get(quote)
        return own if own is not None else self.daily_loss_limit


class RiskSettings(RiskLimits):
    """`[risk]`: the global limits (cautious defaults) and the per-strategy overrides."""

    enabled: bool = True
    max_order_notional: PositiveDecimal | None = Decimal("1000")
    max_position_notional: PositiveDecimal | None = Decimal("5000")
    max_total_position_notional: PositiveDecimal | None = Decimal("10000")
    max_open_orders: Count | None = 20
    max_orders_per_second: Count | None = 10
    max_orders_per_minute: Count | None = 600
    price_collar_bps: Annotated[Decimal, Field(gt=0, le=10_000)] | None = Decimal("100")
    daily_loss_limit: PositiveDecimal | None = Decimal("500")
    max_in_doubt: Count | None = 3
    self_cross_guard: bool | None = True
    strategies: dict[Annotated[str, Field(pattern=r"^[a-z0-9]{1,10}$")], RiskLimits] = Field(default_factory=dict)

    def limits_for(self, strategy_id: str) -> RiskLimits:
        """The global limits with the strategy's own values laid over them."""
        base = {k: getattr(self, k) for k in RiskLimits.model_fields}
        own = self.strategies.get(strategy_id)
        if own is not None:
            base.update(own.model_dump(exclude_unset=True))
        return RiskLimits(**base)
