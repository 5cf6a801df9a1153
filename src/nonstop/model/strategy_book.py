"""Per-strategy PnL and exposure from fills, by the average-cost method (for metrics, not accounting).

One `Position` per (strategy, instrument): the signed quantity and its average entry price. A fill
that adds to the position (or opens it) moves the average; a fill that reduces it realizes
`closed qty x (price - average)` (sign-adjusted for shorts) and leaves the average unchanged; a fill
that crosses zero closes the old side and opens the rest at the fill price.

Fees are costs: a fee in the quote currency counts as it is, a fee in the base asset at the fill
price; a fee in any other asset (e.g. BNB) is not counted (it has no price here) and is tallied in
`unpriced_fees`. Amounts are in the instrument's quote currency; a `StrategyBook` adds up only the
instruments quoted in its strategy's quote currency (the first one it sees), which every built-in
strategy satisfies (one symbol each).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from nonstop.model.identifiers import InstrumentId
from nonstop.model.instrument import Side

ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    """One strategy's position in one instrument."""

    qty: Decimal = ZERO  # signed: > 0 long, < 0 short
    avg_price: Decimal = ZERO  # average entry price of `qty` (0 when flat)
    realized: Decimal = ZERO  # closed PnL, before fees
    fees: Decimal = ZERO  # fees paid, in the quote currency
    unpriced_fees: int = 0  # fees in an asset that is neither base nor quote
    last_price: Decimal | None = None

    def apply(self, side: Side, qty: Decimal, price: Decimal) -> None:
        """Fold one execution in (average-cost method)."""
        signed = qty if side is Side.BUY else -qty
        self.last_price = price
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = abs(self.qty) + qty
            self.avg_price = (abs(self.qty) * self.avg_price + qty * price) / total
            self.qty += signed
            return
        closed = min(qty, abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized += closed * (price - self.avg_price) * direction
        self.qty -= direction * closed
        rest = qty - closed
        if rest > 0:  # crossed zero: the rest opens the other side at this price
            self.qty = rest if side is Side.BUY else -rest
            self.avg_price = price
        elif self.qty == 0:
            self.avg_price = ZERO

    def fee(self, amount: Decimal, asset: str, instrument: InstrumentId, price: Decimal) -> None:
        if asset == instrument.quote:
            self.fees += amount
        elif asset == instrument.base:
            self.fees += amount * price
        elif amount:
            self.unpriced_fees += 1

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.qty * (mark - self.avg_price)


@dataclass(slots=True)
class StrategyFigures:
    pnl: Decimal  # realized - fees + unrealized at the marks
    exposure: Decimal  # gross: sum of |qty| x mark


@dataclass(slots=True)
class StrategyBook:
    """Every position of one strategy."""

    quote: str | None = None
    positions: dict[InstrumentId, Position] = field(default_factory=dict)
    other_quote: set[str] = field(default_factory=set)  # instruments left out (another quote currency)

    def fill(self, instrument: InstrumentId, side: Side, qty: Decimal, price: Decimal, fee: Decimal,
             fee_asset: str) -> None:
        if self.quote is None:
            self.quote = instrument.quote
        if instrument.quote != self.quote:
            self.other_quote.add(str(instrument))
            return
        pos = self.positions.setdefault(instrument, Position())
        pos.apply(side, qty, price)
        pos.fee(fee, fee_asset, instrument, price)

    def figures(self, mark: Callable[[InstrumentId], Decimal | None]) -> StrategyFigures:
        """PnL and gross exposure, positions marked by `mark(instrument)` (else their last fill price)."""
        pnl = exposure = ZERO
        for iid, pos in self.positions.items():
            pnl += pos.realized - pos.fees
            price = mark(iid) or pos.last_price
            if pos.qty == 0 or price is None:
                continue
            pnl += pos.unrealized(price)
            exposure += abs(pos.qty) * price
        return StrategyFigures(pnl, exposure)
