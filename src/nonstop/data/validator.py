"""Per-source checks of market data: staleness, frozen books, empty / crossed / absurdly wide books.

Pure and clock-driven (inject a `ManualClock` in tests). Feeds hand every update to `observe`;
`assess(symbol)` judges every source of the symbol at the clock's current time and builds the
consensus (consensus.py). Staleness is measured on our own monotonic clock at receipt, never on the
venue's timestamps (a venue clock can be skewed, and a frozen venue may keep stamping "now" on an
unchanged book — the simulator's REST ticker does exactly that). Hence two staleness checks:

- STALE: nothing received for `max_age_s` (a silent websocket, a REST poll that keeps failing);
- FROZEN: updates arrive, but the top of book has not changed for `max_unchanged_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.clock import Clock
from nonstop.data.consensus import BPS, ConsensusQuote, SourceQuality, SourceStatus, build_consensus
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


class Validator:
    """Tracks every (symbol, source) and judges them; one instance per engine, not thread-safe."""

    def __init__(self, clock: Clock, settings: ValidatorSettings | None = None) -> None:
        self.clock = clock
        self.settings = settings or ValidatorSettings()
        self._tracks: dict[str, dict[str, _Track]] = {}

    def expect(self, symbol: str, source: str) -> None:
        """Declare a source before its first update, so its absence is reported as MISSING."""
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

    def sources(self, symbol: str) -> list[str]:
        return list(self._tracks.get(symbol, {}))

    def assess(self, symbol: str) -> ConsensusQuote:
        """Judge every source of `symbol` now and build the consensus (or say why there is none)."""
        now = self.clock.monotonic()
        qualities = [self._judge(name, track, now) for name, track in self._tracks.get(symbol, {}).items()]
        return build_consensus(
            symbol,
            self.clock.now(),
            qualities,
            band_bps=self.settings.band_bps,
            min_sources=self.settings.min_sources,
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
        # the gap in progress counts too: a source that went silent shows its current gap
        max_gap = max(t.max_gap_s, age) if age is not None and t.updates else t.max_gap_s
        return SourceQuality(
            source, t.transport, status, age, unchanged, None, t.gaps, max_gap, t.updates, t.bid, t.ask
        )


def book_status(bid: Decimal | None, ask: Decimal | None, max_spread_bps: Decimal | None) -> SourceStatus:
    """OK, EMPTY, CROSSED or WIDE for one top of book."""
    if bid is None or ask is None or bid <= 0 or ask <= 0:
        return SourceStatus.EMPTY
    if bid >= ask:
        return SourceStatus.CROSSED
    if max_spread_bps is not None and (ask - bid) / ((ask + bid) / 2) * BPS > max_spread_bps:
        return SourceStatus.WIDE
    return SourceStatus.OK
