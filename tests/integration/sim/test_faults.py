"""Every injectable fault, observed through the real ccxt client as the exception class ccxt raises
against the real Binance for the same condition. Those that behave alike on both dialects (latency,
blackhole, dropped order responses, websocket disconnects) are in `test_fault_conformance.py`."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt_async
import pytest

from nonstop.config import SimRateLimits
from nonstop.sim.server import SimServer
from tests.simkit import control, pro_client, rest_client, running_sim, set_fault


async def test_connection_reset_is_a_network_error(sim: SimServer) -> None:
    await set_fault(sim, "reset", endpoint=0)
    async with rest_client(sim) as ex:
        with pytest.raises(ccxt_async.ExchangeNotAvailable):  # ccxt maps aiohttp's ClientConnectionError here
            await ex.fetch_time()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, ccxt_async.ExchangeNotAvailable),
        (502, ccxt_async.ExchangeNotAvailable),
        (503, ccxt_async.ExchangeNotAvailable),
        (504, ccxt_async.RequestTimeout),
    ],
)
async def test_http_5xx_maps_like_binance(sim: SimServer, status: int, expected: type[Exception]) -> None:
    await set_fault(sim, "http_error", params={"status": status})
    async with rest_client(sim) as ex:
        with pytest.raises(expected):
            await ex.fetch_ticker("BTC/USDT")


async def test_maintenance_is_on_maintenance(sim: SimServer) -> None:
    await set_fault(sim, "maintenance")
    async with rest_client(sim) as ex:
        with pytest.raises(ccxt_async.OnMaintenance):
            await ex.fetch_time()


async def test_rate_limit_storm_sends_429_with_retry_after_then_418_to_a_client_that_keeps_going(
    sim: SimServer,
) -> None:
    await set_fault(sim, "rate_limit", params={"retry_after": 30})
    async with rest_client(sim) as ex:
        with pytest.raises(ccxt_async.DDoSProtection, match="429"):
            await ex.fetch_time()
        assert ex.last_response_headers["Retry-After"] == "30"
        errors = []
        for _ in range(3):  # ignoring Retry-After
            with pytest.raises(ccxt_async.DDoSProtection) as caught:
                await ex.fetch_time()
            errors.append(str(caught.value))
    assert "418" in errors[-1] and "banned" in errors[-1]


async def test_frozen_feed_goes_silent_and_stale_while_another_venue_moves(sim: SimServer) -> None:
    async with (
        rest_client(sim, venue="alpha") as a,
        rest_client(sim, venue="beta") as b,
        pro_client(sim, venue="alpha") as wa,
    ):
        await asyncio.wait_for(wa.watch_ticker("BTC/USDT"), 15)
        await set_fault(sim, "frozen_feed")
        await asyncio.sleep(0.2)
        frozen_book = await a.fetch_order_book("BTC/USDT", 5)
        moving = [(await b.fetch_order_book("BTC/USDT", 5))["bids"][0][0]]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wa.watch_ticker("BTC/USDT"), 2.5)
        moving.append((await b.fetch_order_book("BTC/USDT", 5))["bids"][0][0])
        assert (await a.fetch_order_book("BTC/USDT", 5))["bids"] == frozen_book["bids"]
    assert moving[0] != moving[1]


async def test_price_spike_moves_one_venue_away_from_the_other(sim: SimServer) -> None:
    await set_fault(sim, "price_spike", params={"pct": 10})
    await asyncio.sleep(0.3)
    async with rest_client(sim, venue="alpha") as a, rest_client(sim, venue="beta") as b:
        spiked = (await a.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        normal = (await b.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
    assert spiked / normal == pytest.approx(1.10, abs=0.01)


async def test_venue_outage_takes_every_endpoint_down_but_not_other_venues(sim: SimServer) -> None:
    await set_fault(sim, "venue_outage", duration_s=30)
    for endpoint in range(3):
        async with rest_client(sim, endpoint=endpoint) as ex:
            with pytest.raises(ccxt_async.ExchangeNotAvailable):
                await ex.fetch_time()
    async with rest_client(sim, venue="beta") as ex:
        assert await ex.fetch_time() > 0


async def test_probability_and_duration_bound_a_fault(sim: SimServer) -> None:
    await set_fault(sim, "http_error", probability=0.5, duration_s=1.0)
    outcomes = []
    async with rest_client(sim) as ex:
        for _ in range(40):
            try:
                await ex.fetch_time()
                outcomes.append(True)
            except ccxt_async.ExchangeNotAvailable:
                outcomes.append(False)
        await asyncio.sleep(1.1)
        assert await ex.fetch_time() > 0  # expired by itself
    assert 5 < outcomes.count(False) < 35
    log = await control(sim, "GET", "/control/faults/log")
    assert [e["event"] for e in log] == ["set", "expired"]
    assert log[0]["at"] < log[1]["at"]


async def test_bad_fault_requests_name_the_field() -> None:
    async with running_sim(venues=1, endpoints=2) as sim:
        for body, words in [
            ({"kind": "nope", "venue": "alpha"}, "fault kind 'nope' is unknown"),
            ({"kind": "latency", "venue": "zeta"}, "venue 'zeta' is unknown"),
            ({"kind": "latency", "venue": "alpha", "endpoint": 5}, "endpoint 5"),
            ({"kind": "latency", "venue": "alpha", "probability": 2}, "probability 2.0"),
            ({"kind": "latency", "venue": "alpha", "params": {"ms": -1}}, "ms=-1"),
            ({"kind": "frozen_feed", "venue": "alpha", "endpoint": 0}, "whole venue"),
        ]:
            with pytest.raises(AssertionError, match=words):
                await control(sim, "POST", "/control/faults", body)


async def test_real_rate_limit_429_then_418_when_the_client_ignores_retry_after() -> None:
    async with (
        running_sim(venues=1, endpoints=1, rate_limits=SimRateLimits(weight_per_minute=50)) as sim,
        rest_client(sim) as ex,
    ):
        await ex.fetch_time()
        assert int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"]) >= 1
        statuses = []
        for _ in range(60):
            try:
                await ex.fetch_ticker("BTC/USDT")
                statuses.append(200)
            except ccxt_async.DDoSProtection as err:
                statuses.append(418 if " 418 " in str(err) else 429)
                if statuses[-1] == 418:
                    break
        assert 429 in statuses and statuses[-1] == 418
        assert int(ex.last_response_headers["Retry-After"]) > 0


async def test_order_count_limit_rejects_the_eleventh_order_in_ten_seconds() -> None:
    async with (
        running_sim(venues=1, endpoints=1, rate_limits=SimRateLimits(orders_per_10s=10)) as sim,
        rest_client(sim) as ex,
    ):
        for i in range(10):
            await ex.create_order("BTC/USDT", "market", "buy", 0.0001, None, {"clientOrderId": f"t-oc-{i}"})
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "10"
        with pytest.raises(ccxt_async.DDoSProtection, match="-1015"):
            await ex.create_order("BTC/USDT", "market", "buy", 0.0001, None, {"clientOrderId": "t-oc-x"})
