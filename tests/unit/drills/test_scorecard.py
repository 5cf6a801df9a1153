"""The scorecard's arithmetic on hand-made timelines."""

from __future__ import annotations

from decimal import Decimal

from nonstop.drills.scorecard import (
    Mark,
    Sample,
    balance_difference,
    detect_after,
    fills_delta,
    lost_fills,
    recover_after,
    spread,
    unmanaged_seconds,
    verdict,
)

OK = {"up": True, "phase": "trading", "level": "normal"}


def test_detect_after_first_mark_or_abnormal_sample_in_window_counts() -> None:
    samples = [Sample(99.0, **OK), Sample(101.0, **OK), Sample(102.5, up=True, phase="trading", level="reduce_only")]
    marks = [Mark(98.0, "old alert"), Mark(103.0, "breaker open")]
    assert detect_after(100.0, 120.0, samples, marks) == 2.5
    assert detect_after(100.0, 120.0, samples, [Mark(100.25, "alert")]) == 0.25


def test_detect_after_nothing_in_window_is_none() -> None:
    samples = [Sample(99.0, up=False), Sample(101.0, **OK)]
    assert detect_after(100.0, 120.0, samples, [Mark(121.0, "late")]) is None


def test_detect_after_open_breaker_or_unhealthy_endpoint_is_a_sign() -> None:
    assert detect_after(0.0, 9.0, [Sample(1.0, **OK, breakers_closed=False)], []) == 1.0
    assert detect_after(0.0, 9.0, [Sample(2.0, **OK, endpoints_healthy=False)], []) == 2.0


def test_recover_after_needs_healthy_sample_and_an_accepted_order_later_of_both() -> None:
    samples = [Sample(110.0, up=True, phase="trading", level="reduce_only"), Sample(112.0, **OK), Sample(113.0, **OK)]
    assert recover_after(110.0, samples, [105.0, 114.5]) == 4.5  # the order came after the healthy look
    assert recover_after(110.0, samples, [111.0]) == 2.0  # the healthy look came after the order
    assert recover_after(110.0, samples, [105.0]) is None  # no order since the fault ended
    assert recover_after(110.0, samples[:1], [111.0]) is None  # never healthy


def test_unmanaged_seconds_counts_exposure_while_blocked_or_down() -> None:
    samples = [
        Sample(0.0, **OK, open_orders=2),
        Sample(1.0, **OK, open_orders=2),  # blocked from 1 to 3
        Sample(2.0, **OK, open_orders=0, position=Decimal("0.001")),
        Sample(3.0, **OK),  # flat and no orders: not exposed
        Sample(4.0, **OK, open_orders=1),
        Sample(5.0, up=False),  # down: exposure as last seen (1 order)
        Sample(7.0, up=False),
        Sample(8.0, **OK),
    ]
    assert unmanaged_seconds(samples, [(1.0, 3.0)]) == 1.0 + 1.0 + 2.0 + 1.0


def test_unmanaged_seconds_zero_without_exposure() -> None:
    samples = [Sample(0.0, **OK), Sample(1.0, up=False), Sample(5.0, **OK)]
    assert unmanaged_seconds(samples, [(0.0, 5.0)]) == 0.0


def test_lost_fills_are_venue_trades_missing_from_the_journal() -> None:
    assert lost_fills(["3", "1", "2"], {"1", "2"}) == ["3"]
    assert lost_fills([], {"1"}) == []


def test_balance_difference_start_plus_fills_equals_venue_is_empty() -> None:
    start = {"BTC": Decimal("2"), "USDT": Decimal("100000")}
    fills = [("BUY", Decimal("60000"), Decimal("0.001"), Decimal("0.06"), "USDT"),
             ("SELL", Decimal("60100"), Decimal("0.001"), Decimal("0.0000001"), "BTC")]
    delta = fills_delta(fills, "BTC", "USDT")
    assert delta == {"BTC": Decimal("-0.0000001"), "USDT": Decimal("60.1") - Decimal("60") - Decimal("0.06")}
    venue = {"BTC": Decimal("1.9999999"), "USDT": Decimal("100000.04")}
    assert balance_difference(start, delta, venue) == {}
    foreign = {"BTC": Decimal("2.0009999"), "USDT": Decimal("99940.04")}  # someone bought 0.001 at 60000
    assert balance_difference(start, delta, foreign) == {"BTC": Decimal("0.001"), "USDT": Decimal("-60")}


def test_verdict_names_each_broken_invariant() -> None:
    good = verdict(duplicates=0, lost=0, detect_s=0.5, recover_s=3.0, must_detect=True)
    assert good.passed and good.failed == []
    bad = verdict(duplicates=1, lost=2, detect_s=None, recover_s=None, must_detect=True)
    assert not bad.passed and bad.failed == ["no_duplicates", "no_lost_fills", "recovered", "detected"]
    assert verdict(duplicates=0, lost=0, detect_s=None, recover_s=1.0, must_detect=False).passed


def test_spread_median_and_max_none_when_a_run_lacks_the_figure() -> None:
    assert spread([1.0, 3.0, 2.0]) == {"median": 2.0, "max": 3.0}
    assert spread([1.0, None]) == {"median": None, "max": None}
    assert spread([]) == {"median": None, "max": None}
