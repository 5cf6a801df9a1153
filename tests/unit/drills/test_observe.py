"""A sample read from the engine's /api/snapshot and the simulator's /control/venues documents."""

from __future__ import annotations

from decimal import Decimal

from nonstop.drills.observe import Target, sample_from

TARGET = Target("http://127.0.0.1:1", "http://127.0.0.1:2", "binance-a", "BTC/USDT")
MARKET = {"binance-a": {"last": {"BTCUSDT": "60010.5"}, "fair": {"BTCUSDT": "60000"}}}


def snapshot(breaker: str = "closed", health: str = "healthy") -> dict[str, object]:
    return {
        "status": {"phase": "trading"},
        "degradation": {"level": "normal"},
        "venues": [{"name": "binance-a", "breaker": "closed",
                    "endpoints": [{"breaker": breaker, "health": health}, {"breaker": "closed", "health": "healthy"}]},
                   {"name": "binance-b", "breaker": "open", "endpoints": []}],
        "orders": [{"venue": "binance-a"}, {"venue": "binance-a"}, {"venue": "binance-b"}],
        "positions": [{"venue": "binance-a", "instrument": "BTC/USDT", "quantity": "0.002"},
                      {"venue": "binance-a", "instrument": "ETH/USDT", "quantity": "1"}],
    }


def test_sample_from_healthy_engine_reads_only_the_trading_venue() -> None:
    s = sample_from(5.0, snapshot(), MARKET, TARGET)
    assert s.up and s.healthy and not s.abnormal
    assert (s.open_orders, s.position, s.price) == (2, Decimal("0.002"), Decimal("60010.5"))


def test_sample_from_open_endpoint_breaker_is_abnormal_and_not_healthy() -> None:
    s = sample_from(5.0, snapshot(breaker="open", health="ejected"), MARKET, TARGET)
    assert s.abnormal and not s.healthy


def test_sample_from_no_answer_is_a_down_sample_with_the_market_price() -> None:
    s = sample_from(5.0, None, MARKET, TARGET)
    assert not s.up and s.abnormal and s.price == Decimal("60010.5")


def test_read_log_marks_keeps_the_engines_warnings_with_their_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nonstop.drills.evidence import read_log_marks

    log = tmp_path / "engine-00.log"
    log.write_text('{"event": "trading", "level": "info", "timestamp": "2026-11-29T17:29:18.000000Z"}\n'
                   'not json at all\n'
                   '{"event": "user_stream_down", "level": "warning", "timestamp": "2026-11-29T17:29:18.507187Z"}\n')
    [mark] = read_log_marks([log, tmp_path / "missing.log"])
    assert mark.what == "log warning user_stream_down" and round(mark.t % 60, 3) == 18.507
