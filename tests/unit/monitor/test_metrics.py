"""Metrics registry: every family is named nonstop_* with its unit, labels are safe, values move."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from nonstop.monitor import Metrics, UnsafeLabel

FAMILIES = {
    "nonstop_process_cpu_seconds": "counter",
    "nonstop_process_resident_memory_bytes": "gauge",
    "nonstop_data_dir_free_bytes": "gauge",
    "nonstop_event_loop_lag_seconds": "gauge",
    "nonstop_event_loop_lag_max_seconds": "gauge",
    "nonstop_endpoint_latency_seconds": "histogram",
    "nonstop_order_roundtrip_seconds": "histogram",
    "nonstop_orders": "counter",
    "nonstop_fills": "counter",
    "nonstop_fill_ratio": "gauge",
    "nonstop_slippage_bps": "histogram",
    "nonstop_strategy_pnl_quote": "gauge",
    "nonstop_strategy_exposure_quote": "gauge",
    "nonstop_journal_last_seq": "gauge",
    "nonstop_journal_lag_seconds": "gauge",
    "nonstop_endpoint_up": "gauge",
    "nonstop_breaker_state": "gauge",
    "nonstop_ratelimit_used_ratio": "gauge",
    "nonstop_feed_age_seconds": "gauge",
    "nonstop_feed_deviation_bps": "gauge",
}


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: Metrics, name: str, **labels: str) -> float:
    return samples(m)[(name, tuple(sorted(labels.items())))]


def exercise(m: Metrics) -> None:
    m.process_cpu(1.5)
    m.resident_memory(123_456_789)
    m.disk_free(10**9)
    m.loop_lag(0.004, 0.02)
    m.endpoint_latency("binance-a", "https://api.binance.com", 0.031)
    m.order_latency("binance-a", 0.045)
    m.order_outcome("binance-a", "mm", "submitted")
    m.order_outcome("binance-a", "mm", "submitted")
    m.order_outcome("binance-a", "mm", "filled")
    m.fill("binance-a", "mm")
    m.slippage("binance-a", "mm", Decimal("3.5"))
    m.strategy_pnl("mm", "USDT", Decimal("-12.5"))
    m.strategy_exposure("mm", "USDT", Decimal("600.25"))
    m.strategy_pnl("mm", "BTC", Decimal("0.0012"))
    m.journal(last_seq=4242, lag_seconds=0.003)
    m.endpoint_up("binance-a", "https://api.binance.com", True)
    m.breaker_state("binance-a", "https://api.binance.com", "open")
    m.ratelimit_used("binance-a", "weight_1m", 0.35)
    m.feed_quality("binance-a-ws", "BTC-USDT", age_seconds=1.2, deviation_bps=Decimal("4.1"))


def test_every_family_is_exposed_with_its_type_on_a_private_registry() -> None:
    m = Metrics()
    exercise(m)
    families = {f.name: f.type for f in text_string_to_metric_families(m.render().decode())}
    assert {k: families.get(k) for k in FAMILIES} == FAMILIES
    assert all(name.startswith("nonstop_") for name in families)
    assert not any(n.startswith("nonstop_") for n in (f.name for f in REGISTRY.collect()))
    Metrics()  # a second registry in the same process does not collide


def test_values_move_and_labels_are_right() -> None:
    m = Metrics()
    exercise(m)
    ep = "https://api.binance.com"
    assert value(m, "nonstop_process_cpu_seconds_total") == 1.5
    assert value(m, "nonstop_order_roundtrip_seconds_count", venue="binance-a") == 1
    assert value(m, "nonstop_order_roundtrip_seconds_sum", venue="binance-a") == pytest.approx(0.045)
    assert value(m, "nonstop_orders_total", venue="binance-a", strategy="mm", outcome="submitted") == 2
    assert value(m, "nonstop_fill_ratio", venue="binance-a", strategy="mm") == 0.5
    assert value(m, "nonstop_slippage_bps_bucket", venue="binance-a", strategy="mm", le="5.0") == 1
    assert value(m, "nonstop_slippage_bps_bucket", venue="binance-a", strategy="mm", le="2.0") == 0
    assert value(m, "nonstop_strategy_pnl_quote", strategy="mm", quote="USDT") == -12.5
    assert value(m, "nonstop_strategy_pnl_quote", strategy="mm", quote="BTC") == 0.0012  # never added to USDT
    assert value(m, "nonstop_journal_last_seq") == 4242
    assert value(m, "nonstop_breaker_state", venue="binance-a", endpoint=ep, state="open") == 1
    assert value(m, "nonstop_breaker_state", venue="binance-a", endpoint=ep, state="closed") == 0
    m.breaker_state("binance-a", ep, "half_open")
    assert value(m, "nonstop_breaker_state", venue="binance-a", endpoint=ep, state="open") == 0
    assert value(m, "nonstop_breaker_state", venue="binance-a", endpoint=ep, state="half_open") == 1
    m.process_cpu(2.0)
    m.process_cpu(1.0)  # a lower reading never makes the counter go down
    assert value(m, "nonstop_process_cpu_seconds_total") == 2.0
    assert value(m, "nonstop_feed_deviation_bps", source="binance-a-ws", instrument="BTC-USDT") == pytest.approx(4.1)


@pytest.mark.parametrize(
    "bad",
    [
        "https://user:pa55w0rd@api.binance.com",
        "https://api.binance.com/api?apiKey=abc",
        "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "password:hunter22",
        "has space",
        "",
        "x" * 200,
    ],
)
def test_unsafe_label_value_is_refused_without_echoing_it(bad: str) -> None:
    m = Metrics()
    with pytest.raises(UnsafeLabel) as caught:
        m.endpoint_up("binance-a", bad, True)
    assert (bad not in str(caught.value)) or bad == ""
    assert bad == "" or bad not in m.render().decode()


def test_enumerated_labels_reject_unknown_values() -> None:
    m = Metrics()
    with pytest.raises(UnsafeLabel):
        m.breaker_state("binance-a", "ep0", "melted")  # type: ignore[arg-type]
    with pytest.raises(UnsafeLabel):
        m.order_outcome("binance-a", "mm", "lost")  # type: ignore[arg-type]
