"""Balances: what a venue holds for us in one asset."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.errors import ModelError


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset's balance on one venue: `free` to trade, `locked` in open orders."""

    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not isinstance(self.asset, str) or not self.asset or not self.asset.isalnum():
            raise ModelError(f"balance asset {self.asset!r} must be a non-empty alphanumeric code")
        for name in ("free", "locked"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ModelError(f"balance {self.asset}: {name}={value!r} must be a finite Decimal")

    @property
    def total(self) -> Decimal:
        return self.free + self.locked
