"""Periodically read the running engine and publish what can only be sampled (M7, M9).

`EngineProbe` has two inputs, and feeds the metrics registry and the degradation detectors:

- `run()` - a task (in the engine's TaskGroup) that calls `sample()` every `interval_s`:
  - per venue and endpoint, from the adapter's gateway pool (read-only):
    `endpoint_latency` (the newest real request latency, once per new measurement - an idle
    endpoint adds no samples), `endpoint_up` (breaker closed) and `breaker_state` (each endpoint,
    and `endpoint="*"` for the venue breaker);
  - per strategy and quote currency: `strategy_pnl` and `strategy_exposure` from the fills, by the
    average-cost method (see `monitor.pnl`), positions marked at the consensus mid (else the last
    fill price), each in its quote currency (label `quote`); a strategy with no fill yet shows 0 in
    the quote currencies of the traded symbols;
  - `journal`: the last durable seq, and the lag - how long the recorder has been busy without
    the journal advancing (0 when caught up; a lower bound, at the probe's resolution). Measured
    from `Recorder.busy` (an append-and-fold in progress);
  - feed quality per source and instrument from the consensus -> `FeedQualityDetector` (a frozen
    book counts as old as its last change).
- `on_event(event)` - a recorder listener (synchronous, never raises, never blocks):
  - OrderSubmitted -> OrderAccepted: the round trip -> `LatencyDetector` (as `EventWatch` does
    for the histogram);
  - OrderFilled: the order outcome "filled" once it is completely filled (the fill ratio's
    numerator; `EventWatch` counts the other outcomes);
    slippage = executed vs expected price in bps, positive = worse; expected is the
    limit price, or for MARKET / IOC / FOK orders the consensus mid when the intent was recorded
    (the order's price if there was no trusted mid) -> `slippage` histogram and
    `SlippageDetector`; the fill also moves the strategy's PnL book;
  - BalanceSnapshot (written by a reconciliation pass): the venue's balances against the journal's
    baseline at start (or the run's first snapshot) plus every fill a snapshot since says it
    contains, cumulatively -> `DriftDetector` (`drift:balances:<venue>`). The reconciler records
    a drift once and takes the venue's balances as its next baseline; this catches it persisting.

Alerts go through the `AlertSink` given (the engine's `AlertManager`), with the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import structlog

from nonstop.clock import Clock
from nonstop.connectivity import BreakerState
from nonstop.data.consensus import SourceStatus
from nonstop.model import (
    ANY_VENUE,
    BalanceSnapshot,
    EngineState,
    Event,
    InstrumentId,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderIntent,
    OrderState,
    OrderSubmitted,
    OrderType,
    TimeInForce,
    fill_key,
)
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.detectors import (
    AlertSink,
    DriftDetector,
    FeedQualityDetector,
    LatencyDetector,
    SlippageDetector,
)
from nonstop.monitor.metrics import BreakerState as MetricBreakerState
from nonstop.monitor.metrics import Metrics
from nonstop.monitor.pnl import StrategyBooks

__all__ = ["EngineProbe"]

log = structlog.get_logger("nonstop.monitor")
MAX_TRACKED: Final = 10_000  # orders awaiting an acknowledgement / a fill; the oldest are forgotten
MAX_PENDING_FILLS: Final = 100_000  # fills newer than a venue's last balance snapshot
_SWEEPING: Final = frozenset({TimeInForce.IOC, TimeInForce.FOK})
_BREAKER: Final[dict[BreakerState, MetricBreakerState]] = {
    BreakerState.CLOSED: "closed", BreakerState.OPEN: "open", BreakerState.HALF_OPEN: "half_open",
}


class _NoAlerts:
    def raise_(self, key: str, level: AlertLevel, title: str, body: str = "") -> None:
        return None

    def resolve(self, key: str, body: str = "") -> None:
        return None


def _remember(store: dict[str, Any], key: str, value: Any) -> None:
    if len(store) >= MAX_TRACKED:
        store.pop(next(iter(store)))  # insertion order: the oldest
    store[key] = value


class _BalanceDrift:
    """One venue: a baseline (the journal's last snapshot when the run starts, else the run's first
    snapshot) plus every fill a later snapshot says it contains (`BalanceSnapshot.includes`), i.e.
    what the venue's balances must be if nothing but our fills moved them. Counted by the journal's
    own bookkeeping, never by timestamps, so a fill in flight is never double-counted or missed."""

    def __init__(self, base: dict[str, Decimal] | None = None, pending: dict[str, dict[str, Decimal]] | None = None):
        self.base = base
        self.delta: dict[str, Decimal] = {}
        self.pending: dict[str, dict[str, Decimal]] = dict(pending or {})

    def fill(self, key: str, change: dict[str, Decimal]) -> None:
        self.pending[key] = change
        if len(self.pending) > MAX_PENDING_FILLS:  # no snapshot for that long: start over at the next one
            log.warning("drift_baseline_reset", pending=len(self.pending))
            self.base, self.delta, self.pending = None, {}, {}

    def snapshot(self, totals: dict[str, Decimal], includes: tuple[str, ...] | None) -> dict[str, Decimal] | None:
        """The balances our fills imply for this snapshot (None for the first one: the baseline)."""
        keys = list(self.pending) if includes is None else [k for k in includes if k in self.pending]
        due = [self.pending.pop(k) for k in keys]
        if self.base is None:
            self.base = dict(totals)
            return None
        for change in due:
            self._add(change)
        expected = dict(self.base)
        for asset, amount in self.delta.items():
            expected[asset] = expected.get(asset, Decimal(0)) + amount
        return expected

    def _add(self, change: dict[str, Decimal]) -> None:
        for asset, amount in change.items():
            self.delta[asset] = self.delta.get(asset, Decimal(0)) + amount


def _fill_change(state: EngineState, fill: OrderFilled) -> tuple[str, str, dict[str, Decimal]] | None:
    """(venue, fill key, balance change) of one of our fills."""
    order = state.orders.get(fill.client_order_id.value)
    if order is None:
        return None
    iid, sign = order.instrument_id, order.side.sign
    change = {iid.base: sign * fill.quantity, iid.quote: -sign * fill.quantity * fill.price}
    change[fill.fee_asset] = change.get(fill.fee_asset, Decimal(0)) - fill.fee
    return iid.venue, fill_key(iid, fill.trade_id), change


def _journal_baselines(state: EngineState) -> dict[str, _BalanceDrift]:
    """Where the journal left each venue: its last snapshot and the fills it did not contain."""
    out = {}
    for venue, assets in state.balances.items():
        pending = {}
        for key in state.balance_pending.get(venue, ()):
            found = _fill_change(state, state.fills[key])
            if found is not None:
                pending[key] = found[2]
        out[venue] = _BalanceDrift({a: b.total for a, b in assets.items()}, pending)
    return out


class EngineProbe:
    """Samples the engine (`run`) and listens to its journaled events (`on_event`); see the module doc.

    `venues` are the adapters (trading and data-only); `hub` offers `latest(symbol)` (the consensus)
    for `symbols`; `recorder` is read for the journal lag only. Detectors may be injected (tests,
    other thresholds); by default they use their documented defaults.
    """

    def __init__(
        self,
        metrics: Metrics,
        alerts: AlertSink | None,
        clock: Clock,
        *,
        state: EngineState,
        venues: Mapping[str, object],
        hub: object | None = None,
        symbols: Iterable[str] = (),
        strategies: Iterable[str] = (),
        recorder: object | None = None,
        interval_s: float = 1.0,
        latency: LatencyDetector | None = None,
        slippage: SlippageDetector | None = None,
        drift: DriftDetector | None = None,
        feed: FeedQualityDetector | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"probe interval must be > 0, got {interval_s}")
        sink: AlertSink = alerts if alerts is not None else _NoAlerts()
        self.metrics = metrics
        self.clock = clock
        self.state = state
        self.venues = dict(venues)
        self.hub = hub
        self.symbols = sorted(set(symbols))
        self.recorder = recorder
        self.interval_s = interval_s
        self.latency = latency or LatencyDetector(sink, clock)
        self.slippage = slippage or SlippageDetector(sink, clock)
        self.drift = drift or DriftDetector(sink, clock)
        self.feed = feed or FeedQualityDetector(sink, clock)
        self.books = StrategyBooks()
        for strategy in strategies:  # published from the start (0 until a fill), in the symbols' quotes
            for quote in sorted({InstrumentId(ANY_VENUE, symbol).quote for symbol in self.symbols}):
                self.books.book(strategy, quote)
        self.failures = 0
        self._sent_at: dict[str, datetime] = {}
        self._filled: dict[str, bool] = {}  # orders counted as "filled" (a late repeat is not recounted)
        self._expected: dict[str, Decimal] = {}  # MARKET / IOC / FOK: the mid when the intent was recorded
        self._measured: dict[tuple[str, str], float] = {}
        self._balances: dict[str, _BalanceDrift] = _journal_baselines(state)
        self._busy_seq: int | None = None
        self._busy_since: float | None = None
        self.books.update(state.carried.strategy_books())  # the archived fills' books, then the live fills
        for fill in state.fills.values():  # what earlier runs filled; later fills come through on_event
            self._book(fill)

    # ---- the sampling task ---------------------------------------------------------------------

    async def run(self) -> None:
        """Sample every `interval_s` until cancelled. A failing round is logged and counted, and the
        next one runs: monitoring must never take the engine's TaskGroup down."""
        while True:
            try:
                self.sample()
            except Exception:  # logged with its traceback and counted; CancelledError is not caught
                self.failures += 1
                log.exception("engine_probe_failed", failures=self.failures)
            await self.clock.sleep(self.interval_s)

    def sample(self) -> None:
        """One round: endpoints and breakers, strategy PnL/exposure, journal, feed quality."""
        for name, venue in sorted(self.venues.items()):
            self._endpoints(name, venue)
        for (strategy, quote), book in self.books.items():
            figures = book.figures(self._mark)
            self.metrics.strategy_pnl(strategy, quote, figures.pnl)
            self.metrics.strategy_exposure(strategy, quote, figures.exposure)
        self.metrics.journal(self.state.last_seq, self._journal_lag())
        for symbol in self.symbols:
            self._feed_quality(symbol)

    def _endpoints(self, name: str, venue: object) -> None:
        pool = getattr(getattr(venue, "gateway", None), "pool", None)  # not part of VenuePort
        if pool is None:
            return
        for ep in pool.endpoints:
            state = ep.breaker.state
            self.metrics.breaker_state(name, ep.url, _BREAKER[state])
            self.metrics.endpoint_up(name, ep.url, state is BreakerState.CLOSED)
            measured = ep.measured_at
            if measured is not None and self._measured.get((name, ep.url)) != measured:
                self._measured[(name, ep.url)] = measured
                samples = ep.stats.samples
                latest = samples[-1] if samples else ep.stats.ewma
                if latest is not None:
                    self.metrics.endpoint_latency(name, ep.url, latest)
        self.metrics.breaker_state(name, "*", _BREAKER[pool.breaker.state])

    def _journal_lag(self) -> float:
        now, seq = self.clock.monotonic(), self.state.last_seq
        if not getattr(self.recorder, "busy", False):  # `Recorder.busy`; no recorder: never lagging
            self._busy_seq = self._busy_since = None
            return 0.0
        if self._busy_seq != seq or self._busy_since is None:  # busy, but the journal moved on
            self._busy_seq, self._busy_since = seq, now
        return now - self._busy_since

    def _feed_quality(self, symbol: str) -> None:
        consensus = self._latest(symbol)
        if consensus is None:
            return
        for q in consensus.quality:
            if q.age_s is None:
                continue  # never delivered: the consensus reports it MISSING and the ladder reacts
            age = q.age_s
            if q.status is SourceStatus.FROZEN and q.unchanged_s is not None:
                age = max(age, q.unchanged_s)
            deviation = float(q.deviation_bps) if q.deviation_bps is not None else 0.0
            self.feed.observe(q.source, symbol, age_s=age, deviation_bps=deviation)

    def _latest(self, symbol: str) -> Any:
        latest = getattr(self.hub, "latest", None)
        return latest(symbol) if latest is not None and symbol in self.symbols else None

    def _mid(self, symbol: str) -> Decimal | None:
        consensus = self._latest(symbol)
        return consensus.mid if consensus is not None else None

    def _mark(self, instrument: InstrumentId) -> Decimal | None:
        return self._mid(instrument.symbol)

    def mark(self, instrument: InstrumentId) -> Decimal | None:
        """The consensus mid of `instrument`'s symbol (None without a trustworthy price)."""
        return self._mark(instrument)

    # ---- the recorder listener -----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Recorder listener: synchronous; a failure is logged, never raised into the recorder."""
        try:
            self._on_event(event)
        except Exception:  # logged with its traceback; the event is durable and trading goes on
            self.failures += 1
            log.exception("engine_probe_event_failed", event_type=type(event).__name__)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, BalanceSnapshot):
            self._balance_snapshot(event)
            return
        if not isinstance(event, OrderEvent):
            return
        cid = event.client_order_id.value
        if isinstance(event, OrderIntent):
            if event.order_type is OrderType.MARKET or event.time_in_force in _SWEEPING:
                expected = self._mid(event.instrument_id.symbol) or event.price
                if expected is not None:
                    _remember(self._expected, cid, expected)
        elif isinstance(event, OrderSubmitted):
            _remember(self._sent_at, cid, event.ts)
        elif isinstance(event, OrderAccepted):
            sent = self._sent_at.pop(cid, None)
            order = self.state.orders.get(cid)
            if sent is not None and order is not None:
                self.latency.observe(order.instrument_id.venue, max(0.0, (event.ts - sent).total_seconds()))
        elif isinstance(event, OrderFilled):
            self._fill(event)
        order = self.state.orders.get(cid)
        if order is None or order.state.is_terminal:
            self._sent_at.pop(cid, None)
            self._expected.pop(cid, None)

    def _book(self, fill: OrderFilled) -> None:
        order = self.state.orders.get(fill.client_order_id.value)
        if order is None:
            return
        self.books.fill(fill.client_order_id.strategy, order.instrument_id, order.side, fill.quantity, fill.price,
                        fill.fee, fill.fee_asset)

    def _fill(self, fill: OrderFilled) -> None:
        cid = fill.client_order_id.value
        order = self.state.orders.get(cid)
        if order is None:
            return
        self._book(fill)
        iid, strategy = order.instrument_id, fill.client_order_id.strategy
        if order.state is OrderState.FILLED and cid not in self._filled:
            _remember(self._filled, cid, True)
            self.metrics.order_outcome(iid.venue, strategy, "filled")  # EventWatch counts the other outcomes
        expected = self._expected.get(cid) or order.price
        if expected is not None and expected > 0:
            bps = self.slippage.observe(iid.venue, strategy, order.side.value, expected, fill.price)
            self.metrics.slippage(iid.venue, strategy, bps)
        found = _fill_change(self.state, fill)
        if found is not None:
            venue, key, change = found
            self._balances.setdefault(venue, _BalanceDrift()).fill(key, change)

    def _balance_snapshot(self, snap: BalanceSnapshot) -> None:
        totals = {b.asset: b.total for b in snap.balances}
        expected = self._balances.setdefault(snap.venue, _BalanceDrift()).snapshot(totals, snap.includes)
        if expected is not None:
            self.drift.compare(snap.venue, "balances", expected, totals)
