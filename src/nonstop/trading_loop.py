"""The trading loop: validated market data drives the strategy; the degradation ladder gates it.

    venues (websocket + REST) ──▶ MarketDataHub ──▶ consensus ──▶ StrategyRunner ──▶ gate ──▶ risk ──▶ OrderManager
    limiters, breakers, feed quality, reconcile drift, halt ──▶ DegradationLadder (every second)

One `TradingLoop` per engine run, built by the engine after replay and started in two steps:
`run_data()` (the feeds, from the moment the venues are connected, so prices are warm when trading
starts) and `run()` (the strategy, the order-event relay and the ladder, only after a clean
reconcile: invariant 5).

Serial decisions: every strategy callback and the execution of the intents it returns happen under
one lock (`_turn`), so the strategy always decides on a view that includes its previous orders, and
a level change (a halt) never interleaves with a half-executed decision. Market updates are
conflated: the strategy sees the newest consensus per symbol, at most once per `interval_s`.

Defence in depth against trading on a guess: besides the ladder (an untrusted instrument calls for
REDUCE_ONLY) and the strategies themselves, no `Place` is sent for a symbol whose consensus, judged
at that moment, is not trusted, nor after a halt; those intents are rejected and logged. Every other `Place` passes
pre-trade risk (`nonstop.risk`, invariant 14) before the order manager journals it as submitted; a
refusal is journaled there with the rule's numbers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.data import ConsensusQuote, SourceStatus
from nonstop.data.market_sources import WARM_UP_MINUTES, MarketSource, build_hub, warm_up_candles
from nonstop.errors import JournalUnwritable
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.model import (
    ANY_VENUE,
    DEGRADATION_LEVELS,
    DegradationChanged,
    Event,
    InstrumentId,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderNeverSent,
    OrderRejected,
)
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.alerts import AlertManager
from nonstop.monitor.health import Readiness
from nonstop.monitor.ladder_inputs import measure_ladder_inputs
from nonstop.monitor.metrics import Metrics
from nonstop.risk.admission import OrderAdmission
from nonstop.risk.gate import PreTradeRisk
from nonstop.risk.rules import OrderProposal, Refusal
from nonstop.routing.hedging import StrandedHedging, route_place
from nonstop.routing.router import Router
from nonstop.strategy.base import Cancel, Intent, StrategyView
from nonstop.strategy.builtin import QuoterStrategy, build_strategy
from nonstop.strategy.degradation import DegradationInputs, DegradationLadder, GateResult, Level, LevelChanged
from nonstop.strategy.runner import StrategyRunner
from nonstop.venues.port import VenuePort

__all__ = ["WARM_UP_MINUTES", "DegradationStatus", "MarketSource", "QuoterStrategy", "TradingLoop", "build_strategy"]

log = structlog.get_logger("nonstop.trading")

LADDER_INTERVAL_S = 1.0
ORDER_EVENT_QUEUE = 10_000
LEVEL_LABELS: dict[Level, str] = dict(zip(Level, DEGRADATION_LEVELS, strict=True))
_UPDATES = (OrderAccepted, OrderRejected, OrderInDoubt, OrderCancelRejected, OrderCanceled, OrderExpired,
            OrderNeverSent)  # a stale intent closed unsent: the strategy decides afresh
ALERT_KEY = "degradation"


@dataclass(frozen=True, slots=True)
class DegradationStatus:
    """What the API, dashboard and logs show: the level label, why, and since when."""

    level: str
    reason: str
    since: datetime | None = None


class TradingLoop:
    """Market data → strategy → gate → orders, and the degradation ladder (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        recorder: Recorder,
        manager: OrderManager,
        sources: Sequence[MarketSource],
        *,
        metrics: Metrics,
        alerts: AlertManager | None,
        readiness: Readiness,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.recorder = recorder
        self.manager = manager
        self.metrics = metrics
        self.alerts = alerts
        self.readiness = readiness
        self.sources = list(sources)
        self.trading_venues: dict[str, VenuePort] = {s.venue.name: s.venue for s in sources if s.trading}
        self.strategy = build_strategy(settings.engine.strategy)
        self.runner = StrategyRunner(self.strategy)
        routing = settings.engine.routing
        self.router = Router(self.trading_venues, clock, lambda: recorder.state, metrics=metrics, alerts=alerts,
                             fee_bps=routing.fee_bps, policy=routing.stranded, hedge_after_s=routing.hedge_after_s)
        self.ladder = DegradationLadder(clock, settings.engine.degradation)
        self.degradation = DegradationStatus("normal", "starting", None)
        self.halted: str | None = None
        self.reconcile_drift: dict[str, int] = {}  # unresolved differences of the latest pass, per venue
        self.rejected: deque[tuple[Intent, str]] = deque(maxlen=1000)  # recent refusals (for inspection)
        self.rejected_count = 0
        self.warmed_up: tuple[int, int] | None = None  # (candles handed over, venue requests made)
        self.hub = build_hub(self.sources, settings.engine.strategy.symbol, settings.data, clock, self._on_consensus)
        self._turn = asyncio.Lock()
        self._pending: dict[str, ConsensusQuote] = {}
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()  # every source good at least once
        self._order_events: asyncio.Queue[OrderEvent] = asyncio.Queue(ORDER_EVENT_QUEUE)
        self._view: StrategyView | None = None
        recorder.listeners.append(self._on_event)
        self.risk = PreTradeRisk(settings.risk, recorder.state, clock, self.trusted_mid,
                                 instance=settings.engine.instance, on_refusal=self._risk_refused)
        recorder.listeners.append(self.risk.on_event)
        recorder.listeners.append(self.router.on_event)
        self.admission = OrderAdmission(
            self.risk, manager, self.trading_venues, self.hub.latest, strategy_id=self.strategy.id,
            halted=lambda: self.halted, journal_unwritable=lambda: recorder.unwritable is not None,
        )
        self.hedging = StrandedHedging(self.router, self.hub.latest, self.admission, manager,
                                       strategy_id=self.strategy.id, slippage_bps=routing.hedge_slippage_bps)

    @property
    def hedges_sent(self) -> int:
        """Stranded-exposure hedges and unwinds sent (M12)."""
        return self.hedging.sent

    @property
    def view(self) -> StrategyView:
        if self._view is None:
            instruments = {i: x for v in self.trading_venues.values() for i, x in v.instruments().items()}
            for iid, x in list(instruments.items()):  # a routed symbol: the first listing venue's filters
                instruments.setdefault(InstrumentId(ANY_VENUE, iid.symbol), x)
            self._view = StrategyView(self.strategy.id, self.recorder.state, instruments)
        return self._view

    # ------------------------------------------------------------------ running
    async def run_data(self) -> None:
        """The feeds; run from venue connection until the end (cancel to stop)."""
        await self.hub.run()

    async def wait_for_prices(self, timeout_s: float) -> bool:
        """Wait until every source has been good once (bounded); False if the time ran out."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._settled.wait()
        except TimeoutError:
            log.warning("prices_not_settled", waited_s=timeout_s, consensus=self._describe())
            return False
        return True

    async def warm_up(self, cache_path: Path, *, minutes: int = WARM_UP_MINUTES) -> int:
        """Hand the strategy its recent 1m candles from the local history cache, fetching only what
        the cache lacks (so a restart downloads nothing it already has; offline it uses what is
        cached). Never holds trading up: a venue error or a slow venue leaves it with what it has.
        Returns how many candles the strategy got."""
        found = await warm_up_candles(self.sources, self.settings.engine.strategy.symbol, cache_path, self.clock,
                                      self.settings.data.history, minutes=minutes)
        if found is None:
            return 0
        iid, candles, fetched = found
        self.runner.warm_up({iid: candles})
        self.warmed_up = (len(candles), fetched)
        log.info("warmed_up", instrument=str(iid), candles=len(candles), venue_requests=fetched)
        return len(candles)

    async def run(self) -> None:
        """The strategy, the order-event relay and the ladder; call after a clean reconcile."""
        await self._reset_level()
        async with self._turn:
            await self._carry_out(self.runner.start(self.view), "start")
            await self._step()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._market_loop(), name="strategy-market")
            tg.create_task(self._order_loop(), name="strategy-orders")
            tg.create_task(self._ladder_loop(), name="degradation-ladder")

    async def halt(self, reason: str) -> None:
        """The kill switch: the ladder goes to HALTED now (cancels, then nothing but cancels)."""
        self.halted = reason
        async with self._turn:
            await self._step()

    async def resume(self) -> None:
        """The kill switch lifted: the ladder recovers from HALTED as its inputs allow."""
        self.halted = None
        async with self._turn:
            await self._step()

    # ------------------------------------------------------------ market data
    async def _on_consensus(self, consensus: ConsensusQuote) -> None:
        self._pending[consensus.symbol] = consensus
        self._wake.set()
        if consensus.trusted and all(q.status is SourceStatus.OK for q in consensus.quality):
            self._settled.set()

    async def _market_loop(self) -> None:
        interval = self.settings.engine.strategy.interval_s
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            async with self._turn:
                for consensus in pending.values():
                    await self._carry_out(self.runner.on_market(consensus, self.view), "market")
            await self.clock.sleep(interval)

    # ------------------------------------------------------------ order events
    def _on_event(self, event: Event) -> None:
        """Recorder listener (synchronous): hand this strategy's fills and order updates to the relay."""
        if not isinstance(event, (OrderFilled, *_UPDATES)):
            return
        cid = event.client_order_id
        if cid.strategy != self.strategy.id or cid.instance != self.settings.engine.instance:
            return
        try:
            self._order_events.put_nowait(event)
        except asyncio.QueueFull:
            log.error("order_event_queue_full", dropped=type(event).__name__, client_order_id=cid.value)

    async def _order_loop(self) -> None:
        while True:
            event = await self._order_events.get()
            async with self._turn:
                if isinstance(event, OrderFilled):
                    result = self.runner.on_fill(event, self.view)
                else:
                    result = self.runner.on_order_update(self.recorder.state.order(event.client_order_id), self.view)
                await self._carry_out(result, type(event).__name__)

    # ------------------------------------------------------------ execution
    async def _carry_out(self, result: GateResult, trigger: str) -> None:
        for intent, why in result.rejected:
            self._refuse(intent, why, trigger)
        if self.recorder.unwritable is not None and result.allowed:
            # nothing can be recorded, so nothing is sent: the outage guard has canceled what rested
            log.debug("intents_dropped_journal_unwritable", count=len(result.allowed), trigger=trigger)
            return
        for intent in result.allowed:
            try:
                await self._send(intent, trigger)
            except JournalUnwritable as err:  # nothing can be recorded: the outage guard cancels and halts
                self._refuse(intent, str(err), trigger)

    async def _send(self, intent: Intent, trigger: str) -> None:
        if isinstance(intent, Cancel):
            await self.manager.cancel(intent.client_order_id)
            return
        note = None
        if intent.instrument_id.venue == ANY_VENUE and self.halted is None:
            intent, note = route_place(self.router, self.hub.latest, intent)
            if note is None:
                self._refuse(intent, f"no venue to route to: {self.router.decisions[-1].decision.reason}", trigger)
                return
        why = self.admission.refusal(intent)
        if why:
            self._refuse(intent, why, trigger)
            return
        reduce_only = self.ladder.level >= Level.REDUCE_ONLY
        if not await self.admission.admit(intent, reduce_only=reduce_only, note=note):  # invariant 14
            return
        await self.manager.place(
            self.strategy.id,
            intent.instrument_id,
            intent.side,
            intent.quantity,
            intent.price,
            order_type=intent.order_type,
            time_in_force=intent.time_in_force,
            reduce_only=reduce_only,
            note=note,
            hold_until_recorded=False,  # the answer is recorded behind the strategy's back (issue 17)
        )

    def trusted_mid(self, symbol: str) -> Decimal | None:
        consensus = self.hub.latest(symbol)
        return consensus.mid if consensus.trusted else None

    def _risk_refused(self, proposal: OrderProposal, refusal: Refusal) -> None:
        self.rejected_count += 1
        self.metrics.risk_refusal(proposal.strategy, refusal.rule)

    def _refuse(self, intent: Intent, why: str, trigger: str) -> None:
        self.rejected.append((intent, why))
        self.rejected_count += 1
        log.info("intent_rejected", strategy=self.strategy.id, trigger=trigger, intent=repr(intent), reason=why)

    # ------------------------------------------------------------ degradation
    async def _ladder_loop(self) -> None:
        while True:
            await self.clock.sleep(LADDER_INTERVAL_S)
            async with self._turn:
                await self._step()
            self.router.refresh()
            if self.settings.engine.strategy.venue == ANY_VENUE:
                async with self._turn:
                    await self.hedging.step(self.view.instruments, halted=self.halted,
                                            journal_unwritable=self.recorder.unwritable is not None)

    def inputs(self) -> DegradationInputs:
        """The ladder's inputs, measured now (and the feed-quality / rate-limit metrics published)."""
        return measure_ladder_inputs(
            self.sources, self.hub, self.runner.symbols, self.metrics,
            routed=self.settings.engine.strategy.venue == ANY_VENUE,
            reconcile_drift=sum(self.reconcile_drift.values()),
            manual_halt=self.halted is not None,
            journal_unwritable=self.recorder.unwritable is not None,
        )

    async def _step(self) -> None:
        change = self.ladder.update(self.inputs())
        if change is not None:
            await self._level_changed(change)

    async def _reset_level(self) -> None:
        """A new run starts at NORMAL (the ladder recomputes from live inputs); say so in the journal."""
        journaled = self.recorder.state.degradation
        if journaled is not None and journaled.level != LEVEL_LABELS[Level.NORMAL]:
            await self.recorder.record(DegradationChanged(
                ts=self.clock.now(), old=journaled.level, new=LEVEL_LABELS[Level.NORMAL],
                reasons=("engine restarted: the level is recomputed from live inputs",),
            ))
        if self.ladder.level is Level.NORMAL:
            self.degradation = DegradationStatus("normal", "trading normally", self.clock.now())

    async def _level_changed(self, change: LevelChanged) -> None:
        old, new = LEVEL_LABELS[change.old], LEVEL_LABELS[change.new]
        reason = "; ".join(change.reasons)
        try:
            await self.recorder.record(DegradationChanged(ts=change.ts, old=old, new=new, reasons=change.reasons))
        except JournalUnwritable:  # the level still changes (in memory, logged, alerted); the journal has it next time
            log.warning("degradation_not_journaled", old=old, new=new)
        self.degradation = DegradationStatus(new, reason or "trading normally", change.ts)
        worse = change.new > change.old
        (log.warning if worse else log.info)("degradation_changed", old=old, new=new, reasons=list(change.reasons))
        self._alert(change, reason)
        self.hub.set_reduced(change.new >= Level.REDUCED_DATA)
        self.readiness.set_trading_enabled(change.new < Level.HALTED, f"degradation {new}: {reason}")
        await self._carry_out(self.runner.on_level(change, self.view), f"level {new}")

    def _alert(self, change: LevelChanged, reason: str) -> None:
        if self.alerts is None:
            return
        label = LEVEL_LABELS[change.new]
        if change.new is Level.NORMAL:
            self.alerts.resolve(ALERT_KEY, f"back to normal ({reason or 'inputs clear'})")
            return
        level = (
            AlertLevel.CRITICAL if change.new >= Level.HALTED
            else AlertLevel.WARNING if change.new >= Level.REDUCE_ONLY
            else AlertLevel.INFO
        )
        self.alerts.raise_(ALERT_KEY, level, f"trading degraded to {label}", reason)

    def _describe(self) -> Mapping[str, str]:
        return {s: self.hub.latest(s).reason or "trusted" for s in sorted(self.runner.symbols)}
