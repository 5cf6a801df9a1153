"""The dashboard's market panel and strategy PnL: the consensus mid and each source's price over time,
our resting orders and fills as markers, every data venue's feed quality, and PnL per strategy.

Reads the engine's trading loop (`engine.trading`: its market-data hub and strategy) and state; absent
(before trading starts, or an engine without them), every view is empty. PnL is `monitor.pnl`'s
average-cost book over the journaled fills, marked at the consensus mid, folded in incrementally: one
series per (strategy, quote currency), in that currency (a strategy trading ETH/USDT and ETH/BTC has a
USDT series and a BTC series; amounts in two currencies are never added up).
"""

from __future__ import annotations

from decimal import Decimal
from itertools import islice
from typing import Any

from nonstop.api.series import Series
from nonstop.api.views import PriceMarker, PriceView, SourcePriceView, StrategyPnlSeries
from nonstop.model import ANY_VENUE, EngineState, InstrumentId
from nonstop.monitor.pnl import StrategyBooks, amount_text

MAX_FILL_MARKERS = 200
MARKER_SCAN = 2000  # fills looked at (newest first) for the markers


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class MarketPanel:
    """Samples prices and PnL (`sample`), and serves them as views."""

    def __init__(self, engine: Any, series_len: int = 900) -> None:
        self._engine = engine
        self._len = series_len
        self._mid: dict[str, Series] = {}
        self._source: dict[tuple[str, str], Series] = {}
        self._pnl: dict[tuple[str, str], Series] = {}  # per (strategy, quote currency)
        self._books = StrategyBooks()
        # fills folded into the books: the archived ones (state.carried) at the first sample, then the
        # live ones in arrival order; archived fills leave the front of state.fills (they are old)
        self._folded: int | None = None
        self._since: float | None = None

    def _hub(self) -> Any:
        return getattr(getattr(self._engine, "trading", None), "hub", None)

    def _symbols(self) -> list[str]:
        runner = getattr(getattr(self._engine, "trading", None), "runner", None)
        return sorted(getattr(runner, "symbols", ()) or ())

    def _series(self, table: dict[Any, Series], key: Any) -> Series:
        if key not in table:
            table[key] = Series(self._len)
        return table[key]

    def mark(self, instrument: InstrumentId) -> Decimal | None:
        hub = self._hub()
        return hub.latest(instrument.symbol).mid if hub is not None else None

    def sample(self, t: float) -> None:
        if self._since is None:
            self._since = t
        hub = self._hub()
        if hub is not None:
            for symbol in self._symbols():
                quote = hub.latest(symbol)
                if quote.mid is not None:
                    self._series(self._mid, symbol).add(t, float(quote.mid))
                for q in quote.quality:
                    if q.mid is not None:
                        self._series(self._source, (symbol, q.source)).add(t, float(q.mid))
        state: EngineState | None = getattr(self._engine, "state", None)
        if state is None:
            return
        if self._folded is None:
            self._books.update(state.carried.strategy_books())
            self._folded = state.carried.fills
        for fill in islice(state.fills.values(), max(0, self._folded - state.carried.fills), None):
            self._folded += 1
            order = state.orders.get(fill.client_order_id.value)
            if order is not None:
                self._books.fill(fill.client_order_id.strategy, order.instrument_id, order.side, fill.quantity,
                                 fill.price, fill.fee, fill.fee_asset)
        strategy = getattr(getattr(self._engine, "trading", None), "strategy", None)
        if strategy is not None:  # shown from the start (0 until a fill), in the traded symbols' quotes
            for symbol in self._symbols():
                self._books.book(strategy.id, InstrumentId(ANY_VENUE, symbol).quote)
        for key, book in self._books.items():
            self._series(self._pnl, key).add(t, float(book.figures(self.mark).pnl))

    def feed_quality(self) -> dict[str, str]:
        """Per source (venue): its feed status and transport for the traded symbols, e.g. "ok (ws)"."""
        hub = self._hub()
        out: dict[str, str] = {}
        if hub is None:
            return out
        for symbol in self._symbols():
            for q in hub.latest(symbol).quality:
                out[q.source] = f"{q.status} ({q.transport})" if q.transport else str(q.status)
        return out

    def prices(self) -> list[PriceView]:
        hub = self._hub()
        state: EngineState | None = getattr(self._engine, "state", None)
        if hub is None:
            return []
        out = []
        for symbol in self._symbols():
            quote = hub.latest(symbol)
            sources = [
                SourcePriceView(source=q.source, status=str(q.status), transport=str(q.transport),
                                mid=_text(q.mid), age_s=None if q.age_s is None else round(q.age_s, 3),
                                deviation_bps=None if q.deviation_bps is None else f"{q.deviation_bps:.2f}",
                                points=self._series(self._source, (symbol, q.source)).points())
                for q in quote.quality
            ]
            orders, fills = [], []
            if state is not None:
                orders = [PriceMarker(t=None, price=str(o.price), side=str(o.side).lower(), quantity=str(o.quantity))
                          for o in state.open_orders() if o.instrument_id.symbol == symbol and o.price is not None]
                since = self._since or 0.0
                for fill in islice(reversed(state.fills.values()), MARKER_SCAN):  # newest first
                    order = state.orders.get(fill.client_order_id.value)
                    if order is not None and order.instrument_id.symbol == symbol and fill.ts.timestamp() >= since:
                        fills.append(PriceMarker(t=round(fill.ts.timestamp(), 3), price=str(fill.price),
                                                 side=str(order.side).lower(), quantity=str(fill.quantity)))
                    if len(fills) >= MAX_FILL_MARKERS:
                        break
            out.append(PriceView(symbol=symbol, mid=_text(quote.mid), bid=_text(quote.bid), ask=_text(quote.ask),
                                 reason=quote.reason, sources=sources, points=self._series(self._mid, symbol).points(),
                                 orders=orders, fills=fills[::-1]))
        return out

    def pnl(self) -> list[StrategyPnlSeries]:
        out = []
        for (name, quote), book in self._books.items():
            pnl = book.figures(self.mark).pnl  # in `quote`
            out.append(StrategyPnlSeries(strategy=name, currency=quote,
                                         pnl=amount_text(pnl, quote=quote),
                                         points=self._series(self._pnl, (name, quote)).points()))
        return out
