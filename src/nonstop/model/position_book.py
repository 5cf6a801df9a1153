"""One position's average-cost book (`Position`, `fold_fill`): the arithmetic of the portfolio
(`nonstop.routing.portfolio`), kept in the model because the state carries the books of its archived
fills (`nonstop.model.carried`). See the portfolio module for the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.model.instrument import Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Position:
    """One instrument's position: on one venue, or on all of them (`venue == ANY_VENUE`)."""

    venue: str
    symbol: str
    quantity: Decimal = ZERO  # signed base quantity: > 0 long, < 0 short
    avg_cost: Decimal = ZERO  # average entry price of the open quantity (0 when flat)
    realized: Decimal = ZERO  # in the quote asset, after quote-asset fees
    fees_other: Decimal = ZERO  # fees paid in other assets (base or a fee token), not in `realized`
    fills: int = 0

    def unrealized(self, mark: Decimal | None) -> Decimal:
        """Open PnL at `mark` (in the quote asset); 0 when flat or without a mark."""
        if mark is None or self.quantity == 0:
            return ZERO
        return (mark - self.avg_cost) * self.quantity

    def to_dict(self, mark: Decimal | None = None) -> dict[str, str | int | None]:
        return {
            "venue": self.venue, "symbol": self.symbol, "quantity": str(self.quantity),
            "avg_cost": str(self.avg_cost), "realized": str(self.realized),
            "unrealized": str(self.unrealized(mark)), "mark": None if mark is None else str(mark),
            "fees_other": str(self.fees_other), "fills": self.fills,
        }


def fold_fill(pos: Position, side: Side, price: Decimal, quantity: Decimal, fee: Decimal, fee_asset: str) -> Position:
    """`pos` after one execution (average-cost accounting, see the module docstring)."""
    signed = side.sign * quantity
    q, avg, realized = pos.quantity, pos.avg_cost, pos.realized
    if q == 0 or (q > 0) == (signed > 0):  # opening or adding
        new_q = q + signed
        avg = (abs(q) * avg + quantity * price) / abs(new_q)
    else:  # reducing, closing, maybe flipping
        closed = min(abs(q), quantity)
        realized += (price - avg) * closed * (1 if q > 0 else -1)
        new_q = q + signed
        if new_q == 0:
            avg = ZERO
        elif (new_q > 0) != (q > 0):  # flipped: the remainder opened at this price
            avg = price
    quote = pos.symbol.split("/")[1].split(":")[0]
    fees_other = pos.fees_other
    if fee_asset == quote:
        realized -= fee
    else:
        fees_other += fee
    # the constructor, not dataclasses.replace (5x slower; replay folds every archived fill through here)
    return Position(pos.venue, pos.symbol, new_q, avg, realized, fees_other, pos.fills + 1)
