"""The market-data path as it was before batches (commit 5ddc47f): the baseline that
benchmarks/data_pipeline.py measures in the same run, and the per-update reference the batched hub
must agree with (test_batches.py).

- `PerTickHub`: every update goes through the bounded queue as its own `SourceQuote`; the dispatcher
  takes them one by one (draining a burst), observes each, and assesses each touched symbol.
- `PerTickFeed`: hands each websocket message on as its own `SourceQuote` (the feed loop itself is
  today's, a batch of one per message, as the old loop was).

Kept as they were, not to be optimised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nonstop.clock import Clock
from nonstop.data import DataSettings, MarketDataHub, RedundantFeed, SourceQuote, SourceSpec
from nonstop.data.feeds import OnUpdate, Transport
from nonstop.venues.port import Quote

__all__ = ["PerTickFeed", "PerTickHub"]


class PerTickFeed(RedundantFeed):
    def _deliver(self, transport: Transport, updates: Sequence[Quote]) -> float:
        received = self.clock.monotonic()
        for quote in updates:
            self._emit(SourceQuote(self.spec.name, transport.value, quote, received))  # type: ignore[call-arg, arg-type]
        return received


class PerTickHub(MarketDataHub):
    def __init__(
        self, clock: Clock, sources: Sequence[SourceSpec], settings: DataSettings | None = None,
        on_update: OnUpdate | None = None,
    ) -> None:
        super().__init__(clock, sources, settings, on_update)
        self.dropped = 0
        self._queue: asyncio.Queue[SourceQuote] = asyncio.Queue(self.settings.feeds.queue_size)
        self.feeds = [PerTickFeed(f.spec, clock, self.settings.feeds, self.offer, self.switches.append)  # type: ignore[arg-type]
                      for f in self.feeds]

    def offer(self, update: SourceQuote) -> None:
        """Hand one update to the dispatcher without waiting; the oldest queued one is dropped if full."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(update)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _dispatch(self) -> None:
        while True:
            update = await self._queue.get()
            touched = {update.symbol}
            self.validator.observe(update)
            while not self._queue.empty():  # conflate a burst: one assessment per symbol
                more = self._queue.get_nowait()
                self.validator.observe(more)
                touched.add(more.symbol)
            for symbol in touched:
                await self._publish(self.validator.assess(symbol))
