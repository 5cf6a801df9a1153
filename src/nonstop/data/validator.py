"""Per-source checks of market data: staleness, frozen books, empty / crossed / absurdly wide books.

Pure and clock-driven (inject a `ManualClock` in tests). Feeds hand every update to `observe`;
`assess(symbol)` judges every source of the symbol at the clock's current time and builds the
consensus (consensus.py). Staleness is measured on our own monotonic clock at receipt, never on the
venue's timestamps (a venue clock can be skewed, and a frozen venue may keep stamping "now" on an
unchanged book — the simulator's REST ticker does exactly that). Hence two staleness checks:

- STALE: nothing received for `max_age_s` (a silent websocket, a REST poll that keeps failing);
- FROZEN: updates arrive, but the top of book has not changed for `max_unchanged_s`.

Incremental: `observe` is a few attribute writes, `observe_many` takes a feed's batch (one receipt
time) with one comparison of books unless the batch ends on the book it started from; what depends
only on a source's top of book (its mid, its book status) is computed once per change of that book,
not per assessment, and `assess` builds the consensus in one pass (consensus.py `ConsensusBuilder`).
The straightforward computation (judge each source, then `build_consensus`) is kept in
tests/unit/data/straight.py: the fast one must equal it on random sequences (test_incremental.py),
and a batch must equal its updates observed one by one (test_batches.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from nonstop.clock import Clock
from nonstop.data.consensus import BPS, ConsensusBuilder, ConsensusQuote, SourceStatus
from nonstop.data.settings import ValidatorSettings
from nonstop.venues.port import Quote


@dataclass(frozen=True, slots=True)
class SourceQuote:
    """One update from one source: `source` names the logical source (e.g. a venue's feed of the
    symbol), `transport` what carried it ("ws" or "rest"), `received` the clock's monotonic time."""

    source: str
    transport: str
    quote: Quote
    received: float

    @property
    def symbol(self) -> str:
        return self.quote.instrument_id.symbol


@dataclass(slots=True)
class _Track:
    transport: str = ""
    bid: Decimal | None = None
    ask: Decimal | None = None
    last_received: float | None = None
    last_changed: float | None = None
    updates: int = 0
    gaps: int = 0
    max_gap_s: float = 0.0
    # derived from (bid, ask) alone, computed on first use after each change of the book
    book: SourceStatus | None = None
    mid: Decimal | None = None
    mid_known: bool = False


class Validator:
    """Tracks every (symbol, source) and judges them; one instance per engine, not thread-safe."""

    def __init__(self, clock: Clock, settings: ValidatorSettings | None = None) -> None:
        self.clock = clock
        self.settings = settings or ValidatorSettings()
        self._tracks: dict[str, dict[str, _Track]] = {}
        self._gap_s = self.settings.gap_s

    def expect(self, symbol: str, source: str) -> None:
        """Declare a source before its first update, so its absence is reported as MISSING."""
        self._tracks.setdefault(symbol, {}).setdefault(source, _Track())

    def observe(self, update: SourceQuote) -> None:
        """One update (a batch of one)."""
        self.observe_many(update.symbol, update.source, update.transport, (update.quote,), update.received)

    def observe_many(
        self, symbol: str, source: str, transport: str, updates: Sequence[Quote], received: float
    ) -> None:
        """A batch of one source's updates received together, oldest first: the same as `observe` of
        each in turn at `received`, for one look-up and one comparison of books (the whole batch's
        intervals are one interval; a book that moved and came back within it still changed)."""
        if not updates:
            return
        try:
            track = self._tracks[symbol][source]
        except KeyError:
            track = self._tracks.setdefault(symbol, {}).setdefault(source, _Track())
        last = track.last_received
        if last is not None:
            interval = received - last
            if interval > self._gap_s:
                track.gaps += 1
            if interval > track.max_gap_s:
                track.max_gap_s = interval
        newest = updates[-1]
        bid, ask = newest.bid, newest.ask
        old_bid, old_ask = track.bid, track.ask
        changed = (
            track.last_changed is None
            or (bid is not old_bid and bid != old_bid)
            or (ask is not old_ask and ask != old_ask)
        )
        if not changed and len(updates) > 1:  # it ends where it began: did it move in between?
            for q in updates:
                b, a = q.bid, q.ask
                if (b is not old_bid and b != old_bid) or (a is not old_ask and a != old_ask):
                    changed = True
                    break
        if changed:
            track.last_changed = received
            track.book = None
            track.mid_known = False
        track.bid, track.ask = bid, ask
        track.transport = transport
        track.last_received = received
        track.updates += len(updates)

    def symbols(self) -> list[str]:
        return list(self._tracks)

    def sources(self, symbol: str) -> list[str]:
        return list(self._tracks.get(symbol, {}))

    def assess(self, symbol: str) -> ConsensusQuote:
        """Judge every source of `symbol` now and build the consensus (or say why there is none)."""
        now = self.clock.monotonic()
        s = self.settings
        max_age, max_unchanged = s.max_age_s, s.max_unchanged_s
        build = ConsensusBuilder(s.band_bps, s.min_sources)
        for name, t in self._tracks.get(symbol, {}).items():
            bid, ask = t.bid, t.ask
            if t.mid_known:
                mid = t.mid
            else:
                mid = t.mid = None if bid is None or ask is None else (bid + ask) / 2
                t.mid_known = True
            age = None if t.last_received is None else now - t.last_received
            unchanged = None if t.last_changed is None else now - t.last_changed
            if age is None:
                status = SourceStatus.MISSING
            elif age > max_age:
                status = SourceStatus.STALE
            elif max_unchanged is not None and unchanged is not None and unchanged > max_unchanged:
                status = SourceStatus.FROZEN
            else:
                status = t.book
                if status is None:
                    status = t.book = _book_status(bid, ask, mid, s.max_spread_bps)
            # the gap in progress counts too: a source that went silent shows its current gap
            max_gap = max(t.max_gap_s, age) if age is not None and t.updates else t.max_gap_s
            build.add(name, t.transport, status, age, unchanged, t.gaps, max_gap, t.updates, bid, ask, mid)
        return build.result(symbol, self.clock.now())


def book_status(bid: Decimal | None, ask: Decimal | None, max_spread_bps: Decimal | None) -> SourceStatus:
    """OK, EMPTY, CROSSED or WIDE for one top of book."""
    if bid is None or ask is None or bid <= 0 or ask <= 0:
        return SourceStatus.EMPTY
    if bid >= ask:
        return SourceStatus.CROSSED
    if max_spread_bps is not None and (ask - bid) / ((ask + bid) / 2) * BPS > max_spread_bps:
        return SourceStatus.WIDE
    return SourceStatus.OK


def _book_status(
    bid: Decimal | None, ask: Decimal | None, mid: Decimal | None, max_spread_bps: Decimal | None
) -> SourceStatus:
    """`book_status` with the mid `(bid + ask) / 2` already at hand (the same value its spread divides by)."""
    if bid is None or ask is None or bid <= 0 or ask <= 0 or mid is None:
        return SourceStatus.EMPTY
    if bid >= ask:
        return SourceStatus.CROSSED
    if max_spread_bps is not None and (ask - bid) / mid * BPS > max_spread_bps:
        return SourceStatus.WIDE
    return SourceStatus.OK
