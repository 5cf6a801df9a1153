"""Batches and conflation (issue 17, item 5): a feed hands the hub everything its source received
since the last step; the hub observes every update in order and publishes one consensus per symbol
per step. The strategy sees the newest view; a crossed or stale source is still rejected mid-burst;
each source's order is kept; a batch is observed exactly as its updates one by one would be."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nonstop.clock import ManualClock
from nonstop.data import (
    ConsensusQuote,
    DataSettings,
    FeedSettings,
    MarketDataHub,
    SourceQuote,
    SourceSpec,
    SourceStatus,
    Validator,
    ValidatorSettings,
)
from nonstop.model import InstrumentId
from nonstop.strategy.market_maker import MarketMaker
from nonstop.strategy.runner import StrategyRunner
from nonstop.venues.port import Quote
from tests.unit.data.per_tick import PerTickHub
from tests.unit.strategy.kit import view

pytestmark = pytest.mark.timeout(60)
D = Decimal
SYMBOL = "BTC/USDT"
SOURCES = ("a", "b", "c")
PRICES = (None, "0", "99", "99.5", "100", "100.0", "100.5", "101", "1E+2")


class BatchWs:
    """A websocket read in batches: each call returns every message put in since the previous call."""

    def __init__(self) -> None:
        self.inbox: list[Quote] = []
        self._ready = asyncio.Event()
        self.calls = 0

    def put(self, *quotes: Quote) -> None:
        self.inbox.extend(quotes)
        self._ready.set()

    async def watch(self) -> list[Quote]:
        await self._ready.wait()
        self._ready.clear()
        self.calls += 1
        batch, self.inbox = self.inbox, []
        return batch


def q(source: str, bid: str | None, ask: str | None, clock: ManualClock) -> Quote:
    return Quote(InstrumentId(source, SYMBOL), D(bid) if bid else None, D(ask) if ask else None, None, clock.now())


def book(source: str, bid: float, clock: ManualClock) -> Quote:
    return q(source, str(bid), str(bid + 1), clock)


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


def hub_settings(**validator: object) -> DataSettings:
    vs = {"min_sources": 2, "max_unchanged_s": None, "max_age_s": 3.0, **validator}
    return DataSettings(feeds=FeedSettings(stall_s=30.0, check_interval_s=60.0),  # neither fires unless asked
                        validator=ValidatorSettings(**vs))  # type: ignore[arg-type]


class Running:
    """A hub over three batch websockets on a ManualClock, its publications recorded."""

    def __init__(self, hub_class: type[MarketDataHub] = MarketDataHub, **validator: object) -> None:
        self.clock = ManualClock()
        self.ws = {s: BatchWs() for s in SOURCES}
        self.seen: list[ConsensusQuote] = []
        specs = [SourceSpec(s, InstrumentId(s, SYMBOL), watch=self.ws[s].watch) for s in SOURCES]
        self.hub = hub_class(self.clock, specs, hub_settings(**validator), self._on_update)
        self.task: asyncio.Task[None] | None = None

    async def _on_update(self, c: ConsensusQuote) -> None:
        self.seen.append(c)

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.hub.run())
        await settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def test_a_burst_reaches_the_strategy_once_with_the_newest_price() -> None:
    async with Running() as r:
        mm = MarketMaker("s1", InstrumentId("alpha", SYMBOL), D("0.02"))
        runner, calls = StrategyRunner(mm), []
        v = view()
        for i in range(500):  # 500 ticks per source arrive within one read: one batch each
            for s in SOURCES:
                r.ws[s].put(book(s, 100 + i, r.clock))
        await settle()
        for c in r.seen:
            calls.append(runner.on_market(c, v).allowed)
        assert [w.calls for w in r.ws.values()] == [1, 1, 1]
        assert len(r.seen) <= 3  # one publication per dispatcher step, not one per tick
        newest = r.seen[-1]
        assert newest.trusted and newest.mid == D("599.5")  # the last tick of every source
        assert {x.source: x.updates for x in newest.quality} == {"a": 500, "b": 500, "c": 500}
        assert r.hub.received == 1500 and r.hub.pending == 0
        placed = calls[-1]
        assert len(placed) == 2 and all(abs(p.price - D("599.5")) < 1 for p in placed)  # type: ignore[union-attr, operator]


async def test_a_crossed_source_is_rejected_mid_burst_and_recovers_on_its_newest_book() -> None:
    async with Running() as r:
        for s in SOURCES:
            r.ws[s].put(book(s, 100, r.clock))
        await settle()
        assert r.seen[-1].trusted and len(r.seen[-1].sources) == 3
        # b's burst ends crossed while a and c keep quoting: b is out, the price is a's and c's
        r.ws["a"].put(*(book("a", 100 + i / 10, r.clock) for i in range(50)))
        r.ws["b"].put(*(book("b", 100 + i / 10, r.clock) for i in range(49)), q("b", "105", "104", r.clock))
        r.ws["c"].put(*(book("c", 100 + i / 10, r.clock) for i in range(50)))
        await settle()
        crossed = r.seen[-1]
        assert crossed.source_quality("b").status is SourceStatus.CROSSED  # type: ignore[union-attr]
        assert crossed.trusted and crossed.sources == ("a", "c") and crossed.mid == D("105.4")
        # a crossed book inside a burst that ends sound: the newest view counts, b is back
        r.ws["b"].put(q("b", "106", "105", r.clock), book("b", 104.9, r.clock))
        await settle()
        assert r.seen[-1].source_quality("b").status is SourceStatus.OK  # type: ignore[union-attr]
        assert r.seen[-1].sources == ("a", "b", "c")


async def test_a_stale_source_is_rejected_while_the_others_burst() -> None:
    async with Running(max_age_s=1.0) as r:
        for s in SOURCES:
            r.ws[s].put(book(s, 100, r.clock))
        await settle()
        assert len(r.seen[-1].sources) == 3
        for step in range(1, 6):  # c falls silent; a and b burst every 0.3 s (the periodic check never runs)
            r.clock.advance(0.3)
            for s in ("a", "b"):
                r.ws[s].put(*(book(s, 100 + step + i / 100, r.clock) for i in range(20)))
            await settle()
        last = r.seen[-1]
        assert last.source_quality("c").status is SourceStatus.STALE  # type: ignore[union-attr]
        assert last.trusted and last.sources == ("a", "b")
        assert last.source_quality("a").updates == 101  # type: ignore[union-attr]


async def test_each_sources_order_is_kept_and_the_result_equals_the_per_tick_hub() -> None:
    """Random interleavings of batches of random sizes through both hubs: the same consensus after
    every step, and each source's book is the last update it sent."""
    rng = random.Random(17)
    async with Running() as fast, Running(PerTickHub) as per_tick:
        last: dict[str, Quote] = {}
        for _ in range(40):
            for s in rng.sample(SOURCES, rng.randint(1, 3)):
                bids = [rng.choice((99, 100, 100.5, 101, 102)) for _ in range(rng.randint(1, 30))]
                for r in (fast, per_tick):
                    batch = [book(s, b, r.clock) for b in bids]
                    r.ws[s].put(*batch)
                last[s] = batch[-1]
            if rng.random() < 0.3:
                fast.clock.advance(0.5)
                per_tick.clock.advance(0.5)
            await settle()
            got, want = fast.hub.latest(SYMBOL), per_tick.hub.latest(SYMBOL)
            assert got == want
            for s, newest in last.items():
                quality = got.source_quality(s)
                assert quality is not None and (quality.bid, quality.ask) == (newest.bid, newest.ask)
        assert fast.seen[-1] == per_tick.seen[-1]


batch_op = st.tuples(
    st.sampled_from(SOURCES), st.sampled_from(("ws", "rest")),
    st.lists(st.tuples(st.sampled_from(PRICES), st.sampled_from(PRICES)), max_size=5),
    st.sampled_from((0.0, 0.05, 0.7, 1.1, 4.0, 12.0)),
)


@settings(max_examples=300, deadline=None)
@given(
    vs=st.builds(ValidatorSettings, max_age_s=st.sampled_from((0.5, 3.0)),
                 max_unchanged_s=st.sampled_from((None, 1.0, 10.0)), min_sources=st.integers(1, 3),
                 gap_s=st.sampled_from((0.1, 1.0))),
    ops=st.lists(batch_op, min_size=1, max_size=25),
)
def test_observe_many_equals_observing_each_update_in_turn(
    vs: ValidatorSettings, ops: list[tuple[object, ...]]
) -> None:
    clock = ManualClock()
    batched, single = Validator(clock, vs), Validator(clock, vs)
    for source, transport, books, advance in ops:
        clock.advance(advance)  # type: ignore[arg-type]
        updates = [Quote(InstrumentId(str(source), SYMBOL), D(b) if b else None, D(a) if a else None, None,
                         clock.now()) for b, a in books]  # type: ignore[attr-defined]
        now = clock.monotonic()
        batched.observe_many(SYMBOL, str(source), str(transport), updates, now)
        for u in updates:
            single.observe(SourceQuote(str(source), str(transport), u, now))
        got, want = batched.assess(SYMBOL), single.assess(SYMBOL)
        assert got == want and repr(got) == repr(want)


async def test_a_batch_of_one_quote_and_an_empty_batch() -> None:
    """A watch may return a single `Quote` (ccxt.pro's conflated book) or a batch; an empty batch is
    no message (nothing observed, the stall time box keeps running from the last message)."""
    clock = ManualClock()
    answers: list[object] = [Quote(InstrumentId("a", SYMBOL), D(100), D(101), None, clock.now()), []]
    more = asyncio.Event()

    async def watch() -> object:
        if not answers:
            await more.wait()
        return answers.pop(0)

    hub = MarketDataHub(clock, [SourceSpec("a", InstrumentId("a", SYMBOL), watch=watch)],  # type: ignore[arg-type]
                        DataSettings(feeds=FeedSettings(stall_s=1.0), validator=ValidatorSettings(min_sources=1)))
    task = asyncio.create_task(hub.run())
    try:
        await settle()
        assert hub.received == 1 and hub.latest(SYMBOL).trusted
        clock.advance(1.01)  # the empty batch did not restart the time box: a stall now
        await settle()
        assert hub.feeds[0].ws_stalls == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
