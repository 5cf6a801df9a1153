"""The strategy interface (first version): market data and fills in, intents out.

A strategy never talks to a venue: it returns `Place` / `Cancel` intents, and the engine runs
them through risk and the order manager. It sees the engine's state read-only (`StrategyView`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from nonstop.model import (
    ANY_VENUE,
    ClientOrderId,
    EngineState,
    Instrument,
    InstrumentId,
    Order,
    OrderFilled,
    OrderType,
    Side,
    TimeInForce,
)
from nonstop.venues.port import Quote


@dataclass(frozen=True, slots=True)
class Place:
    instrument_id: InstrumentId
    side: Side
    quantity: Decimal
    price: Decimal | None
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC


@dataclass(frozen=True, slots=True)
class Cancel:
    client_order_id: ClientOrderId


Intent = Place | Cancel


class StrategyView:
    """What a strategy may read: its own orders, positions and the instruments' filters.

    An instrument on `ANY_VENUE` ("auto": routed per order, M12) stands for that symbol on every
    venue: its open orders are the symbol's on all venues, its position the aggregate;
    `positions_by_venue` gives the split.
    """

    def __init__(self, strategy_id: str, state: EngineState, instruments: dict[InstrumentId, Instrument]) -> None:
        self.strategy_id = strategy_id
        self._state = state
        self.instruments = instruments

    def open_orders(self, instrument_id: InstrumentId) -> list[Order]:
        return [
            o
            for o in self._state.orders.values()
            if o.state.is_open and _matches(o.instrument_id, instrument_id)
            and o.client_order_id.strategy == self.strategy_id
        ]

    def position(self, instrument_id: InstrumentId) -> Decimal:
        if instrument_id.venue == ANY_VENUE:
            return sum(self.positions_by_venue(instrument_id.symbol).values(), Decimal(0))
        return self._state.positions.get(str(instrument_id), Decimal(0))

    def positions_by_venue(self, symbol: str) -> dict[str, Decimal]:
        """The net position in `symbol` on each venue that has traded it."""
        out: dict[str, Decimal] = {}
        for key, qty in self._state.positions.items():
            iid = InstrumentId.parse(key)
            if iid.symbol == symbol:
                out[iid.venue] = qty
        return out


def _matches(actual: InstrumentId, wanted: InstrumentId) -> bool:
    if wanted.venue == ANY_VENUE:
        return actual.symbol == wanted.symbol
    return actual == wanted


class Strategy(Protocol):
    """A trading strategy; every callback returns the intents it wants carried out now."""

    id: str
    instruments: list[InstrumentId]

    def on_quote(self, quote: Quote, view: StrategyView) -> list[Intent]: ...

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]: ...
