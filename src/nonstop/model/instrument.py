"""Instruments and the order vocabulary: side, order type, time in force, liquidity.

Prices and quantities are `Decimal`, never float. Rounding follows the venue's filters
(Binance's PRICE_FILTER tick size, LOT_SIZE step size and min quantity, NOTIONAL minimum):
quantities round down (never send more than asked), prices round to the passive side
(a buy never pays more, a sell never receives less than asked).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from nonstop.errors import ModelError
from nonstop.model.identifiers import InstrumentId

# quote currencies worth about one US dollar: amounts in them are read as dollars (risk defaults are
# sized in them; they are written in cents)
USD_LIKE = frozenset({"USDT", "USDC", "FDUSD", "USD", "TUSD", "DAI", "BUSD"})


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell (position arithmetic)."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"
    UNKNOWN = "UNKNOWN"


def _multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable market with its filters; every field is a positive Decimal."""

    id: InstrumentId
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("tick_size", "step_size", "min_qty", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ModelError(f"instrument {self.id}: {name}={value!r} must be a finite Decimal >= 0")
        if self.tick_size == 0 or self.step_size == 0:
            raise ModelError(f"instrument {self.id}: tick_size and step_size must be > 0")

    def round_qty(self, qty: Decimal) -> Decimal:
        """Round a quantity down to a multiple of the step size."""
        return _multiple(qty, self.step_size, ROUND_FLOOR)

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price to the tick, towards the passive side (buy down, sell up)."""
        return _multiple(price, self.tick_size, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    def check(self, qty: Decimal, price: Decimal | None) -> list[str]:
        """Every filter `(qty, price)` breaks, as readable reasons; empty when the order is valid.

        `price` is the limit price, or a reference price for a market order (for the notional
        check); `None` skips the price checks.
        """
        problems = []
        if qty <= 0:
            problems.append(f"quantity {qty} must be > 0")
        if qty % self.step_size != 0:
            problems.append(f"quantity {qty} is not a multiple of step size {self.step_size}")
        if qty < self.min_qty:
            problems.append(f"quantity {qty} is below min quantity {self.min_qty}")
        if price is not None:
            if price <= 0:
                problems.append(f"price {price} must be > 0")
            elif price % self.tick_size != 0:
                problems.append(f"price {price} is not a multiple of tick size {self.tick_size}")
            if qty * price < self.min_notional:
                problems.append(f"notional {qty * price} is below min notional {self.min_notional}")
        return problems
