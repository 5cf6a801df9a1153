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


class ConsensusBuilder:
    """`build_consensus` in one pass over sources added one by one, for the validator's hot path.

    The same result as `build_consensus` over the same qualities (tested for equality on random
    inputs), with less work per assessment: each source's mid comes in already computed (the
    validator caches it per book), each `SourceQuality` is built once instead of three times, and the
    deviations are computed once when no source is excluded (the median of the good sources is then
    the reference itself), twice only when an outlier moves the median.
    """

    __slots__ = ("_band_bps", "_min_sources", "_ok_mids", "_rows")

    def __init__(self, band_bps: Decimal, min_sources: int) -> None:
        self._band_bps = band_bps
        self._min_sources = min_sources
        self._rows: list[_Row] = []
        self._ok_mids: list[Decimal] = []

    def add(
        self,
        source: str,
        transport: str,
        status: SourceStatus,
        age_s: float | None,
        unchanged_s: float | None,
        gaps: int,
        max_gap_s: float,
        updates: int,
        bid: Decimal | None,
        ask: Decimal | None,
        mid: Decimal | None,
    ) -> None:
        """One source as judged on its own checks; `mid` must be `(bid + ask) / 2` (None without both)."""
        self._rows.append((source, transport, status, age_s, unchanged_s, gaps, max_gap_s, updates, bid, ask, mid))
        if status is SourceStatus.OK and mid is not None:
            self._ok_mids.append(mid)

    def result(self, symbol: str, ts: datetime) -> ConsensusQuote:
        rows = self._rows
        reference = median(self._ok_mids) if self._ok_mids else None
        devs: list[Decimal | None] = []
        statuses: list[SourceStatus] = []
        good: list[_Row] = []
        excluded = False
        for row in rows:
            mid, status = row[10], row[2]
            dev = None if reference is None or mid is None else (mid - reference) / reference * BPS
            if status is SourceStatus.OK:
                if dev is None or abs(dev) > self._band_bps:
                    status = SourceStatus.OUTLIER
                    excluded = True
                else:
                    good.append(row)
            devs.append(dev)
            statuses.append(status)
        if len(good) < self._min_sources:
            judged = _qualities(rows, statuses, devs)
            failed = ", ".join(f"{q.source}={q.status}" for q in judged if q.status is not SourceStatus.OK)
            reason = f"{len(good)} good source(s), {self._min_sources} needed" + (f" ({failed})" if failed else "")
            return ConsensusQuote(symbol, ts, None, None, None, (), judged, reason)
        bid = median([r[8] for r in good if r[8] is not None])
        ask = median([r[9] for r in good if r[9] is not None])
        if excluded or reference is None:  # the median moved: deviations from the final mid
            mid = median([r[10] for r in good if r[10] is not None])
            devs = [None if r[10] is None else (r[10] - mid) / mid * BPS for r in rows]
        else:  # the good sources are the candidates: the same median, the same deviations
            mid = reference
        return ConsensusQuote(symbol, ts, mid, bid, ask, tuple(r[0] for r in good), _qualities(rows, statuses, devs))


_Row = tuple[
    str, str, SourceStatus, float | None, float | None, int, float, int, Decimal | None, Decimal | None, Decimal | None
]


def _qualities(
    rows: list[_Row], statuses: list[SourceStatus], devs: list[Decimal | None]
) -> tuple[SourceQuality, ...]:
    return tuple(
        SourceQuality(r[0], r[1], st, r[3], r[4], dev, r[5], r[6], r[7], r[8], r[9])
        for r, st, dev in zip(rows, statuses, devs, strict=True)
    )


def _with(q: SourceQuality, status: SourceStatus, dev: Decimal | None) -> SourceQuality:
    return SourceQuality(
        q.source, q.transport, status, q.age_s, q.unchanged_s, dev, q.gaps, q.max_gap_s, q.updates, q.bid, q.ask
    )
