"""What the state carries for its archived fills (`Carried`): the books every fill figure starts from.

When `OrdersArchived` takes filled orders out of the live state, their fills leave `EngineState.fills`
too; every figure that folds the fill history (the portfolio, per-strategy PnL, the daily loss
limit, the last fill price per instrument, the dashboard's books) then starts from the books those
fills built, carried here, and folds the live fills on top. The retention rule (execution/archive.py)
archives only a prefix of the fill history in execution time: every archived fill is strictly older
than every fill left in the state, so "carried books, then the live fills in time order" is the
same fold as "every fill in time order", and the figures are the same, to the last digit, as those
of a state that archived nothing (tested with random fill sequences).

What is carried (all folded in execution time, then fill key, as the portfolio orders fills):

- `per_venue` / `aggregated`: the portfolio's books (`position_book.Position`) per (venue, symbol)
  and per symbol across venues;
- `strategies`: the strategy books (`StrategyBooks`: one per (strategy, quote currency); the PnL of
  `nonstop status`, metrics, dashboard);
- `day` / `day_strategies`: the strategy books of the archived fills of the newest UTC day they
  reach (the daily loss limit starts from them on that day; a day's book starts empty otherwise);
- `last_fill`: per instrument, the time and price of its newest archived fill (status marks open
  positions at the last fill price; reconciliation looks for missed fills from there);
- `fills`: how many fills were archived.

The books are written with `str(Decimal)` and read back exactly, so a snapshot carries them unchanged.

Format. The carried section has its own format number (`"format"`; the state's schema version stays 1,
so states that archived nothing keep their bytes and hash). Format 2 (now) writes the strategy books
per (strategy, quote currency): `"strategy_books": {strategy: {quote: positions}}`. Format 1 (no
`"format"` key; snapshots written before per-quote books) held ONE book per strategy, in the quote
currency of the first fill it saw, and left the fills of any other quote out (`"other_quote"`). Such a
section loads when no book left anything out (each book is then exactly the per-quote book of its
quote); one that did lost those fills, so it is refused with a `ModelError` saying so, and the journal
skips the snapshot (logged) and rebuilds the state by replaying its records, which it still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from nonstop.errors import ModelError
from nonstop.model.codec import decode_datetime, decode_decimal, encode_datetime, parse_instrument
from nonstop.model.events import OrderFilled
from nonstop.model.identifiers import ANY_VENUE, InstrumentId
from nonstop.model.order import Order
from nonstop.model.position_book import Position, fold_fill
from nonstop.model.strategy_book import Position as StrategyPosition
from nonstop.model.strategy_book import StrategyBook, StrategyBooks

CARRIED_FORMAT = 2  # 2: strategy books per (strategy, quote currency); 1 (no "format" key): one per strategy


def _positions_to_dict(book: StrategyBook) -> dict[str, Any]:
    return {str(i): {"qty": str(p.qty), "avg_price": str(p.avg_price), "realized": str(p.realized),
                     "fees": str(p.fees), "unpriced_fees": p.unpriced_fees,
                     "last_price": None if p.last_price is None else str(p.last_price)}
            for i, p in book.positions.items()}


def _positions_from_dict(d: dict[str, Any]) -> dict[InstrumentId, StrategyPosition]:
    return {parse_instrument(i): StrategyPosition(
        decode_decimal(p["qty"]), decode_decimal(p["avg_price"]), decode_decimal(p["realized"]),
        decode_decimal(p["fees"]), int(p["unpriced_fees"]),
        None if p["last_price"] is None else decode_decimal(p["last_price"]))
        for i, p in d.items()}


def _books_to_dict(books: StrategyBooks) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (strategy, quote), book in books.items():
        out.setdefault(strategy, {})[quote] = _positions_to_dict(book)
    return out


def _books_from_dict(d: dict[str, Any]) -> StrategyBooks:
    books = StrategyBooks()
    for strategy, quotes in d.items():
        for quote, positions in quotes.items():
            book = books.book(str(strategy), str(quote))
            book.positions = _positions_from_dict(positions)
            if any(i.quote != book.quote for i in book.positions):
                raise ModelError(f"carried {strategy} book in {quote} holds an instrument of another quote currency")
    return books


def _books_from_format_1(d: dict[str, Any], what: str) -> StrategyBooks:
    """Format 1's one book per strategy, as per-quote books; refused if a book left fills out."""
    books = StrategyBooks()
    for strategy, old in d.items():
        if old["other_quote"]:
            raise ModelError(
                f"carried books of format 1 (one quote currency per strategy, before per-quote books): {what} "
                f"of strategy {strategy!r} left out the fills of {', '.join(sorted(old['other_quote']))} (another "
                f"quote currency than {old['quote']}); this snapshot cannot give those figures and is not used: "
                f"the state is rebuilt from the journal's records")
        if old["quote"] is not None and old["positions"]:
            books.book(str(strategy), str(old["quote"])).positions = _positions_from_dict(old["positions"])
    return books


def _position_to_dict(p: Position) -> dict[str, Any]:
    return {"quantity": str(p.quantity), "avg_cost": str(p.avg_cost), "realized": str(p.realized),
            "fees_other": str(p.fees_other), "fills": p.fills}


def _position_from_dict(venue: str, symbol: str, d: dict[str, Any]) -> Position:
    return Position(venue, symbol, decode_decimal(d["quantity"]), decode_decimal(d["avg_cost"]),
                    decode_decimal(d["realized"]), decode_decimal(d["fees_other"]), int(d["fills"]))


@dataclass
class Carried:
    """The books of the archived fills; see the module docstring."""

    fills: int = 0
    per_venue: dict[tuple[str, str], Position] = field(default_factory=dict)
    aggregated: dict[str, Position] = field(default_factory=dict)
    strategies: StrategyBooks = field(default_factory=StrategyBooks)
    day: date | None = None
    day_strategies: StrategyBooks = field(default_factory=StrategyBooks)
    last_fill: dict[InstrumentId, tuple[datetime, Decimal]] = field(default_factory=dict)

    def fold(self, fills: Sequence[tuple[str, OrderFilled, Order]]) -> None:
        """Fold archived fills in, given as (fill key, fill, its order); taken in (time, key) order."""
        for _key, fill, order in sorted(fills, key=lambda r: (r[1].ts, r[0])):
            iid = order.instrument_id
            venue, symbol = iid.venue, iid.symbol
            args = (order.side, fill.price, fill.quantity, fill.fee, fill.fee_asset)
            self.per_venue[(venue, symbol)] = fold_fill(
                self.per_venue.get((venue, symbol), Position(venue, symbol)), *args)
            self.aggregated[symbol] = fold_fill(self.aggregated.get(symbol, Position(ANY_VENUE, symbol)), *args)
            strategy = fill.client_order_id.strategy
            book_args = (iid, order.side, fill.quantity, fill.price, fill.fee, fill.fee_asset)
            self.strategies.fill(strategy, *book_args)
            day = fill.ts.date()
            if self.day is None or day > self.day:
                self.day, self.day_strategies = day, StrategyBooks()
            if day == self.day:
                self.day_strategies.fill(strategy, *book_args)
            last = self.last_fill.get(iid)
            if last is None or fill.ts >= last[0]:
                self.last_fill[iid] = (fill.ts, fill.price)
            self.fills += 1

    # -- what the readers start from (copies: their books are mutable) ---------------------------

    def strategy_books(self) -> StrategyBooks:
        return self.strategies.copy()

    def day_books(self, day: date) -> StrategyBooks:
        """The strategy books of the archived fills of UTC `day` (empty for any other day)."""
        return self.day_strategies.copy() if day == self.day else StrategyBooks()

    def last_prices(self) -> dict[InstrumentId, Decimal]:
        return {i: price for i, (_, price) in self.last_fill.items()}

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CARRIED_FORMAT,
            "fills": self.fills,
            "per_venue": {f"{v}|{s}": _position_to_dict(p) for (v, s), p in self.per_venue.items()},
            "aggregated": {s: _position_to_dict(p) for s, p in self.aggregated.items()},
            "strategy_books": _books_to_dict(self.strategies),
            "day": None if self.day is None else self.day.isoformat(),
            "day_strategy_books": _books_to_dict(self.day_strategies),
            "last_fill": {str(i): [encode_datetime(ts), str(price)] for i, (ts, price) in self.last_fill.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Carried:
        """Read a carried section of format 2, or of format 1 when it lost nothing (see the module docstring)."""
        fmt = d.get("format", 1)
        if fmt == CARRIED_FORMAT:
            strategies = _books_from_dict(d["strategy_books"])
            day_strategies = _books_from_dict(d["day_strategy_books"])
        elif fmt == 1:
            strategies = _books_from_format_1(d["strategies"], "the book")
            day_strategies = _books_from_format_1(d["day_strategies"], "the day's book")
        else:
            raise ModelError(f"carried books of format {fmt!r} are not supported (this version reads 1 and "
                             f"{CARRIED_FORMAT}); the state is rebuilt from the journal's records")
        per_venue = {}
        for key, p in d["per_venue"].items():
            venue, _, symbol = str(key).partition("|")
            per_venue[(venue, symbol)] = _position_from_dict(venue, symbol, p)
        return cls(
            fills=int(d["fills"]),
            per_venue=per_venue,
            aggregated={str(s): _position_from_dict(ANY_VENUE, str(s), p) for s, p in d["aggregated"].items()},
            strategies=strategies,
            day=None if d["day"] is None else date.fromisoformat(d["day"]),
            day_strategies=day_strategies,
            last_fill={parse_instrument(i): (decode_datetime(ts), decode_decimal(price))
                       for i, (ts, price) in d["last_fill"].items()},
        )

    def copy(self) -> Carried:
        return Carried(self.fills, dict(self.per_venue), dict(self.aggregated), self.strategy_books(), self.day,
                       self.day_strategies.copy(), dict(self.last_fill))
