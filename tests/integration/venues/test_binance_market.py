"""The market-data websocket client: ccxt.pro's order-book sync, with its REST snapshots (and candles,
and markets) sent through the venue's gateway, so a 429 pause holds them back too. Real ccxt, real
sockets, the simulator's own counters."""

from __future__ import annotations

import asyncio

import pytest

from nonstop.connectivity import DataDropped, RequestNotSent
from tests.integration.venues.kit import venue_on
from tests.simkit import control, running_sim, set_fault

pytestmark = pytest.mark.timeout(30)


async def test_order_book_snapshot_goes_through_the_gateway() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        client = rec.venue.market_data_client()
        try:
            book = await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 10)
            assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
            candles = await client.fetch_ohlcv("BTC/USDT", "1m", None, 5)
            assert len(candles) == 5
        finally:
            await client.close()
    names = [r.name for r in rec.requests]
    assert "fetch_order_book" in names and "fetch_ohlcv" in names


async def test_snapshot_is_not_sent_during_a_429_pause_and_says_how_long_to_wait() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        client = rec.venue.market_data_client()
        try:
            await set_fault(sim, "rate_limit", params={"retry_after": 5})  # a request that leaked would show
            rec.venue.gateway.limiter.pause(5.0)  # as after the venue's first 429 with Retry-After: 5
            before = await control(sim, "GET", "/control/venues/alpha/counters")
            for _ in range(3):  # resubscriptions during the pause: not one REST request
                with pytest.raises(DataDropped) as dropped:
                    await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 10)
                assert dropped.value.retry_in is not None and 0 < dropped.value.retry_in <= 5
            after = await control(sim, "GET", "/control/venues/alpha/counters")
        finally:
            await client.close()
    assert after == before and after["http_418"] == 0


async def test_any_other_rest_request_of_the_market_data_client_is_refused() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        client = rec.venue.market_data_client()
        try:
            with pytest.raises(RequestNotSent, match="bypass the rate limiter"):
                await client.fetch_ticker("BTC/USDT")
        finally:
            await client.close()

