"""Per-strategy PnL and exposure from fills, by the average-cost method (for metrics, not accounting).

One `Position` per (strategy, instrument): the signed quantity and its average entry price. A fill
that adds to the position (or opens it) moves the average; a fill that reduces it realizes
`closed qty x (price - average)` (sign-adjusted for shorts) and leaves the average unchanged; a fill
that crosses zero closes the old side and opens the rest at the fill price.

Fees are costs: a fee in the quote currency counts as it is, a fee in the base asset at the fill
price; a fee in any other asset (e.g. BNB) is not counted (it has no price here) and is tallied in
`unpriced_fees`.

Amounts are in the instrument's quote currency, and amounts in two currencies are never added up:
a `StrategyBook` holds one strategy's positions in the instruments of ONE quote currency, and
`StrategyBooks` keeps a book per (strategy, quote currency). A strategy trading ETH/USDT and ETH/BTC
has two books, a USDT one and a BTC one, and every reader shows (or limits) each in its own currency.
No book depends on which fill came first, so folding the fills in any split (the archived fills'
books, then the live fills) gives the same books as one fold of every fill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from nonstop.errors import ModelError
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
    """One strategy's positions in the instruments quoted in `quote` (its amounts are in `quote`)."""

    quote: str
    positions: dict[InstrumentId, Position] = field(default_factory=dict)

    def fill(self, instrument: InstrumentId, side: Side, qty: Decimal, price: Decimal, fee: Decimal,
             fee_asset: str) -> None:
        if instrument.quote != self.quote:
            raise ModelError(f"a fill of {instrument} (quoted in {instrument.quote}) cannot enter the "
                             f"{self.quote} book of a strategy")
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

    def copy(self) -> StrategyBook:
        """An independent copy (positions are mutable)."""
        return StrategyBook(self.quote, {i: Position(p.qty, p.avg_price, p.realized, p.fees, p.unpriced_fees,
                                                     p.last_price) for i, p in self.positions.items()})


BookKey = tuple[str, str]  # (strategy id, quote currency)


@dataclass(slots=True)
class StrategyBooks:
    """A book per (strategy, quote currency): the fills of each strategy, split by quote currency."""

    books: dict[BookKey, StrategyBook] = field(default_factory=dict)

    def fill(self, strategy: str, instrument: InstrumentId, side: Side, qty: Decimal, price: Decimal,
             fee: Decimal, fee_asset: str) -> None:
        """Fold one execution of `strategy` into its book for the instrument's quote currency."""
        self.book(strategy, instrument.quote).fill(instrument, side, qty, price, fee, fee_asset)

    def book(self, strategy: str, quote: str) -> StrategyBook:
        """The book of `strategy` in `quote` (opened empty if it has none yet)."""
        key = (strategy, quote)
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = StrategyBook(quote)
        return book

    def items(self) -> list[tuple[BookKey, StrategyBook]]:
        """Every book, sorted by (strategy, quote)."""
        return sorted(self.books.items())

    def by_quote(self, mark: Callable[[InstrumentId], Decimal | None]) -> dict[str, Decimal]:
        """The PnL of every strategy added up per quote currency (never across two)."""
        out: dict[str, Decimal] = {}
        for (_, quote), book in self.books.items():
            out[quote] = out.get(quote, ZERO) + book.figures(mark).pnl
        return out

    def update(self, other: StrategyBooks) -> None:
        """Take `other`'s books (the archived fills' books a reader starts from), in place of any of the same key."""
        self.books.update(other.books)

    def copy(self) -> StrategyBooks:
        return StrategyBooks({k: b.copy() for k, b in self.books.items()})
