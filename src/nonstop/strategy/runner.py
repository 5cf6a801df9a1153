"""Runs a `TradingStrategy` (or its fallback) and enforces the degradation level on its intents.

Pure: the engine calls it and carries out the `GateResult.allowed` intents; rejected ones come back
with their reason (to log / journal). At FALLBACK the strategy's fallback runs instead of the
strategy itself (if it declared one; otherwise the strategy keeps running). When the active strategy
changes, the open orders of the one being left are cancelled first, so two rule sets never have
orders out at once. At REDUCE_ONLY only exposure-shrinking orders pass; at HALTED every open order
is cancelled and nothing else is sent.
"""

from __future__ import annotations

from decimal import Decimal

from nonstop.data.consensus import ConsensusQuote
from nonstop.model import Order, OrderFilled
from nonstop.strategy.base import Intent, StrategyView
from nonstop.strategy.degradation import GateResult, Level, LevelChanged, gate
from nonstop.strategy.interface import History, TradingStrategy, cancel_all

__all__ = ["StrategyRunner"]


class StrategyRunner:
    def __init__(self, strategy: TradingStrategy, level: Level = Level.NORMAL) -> None:
        self.primary = strategy
        self.fallback = strategy.fallback()
        if self.fallback is not None and self.fallback.id != strategy.id:
            raise ValueError(f"fallback of {strategy.id!r} must use the same id, not {self.fallback.id!r}")
        self.level = level
        self.symbols = {i.symbol for i in strategy.instruments}

    @property
    def active(self) -> TradingStrategy:
        if self.level >= Level.FALLBACK and self.fallback is not None:
            return self.fallback
        return self.primary

    def warm_up(self, history: History) -> None:
        self.primary.warm_up(history)
        if self.fallback is not None:
            self.fallback.warm_up(history)

    def start(self, view: StrategyView) -> GateResult:
        return self._gate(self.active.on_start(view), view)

    def stop(self, view: StrategyView) -> GateResult:
        return self._gate(self.active.on_stop(view), view)

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> GateResult:
        if market.symbol not in self.symbols:
            return GateResult((), ())
        return self._gate(self.active.on_market(market, view), view)

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> GateResult:
        return self._gate(self.active.on_fill(fill, view), view)

    def on_order_update(self, order: Order, view: StrategyView) -> GateResult:
        return self._gate(self.active.on_order_update(order, view), view)

    def on_level(self, change: LevelChanged, view: StrategyView) -> GateResult:
        before = self.active
        self.level = change.new
        intents: list[Intent] = []
        if self.active is not before or change.new >= Level.HALTED:
            intents.extend(cancel_all(self.primary.instruments, view))
        intents.extend(self.active.on_degradation(change, view))
        return self._gate(_dedupe(intents), view)

    def _gate(self, intents: list[Intent], view: StrategyView) -> GateResult:
        if self.level < Level.REDUCE_ONLY:  # gate() lets everything through: no positions to weigh
            return GateResult(tuple(intents), ())
        instruments = self.primary.instruments
        positions: dict[str, Decimal] = {str(i): view.position(i) for i in instruments}
        open_orders = [o for i in instruments for o in view.open_orders(i)]
        return gate(self.level, intents, positions, open_orders)


def _dedupe(intents: list[Intent]) -> list[Intent]:
    seen: set[Intent] = set()
    out: list[Intent] = []
    for i in intents:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out
