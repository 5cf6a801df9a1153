"""A filled order in a few lines (`journalkit.order_lifecycle`), optionally applied to a state.

For tests of the figures that fold fills (strategy PnL per quote currency, the daily loss, metrics,
status, the dashboard's books)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nonstop.model import ClientOrderId, EngineState, Event, InstrumentId, Side
from tests.journalkit import order_lifecycle

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def filled_order(seq: int, iid: InstrumentId, side: Side, qty: str, price: str, *, strategy: str = "mm",
                 fee: str = "0", ts: datetime = T0, instance: str = "a1") -> list[Event]:
    """The events of a limit order of `strategy` (order number `seq`) filled completely at `price`, its fee
    in the quote currency."""
    return order_lifecycle(ClientOrderId.build(instance, strategy, seq), iid, ts, side=side, quantity=Decimal(qty),
                           price=Decimal(price), venue_order_id=f"v-{instance}-{seq}", trade_id=f"{instance}-{seq}",
                           fee=Decimal(fee))


def fill_order(state: EngineState, seq: int, iid: InstrumentId, side: Side, qty: str, price: str,
               **kw: Any) -> list[Event]:
    """`filled_order`'s events, applied to `state`."""
    events = filled_order(seq, iid, side, qty, price, **kw)
    for event in events:
        state.apply(event)
    return events


def carried_as_format_1(carried: dict[str, Any], first_quote: dict[str, str]) -> dict[str, Any]:
    """A carried section (format 2) as an engine before per-quote books wrote it: one book per strategy, in
    the quote currency of its first fill (`first_quote[strategy]`), the instruments of any other left out."""
    out = {k: v for k, v in carried.items() if k not in ("format", "strategy_books", "day_strategy_books")}
    for new, old in (("strategy_books", "strategies"), ("day_strategy_books", "day_strategies")):
        out[old] = {}
        for strategy, quotes in carried[new].items():
            quote = first_quote[strategy]
            left = sorted(i for q, positions in quotes.items() if q != quote for i in positions)
            out[old][strategy] = {"quote": quote, "positions": quotes.get(quote, {}), "other_quote": left}
    return out
