"""Kline history: every interval's buckets, and older history generated on demand, deterministically."""

from __future__ import annotations

from datetime import UTC, datetime

from nonstop.config import SimSettings
from nonstop.sim.candles import HISTORY_DAYS_MAX, CandleStore, bucket

NOW = 1_780_000_000_000  # 2026-05-28


def test_week_and_month_buckets_follow_binance() -> None:
    week_open, week_close = bucket("1w", NOW)
    assert datetime.fromtimestamp(week_open / 1000, UTC).weekday() == 0 and week_close - week_open == 7 * 86_400_000 - 1
    month_open, month_close = bucket("1M", NOW)
    assert datetime.fromtimestamp(month_open / 1000, UTC).day == 1
    assert datetime.fromtimestamp((month_close + 1) / 1000, UTC).day == 1


async def test_older_history_is_the_same_whatever_the_order_of_requests() -> None:
    spec = SimSettings().venues[0].symbols[0]
    one, two = CandleStore(spec, 7, NOW), CandleStore(spec, 7, NOW)
    await one.prepare(NOW - 3 * 86_400_000 - 1)
    await two.prepare(NOW - 2 * 86_400_000)
    await two.prepare(NOW - 3 * 86_400_000 - 1)
    assert len(one.minutes) == len(two.minutes) == 3 * 1440  # the day at start and two more
    closes = [c.close for _, c in sorted(two.minutes.items())]
    assert [c.close for _, c in sorted(one.minutes.items())] == closes
    other = CandleStore(spec, 8, NOW)
    assert [c.close for _, c in sorted(other.minutes.items())] != closes[-1440:]
    assert HISTORY_DAYS_MAX >= 14  # weeks of history on demand


async def test_a_request_older_than_the_history_answers_as_binance_does_before_a_listing() -> None:
    """The history reaches back HISTORY_DAYS_MAX days, like a pair listed then: a start before it gets
    the candles from the first one on (no error), an end before it gets an empty list."""
    spec = SimSettings().venues[0].symbols[0]
    store = CandleStore(spec, 7, NOW)
    long_ago = NOW - 60 * 86_400_000
    await store.prepare(store.history_start("1h", long_ago, None, 5, NOW))
    first = min(store.minutes)
    assert first == NOW - NOW % 60_000 - HISTORY_DAYS_MAX * 1440 * 60_000  # the "listing": 28 days back
    rows = store.klines("1h", long_ago, None, 5, NOW)
    assert [r[0] for r in rows] == [bucket("1h", first)[0] + i * 3_600_000 for i in range(5)]
    assert store.klines("1m", None, long_ago, 5, NOW) == []
    await store.prepare(store.history_start("1d", None, None, 1000, NOW))  # more than there is: what there is
    days = store.klines("1d", None, None, 1000, NOW)
    assert 28 <= len(days) <= 30 and days[0][0] == bucket("1d", first)[0]
