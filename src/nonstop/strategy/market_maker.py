"""Example: an inventory-skewed market maker on the validated consensus price.

It keeps one bid and one ask around the consensus mid, `half_spread_bps` away, skewed against its
inventory (long → both quotes shift down, so the ask fills more readily, and the reverse), and
requotes a side when its target moves more than `requote_bps`. Beyond `max_position` the side that
would grow inventory is not quoted. With no trustworthy price it pulls both quotes: resting orders
on a price nobody can vouch for are free options for the rest of the market.

Fallback (FALLBACK level): the same maker with a wider spread, a far larger requote threshold (so
it cancels and replaces rarely: fewer API calls) and half the size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from nonstop.data.consensus import ConsensusQuote
from nonstop.model import InstrumentId, OrderState, Side
from nonstop.strategy.base import Cancel, Intent, Place, StrategyView
from nonstop.strategy.interface import StrategyBase, TradingStrategy, cancel_all

BPS = Decimal("0.0001")
LIVE = (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED)


@dataclass
class MarketMaker(StrategyBase):
    id: str
    instrument_id: InstrumentId
    size: Decimal
    half_spread_bps: Decimal = Decimal("5")
    requote_bps: Decimal = Decimal("3")
    max_position: Decimal = Decimal("0.01")
    skew_bps: Decimal = Decimal("5")  # mid shift at full inventory (max_position)
    is_fallback: bool = False

    @property
    def instruments(self) -> list[InstrumentId]:
        return [self.instrument_id]

    def fallback(self) -> TradingStrategy | None:
        if self.is_fallback:
            return None
        return replace(
            self,
            half_spread_bps=self.half_spread_bps * 3,
            requote_bps=self.requote_bps * 5,
            size=self.size / 2,
            is_fallback=True,
        )

    def targets(self, mid: Decimal, position: Decimal) -> dict[Side, Decimal]:
        """Unrounded bid and ask targets for a mid and an inventory."""
        inventory = max(min(position / self.max_position, Decimal(1)), Decimal(-1)) if self.max_position else Decimal(0)
        center = mid * (1 - inventory * self.skew_bps * BPS)
        offset = self.half_spread_bps * BPS
        return {Side.BUY: center * (1 - offset), Side.SELL: center * (1 + offset)}

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        if market.symbol != self.instrument_id.symbol:
            return []
        if market.mid is None:
            return cancel_all(self.instruments, view)
        instrument = view.instruments[self.instrument_id]
        position = view.position(self.instrument_id)
        targets = self.targets(market.mid, position)
        open_orders = view.open_orders(self.instrument_id)
        intents: list[Intent] = []
        qty = None
        for side, raw in targets.items():
            target = instrument.round_price(raw, side)
            mine = [o for o in open_orders if o.side is side]
            if not mine:
                grows = position >= self.max_position if side is Side.BUY else position <= -self.max_position
                if qty is None:
                    qty = instrument.round_qty(self.size)
                if not grows and qty >= instrument.min_qty and not instrument.check(qty, target):
                    intents.append(Place(self.instrument_id, side, qty, target))
                continue
            for order in mine:
                drifted = order.price is not None and abs(order.price - target) > self.requote_bps * BPS * market.mid
                if order.state in LIVE and drifted:
                    intents.append(Cancel(order.client_order_id))
        return intents
