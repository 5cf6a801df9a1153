"""Positions across venues (M12): per venue and aggregated per instrument, with average cost,
realized and unrealized PnL.

Pure, and a function of `EngineState` only: it is folded from the state's fills (the journal's
`OrderFilled` events, de-duplicated by trade id) and their orders' sides, so a replayed journal
rebuilds it exactly, and nothing new has to be stored. The fills are taken in a fixed order —
execution time, then the fill key — never in dict order, because a state loaded from a snapshot
holds them in key order while a live fold holds them in journal order, and average cost depends
on the order. Fills archived out of the state (`OrdersArchived`) count through the books the state
carries for them (`EngineState.carried`), which fold before every live fill (see execution/archive.py).

Average cost: buying into a long (or selling into a short) moves the average; trading against the
position realizes `(price - average) * closed quantity` (signed); crossing through zero opens the
remainder at the fill price. Fees paid in the quote asset are subtracted from realized PnL; fees in
another asset are counted in `fees_other` (they change the balance, not the PnL in quote).

"Aggregated" folds every venue's fills of a symbol as one book (so a long on one venue and a short
on the other net out): its quantity is always the sum of the per-venue quantities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from nonstop.model import ANY_VENUE, EngineState, OrderFilled
from nonstop.model.position_book import Position, fold_fill

__all__ = ["Portfolio", "Position", "fold_fill", "portfolio_of"]


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Every position, per (venue, symbol) and aggregated per symbol."""

    per_venue: Mapping[tuple[str, str], Position]
    aggregated: Mapping[str, Position]

    def position(self, venue: str, symbol: str) -> Position:
        """The position on `venue` (or, with `ANY_VENUE`, across all venues); flat if none."""
        if venue == ANY_VENUE:
            return self.aggregated.get(symbol, Position(ANY_VENUE, symbol))
        return self.per_venue.get((venue, symbol), Position(venue, symbol))

    def by_venue(self, symbol: str) -> dict[str, Position]:
        """The per-venue positions of `symbol`, by venue name."""
        return {v: p for (v, s), p in sorted(self.per_venue.items()) if s == symbol}

    def to_dict(self, marks: Mapping[str, Decimal | None] | None = None) -> dict[str, object]:
        """JSON-able view (status, API); `marks` are mark prices by symbol for unrealized PnL."""
        marks = marks or {}
        return {
            "per_venue": [p.to_dict(marks.get(s)) for (_, s), p in sorted(self.per_venue.items())],
            "aggregated": [p.to_dict(marks.get(s)) for s, p in sorted(self.aggregated.items())],
        }


def _ordered(fills: Iterable[tuple[str, OrderFilled]]) -> list[tuple[str, OrderFilled]]:
    return sorted(fills, key=lambda kf: (kf[1].ts, kf[0]))


def portfolio_of(state: EngineState) -> Portfolio:
    """Fold every fill in `state` into per-venue and aggregated positions (deterministic)."""
    per_venue: dict[tuple[str, str], Position] = dict(state.carried.per_venue)  # archived fills' books
    aggregated: dict[str, Position] = dict(state.carried.aggregated)
    for _, fill in _ordered(state.fills.items()):
        order = state.orders[fill.client_order_id.value]
        venue, symbol = order.instrument_id.venue, order.instrument_id.symbol
        key = (venue, symbol)
        args = (order.side, fill.price, fill.quantity, fill.fee, fill.fee_asset)
        per_venue[key] = fold_fill(per_venue.get(key, Position(venue, symbol)), *args)
        aggregated[symbol] = fold_fill(aggregated.get(symbol, Position(ANY_VENUE, symbol)), *args)
    return Portfolio(per_venue, aggregated)
