"""Redundant feeds: per source a websocket with REST polling standing in, and the hub that runs
them, validates every update and publishes the consensus.

    SourceSpec(name, instrument_id, watch=..., fetch=...)   what one source is made of
    RedundantFeed                                          runs one source (two supervised loops)
    MarketDataHub                                          runs every feed + dispatch + staleness checks

One source's life (times from `FeedSettings`):

- The websocket loop waits for each message at most `stall_s`. A silent websocket (stall) or an
  error (1006 drop, refused reconnect) switches the source to REST within `stall_s` (at once on an
  error); errors are retried with exponential backoff (`reconnect_min_s`..`reconnect_max_s`), and
  never before the error says a request may go again (`retry_in` of a rate-limit pause or an open
  breaker, `retry_after` of a 429/418): a resubscription fetches a REST snapshot, and sending one
  during a 429 pause is what gets an IP banned.
- While on REST, the poll loop fetches every `poll_interval_s`, each request time-boxed by
  `request_timeout_s`. After `restore_after` websocket messages in a row, polling stops (restored).
- At start both run until the websocket has proven itself, so the first price comes at once.

Every switch is a `FeedSwitched` event (kept, bounded, in `MarketDataHub.switches`). Every task
lives in a `TaskGroup` owned by `MarketDataHub.run()`; cancelling it stops everything, and nothing
swallows `CancelledError`.

Batches and conflation (issue 17, item 5). A watch may return one `Quote` or a batch: everything the
source received since the previous call, oldest first (a socket read brings several frames at once;
ccxt.pro's book and ticker caches conflate on their own and return one). The feed hands the hub the
whole batch in one call, stamped with one receipt time; the hub has the validator observe every
update of it at once, in order (counts, gaps, whether the book changed, the newest book kept), marks
the symbol touched and wakes the dispatcher. Nothing queues: the dispatcher, when it runs, assesses
each touched symbol once and publishes that consensus, so the strategy gets the newest view of
everything observed so far, once per loop step and never per raw tick, and never a stale one (a
source's status is judged at publication). Memory is bounded by the number of symbols, and nothing
is dropped: every update is counted and its book compared, only the publications are conflated.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog

from nonstop.clock import Clock
from nonstop.connectivity._aio import run_with_timeout
from nonstop.connectivity.errors import RequestNotSent, VenueError
from nonstop.data.consensus import ConsensusQuote, SourceStatus
from nonstop.data.settings import DataSettings, FeedSettings
from nonstop.data.sources import Fetch, Watch
from nonstop.data.stall import StallBox
from nonstop.data.validator import SourceQuote, Validator
from nonstop.model import InstrumentId
from nonstop.venues.port import Quote

log = structlog.get_logger("nonstop.data.feeds")
MAX_TOLD_WAIT_S = 600.0  # longest wait a venue's hint can impose on a reconnect (a ban lasts minutes)

__all__ = ["FeedSwitched", "MarketDataHub", "RedundantFeed", "SourceSpec", "Transport"]


class Transport(StrEnum):
    WS = "ws"
    REST = "rest"
    NONE = "none"  # neither: the websocket is down and there is no REST fallback


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source of one instrument: `name` is what the validator and monitoring call it (unique
    per symbol, e.g. the venue name); at least one of `watch` / `fetch` is given."""

    name: str
    instrument_id: InstrumentId
    watch: Watch | None = None
    fetch: Fetch | None = None

    def __post_init__(self) -> None:
        if self.watch is None and self.fetch is None:
            raise ValueError(f"source {self.name!r} of {self.instrument_id}: give a watch, a fetch or both")


@dataclass(frozen=True, slots=True)
class FeedSwitched:
    """A source changed transport (an immutable event, for logs, metrics and tests)."""

    ts: datetime
    monotonic: float
    source: str
    symbol: str
    old: Transport
    new: Transport
    reason: str


Emit = Callable[[SourceSpec, str, Sequence[Quote], float], None]
"""What a feed hands on: (source, transport, updates oldest first, receipt time on the monotonic clock)."""


class RedundantFeed:
    """Runs one source: websocket first, REST polling while the websocket is down."""

    def __init__(
        self,
        spec: SourceSpec,
        clock: Clock,
        settings: FeedSettings,
        emit: Emit,
        on_switch: Callable[[FeedSwitched], None] | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.settings = settings
        self.poll_interval_s = settings.poll_interval_s
        self._emit = emit
        self._on_switch = on_switch
        self._polling = asyncio.Event()
        self.transport = Transport.REST if spec.fetch is not None else Transport.NONE
        if spec.fetch is not None:
            self._polling.set()
        self.ws_errors = 0
        self.ws_stalls = 0
        self.poll_errors = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self.spec.watch is not None:
                box = StallBox(self.clock, self.settings.stall_s)
                reader = tg.create_task(self._ws_loop(self.spec.watch, box), name=f"ws-{self.spec.name}")
                tg.create_task(box.run(reader), name=f"ws-stall-{self.spec.name}")
            if self.spec.fetch is not None:
                tg.create_task(self._poll_loop(self.spec.fetch), name=f"poll-{self.spec.name}")

    def _switch(self, new: Transport, reason: str) -> None:
        if new is self.transport:
            return
        old, self.transport = self.transport, new
        if new is Transport.REST:
            self._polling.set()
        else:
            self._polling.clear()
        event = FeedSwitched(
            self.clock.now(), self.clock.monotonic(), self.spec.name, self.spec.instrument_id.symbol, old, new, reason
        )
        # the first switch (from NONE at start) and a return to the websocket are normal: info
        emit = log.warning if new is not Transport.WS and old is not Transport.NONE else log.info
        emit("feed_switched", source=event.source, symbol=event.symbol, old=old, new=new, reason=reason)
        if self._on_switch is not None:
            self._on_switch(event)

    def _ws_down(self, reason: str) -> None:
        self._switch(Transport.REST if self.spec.fetch is not None else Transport.NONE, reason)

    def _deliver(self, transport: Transport, updates: Sequence[Quote]) -> float:
        received = self.clock.monotonic()
        self._emit(self.spec, transport.value, updates, received)
        return received

    async def _ws_loop(self, watch: Watch, box: StallBox) -> None:
        """Each wait for a message is time-boxed by `stall_s` (`box`, run next to this task)."""
        s = self.settings
        failures = streak = 0
        box.begin(self.clock.monotonic())
        while True:
            try:
                got = await watch()
            except asyncio.CancelledError:
                box.end()
                if not box.cut_taken():
                    raise
                self.ws_stalls += 1
                streak = 0
                self._ws_down(f"websocket stalled: no message for {s.stall_s:g}s")
                box.begin(self.clock.monotonic())
                continue  # the subscription may resume; keep waiting on it
            except Exception as err:  # noqa: BLE001 - a dropped websocket is expected: counted, logged, retried
                box.end()
                box.discard_cut()
                self.ws_errors += 1
                streak = 0
                self._ws_down(f"websocket error: {type(err).__name__}: {err}"[:300])
                delay = max(min(s.reconnect_max_s, s.reconnect_min_s * 2 ** min(failures, 16)), _told_to_wait(err))
                failures += 1
                log.info("feed_ws_retry", source=self.spec.name, symbol=self.spec.instrument_id.symbol,
                         retry_in_s=round(delay, 3), failures=failures)
                await self.clock.sleep(delay)
                box.begin(self.clock.monotonic())
                continue
            box.discard_cut()
            updates = (got,) if isinstance(got, Quote) else got
            if not updates:  # an empty batch is no message: the wait goes on, its time box too
                box.begin(box.since)
                continue
            failures = 0
            streak += len(updates)
            box.begin(self._deliver(Transport.WS, updates))
            if self.transport is not Transport.WS and streak >= s.restore_after:
                self._switch(Transport.WS, f"websocket restored: {streak} messages in a row")

    async def _poll_loop(self, fetch: Fetch) -> None:
        s = self.settings
        while True:
            await self._polling.wait()
            try:
                quote = await run_with_timeout(self.clock, s.request_timeout_s, fetch)
            except Exception as err:  # noqa: BLE001 - a failed poll is counted and logged; the source goes stale
                self.poll_errors += 1
                log.warning("feed_poll_failed", source=self.spec.name, error=f"{type(err).__name__}: {err}"[:300])
            else:
                if self._polling.is_set():  # the websocket may have come back meanwhile
                    self._deliver(Transport.REST, (quote,))
            await self.clock.sleep(self.poll_interval_s)


def _told_to_wait(err: BaseException) -> float:
    """Seconds the error says nothing may be sent (a rate-limit pause, an open breaker), else 0."""
    if isinstance(err, RequestNotSent):
        wait = getattr(err, "retry_in", None)
    elif isinstance(err, VenueError):
        wait = err.retry_after
    else:
        wait = None
    return min(float(wait), MAX_TOLD_WAIT_S) if wait else 0.0


OnUpdate = Callable[[ConsensusQuote], Awaitable[None]]


class MarketDataHub:
    """Runs the feeds of every instrument, validates every update and publishes the consensus.

    `on_update` is awaited with the consensus of a symbol once per dispatcher step in which any of
    its sources delivered (however many updates that step brought: see the module docstring), and
    whenever a periodic check (`check_interval_s`) finds a source's status changed (so a feed that
    goes silent is reported without any update arriving). It runs on the dispatch task: keep it fast.
    """

    def __init__(
        self,
        clock: Clock,
        sources: Sequence[SourceSpec],
        settings: DataSettings | None = None,
        on_update: OnUpdate | None = None,
        *,
        max_switches: int = 1000,
    ) -> None:
        self.clock = clock
        self.settings = settings or DataSettings()
        self.validator = Validator(clock, self.settings.validator)
        self.on_update = on_update
        self.switches: deque[FeedSwitched] = deque(maxlen=max_switches)
        self.received = 0  # updates observed
        self.published = 0  # consensus quotes handed to `on_update`
        self._touched: set[str] = set()  # symbols observed since the dispatcher's last step
        self._wake = asyncio.Event()
        self._last: dict[str, ConsensusQuote] = {}
        self.feeds: list[RedundantFeed] = []
        seen: set[tuple[str, str]] = set()
        for spec in sources:
            key = (spec.instrument_id.symbol, spec.name)
            if key in seen:
                raise ValueError(f"source {spec.name!r} is given twice for {spec.instrument_id.symbol}")
            seen.add(key)
            self.validator.expect(*key)
            self.feeds.append(RedundantFeed(spec, clock, self.settings.feeds, self.receive, self.switches.append))

    def receive(self, spec: SourceSpec, transport: str, updates: Sequence[Quote], received: float) -> None:
        """A feed's batch (oldest first, one receipt time): observed now, in order; published by the
        dispatcher's next step. Never waits, never queues."""
        symbol = spec.instrument_id.symbol
        self.validator.observe_many(symbol, spec.name, transport, updates, received)
        self.received += len(updates)
        self._touched.add(symbol)
        self._wake.set()

    def offer(self, update: SourceQuote) -> None:
        """One update from anywhere (its own symbol and receipt time), as `receive` takes a batch."""
        self.validator.observe(update)
        self.received += 1
        self._touched.add(update.symbol)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Symbols observed but not yet published (0 once the dispatcher has caught up)."""
        return len(self._touched)

    def latest(self, symbol: str) -> ConsensusQuote:
        """The consensus of `symbol` judged now (not the last published one)."""
        return self.validator.assess(symbol)

    def set_reduced(self, reduced: bool) -> None:
        """REDUCED_DATA: REST fallbacks poll at `reduced_poll_interval_s` instead of `poll_interval_s`."""
        s = self.settings.feeds
        for feed in self.feeds:
            feed.poll_interval_s = s.reduced_poll_interval_s if reduced else s.poll_interval_s

    async def run(self) -> None:
        """Run until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for feed in self.feeds:
                tg.create_task(feed.run(), name=f"feed-{feed.spec.instrument_id.symbol}-{feed.spec.name}")
            tg.create_task(self._dispatch(), name="data-dispatch")
            tg.create_task(self._check(), name="data-check")

    async def _dispatch(self) -> None:
        wake = self._wake
        while True:
            await wake.wait()
            wake.clear()
            touched, self._touched = self._touched, set()
            for symbol in touched:  # one assessment per symbol, whatever arrived since the last step
                await self._publish(self.validator.assess(symbol))

    async def _check(self) -> None:
        while True:
            await self.clock.sleep(self.settings.feeds.check_interval_s)
            for symbol in self.validator.symbols():
                consensus = self.validator.assess(symbol)
                previous = self._last.get(symbol)
                if previous is None or _statuses(previous) != _statuses(consensus):
                    await self._publish(consensus)

    async def _publish(self, consensus: ConsensusQuote) -> None:
        self._last[consensus.symbol] = consensus
        self.published += 1
        if self.on_update is not None:
            await self.on_update(consensus)


def _statuses(c: ConsensusQuote) -> tuple[tuple[str, SourceStatus], ...]:
    return tuple((q.source, q.status) for q in c.quality)
