"""OHLCV cache: incremental fetch, no requests for a cached range, gaps back-filled, bad rows refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nonstop.clock import ManualClock, utc_ms
from nonstop.data import HistoryError, HistorySettings, OhlcvCache

pytestmark = pytest.mark.timeout(20)
START = datetime(2026, 1, 1, tzinfo=UTC)
MIN = 60_000


class FakeVenue:
    """Serves 1m candles for every minute before `now`, except `skip`; records every request."""

    def __init__(self, clock: ManualClock, skip: set[int] | None = None) -> None:
        self.clock = clock
        self.skip = skip or set()
        self.calls: list[tuple[int, int]] = []

    async def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int) -> list[list[Any]]:
        self.calls.append((since, limit))
        now = utc_ms(self.clock.now())
        rows = []
        t = since - since % MIN
        while len(rows) < limit and t <= now:  # like Binance: the current, unfinished candle too
            if t not in self.skip:
                p = 100 + (t // MIN) % 7
                rows.append([t, float(p), p + 0.5, p - 0.5, p + 0.25, 1.5])
            t += MIN
        return rows


@pytest.fixture
def clock() -> ManualClock:
    c = ManualClock(START)
    c.advance(3 * 3600 + 30)  # 03:00:30
    return c


async def test_first_call_fetches_in_pages_second_call_makes_no_request(tmp_path: Path, clock: ManualClock) -> None:
    venue = FakeVenue(clock)
    settings = HistorySettings(page_limit=50)
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", venue.fetch_ohlcv, clock, settings) as cache:
        got = await cache.candles("BTC/USDT", "1m", START, START + timedelta(hours=3))
        assert len(got) == 180 and len(venue.calls) == 4  # 50 + 50 + 50 + 30
        assert got[0].open_time == START and got[-1].open_time == START + timedelta(minutes=179)
        assert got[0].close == Decimal("100.25") and isinstance(got[0].open, Decimal)
    venue.calls.clear()
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", venue.fetch_ohlcv, clock, settings) as again:
        cached = await again.candles("BTC/USDT", "1m", START, START + timedelta(hours=3))
        assert cached == got and venue.calls == [] and again.requests == 0


async def test_only_closed_candles_are_stored_and_new_ones_fetched_incrementally(
    tmp_path: Path, clock: ManualClock
) -> None:
    venue = FakeVenue(clock)
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", venue.fetch_ohlcv, clock) as cache:
        end = START + timedelta(hours=4)
        got = await cache.candles("BTC/USDT", "1m", START, end)
        assert got[-1].open_time == START + timedelta(minutes=179)  # 03:00 is still open
        clock.advance(120)
        venue.calls.clear()
        more = await cache.candles("BTC/USDT", "1m", START, end)
        assert len(more) == 182 and venue.calls == [(utc_ms(START) + 180 * MIN, 1000)]


async def test_gap_detected_and_back_filled_alone(tmp_path: Path, clock: ManualClock) -> None:
    venue = FakeVenue(clock)
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", venue.fetch_ohlcv, clock) as cache:
        end = START + timedelta(hours=3)
        await cache.candles("BTC/USDT", "1m", START, end)
        hole = (START + timedelta(minutes=60), START + timedelta(minutes=75))
        assert await cache.delete_range("BTC/USDT", "1m", *hole) == 15
        assert await cache.gaps("BTC/USDT", "1m", START, end) == [hole]
        venue.calls.clear()
        got = await cache.candles("BTC/USDT", "1m", START, end)
        assert len(got) == 180 and venue.calls == [(utc_ms(hole[0]), 1000)]
        assert await cache.gaps("BTC/USDT", "1m", START, end) == []


async def test_slot_the_venue_skips_is_remembered_as_empty(tmp_path: Path, clock: ManualClock) -> None:
    skipped = utc_ms(START) + 10 * MIN
    venue = FakeVenue(clock, skip={skipped})
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", venue.fetch_ohlcv, clock) as cache:
        got = await cache.candles("BTC/USDT", "1m", START, START + timedelta(minutes=30))
        assert len(got) == 29 and skipped not in {c.open_ms for c in got}
        venue.calls.clear()
        await cache.candles("BTC/USDT", "1m", START, START + timedelta(minutes=30))
        assert venue.calls == []


async def test_bad_rows_and_misuse_raise_history_error_naming_what(tmp_path: Path, clock: ManualClock) -> None:
    async def bad(symbol: str, timeframe: str, since: int, limit: int) -> list[list[Any]]:
        return [[since, "x", 1, 1, 1, 1]]

    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", bad, clock) as cache:
        with pytest.raises(HistoryError, match="row 0"):
            await cache.candles("BTC/USDT", "1m", START, START + timedelta(minutes=5))
        with pytest.raises(HistoryError, match="timeframe '7m'"):
            await cache.candles("BTC/USDT", "7m", START, START + timedelta(minutes=5))
    with pytest.raises(HistoryError, match="not open"):
        await cache.candles("BTC/USDT", "1m", START, START + timedelta(minutes=5))


async def test_fetch_that_hangs_is_time_boxed(tmp_path: Path) -> None:
    import asyncio

    from nonstop.clock import LiveClock

    async def hang(symbol: str, timeframe: str, since: int, limit: int) -> list[list[Any]]:
        await asyncio.sleep(60)
        return []

    settings = HistorySettings(request_timeout_s=0.1)
    async with OhlcvCache(tmp_path / "h.sqlite", "alpha", hang, LiveClock(), settings) as cache:
        now = datetime.now(UTC)
        with pytest.raises(TimeoutError):
            await cache.candles("BTC/USDT", "1m", now - timedelta(minutes=10), now)
