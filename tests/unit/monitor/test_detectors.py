"""Degradation detectors on a ManualClock: each raises with the numbers, once, and resolves."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from nonstop.clock import ManualClock
from nonstop.monitor import AlertLevel
from nonstop.monitor.detectors import DriftDetector, FeedQualityDetector, LatencyDetector, SlippageDetector


@dataclass
class SinkRecorder:
    """An AlertManager-like sink that records every call."""

    raised: list[tuple[str, AlertLevel, str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)

    def raise_(self, key: str, level: AlertLevel, title: str, body: str = "") -> None:
        self.raised.append((key, level, title, body))

    def resolve(self, key: str, body: str = "") -> None:
        self.resolved.append((key, body))

    def levels(self) -> list[AlertLevel]:
        return [r[1] for r in self.raised]


def feed_latency(det: LatencyDetector, clock: ManualClock, seconds: float, n: int, every: float = 1.0) -> None:
    for _ in range(n):
        clock.advance(every)
        det.observe("binance-a", seconds)


# ---- latency ---------------------------------------------------------------------------------------


def latency() -> tuple[LatencyDetector, ManualClock, SinkRecorder]:
    clock, sink = ManualClock(), SinkRecorder()
    det = LatencyDetector(sink, clock, recent_s=30, baseline_s=600, min_recent=5, min_baseline=20)
    return det, clock, sink


def test_latency_steady_never_raises() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 300)
    assert sink.raised == []


def test_latency_rising_warns_with_evidence() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 120)
    feed_latency(det, clock, 0.120, 10)
    assert sink.raised == [], "a third of the recent window slow: the median holds"
    feed_latency(det, clock, 0.120, 10)
    assert sink.raised, "3x the baseline must raise"
    key, level, title, body = sink.raised[0]
    assert key == "latency_rising:binance-a" and level is AlertLevel.WARNING and "binance-a" in title
    assert "baseline median 40 ms" in body and "recent median 120 ms" in body and "3.0x" in body


def test_latency_far_above_baseline_critical() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 120)
    feed_latency(det, clock, 0.400, 30)
    assert AlertLevel.CRITICAL in sink.levels()


def test_latency_tiny_absolute_rise_ignored() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.001, 120)
    feed_latency(det, clock, 0.004, 30)  # 4x, but only 3 ms: noise
    assert sink.raised == []


def test_latency_resolves_when_back_under_clear_ratio() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 120)
    feed_latency(det, clock, 0.150, 30)
    feed_latency(det, clock, 0.045, 40)
    assert sink.resolved and sink.resolved[0][0] == "latency_rising:binance-a"
    assert len(sink.resolved) == 1  # resolved once, not on every later sample


def test_latency_lasting_slowdown_does_not_become_the_baseline() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 120)
    feed_latency(det, clock, 0.200, 1200)  # twice the baseline window, still slow
    assert sink.resolved == []
    assert det.firing == {"latency_rising:binance-a": AlertLevel.CRITICAL}
    assert "baseline median 40 ms" in sink.raised[-1][3]


def test_latency_needs_enough_samples() -> None:
    det, clock, sink = latency()
    feed_latency(det, clock, 0.040, 10)  # baseline too thin
    feed_latency(det, clock, 1.0, 30)
    assert sink.raised == []


def test_latency_bad_config_refused() -> None:
    with pytest.raises(ValueError):
        LatencyDetector(SinkRecorder(), ManualClock(), recent_s=60, baseline_s=30)
    with pytest.raises(ValueError):
        LatencyDetector(SinkRecorder(), ManualClock(), warn_ratio=3, critical_ratio=2)


# ---- slippage --------------------------------------------------------------------------------------


def test_slippage_sign_positive_is_worse() -> None:
    assert SlippageDetector.slippage_bps("buy", Decimal("100"), Decimal("100.1")) == pytest.approx(10.0)
    assert SlippageDetector.slippage_bps("sell", Decimal("100"), Decimal("100.1")) == pytest.approx(-10.0)
    with pytest.raises(ValueError):
        SlippageDetector.slippage_bps("hold", Decimal("100"), Decimal("100"))
    with pytest.raises(ValueError):
        SlippageDetector.slippage_bps("buy", Decimal("0"), Decimal("100"))


def test_slippage_widening_warns_then_resolves() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = SlippageDetector(sink, clock, recent_s=60, baseline_s=3600, min_recent=5, min_baseline=20)
    for _ in range(100):
        clock.advance(5)
        det.observe("binance-a", "mm", "buy", Decimal("100"), Decimal("100.01"))  # 1 bp
    assert sink.raised == []
    for _ in range(12):
        clock.advance(5)
        det.observe("binance-a", "mm", "sell", Decimal("100"), Decimal("99.9"))  # 10 bps worse
    assert sink.raised and sink.raised[0][0] == "slippage_widening:binance-a:mm"
    assert sink.raised[0][1] is AlertLevel.WARNING
    assert "baseline 1.00 bps" in sink.raised[0][3] and "sell expected 100 got 99.9" in sink.raised[0][3]
    for _ in range(20):
        clock.advance(5)
        det.observe("binance-a", "mm", "buy", Decimal("100"), Decimal("100.01"))
    assert [k for k, _ in sink.resolved] == ["slippage_widening:binance-a:mm"]


def test_slippage_severe_widening_critical() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = SlippageDetector(sink, clock, recent_s=60, baseline_s=3600, min_recent=5, min_baseline=20)
    for _ in range(100):
        clock.advance(5)
        det.observe("binance-a", "mm", "buy", Decimal("100"), Decimal("100"))
    for _ in range(12):
        clock.advance(5)
        det.observe("binance-a", "mm", "buy", Decimal("100"), Decimal("100.5"))  # 50 bps
    assert AlertLevel.CRITICAL in sink.levels()


# ---- drift -----------------------------------------------------------------------------------------


def test_drift_transient_difference_not_raised() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = DriftDetector(sink, clock, confirm_s=10, critical_s=60)
    assert det.compare("binance-a", "balances", {"BTC": Decimal("1.5")}, {"BTC": Decimal("1.4")}) == ["BTC"]
    clock.advance(5)
    det.compare("binance-a", "balances", {"BTC": Decimal("1.5")}, {"BTC": Decimal("1.5")})  # a fill caught up
    clock.advance(20)
    det.compare("binance-a", "balances", {"BTC": Decimal("1.5")}, {"BTC": Decimal("1.5")})
    assert sink.raised == [] and sink.resolved == []


def test_drift_persisting_warns_then_critical_then_resolves() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = DriftDetector(sink, clock, confirm_s=10, critical_s=60)
    ours, theirs = {"BTC": Decimal("1.5"), "USDT": Decimal("100")}, {"BTC": Decimal("1.4"), "USDT": Decimal("100")}
    for _ in range(3):
        det.compare("binance-a", "balances", ours, theirs)
        clock.advance(6)
    assert sink.levels() == [AlertLevel.WARNING]  # at t=12 s: persisted past confirm_s
    key, _, title, body = sink.raised[0]
    assert key == "drift:balances:binance-a" and "1 difference" in title
    assert "BTC: internal 1.5 vs venue 1.4 (diff +0.1, 6.667%)" in body and "USDT" not in body
    clock.advance(60)
    det.compare("binance-a", "balances", ours, theirs)
    assert sink.levels()[-1] is AlertLevel.CRITICAL
    det.compare("binance-a", "balances", ours, dict(ours))
    assert [k for k, _ in sink.resolved] == ["drift:balances:binance-a"]


def test_drift_within_tolerance_is_clean() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = DriftDetector(sink, clock, confirm_s=0, rel_tol=Decimal("0.001"))
    assert det.compare("v", "positions", {"x": Decimal("1000")}, {"x": Decimal("1000.5")}) == []
    assert sink.raised == []


def test_drift_open_orders_both_directions() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = DriftDetector(sink, clock, confirm_s=0)
    assert det.compare_open_orders("binance-a", ["ns-a1-mm-1", "ns-a1-mm-2"], ["ns-a1-mm-2", "ns-a1-mm-9"]) == [
        "ns-a1-mm-1", "ns-a1-mm-9"]
    body = sink.raised[0][3]
    assert "open here, not on the venue: ns-a1-mm-1" in body and "open on the venue, unknown here: ns-a1-mm-9" in body
    assert sink.raised[0][0] == "drift:open_orders:binance-a"


def test_drift_long_list_truncated() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = DriftDetector(sink, clock, confirm_s=0, max_items=3)
    det.compare_open_orders("v", [f"ns-a1-mm-{i}" for i in range(10)], [])
    assert "... and 7 more" in sink.raised[0][3]


# ---- feed quality ----------------------------------------------------------------------------------


def test_feed_one_late_tick_not_raised() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = FeedQualityDetector(sink, clock, stale_s=5, confirm=3)
    det.observe("binance-a:ws", "BTC/USDT", age_s=9, deviation_bps=0)
    det.observe("binance-a:ws", "BTC/USDT", age_s=0.2, deviation_bps=0)
    det.observe("binance-a:ws", "BTC/USDT", age_s=9, deviation_bps=0)
    assert sink.raised == []


def test_feed_stale_and_deviating_raised_then_resolved() -> None:
    clock, sink = ManualClock(), SinkRecorder()
    det = FeedQualityDetector(sink, clock, stale_s=5, critical_stale_s=60, max_deviation_bps=50, confirm=2)
    det.observe("binance-b:rest", "BTC/USDT", age_s=7, deviation_bps=80)
    det.observe("binance-b:rest", "BTC/USDT", age_s=8, deviation_bps=-90)
    key, level, _, body = sink.raised[0]
    assert key == "feed_quality:binance-b:rest:BTC/USDT" and level is AlertLevel.WARNING
    assert "data 8.0s old (limit 5s)" in body and "-90.0 bps from consensus" in body
    det.observe("binance-b:rest", "BTC/USDT", age_s=75, deviation_bps=0)
    assert sink.levels()[-1] is AlertLevel.CRITICAL
    det.observe("binance-b:rest", "BTC/USDT", age_s=0.1, deviation_bps=1)
    assert sink.resolved == []  # one good observation is not enough
    det.observe("binance-b:rest", "BTC/USDT", age_s=0.1, deviation_bps=1)
    assert [k for k, _ in sink.resolved] == [key]


def test_detectors_feed_a_real_alert_manager_once() -> None:
    """Against the real AlertManager: repeated raises are one alert (dedup), counted."""
    from tests.unit.monitor.fakes import alert_settings, manager_with

    clock = ManualClock()
    manager, _ = manager_with(alert_settings("ops"), clock)
    det = FeedQualityDetector(manager, clock, confirm=1)
    for _ in range(5):
        det.observe("s", "BTC/USDT", age_s=30, deviation_bps=0)
    active = manager.active()
    assert len(active) == 1 and active[0].count == 5 and "30.0s old" in active[0].body
