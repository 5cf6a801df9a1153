"""Example: a long-only EMA-crossover trend follower, warmed up from the candle cache.

Bars of `bar_s` seconds are built from the consensus mid (times from the consensus, never the
clock); on each closed bar the fast and slow EMAs are updated. Fast above slow: target a long of
`size`; otherwise flat. The difference between target and position (less what open orders will
still do) is sent as one marketable IOC limit order, `slippage_bps` through the mid, only on a
trusted price and only with no order of its own still open. `warm_up` seeds the EMAs from cached
candles, so the first signal needs no live history.

Fallback (FALLBACK level): `TrendExit`, which shares the indicators, never opens a position and
only closes a long when the last closed bar is below the slow EMA: at most one order per bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from nonstop.data.consensus import ConsensusQuote
from nonstop.model import InstrumentId, OrderType, Side, TimeInForce
from nonstop.strategy.base import Intent, Place, StrategyView
from nonstop.strategy.interface import History, StrategyBase, TradingStrategy

BPS = Decimal("0.0001")


@dataclass
class EmaCross:
    """Fast / slow exponential moving averages over bar closes, and the bar being built."""

    fast: int
    slow: int
    bar_s: int
    ema_fast: Decimal | None = None
    ema_slow: Decimal | None = None
    bars: int = 0
    last_close: Decimal | None = None
    _bar_start: int | None = None
    _bar_close: Decimal | None = None

    def add_close(self, close: Decimal) -> None:
        self.ema_fast = _ema(self.ema_fast, close, self.fast)
        self.ema_slow = _ema(self.ema_slow, close, self.slow)
        self.last_close = close
        self.bars += 1

    def add_price(self, ts: datetime, price: Decimal) -> bool:
        """Feed a live price; True if it closed a bar (and the EMAs moved)."""
        start = int(ts.timestamp()) // self.bar_s * self.bar_s
        closed = False
        if self._bar_start is not None and start > self._bar_start and self._bar_close is not None:
            self.add_close(self._bar_close)
            closed = True
        if self._bar_start is None or start >= self._bar_start:
            self._bar_start, self._bar_close = start, price
        return closed

    @property
    def ready(self) -> bool:
        return self.bars >= self.slow

    @property
    def bullish(self) -> bool:
        return self.ready and self.ema_fast is not None and self.ema_slow is not None and self.ema_fast > self.ema_slow


def _ema(prev: Decimal | None, value: Decimal, period: int) -> Decimal:
    if prev is None:
        return value
    alpha = Decimal(2) / (period + 1)
    return prev + alpha * (value - prev)


def _pending(view: StrategyView, iid: InstrumentId) -> Decimal:
    return sum((o.side.sign * o.leaves_qty for o in view.open_orders(iid)), Decimal(0))


def _order(view: StrategyView, iid: InstrumentId, qty: Decimal, mid: Decimal, slippage_bps: Decimal) -> list[Intent]:
    """One marketable IOC limit order moving the position by `qty` (signed), if it passes the filters."""
    instrument = view.instruments[iid]
    side = Side.BUY if qty > 0 else Side.SELL
    amount = instrument.round_qty(abs(qty))
    through = slippage_bps * BPS * side.sign
    price = instrument.round_price(mid * (1 + through), side)
    if amount <= 0 or instrument.check(amount, price):
        return []
    return [Place(iid, side, amount, price, OrderType.LIMIT, TimeInForce.IOC)]


@dataclass
class TrendFollower(StrategyBase):
    id: str
    instrument_id: InstrumentId
    size: Decimal
    fast: int = 10
    slow: int = 30
    bar_s: int = 60
    slippage_bps: Decimal = Decimal("10")
    timeframe: str = "1m"  # candles to warm up from (should match bar_s)
    signal: EmaCross = field(init=False)

    def __post_init__(self) -> None:
        if not 0 < self.fast < self.slow:
            raise ValueError(f"need 0 < fast < slow, got fast={self.fast} slow={self.slow}")
        self.signal = EmaCross(self.fast, self.slow, self.bar_s)

    @property
    def instruments(self) -> list[InstrumentId]:
        return [self.instrument_id]

    def warm_up(self, history: History) -> None:
        for candle in history.get(self.instrument_id, ()):
            self.signal.add_close(candle.close)

    def fallback(self) -> TradingStrategy | None:
        return TrendExit(self.id, self.instrument_id, self.signal, self.slippage_bps)

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        if market.symbol != self.instrument_id.symbol or market.mid is None:
            return []
        self.signal.add_price(market.ts, market.mid)
        if not self.signal.ready or view.open_orders(self.instrument_id):
            return []
        target = self.size if self.signal.bullish else Decimal(0)
        delta = target - view.position(self.instrument_id) - _pending(view, self.instrument_id)
        return _order(view, self.instrument_id, delta, market.mid, self.slippage_bps)


@dataclass
class TrendExit(StrategyBase):
    """Fallback of `TrendFollower`: never opens; closes a long when a bar closes below the slow EMA."""

    id: str
    instrument_id: InstrumentId
    signal: EmaCross
    slippage_bps: Decimal = Decimal("10")

    @property
    def instruments(self) -> list[InstrumentId]:
        return [self.instrument_id]

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        if market.symbol != self.instrument_id.symbol or market.mid is None:
            return []
        if not self.signal.add_price(market.ts, market.mid) or view.open_orders(self.instrument_id):
            return []  # acts on bar closes only
        s = self.signal
        position = view.position(self.instrument_id)
        if position > 0 and s.ema_slow is not None and s.last_close is not None and s.last_close < s.ema_slow:
            return _order(view, self.instrument_id, -position, market.mid, self.slippage_bps)
        return []
