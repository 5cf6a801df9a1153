"""Consensus price of one symbol from several sources, and the quality figures behind it.

Pure: no I/O, no clock. `Validator` (validator.py) decides which sources pass their own checks;
this module compares the survivors with each other and builds the price.

Outliers: a source whose mid deviates from the median of the candidate sources by more than
`band_bps` is excluded. The median includes the source itself: a leave-one-out median over an even
number of others is the mean of the middle two, which one bad source drags halfway, so with three
sources one spiked venue would make a good one look like an outlier too. With the median of all,
one bad source among three or more is excluded and the good ones are not; two sources that disagree
beyond the band are both excluded (nobody can tell which one is right), which is the safe answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from nonstop.model import InstrumentId
from nonstop.venues.port import Quote

BPS = Decimal(10_000)


class SourceStatus(StrEnum):
    """Why a source does (OK) or does not count towards the consensus."""

    OK = "ok"
    MISSING = "missing"  # never delivered anything
    STALE = "stale"  # nothing received within max_age_s
    FROZEN = "frozen"  # updates arrive but the book has not changed within max_unchanged_s
    EMPTY = "empty"  # a side of the book is missing (or zero)
    CROSSED = "crossed"  # bid >= ask
    WIDE = "wide"  # spread beyond max_spread_bps: as good as empty
    OUTLIER = "outlier"  # mid beyond band_bps from the median of the sources

    @property
    def usable(self) -> bool:
        return self is SourceStatus.OK


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """One source's figures at one moment (published for monitoring, shown to strategies)."""

    source: str
    transport: str  # "ws" or "rest": what delivered the latest update
    status: SourceStatus
    age_s: float | None  # since the latest update was received (None: never)
    unchanged_s: float | None  # since the book last changed
    deviation_bps: Decimal | None  # from the median (None: not comparable)
    gaps: int  # intervals between updates longer than gap_s, since the start
    max_gap_s: float
    updates: int
    bid: Decimal | None
    ask: Decimal | None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class ConsensusQuote:
    """The validated view of one symbol: a price from `sources`, or no trustworthy price.

    `mid`, `bid` and `ask` are None exactly when the price is not trustworthy; `reason` then says why.
    A strategy must not open exposure on an untrusted quote.
    """

    symbol: str
    ts: datetime
    mid: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    sources: tuple[str, ...]
    quality: tuple[SourceQuality, ...]
    reason: str = ""

    @property
    def trusted(self) -> bool:
        return self.mid is not None

    def source_quality(self, source: str) -> SourceQuality | None:
        return next((q for q in self.quality if q.source == source), None)

    def to_quote(self, instrument_id: InstrumentId) -> Quote | None:
        """This consensus as a venue `Quote` (for strategies on the first interface), or None if untrusted."""
        if self.mid is None:
            return None
        return Quote(instrument_id, self.bid, self.ask, self.mid, self.ts)


def median(values: Sequence[Decimal]) -> Decimal:
    """The median of a non-empty sequence (mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    n = len(ordered)
    half = n // 2
    return ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2


def deviation_bps(value: Decimal, reference: Decimal) -> Decimal:
    return (value - reference) / reference * BPS


def build_consensus(
    symbol: str,
    ts: datetime,
    candidates: Sequence[SourceQuality],
    *,
    band_bps: Decimal,
    min_sources: int,
) -> ConsensusQuote:
    """Exclude outliers among `candidates` (status OK on their own checks) and build the price.

    Every candidate must have a bid and an ask. Sources that failed their own checks may be passed
    too (any other status): they are reported, with their deviation from the result, but never used.
    """
    usable = [q for q in candidates if q.status is SourceStatus.OK and q.mid is not None]
    mids = [q.mid for q in usable if q.mid is not None]
    reference = median(mids) if mids else None
    judged: list[SourceQuality] = []
    for q in candidates:
        dev = deviation_bps(q.mid, reference) if reference is not None and q.mid is not None else None
        status = q.status
        if status is SourceStatus.OK and (dev is None or abs(dev) > band_bps):
            status = SourceStatus.OUTLIER
        judged.append(_with(q, status, dev))
    good = [q for q in judged if q.status is SourceStatus.OK]
    if len(good) < min_sources:
        failed = ", ".join(f"{q.source}={q.status}" for q in judged if q.status is not SourceStatus.OK)
        reason = f"{len(good)} good source(s), {min_sources} needed" + (f" ({failed})" if failed else "")
        return ConsensusQuote(symbol, ts, None, None, None, (), tuple(judged), reason)
    bid = median([q.bid for q in good if q.bid is not None])
    ask = median([q.ask for q in good if q.ask is not None])
    mid = median([q.mid for q in good if q.mid is not None])
    final = tuple(
        _with(q, q.status, deviation_bps(q.mid, mid) if q.mid is not None else None) for q in judged
    )
    return ConsensusQuote(symbol, ts, mid, bid, ask, tuple(q.source for q in good), final)


def _with(q: SourceQuality, status: SourceStatus, dev: Decimal | None) -> SourceQuality:
    return SourceQuality(
        q.source, q.transport, status, q.age_s, q.unchanged_s, dev, q.gaps, q.max_gap_s, q.updates, q.bid, q.ask
    )
