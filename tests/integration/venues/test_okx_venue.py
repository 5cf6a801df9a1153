"""OkxVenue against the simulator's OKX dialect: the venue port with exact Decimals from OKX's
payloads, client ids carried as OKX allows them, OKX's codes classified, the dead man's switch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from nonstop.connectivity import DuplicateOrderError, InsufficientFundsError, OrderNotFoundError
from nonstop.errors import InvalidIdentifier
from nonstop.model import ClientOrderId, ClientOrderIdFactory, InstrumentId, OrderType, Side, TimeInForce
from nonstop.sim.server import SimServer
from nonstop.venues.okx import OKX_CLIENT_IDS, OkxVenue
from nonstop.venues.port import VenueOrderStatus
from tests.integration.venues.kit import fast_config, limit_intent
from tests.simkit import running_okx_sim, until_user_stream_subscribed

BTC = InstrumentId("okx", "BTC/USDT")


@pytest.fixture
async def okx() -> AsyncIterator[tuple[SimServer, OkxVenue]]:
    async with running_okx_sim() as sim:
        venue = OkxVenue("okx", [sim.ccxt_config("okx", i) for i in range(2)], timeout_ms=2000,
                         connectivity=fast_config())
        try:
            await venue.connect()
            yield sim, venue
        finally:
            await venue.close()


def intent(seq: int, **kwargs: object) -> object:
    return replace(limit_intent(seq, **kwargs), instrument_id=BTC)  # type: ignore[arg-type]


async def test_connect_reads_instruments_exactly_and_identity_and_clock(okx: tuple[SimServer, OkxVenue]) -> None:
    _, venue = okx
    inst = venue.instruments()[BTC]
    assert (inst.tick_size, inst.step_size, inst.min_qty) == (Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"))
    assert (await venue.account_id()).isdigit()
    assert abs(await venue.clock_offset_ms()) < 1000
    quote = await venue.quote(BTC)
    assert quote.bid is not None and quote.ask is not None and quote.bid < quote.ask


async def test_limit_order_round_trip_keeps_our_client_id(okx: tuple[SimServer, OkxVenue]) -> None:
    sim, venue = okx
    order = intent(1)
    placed = await venue.submit(order)  # type: ignore[arg-type]
    cid = str(order.client_order_id)  # type: ignore[attr-defined]
    assert placed.status is VenueOrderStatus.OPEN and placed.client_order_id == cid
    on_venue = [o.client_order_id for o in sim.venues["okx"].venue.orders.values() if o.account != "__market_maker__"]
    assert OKX_CLIENT_IDS.to_wire(cid) in on_venue and "-" not in OKX_CLIENT_IDS.to_wire(cid)
    fetched = await venue.fetch_order(BTC, cid)
    assert fetched is not None and fetched.client_order_id == cid and fetched.quantity == Decimal("0.01")
    assert fetched.price == Decimal("1000") and fetched.venue_order_id == placed.venue_order_id
    assert [o.client_order_id for o in await venue.open_orders(BTC)] == [cid]
    canceled = await venue.cancel(BTC, cid)
    assert canceled.status is VenueOrderStatus.CANCELED and canceled.filled_qty == 0
    assert await venue.fetch_order(BTC, "ns-it-conn-zz") is None
    with pytest.raises(OrderNotFoundError):
        await venue.cancel(BTC, cid)


async def test_duplicate_and_insufficient_funds_are_classified_with_okx_codes(
    okx: tuple[SimServer, OkxVenue],
) -> None:
    _, venue = okx
    await venue.submit(intent(2))  # type: ignore[arg-type]
    with pytest.raises(DuplicateOrderError) as dup:
        await venue.submit(intent(2))  # type: ignore[arg-type]
    assert dup.value.venue_code == 51016
    with pytest.raises(InsufficientFundsError) as poor:
        await venue.submit(intent(3, qty="500"))  # type: ignore[arg-type]
    assert poor.value.venue_code == 51008


async def test_market_order_fills_arrive_on_the_stream_and_by_lookup(okx: tuple[SimServer, OkxVenue]) -> None:
    sim, venue = okx
    start = datetime.now(UTC) - timedelta(seconds=1)
    watch = asyncio.create_task(venue.watch_fills())
    await until_user_stream_subscribed(sim, "okx", channels=("orders",))  # before the order (was a 0.3 s sleep)
    market = replace(intent(4), order_type=OrderType.MARKET, price=None, time_in_force=TimeInForce.GTC,
                     side=Side.BUY)
    placed = await venue.submit(market)
    async with asyncio.timeout(15):
        streamed = await watch
    assert streamed and all(f.client_order_id == str(market.client_order_id) for f in streamed)
    looked_up = await venue.fills_of_order(BTC, placed.venue_order_id)
    by_time = await venue.fills(BTC, start)
    assert {f.trade_id for f in streamed} <= {f.trade_id for f in looked_up} == {f.trade_id for f in by_time}
    assert sum(f.quantity for f in looked_up) == Decimal("0.01")
    assert all(f.fee > 0 and f.fee_asset == "BTC" for f in looked_up)  # OKX's negative fee, charged
    balances = {b.asset: b for b in await venue.balances()}
    assert balances["BTC"].free == Decimal("2") + Decimal("0.01") - sum(f.fee for f in looked_up)


async def test_order_updates_stream_reports_okx_states(okx: tuple[SimServer, OkxVenue]) -> None:
    sim, venue = okx
    watch = asyncio.create_task(venue.watch_order_updates())
    await until_user_stream_subscribed(sim, "okx", channels=("orders",))  # (was a 0.3 s sleep)
    order = intent(5)
    await venue.submit(order)  # type: ignore[arg-type]
    async with asyncio.timeout(15):
        reports = await watch
    assert reports[-1].client_order_id == str(order.client_order_id)  # type: ignore[attr-defined]
    assert reports[-1].status is VenueOrderStatus.OPEN and reports[-1].quantity == Decimal("0.01")


async def test_cancel_all_after_arms_and_disarms(okx: tuple[SimServer, OkxVenue]) -> None:
    sim, venue = okx
    trigger = await venue.arm_cancel_all_after(30)
    assert trigger is not None and trigger > datetime.now(UTC) + timedelta(seconds=25)
    assert sim.venues["okx"].dead_mans_switch.deadlines
    assert await venue.arm_cancel_all_after(0) is None
    assert not sim.venues["okx"].dead_mans_switch.deadlines


def test_id_factory_honours_every_venue_rule() -> None:
    from nonstop.model import ClientIdRule

    ids = ClientOrderIdFactory("a1", rules=(OKX_CLIENT_IDS,))
    coid = ids.next("mm1")
    assert OKX_CLIENT_IDS.to_wire(coid.value) == "nsZa1Zmm1Z1"
    assert OKX_CLIENT_IDS.from_wire("nsZa1Zmm1Z1") == coid.value
    assert OKX_CLIENT_IDS.from_wire("foreignId123") == "foreignId123"
    longest = ClientOrderId.build("abcdefgh", "abcdefghij", 36**8 - 1)
    OKX_CLIENT_IDS.check(longest)  # 31 characters fit OKX's 32
    strict = ClientOrderIdFactory("a1", rules=(ClientIdRule("tiny", r"[a-z]{1,5}"),))
    with pytest.raises(InvalidIdentifier, match="tiny"):
        strict.next("mm1")
    assert strict.last_seq == 0  # nothing handed out
