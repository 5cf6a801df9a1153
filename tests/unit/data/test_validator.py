"""Validator and consensus: staleness, frozen, empty / crossed / wide books, outliers, minimum sources."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nonstop.data
from nonstop.clock import ManualClock
from nonstop.data import SourceQuote, SourceStatus, Validator, ValidatorSettings, build_consensus, median
from nonstop.data.consensus import SourceQuality
from nonstop.model import InstrumentId
from nonstop.venues.port import Quote

pytestmark = pytest.mark.timeout(20)
D = Decimal
SYMBOL = "BTC/USDT"


def update(clock: ManualClock, source: str, bid: str | None, ask: str | None, transport: str = "ws") -> SourceQuote:
    q = Quote(
        InstrumentId(source, SYMBOL), D(bid) if bid else None, D(ask) if ask else None, None, clock.now()
    )
    return SourceQuote(source, transport, q, clock.monotonic())


def fed(clock: ManualClock, prices: dict[str, tuple[str, str]], **settings: object) -> Validator:
    v = Validator(clock, ValidatorSettings(**settings))  # type: ignore[arg-type]
    for source, (bid, ask) in prices.items():
        v.observe(update(clock, source, bid, ask))
    return v


def status(v: Validator, source: str) -> SourceStatus:
    q = v.assess(SYMBOL).source_quality(source)
    assert q is not None
    return q.status


def test_public_api_is_exported() -> None:
    for name in nonstop.data.__all__:
        assert hasattr(nonstop.data, name), name


def test_consensus_three_agreeing_sources_median_of_good_sources() -> None:
    clock = ManualClock()
    v = fed(clock, {"a": ("100", "101"), "b": ("100.2", "101.2"), "c": ("99.8", "100.8")})
    c = v.assess(SYMBOL)
    assert c.trusted and c.reason == ""
    assert c.mid == D("100.5") and c.bid == D("100") and c.ask == D("101")
    assert sorted(c.sources) == ["a", "b", "c"]


def test_consensus_one_spiked_source_of_three_is_excluded_and_price_stays_with_the_others() -> None:
    clock = ManualClock()
    v = fed(clock, {"a": ("110", "110.1"), "b": ("100", "100.1"), "c": ("100.1", "100.2")}, band_bps=D(50))
    c = v.assess(SYMBOL)
    assert c.trusted and set(c.sources) == {"b", "c"}
    spiked = c.source_quality("a")
    assert spiked is not None and spiked.status is SourceStatus.OUTLIER
    assert spiked.deviation_bps is not None and spiked.deviation_bps > 900
    assert c.mid is not None and abs(c.mid - D("100.1")) / D("100.1") * 10_000 < 50


def test_consensus_two_disagreeing_sources_no_trustworthy_price() -> None:
    clock = ManualClock()
    v = fed(clock, {"a": ("110", "110.1"), "b": ("100", "100.1")}, band_bps=D(50))
    c = v.assess(SYMBOL)
    assert not c.trusted and c.mid is None and c.bid is None and c.sources == ()
    assert "0 good source(s), 2 needed" in c.reason


def test_staleness_silent_source_goes_stale_after_max_age() -> None:
    clock = ManualClock()
    v = fed(clock, {"a": ("100", "101"), "b": ("100", "101")}, max_age_s=3.0)
    clock.advance(2.9)
    v.observe(update(clock, "b", "100.1", "101.1"))
    assert status(v, "a") is SourceStatus.OK
    clock.advance(0.2)
    assert status(v, "a") is SourceStatus.STALE
    c = v.assess(SYMBOL)
    assert not c.trusted and "a=stale" in c.reason
    q = c.source_quality("a")
    assert q is not None and q.age_s == pytest.approx(3.1) and q.max_gap_s == pytest.approx(3.1)


def test_frozen_source_updates_arrive_but_book_unchanged_is_frozen() -> None:
    clock = ManualClock()
    v = Validator(clock, ValidatorSettings(max_age_s=3, max_unchanged_s=5))
    for _ in range(6):
        v.observe(update(clock, "a", "100", "101", "rest"))
        clock.advance(1)
    assert status(v, "a") is SourceStatus.FROZEN
    v.observe(update(clock, "a", "100.5", "101", "rest"))
    assert status(v, "a") is SourceStatus.OK


@pytest.mark.parametrize(
    ("bid", "ask", "expected"),
    [
        (None, "101", SourceStatus.EMPTY),
        ("100", None, SourceStatus.EMPTY),
        ("101", "101", SourceStatus.CROSSED),
        ("102", "101", SourceStatus.CROSSED),
        ("90", "110", SourceStatus.WIDE),
        ("100", "100.01", SourceStatus.OK),
    ],
)
def test_book_checks_empty_crossed_wide(bid: str | None, ask: str | None, expected: SourceStatus) -> None:
    clock = ManualClock()
    v = Validator(clock, ValidatorSettings(max_spread_bps=D(500), min_sources=1))
    v.observe(update(clock, "a", bid, ask))
    assert status(v, "a") is expected
    assert v.assess(SYMBOL).trusted is (expected is SourceStatus.OK)


def test_missing_source_declared_but_silent_counts_against_minimum() -> None:
    clock = ManualClock()
    v = Validator(clock, ValidatorSettings(min_sources=2))
    v.expect(SYMBOL, "a")
    v.expect(SYMBOL, "b")
    v.observe(update(clock, "a", "100", "101"))
    c = v.assess(SYMBOL)
    assert not c.trusted and "b=missing" in c.reason


def test_gaps_counted_when_interval_exceeds_gap_s() -> None:
    clock = ManualClock()
    v = Validator(clock, ValidatorSettings(gap_s=1.0, min_sources=1))
    for step in (0.5, 1.5, 0.2, 2.5):
        v.observe(update(clock, "a", "100", "101"))
        clock.advance(step)
    v.observe(update(clock, "a", "100", "101"))
    q = v.assess(SYMBOL).source_quality("a")
    assert q is not None and q.gaps == 2 and q.max_gap_s == pytest.approx(2.5) and q.updates == 5


def test_median_even_and_odd_and_empty() -> None:
    assert median([D(3), D(1), D(2)]) == D(2)
    assert median([D(4), D(1), D(2), D(3)]) == D("2.5")
    with pytest.raises(ValueError):
        median([])


prices = st.decimals(min_value=D("1"), max_value=D("100000"), places=2, allow_nan=False, allow_infinity=False)


@given(
    good=st.lists(st.decimals(min_value=D("-20"), max_value=D("20"), places=1), min_size=2, max_size=6),
    bad=st.lists(st.decimals(min_value=D("200"), max_value=D("5000"), places=0), min_size=0, max_size=5),
    base=prices,
    sign=st.sampled_from([1, -1]),
)
def test_consensus_property_majority_within_band_wins(
    good: list[Decimal], bad: list[Decimal], base: Decimal, sign: int
) -> None:
    """A strict majority of sources within ±20 bps of `base` always yields a price within the band
    (50 bps) of `base`, built from those sources only, whatever the minority does."""
    if len(bad) >= len(good):
        bad = bad[: len(good) - 1]
    quals = []
    for i, bps in enumerate(good):
        mid = base * (1 + bps / 10_000)
        quals.append(_quality(f"g{i}", mid))
    for i, bps in enumerate(bad):
        mid = base * (1 + sign * bps / 10_000)
        quals.append(_quality(f"b{i}", mid))
    c = build_consensus(SYMBOL, ManualClock().now(), quals, band_bps=D(50), min_sources=2)
    assert c.trusted and c.mid is not None
    assert abs(c.mid - base) / base * 10_000 <= 50
    assert all(s.startswith("g") for s in c.sources)


def _quality(source: str, mid: Decimal) -> SourceQuality:
    half = mid * D("0.00001")
    return SourceQuality(source, "ws", SourceStatus.OK, 0.0, 0.0, None, 0, 0.0, 1, mid - half, mid + half)
