"""History cache against the simulator's klines with the real ccxt client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nonstop.clock import LiveClock
from nonstop.data import OhlcvCache
from tests.simkit import rest_client, running_sim

pytestmark = pytest.mark.timeout(40)


async def test_history_second_start_no_requests_and_gap_back_filled(tmp_path: Path) -> None:
    calls: list[int] = []
    async with running_sim(venues=1, endpoints=1) as sim, rest_client(sim) as ex:

        async def fetch(symbol: str, timeframe: str, since: int, limit: int) -> list[list[Any]]:
            calls.append(since)
            return await ex.fetch_ohlcv(symbol, timeframe, since, limit)

        clock = LiveClock()
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - timedelta(hours=3)
        path = tmp_path / "history.sqlite"
        async with OhlcvCache(path, "alpha", fetch, clock) as cache:
            first = await cache.candles("BTC/USDT", "1m", start, end)
        assert len(first) == 180 and len(calls) == 1
        assert first[0].open_time == start and first[-1].open_time == end - timedelta(minutes=1)

        calls.clear()
        async with OhlcvCache(path, "alpha", fetch, clock) as cache:
            again = await cache.candles("BTC/USDT", "1m", start, end)
            assert again == first and calls == []  # a second start makes no request for the cached range

            hole = (start + timedelta(minutes=30), start + timedelta(minutes=45))
            await cache.delete_range("BTC/USDT", "1m", *hole)
            assert await cache.gaps("BTC/USDT", "1m", start, end) == [hole]
            filled = await cache.candles("BTC/USDT", "1m", start, end)
        assert filled == first and len(calls) == 1  # only the gap was fetched
        assert calls[0] == int(hole[0].timestamp() * 1000)
