"""BinanceVenue over the connectivity stack, against the simulator: submits are never hedged or
retried (an unknown outcome is IN DOUBT, never a duplicate), cancels are retried only when safe, and
the user-data stream fails over to another endpoint."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from nonstop.connectivity import ConnectivityError, OperationKind, OutcomeUnknownError
from nonstop.sim.server import SimServer
from nonstop.venues.port import VenueOrderStatus
from tests.integration.venues.kit import BTC, HEDGE_MAX, fast_config, limit_intent, venue_on
from tests.simkit import control, running_sim, set_fault, until_user_stream_subscribed

pytestmark = pytest.mark.timeout(60)


async def received(sim: SimServer, cid: str) -> list[dict[str, object]]:
    return list(await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid}"))


async def assert_no_duplicates(sim: SimServer) -> None:
    assert await control(sim, "GET", "/control/venues/alpha/duplicates") == {}


@pytest.mark.parametrize("kind", ["blackhole", "reset"])
async def test_submit_through_a_dead_endpoint_is_in_doubt_never_resent_and_never_placed(kind: str) -> None:
    async with running_sim(venues=1) as sim, venue_on(sim, timeout_ms=800) as rec:
        fault = await set_fault(sim, kind)  # every endpoint: the submit cannot avoid it
        intent = limit_intent(1)
        with pytest.raises(OutcomeUnknownError):
            await rec.venue.submit(intent)
        submits = [r for r in rec.requests if r.operation is OperationKind.SUBMIT]
        assert len(submits) == 1  # one attempt, no retry, no hedge
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        assert await rec.venue.fetch_order(BTC, str(intent.client_order_id)) is None  # resolved by lookup
        assert await received(sim, str(intent.client_order_id)) == []
        await assert_no_duplicates(sim)


@pytest.mark.parametrize("mode", ["hang", "reset"])
async def test_submit_whose_answer_is_lost_is_in_doubt_and_found_by_lookup_exactly_once(mode: str) -> None:
    async with running_sim(venues=1) as sim, venue_on(sim, timeout_ms=800) as rec:
        fault = await set_fault(sim, "drop_order_response", params={"mode": mode})
        intent = limit_intent(1)
        with pytest.raises(OutcomeUnknownError):
            await rec.venue.submit(intent)
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        found = await rec.venue.fetch_order(BTC, str(intent.client_order_id))
        assert found is not None and found.status is VenueOrderStatus.OPEN
        assert len(await received(sim, str(intent.client_order_id))) == 1
        await assert_no_duplicates(sim)


async def test_submit_is_never_hedged_even_when_slower_than_the_hedge_delay() -> None:
    base = fast_config()
    quiet = replace(base, pool=replace(base.pool, remeasure_idle=None))  # no probe ping may hit the fault
    async with running_sim(venues=1) as sim, venue_on(sim, config=quiet) as rec:
        fault = await set_fault(sim, "latency", params={"ms": int(HEDGE_MAX * 1000 * 2)})
        intent = limit_intent(1)
        t0 = time.monotonic()
        report = await rec.venue.submit(intent)
        assert time.monotonic() - t0 >= HEDGE_MAX * 2
        assert report.status is VenueOrderStatus.OPEN
        # one HTTP request reached the venue (a hedge would have been a second one, cancelled in flight)
        hits = [f["hits"] for f in await control(sim, "GET", "/control/faults") if f["id"] == fault["id"]]
        assert hits == [1]
        assert len(await received(sim, str(intent.client_order_id))) == 1
        await assert_no_duplicates(sim)


async def test_cancel_refused_by_a_429_is_retried_after_retry_after_and_succeeds() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        placed = await rec.venue.submit(limit_intent(1))
        await set_fault(sim, "rate_limit", params={"retry_after": 1}, duration_s=0.5)
        t0 = time.monotonic()
        canceled = await rec.venue.cancel(BTC, placed.client_order_id)
        assert canceled.status is VenueOrderStatus.CANCELED
        assert time.monotonic() - t0 >= 1.0  # waited out Retry-After
        cancels = [r for r in rec.requests if r.operation is OperationKind.CANCEL]
        assert [r.error for r in cancels] == ["rate_limited", None]
        assert sim.venues["alpha"].limits.counts["418"] == 0


async def test_cancel_whose_outcome_is_unknown_is_not_retried() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim, timeout_ms=800) as rec:
        placed = await rec.venue.submit(limit_intent(1))
        fault = await set_fault(sim, "reset")
        with pytest.raises(OutcomeUnknownError):
            await rec.venue.cancel(BTC, placed.client_order_id)
        cancels = [r for r in rec.requests if r.operation is OperationKind.CANCEL]
        assert len(cancels) == 1
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        still = await rec.venue.fetch_order(BTC, placed.client_order_id)  # the reset came before the handler
        assert still is not None and still.status is VenueOrderStatus.OPEN


async def test_fetch_order_of_an_unknown_client_id_is_none() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        assert await rec.venue.fetch_order(BTC, "ns-it-conn-zz") is None


async def test_user_stream_fails_over_to_another_endpoint_when_its_websocket_drops() -> None:
    async with running_sim(venues=1) as sim, venue_on(sim) as rec:
        venue = rec.venue
        first_url = venue.gateway.stream_endpoint()
        watcher = asyncio.create_task(venue.watch_order_updates())
        await until_user_stream_subscribed(sim)  # (was a 0.3 s sleep)
        one = await venue.submit(limit_intent(1))
        reports = await asyncio.wait_for(watcher, 15)
        assert one.client_order_id in {r.client_order_id for r in reports}

        watcher = asyncio.create_task(venue.watch_order_updates())
        index = sim.venues["alpha"].urls.index(first_url)
        await until_user_stream_subscribed(sim, endpoints=[index])  # (was a 0.3 s sleep)
        await set_fault(sim, "ws_disconnect", endpoint=index)
        with pytest.raises(ConnectivityError):
            await asyncio.wait_for(watcher, 15)

        watcher = asyncio.create_task(venue.watch_order_updates())  # reconnects on the next endpoint
        others = [i for i in range(len(sim.venues["alpha"].urls)) if i != index]
        await until_user_stream_subscribed(sim, endpoints=others)  # (was a 0.5 s sleep)
        assert venue.gateway.stream_endpoint() != first_url
        two = await venue.submit(limit_intent(2))
        reports = await asyncio.wait_for(watcher, 15)
        assert two.client_order_id in {r.client_order_id for r in reports}
