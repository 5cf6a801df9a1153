"""The TOML side of routing (M12): `[engine.routing]`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nonstop.routing.stranded import StrandedPolicy

__all__ = ["RoutingSettings"]


class RoutingSettings(BaseModel):
    """How orders of a strategy on `venue = "auto"` are routed, and what happens to exposure left
    on a venue that goes down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # exposure on a downed venue: "hold" (show it and alert) or "hedge" (offset it on a healthy venue,
    # unwound reduce-only when the venue is back)
    stranded: StrandedPolicy = StrandedPolicy.HOLD
    hedge_after_s: Annotated[float, Field(ge=0, le=3600)] = 5.0  # down this long before hedging
    # hedges and unwinds are IOC limit orders this far through the consensus mid
    hedge_slippage_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(50)
    # taker fee per venue in bps, for the price part of the score (default 10 = Binance spot)
    fee_bps: dict[str, Annotated[Decimal, Field(ge=0, le=1000)]] = Field(default_factory=dict)
