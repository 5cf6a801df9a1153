"""An example strategy: a two-sided quoter that keeps one bid and one ask around the mid.

Each side is placed when it has no open order, and canceled when the market has moved its
target price more than `requote_bps` away (replaced on a later quote, once the cancel is done),
so orders, fills and cancels all happen within seconds on the simulator. Inventory is bounded:
beyond `max_position` the side that would grow it is not quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.model import InstrumentId, OrderFilled, OrderState, Side
from nonstop.strategy.base import Cancel, Intent, Place, StrategyView
from nonstop.venues.port import Quote

BPS = Decimal("0.0001")


@dataclass
class TwoSidedQuoter:
    id: str
    instrument_id: InstrumentId
    size: Decimal
    half_spread_bps: Decimal = Decimal("1")
    requote_bps: Decimal = Decimal("2")
    max_position: Decimal = Decimal("0.01")

    @property
    def instruments(self) -> list[InstrumentId]:
        return [self.instrument_id]

    def on_quote(self, quote: Quote, view: StrategyView) -> list[Intent]:
        if quote.instrument_id != self.instrument_id or quote.bid is None or quote.ask is None:
            return []
        instrument = view.instruments[self.instrument_id]
        mid = (quote.bid + quote.ask) / 2
        position = view.position(self.instrument_id)
        intents: list[Intent] = []
        for side in (Side.BUY, Side.SELL):
            offset = self.half_spread_bps * BPS
            raw = mid * (1 - offset) if side is Side.BUY else mid * (1 + offset)
            target = instrument.round_price(raw, side)
            mine = [o for o in view.open_orders(self.instrument_id) if o.side is side]
            if not mine:
                grows = position >= self.max_position if side is Side.BUY else position <= -self.max_position
                if not grows:
                    intents.append(Place(self.instrument_id, side, instrument.round_qty(self.size), target))
                continue
            for order in mine:
                live = order.state in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED)
                if live and order.price is not None and abs(order.price - target) > self.requote_bps * BPS * mid:
                    intents.append(Cancel(order.client_order_id))
        return intents

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]:
        return []
