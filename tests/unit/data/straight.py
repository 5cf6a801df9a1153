"""The market-data path as it was before it was made incremental: the specification the fast path
must equal (test_incremental.py) and the baseline benchmarks/data_pipeline.py measures in the same run.

- `StraightValidator`: every assessment judges every source from scratch and calls `build_consensus`
  (which builds each `SourceQuality` three times and computes every deviation twice).
- `StraightFeed`: time-boxes each websocket wait with `run_with_timeout` (two tasks per message).
- `StraightRunner`: weighs positions and open orders on every gate, whatever the level.

Kept verbatim from the code they replaced (commit 1cd0a6e), not to be optimised; `StraightFeed._deliver`
hands each update on as its own `SourceQuote`, as feeds did before batches (issue 17, item 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

from nonstop.clock import Clock
from nonstop.connectivity._aio import run_with_timeout
from nonstop.data import MarketDataHub, RedundantFeed, SourceQuote, ValidatorSettings, book_status, build_consensus
from nonstop.data.consensus import ConsensusQuote, SourceQuality, SourceStatus
from nonstop.data.feeds import Transport, _told_to_wait, log
from nonstop.data.sources import Watch
from nonstop.data.validator import _Track  # its cache fields stay unused here
from nonstop.strategy.base import Intent, StrategyView
from nonstop.strategy.degradation import GateResult, gate
from nonstop.strategy.runner import StrategyRunner
from nonstop.venues.port import Quote

__all__ = ["StraightFeed", "StraightRunner", "StraightValidator", "straighten"]


class StraightValidator:
    def __init__(self, clock: Clock, settings: ValidatorSettings | None = None) -> None:
        self.clock = clock
        self.settings = settings or ValidatorSettings()
        self._tracks: dict[str, dict[str, _Track]] = {}

    def expect(self, symbol: str, source: str) -> None:
        self._tracks.setdefault(symbol, {}).setdefault(source, _Track())

    def observe(self, update: SourceQuote) -> None:
        track = self._tracks.setdefault(update.symbol, {}).setdefault(update.source, _Track())
        now = update.received
        if track.last_received is not None:
            interval = now - track.last_received
            if interval > self.settings.gap_s:
                track.gaps += 1
            track.max_gap_s = max(track.max_gap_s, interval)
        q = update.quote
        if track.last_changed is None or (q.bid, q.ask) != (track.bid, track.ask):
            track.last_changed = now
        track.bid, track.ask = q.bid, q.ask
        track.transport = update.transport
        track.last_received = now
        track.updates += 1

    def symbols(self) -> list[str]:
        return list(self._tracks)

    def assess(self, symbol: str) -> ConsensusQuote:
        now = self.clock.monotonic()
        qualities = [self._judge(name, track, now) for name, track in self._tracks.get(symbol, {}).items()]
        return build_consensus(
            symbol, self.clock.now(), qualities, band_bps=self.settings.band_bps, min_sources=self.settings.min_sources
        )

    def _judge(self, source: str, t: _Track, now: float) -> SourceQuality:
        s = self.settings
        age = None if t.last_received is None else now - t.last_received
        unchanged = None if t.last_changed is None else now - t.last_changed
        if age is None:
            status = SourceStatus.MISSING
        elif age > s.max_age_s:
            status = SourceStatus.STALE
        elif s.max_unchanged_s is not None and unchanged is not None and unchanged > s.max_unchanged_s:
            status = SourceStatus.FROZEN
        else:
            status = book_status(t.bid, t.ask, s.max_spread_bps)
        max_gap = max(t.max_gap_s, age) if age is not None and t.updates else t.max_gap_s
        return SourceQuality(
            source, t.transport, status, age, unchanged, None, t.gaps, max_gap, t.updates, t.bid, t.ask
        )


class StraightFeed(RedundantFeed):
    def _deliver(self, transport: Transport, updates: Sequence[Quote]) -> float:  # the REST poll's, one by one
        received = self.clock.monotonic()
        for quote in updates:
            self._emit(SourceQuote(self.spec.name, transport.value, quote, received))  # type: ignore[call-arg, arg-type]
        return received

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self.spec.watch is not None:
                tg.create_task(self._straight_ws_loop(self.spec.watch), name=f"ws-{self.spec.name}")
            if self.spec.fetch is not None:
                tg.create_task(self._poll_loop(self.spec.fetch), name=f"poll-{self.spec.name}")

    async def _straight_ws_loop(self, watch: Watch) -> None:
        s = self.settings
        failures = streak = 0
        while True:
            try:
                quote = await run_with_timeout(self.clock, s.stall_s, watch)
            except TimeoutError:
                self.ws_stalls += 1
                streak = 0
                self._ws_down(f"websocket stalled: no message for {s.stall_s:g}s")
                continue
            except Exception as err:  # noqa: BLE001 - as the original: counted, logged, retried
                self.ws_errors += 1
                streak = 0
                self._ws_down(f"websocket error: {type(err).__name__}: {err}"[:300])
                delay = max(min(s.reconnect_max_s, s.reconnect_min_s * 2 ** min(failures, 16)), _told_to_wait(err))
                failures += 1
                log.info("feed_ws_retry", source=self.spec.name, retry_in_s=round(delay, 3), failures=failures)
                await self.clock.sleep(delay)
                continue
            failures = 0
            streak += 1
            self._emit(SourceQuote(self.spec.name, str(Transport.WS), quote, self.clock.monotonic()))
            if self.transport is not Transport.WS and streak >= s.restore_after:
                self._switch(Transport.WS, f"websocket restored: {streak} messages in a row")


class StraightRunner(StrategyRunner):
    def _gate(self, intents: list[Intent], view: StrategyView) -> GateResult:
        instruments = self.primary.instruments
        positions: dict[str, Decimal] = {str(i): view.position(i) for i in instruments}
        open_orders = [o for i in instruments for o in view.open_orders(i)]
        return gate(self.level, intents, positions, open_orders)


def straighten(hub: MarketDataHub) -> MarketDataHub:
    """`hub` with the straightforward validator and feeds swapped in (before it runs)."""
    validator = StraightValidator(hub.clock, hub.settings.validator)
    for feed in hub.feeds:
        validator.expect(feed.spec.instrument_id.symbol, feed.spec.name)
    hub.validator = validator  # type: ignore[assignment]
    hub.feeds = [StraightFeed(f.spec, hub.clock, hub.settings.feeds, hub.offer, hub.switches.append) for f in hub.feeds]
    return hub
