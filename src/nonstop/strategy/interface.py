"""The complete strategy interface: lifecycle, validated market data, fills, order updates,
degradation changes, and an optional fallback.

A strategy stays pure: every callback gets what happened and a read-only `StrategyView`, and returns
the `Place` / `Cancel` intents it wants now; it never awaits, never talks to a venue, never reads the
clock (times come with the data). `StrategyRunner` (runner.py) drives it and enforces the
degradation level, so a strategy cannot trade around reduce-only or a halt.

Lifecycle, as the engine calls it:

1. `warm_up(history)` with cached candles (data.history), before any live data, offline if need be;
2. `on_start(view)` once the engine has replayed and reconciled (invariant 5);
3. `on_market(consensus, view)` for every validated update of a symbol it trades; an untrusted
   consensus (`consensus.trusted` false) says there is no price to trade on: do not open exposure;
4. `on_fill`, `on_order_update` as the venue reports; `on_degradation` when the ladder moves;
5. `on_stop(view)` before shutdown (the engine cancels what is left open, if configured).

`fallback()` returns a simpler strategy (fewer API calls) to run at the FALLBACK level, or None.
It must use the same `id` (its orders and positions are the primary's). The first interface
(`base.Strategy`: `on_quote`, `on_fill`) remains valid for the engine's existing loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from nonstop.data.consensus import ConsensusQuote
from nonstop.data.history import Candle
from nonstop.model import InstrumentId, Order, OrderFilled
from nonstop.strategy.base import Cancel, Intent, StrategyView
from nonstop.strategy.degradation import LevelChanged

__all__ = ["History", "StrategyBase", "TradingStrategy", "cancel_all"]

History = Mapping[InstrumentId, Sequence[Candle]]


@runtime_checkable
class TradingStrategy(Protocol):
    id: str

    @property
    def instruments(self) -> list[InstrumentId]: ...

    def warm_up(self, history: History) -> None: ...

    def on_start(self, view: StrategyView) -> list[Intent]: ...

    def on_stop(self, view: StrategyView) -> list[Intent]: ...

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]: ...

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]: ...

    def on_order_update(self, order: Order, view: StrategyView) -> list[Intent]: ...

    def on_degradation(self, change: LevelChanged, view: StrategyView) -> list[Intent]: ...

    def fallback(self) -> TradingStrategy | None: ...


class StrategyBase:
    """Do-nothing defaults for every callback; subclasses override what they need."""

    id: str

    @property
    def instruments(self) -> list[InstrumentId]:
        raise NotImplementedError

    def warm_up(self, history: History) -> None:
        return None

    def on_start(self, view: StrategyView) -> list[Intent]:
        return []

    def on_stop(self, view: StrategyView) -> list[Intent]:
        return cancel_all(self.instruments, view)

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        return []

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]:
        return []

    def on_order_update(self, order: Order, view: StrategyView) -> list[Intent]:
        return []

    def on_degradation(self, change: LevelChanged, view: StrategyView) -> list[Intent]:
        return []

    def fallback(self) -> TradingStrategy | None:
        return None


def cancel_all(instruments: Sequence[InstrumentId], view: StrategyView) -> list[Intent]:
    """A cancel for every open order of this strategy on `instruments`."""
    return [Cancel(o.client_order_id) for iid in instruments for o in view.open_orders(iid)]
