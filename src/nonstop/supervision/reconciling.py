"""Reconciliation as the engine runs it: passes until one is clean before the strategy gets control
(invariant 5), then one pass every `engine.reconcile_interval_s` (every 2 s while a user stream is
down: REST polling stands in for it), and one last pass at the stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, MutableMapping

import structlog

from nonstop.execution.reconcile import Reconciler
from nonstop.model import ANY_VENUE, EngineState, InstrumentId
from nonstop.strategy.interface import TradingStrategy
from nonstop.supervision.status import Supervision
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.engine")
CLEAN_PASSES_TRIES = 5
FAST_INTERVAL_S = 2.0  # while a user stream is down


def instruments_to_reconcile(state: EngineState, venue: VenuePort, strategy: TradingStrategy) -> list[InstrumentId]:
    """Every instrument of this venue with an order in the journal, and the strategy's own."""
    wanted = {o.instrument_id for o in state.orders.values() if o.instrument_id.venue == venue.name}
    wanted.update(InstrumentId(venue.name, i.symbol) for i in strategy.instruments
                  if i.venue in (venue.name, ANY_VENUE))  # "auto": routed to any venue (M12)
    return sorted(wanted, key=str)


class ReconcileLoop:
    """The reconciler driven over every trading venue, reporting to the engine's readiness."""

    def __init__(
        self,
        sup: Supervision,
        reconciler: Reconciler,
        venues: Mapping[str, VenuePort],
        state: EngineState,
        strategy: TradingStrategy,
    ) -> None:
        self.sup = sup
        self.reconciler = reconciler
        self.venues = venues
        self.state = state
        self.strategy = strategy

    def _instruments(self, venue: VenuePort) -> list[InstrumentId]:
        return instruments_to_reconcile(self.state, venue, self.strategy)

    async def until_clean(self) -> None:
        """Passes over every venue, backing off, until one pass is clean everywhere."""
        sup = self.sup
        sup.status.phase = "reconciling"
        backoff = 0.5
        passes = 0
        while True:
            results = [await self.reconciler.reconcile(name, self._instruments(v)) for name, v in self.venues.items()]
            passes += 1
            if all(r.clean for r in results):
                sup.status.reconciled = True
                sup.readiness.set_reconciled(True)
                log.info("reconcile_clean", passes=passes)
                return
            reasons = [f"{r.venue}: {d.kind.value}: {d.detail}" for r in results for d in r.differences]
            reasons += [f"{r.venue}: error: {e}" for r in results for e in r.errors]
            log.warning("reconcile_not_clean", passes=passes, reasons=reasons)
            if all(not r.errors for r in results) and passes >= CLEAN_PASSES_TRIES:
                log.error("reconcile_not_converging", passes=passes)
            await sup.clock.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def forever(
        self, interval_s: float, streams_down: Callable[[], bool], drift: MutableMapping[str, int]
    ) -> None:
        """A pass every `interval_s` (faster while `streams_down()`); the differences a pass left
        are written to `drift` (per venue: the degradation ladder goes reduce-only on them)."""
        sup = self.sup
        while True:
            await sup.clock.sleep(FAST_INTERVAL_S if streams_down() else interval_s)
            for name, venue in self.venues.items():
                result = await self.reconciler.reconcile(name, self._instruments(venue))
                sup.status.reconciled = result.clean
                sup.readiness.set_reconciled(result.clean, "; ".join(result.errors))
                drift[name] = len(result.differences)  # not yet cleared by a clean pass: reduce-only

    async def final(self, timeout_s: float) -> None:
        """One last pass after the stop's cancels, so the journal ends with the venue's fills and
        balances (time-boxed)."""
        try:
            async with asyncio.timeout(timeout_s):
                for name, venue in self.venues.items():
                    await self.reconciler.reconcile(name, self._instruments(venue))
        except TimeoutError:
            log.warning("stop_reconcile_timed_out")
