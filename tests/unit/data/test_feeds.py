"""Redundant feed on a ManualClock: REST stands in for a stalled or failing websocket and steps
back when it recovers; the hub publishes validated consensus; nothing queues; cancellation is clean."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity import DataDropped
from nonstop.data import DataSettings, FeedSettings, MarketDataHub, SourceSpec, Transport, ValidatorSettings
from nonstop.data.consensus import ConsensusQuote
from nonstop.model import InstrumentId
from nonstop.venues.port import Quote

pytestmark = pytest.mark.timeout(20)
IID = InstrumentId("alpha", "BTC/USDT")


class FakeWs:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Quote | Exception] = asyncio.Queue()

    async def watch(self) -> Quote:
        item = await self.inbox.get()
        if isinstance(item, Exception):
            raise item
        return item


class FakeRest:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls = 0

    async def fetch(self) -> Quote:
        self.calls += 1
        p = Decimal(100) + self.calls
        return Quote(IID, p, p + 1, None, self.clock.now())


def quote(clock: ManualClock, bid: str) -> Quote:
    return Quote(IID, Decimal(bid), Decimal(bid) + 1, None, clock.now())


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


def settings(**feeds: object) -> DataSettings:
    base = {"stall_s": 2.0, "poll_interval_s": 0.5, "restore_after": 2, "reconnect_min_s": 0.5, "check_interval_s": 0.5}
    base.update(feeds)
    return DataSettings(feeds=FeedSettings(**base), validator=ValidatorSettings(min_sources=1))  # type: ignore[arg-type]


async def test_feed_ws_stall_then_rest_then_ws_restored() -> None:
    clock = ManualClock()
    ws, rest = FakeWs(), FakeRest(clock)
    seen: list[ConsensusQuote] = []

    async def on_update(c: ConsensusQuote) -> None:
        seen.append(c)

    hub = MarketDataHub(clock, [SourceSpec("alpha", IID, ws.watch, rest.fetch)], settings(), on_update)
    feed = hub.feeds[0]
    task = asyncio.create_task(hub.run())
    try:
        await settle()
        assert feed.transport is Transport.REST and rest.calls == 1  # first price at once, from REST
        assert seen and seen[-1].trusted and seen[-1].mid == Decimal("101.5")
        for bid in ("200", "201"):
            ws.inbox.put_nowait(quote(clock, bid))
            await settle()
        assert feed.transport is Transport.WS
        calls = rest.calls
        clock.advance(1.0)
        await settle()
        assert rest.calls == calls  # polling stopped
        clock.advance(1.1)  # > stall_s without a websocket message
        await settle()
        assert feed.transport is Transport.REST and "stalled" in hub.switches[-1].reason
        assert rest.calls == calls + 1
        clock.advance(0.5)
        await settle()
        assert rest.calls == calls + 2
        assert seen[-1].source_quality("alpha").transport == "rest"  # type: ignore[union-attr]
        for bid in ("300", "301"):
            ws.inbox.put_nowait(quote(clock, bid))
            await settle()
        assert feed.transport is Transport.WS and "restored" in hub.switches[-1].reason
        assert [(s.old, s.new) for s in hub.switches] == [
            (Transport.REST, Transport.WS),
            (Transport.WS, Transport.REST),
            (Transport.REST, Transport.WS),
        ]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_feed_ws_error_switches_at_once_and_retries_with_backoff() -> None:
    clock = ManualClock()
    ws, rest = FakeWs(), FakeRest(clock)
    hub = MarketDataHub(clock, [SourceSpec("alpha", IID, ws.watch, rest.fetch)], settings())
    feed = hub.feeds[0]
    task = asyncio.create_task(hub.run())
    try:
        for bid in ("200", "201"):
            ws.inbox.put_nowait(quote(clock, bid))
            await settle()
        assert feed.transport is Transport.WS
        ws.inbox.put_nowait(ConnectionResetError("1006"))
        await settle()
        assert feed.transport is Transport.REST and feed.ws_errors == 1
        assert "ConnectionResetError" in hub.switches[-1].reason
        ws.inbox.put_nowait(ConnectionResetError("refused"))  # taken only after the backoff
        clock.advance(0.5)
        await settle()
        assert feed.ws_errors == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_feed_ws_retry_waits_out_a_rate_limit_pause_the_error_names() -> None:
    clock = ManualClock()
    ws, rest = FakeWs(), FakeRest(clock)
    hub = MarketDataHub(clock, [SourceSpec("alpha", IID, ws.watch, rest.fetch)], settings())
    feed = hub.feeds[0]
    task = asyncio.create_task(hub.run())
    try:
        await settle()
        ws.inbox.put_nowait(DataDropped("snapshot dropped: no budget now", retry_in=5.0))
        await settle()
        assert feed.ws_errors == 1
        ws.inbox.put_nowait(ConnectionResetError("1006"))  # taken only once the pause is over
        clock.advance(4.9)  # far past the 0.5 s backoff, still inside the pause
        await settle()
        assert feed.ws_errors == 1, "the websocket was resubscribed during the limiter's pause"
        clock.advance(0.2)
        await settle()
        assert feed.ws_errors == 2
        ws.inbox.put_nowait(ConnectionResetError("1006"))  # no pause named: the grown backoff (1 s)
        clock.advance(0.9)
        await settle()
        assert feed.ws_errors == 2
        clock.advance(0.2)
        await settle()
        assert feed.ws_errors == 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_hub_silent_source_is_reported_stale_without_any_update() -> None:
    clock = ManualClock()
    ws = FakeWs()
    seen: list[ConsensusQuote] = []

    async def on_update(c: ConsensusQuote) -> None:
        seen.append(c)

    s = settings()
    s = DataSettings(feeds=s.feeds, validator=ValidatorSettings(min_sources=1, max_age_s=3))
    hub = MarketDataHub(clock, [SourceSpec("alpha", IID, watch=ws.watch)], s, on_update)
    task = asyncio.create_task(hub.run())
    try:
        ws.inbox.put_nowait(quote(clock, "200"))
        await settle()
        assert seen[-1].trusted
        for _ in range(8):  # 4 s of silence, checked every 0.5 s
            clock.advance(0.5)
            await settle()
        assert not seen[-1].trusted and "alpha=stale" in seen[-1].reason
        assert hub.feeds[0].transport is Transport.NONE  # no REST fallback to switch to
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_hub_never_queues_a_burst() -> None:
    """Nothing queues (the bounded queue is gone, issue 17 item 5): every update is observed on
    arrival, in order, and the symbol waits for the dispatcher's next step, once."""
    clock = ManualClock()
    hub = MarketDataHub(clock, [SourceSpec("alpha", IID, fetch=FakeRest(clock).fetch)], settings(queue_size=2))
    from nonstop.data import SourceQuote

    for bid in ("1", "2", "3"):
        hub.offer(SourceQuote("alpha", "ws", quote(clock, bid), 0.0))
    assert hub.received == 3 and hub.pending == 1
    alpha = hub.latest("BTC/USDT").source_quality("alpha")
    assert alpha is not None and alpha.updates == 3 and alpha.bid == Decimal("3")


def test_source_spec_needs_a_transport_and_names_are_unique() -> None:
    with pytest.raises(ValueError, match="give a watch"):
        SourceSpec("alpha", IID)
    clock = ManualClock()
    fetch = FakeRest(clock).fetch
    with pytest.raises(ValueError, match="twice"):
        MarketDataHub(clock, [SourceSpec("alpha", IID, fetch=fetch), SourceSpec("alpha", IID, fetch=fetch)])
