"""RateLimiter: budgets per window, priorities and reserves, venue headers, 429 pauses, bounds."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity import (
    DataDropped,
    IpBannedError,
    LimiterConfig,
    LimiterPermit,
    LimiterQueueFull,
    LimiterTimeout,
    Priority,
    RateLimitedError,
    RateLimiter,
)
from nonstop.errors import ConfigError
from tests.unit.connectivity.conftest import advance, settle

ORDER, ACCOUNT, DATA = Priority.ORDER, Priority.ACCOUNT, Priority.MARKET_DATA
pytestmark = pytest.mark.timeout(10)


def limiter(clock: ManualClock, **kw: object) -> RateLimiter:
    return RateLimiter(clock, LimiterConfig(**kw))  # type: ignore[arg-type]


def shares(order: float, account: float, data: float) -> dict[Priority, float]:
    return {ORDER: order, ACCOUNT: account, DATA: data}


async def take(lim: RateLimiter, priority: Priority, weight: int, **kw: object) -> LimiterPermit:
    async with lim.acquire(priority, weight, **kw) as permit:  # type: ignore[arg-type]
        return permit


def start(lim: RateLimiter, log: list[str], label: str, priority: Priority, weight: int,
          **kw: object) -> asyncio.Task[None]:
    async def go() -> None:
        async with lim.acquire(priority, weight, **kw):  # type: ignore[arg-type]
            log.append(label)
    return asyncio.ensure_future(go())


async def test_limiter_under_budget_grants_at_once_and_counts_weight(clock: ManualClock) -> None:
    lim = limiter(clock)
    await take(lim, DATA, 20)
    await take(lim, ORDER, 1, is_order=True)
    assert lim.weight_used() == 21
    assert lim.used_share() == pytest.approx(21 / 6000)
    assert lim.orders_used() == (1, 1)


async def test_limiter_market_data_capped_at_its_share_and_droppable_is_dropped(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=100, weight_share=shares(1.0, 0.9, 0.6))
    await take(lim, DATA, 60)
    with pytest.raises(DataDropped):
        await take(lim, DATA, 1, droppable=True)
    assert lim.wait_stats(DATA).dropped == 1
    assert lim.queue_depth(DATA) == 0


async def test_limiter_orders_use_the_reserve_market_data_cannot(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=100, weight_share=shares(1.0, 0.9, 0.6))
    await take(lim, DATA, 60)
    await take(lim, ACCOUNT, 30)  # up to 90
    await take(lim, ORDER, 10, is_order=True)  # up to 100
    assert lim.weight_used() == 100


async def test_limiter_saturated_window_grants_by_priority_at_rollover(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=100, weight_share=shares(1.0, 1.0, 1.0))
    await take(lim, ORDER, 100)
    log: list[str] = []
    tasks = [start(lim, log, "data", DATA, 60, max_wait=300.0), start(lim, log, "account", ACCOUNT, 60, max_wait=300.0),
             start(lim, log, "order", ORDER, 60, max_wait=300.0)]
    await settle()
    assert log == []
    await advance(clock, 60.0, step=1.0)
    assert log == ["order"]
    await advance(clock, 60.0, step=1.0)
    assert log == ["order", "account"]
    await advance(clock, 60.0, step=1.0)
    assert log == ["order", "account", "data"]
    await asyncio.gather(*tasks)


async def test_limiter_blocked_waiter_is_not_overtaken_by_smaller_one(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=100, weight_share=shares(1.0, 1.0, 1.0))
    await take(lim, DATA, 90)
    log: list[str] = []
    tasks = [start(lim, log, "big", DATA, 50), start(lim, log, "small", DATA, 1)]
    await settle()
    assert log == []  # "small" fits but must not overtake "big"
    await advance(clock, 60.0, step=1.0)
    assert log == ["big", "small"]
    await asyncio.gather(*tasks)


async def test_limiter_order_count_full_queues_new_order_but_not_cancel(clock: ManualClock) -> None:
    lim = limiter(clock, orders_per_10s=2)
    await take(lim, ORDER, 1, is_order=True)
    await take(lim, ORDER, 1, is_order=True)
    log: list[str] = []
    new_order = start(lim, log, "new", ORDER, 1, is_order=True)
    cancel = start(lim, log, "cancel", ORDER, 1)
    await settle()
    assert log == ["cancel"]
    await advance(clock, 10.0, step=0.5)
    assert log == ["cancel", "new"]
    assert lim.wait_stats(ORDER).max_wait == pytest.approx(10.0)
    await asyncio.gather(new_order, cancel)


async def test_limiter_daily_order_count_full_blocks_new_orders(clock: ManualClock) -> None:
    lim = limiter(clock, orders_per_day=1)
    await take(lim, ORDER, 1, is_order=True)
    task = asyncio.ensure_future(take(lim, ORDER, 1, is_order=True, max_wait=30.0))
    await advance(clock, 31.0, step=1.0)  # three 10 s windows roll, the day does not
    with pytest.raises(LimiterTimeout):
        await task
    assert lim.orders_used() == (0, 1)


async def test_limiter_venue_header_count_wins_over_ours_up_and_down(clock: ManualClock) -> None:
    lim = limiter(clock)
    async with lim.acquire(DATA, 5) as permit:
        permit.observe({"X-MBX-USED-WEIGHT-1M": "4000"})
    assert lim.weight_used() == 4000
    async with lim.acquire(ORDER, 5) as permit:
        permit.observe({"x-mbx-used-weight-1m": "10"})
    assert lim.weight_used() == 10


async def test_limiter_venue_header_adds_what_we_still_have_in_flight(clock: ManualClock) -> None:
    lim = limiter(clock)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(lim.acquire(ACCOUNT, 20))  # in flight, maybe unseen by the venue
        async with lim.acquire(DATA, 5) as permit:
            permit.observe({"X-MBX-USED-WEIGHT-1M": "100", "X-MBX-ORDER-COUNT-10S": "3",
                            "X-MBX-ORDER-COUNT-1D": "50"})
        assert lim.weight_used() == 120
        assert lim.orders_used() == (3, 50)


async def test_limiter_header_from_previous_window_is_ignored(clock: ManualClock) -> None:
    lim = limiter(clock)
    async with lim.acquire(DATA, 5) as permit:
        await advance(clock, 60.0)
        permit.observe({"X-MBX-USED-WEIGHT-1M": "5999"})
    assert lim.weight_used() == 0


async def test_limiter_429_pauses_everything_until_retry_after(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=30.0))
    assert lim.paused_for == pytest.approx(30.0)
    log: list[str] = []
    order = start(lim, log, "order", ORDER, 1, is_order=True)
    data = start(lim, log, "data", DATA, 1)
    await advance(clock, 29.0, step=0.5)
    assert log == []
    await advance(clock, 1.0, step=0.5)
    assert log == ["order", "data"]
    assert lim.rate_limited_count == 1
    await asyncio.gather(order, data)


async def test_limiter_429_pause_longer_than_max_wait_fails_fast(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=30.0))
    with pytest.raises(LimiterTimeout):
        await take(lim, ORDER, 1, is_order=True, max_wait=5.0)
    assert clock.monotonic() == 0.0
    assert lim.wait_stats(ORDER).timed_out == 1


async def test_limiter_429_without_retry_after_pauses_until_next_minute(clock: ManualClock) -> None:
    lim = limiter(clock)
    clock.advance(15.0)
    lim.observe({"X-MBX-USED-WEIGHT-1M": "6000"}, error=RateLimitedError("429"))
    assert lim.paused_for == pytest.approx(45.0)


async def test_limiter_418_without_retry_after_pauses_at_least_two_minutes(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=IpBannedError("418"))
    assert lim.paused_for >= 120.0


async def test_limiter_full_queue_raises_queue_full(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=10, weight_share=shares(1.0, 1.0, 1.0),
                  max_queue={ORDER: 1, ACCOUNT: 1, DATA: 1})
    await take(lim, DATA, 10)
    waiting = asyncio.ensure_future(take(lim, DATA, 1))
    await settle()
    with pytest.raises(LimiterQueueFull):
        await take(lim, DATA, 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_limiter_waiter_past_max_wait_times_out_and_leaves_queue(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=10, weight_share=shares(1.0, 1.0, 1.0))
    await take(lim, DATA, 10)
    task = asyncio.ensure_future(take(lim, DATA, 1, max_wait=5.0))
    await advance(clock, 6.0, step=0.5)
    with pytest.raises(LimiterTimeout):
        await task
    assert lim.queue_depth(DATA) == 0


async def test_limiter_cancelled_waiter_leaves_queue_and_takes_no_budget(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=10, weight_share=shares(1.0, 1.0, 1.0))
    await take(lim, DATA, 10)
    task = asyncio.ensure_future(take(lim, DATA, 5))
    await settle()
    assert lim.queue_depth(DATA) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lim.queue_depth(DATA) == 0
    await advance(clock, 60.0)
    assert lim.weight_used() == 0


async def test_limiter_weight_larger_than_share_is_refused(clock: ManualClock) -> None:
    lim = limiter(clock, weight_per_minute=100)
    with pytest.raises(ValueError, match="can never fit"):
        await take(lim, DATA, 61)


@pytest.mark.parametrize("kwargs", [
    {"weight_per_minute": 0},
    {"weight_share": {ORDER: 1.0, ACCOUNT: 0.9}},
    {"weight_share": shares(0.5, 0.9, 0.6)},
    {"weight_share": shares(1.0, 0.9, 0.0)},
    {"max_wait": {ORDER: 0.0, ACCOUNT: 1.0, DATA: 1.0}},
    {"max_queue": {ORDER: 0, ACCOUNT: 1, DATA: 1}},
])
def test_limiter_config_invalid_values_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LimiterConfig(**kwargs)  # type: ignore[arg-type]


async def test_limiter_after_429_pause_releases_one_trial_until_an_answer_without_429(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=2.0))
    log: list[str] = []
    gate = asyncio.Event()

    async def trial() -> None:
        async with lim.acquire(ORDER, 1) as permit:
            log.append("trial")
            await gate.wait()
            permit.observe({"X-MBX-USED-WEIGHT-1M": "1"})

    first = asyncio.ensure_future(trial())
    await settle()
    others = [start(lim, log, f"data{i}", DATA, 1) for i in range(3)]
    await advance(clock, 2.0, step=0.5)
    assert log == ["trial"]  # the pause is over, but only one request may test the water
    assert lim.recovering
    gate.set()
    await asyncio.gather(first, *others)
    assert log == ["trial", "data0", "data1", "data2"]
    assert not lim.recovering


async def test_limiter_trial_answered_with_429_pauses_again(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=1.0))
    await advance(clock, 1.0)
    async with lim.acquire(ORDER, 1) as permit:
        permit.observe({"X-MBX-USED-WEIGHT-1M": "1"}, error=RateLimitedError("429", retry_after=5.0))
    assert lim.paused_for == pytest.approx(5.0)
    assert lim.recovering
    log: list[str] = []
    waiting = start(lim, log, "data", DATA, 1)
    await advance(clock, 4.5, step=0.5)
    assert log == []
    await advance(clock, 0.5)
    await waiting
    assert log == ["data"]


async def test_limiter_trial_ending_without_answer_hands_the_trial_to_the_next_waiter(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=1.0))
    log: list[str] = []
    tasks = [start(lim, log, f"r{i}", ACCOUNT, 1) for i in range(2)]
    await advance(clock, 1.0)
    await asyncio.gather(*tasks)
    assert log == ["r0", "r1"]
    assert lim.recovering  # nobody was answered yet: still one at a time


async def test_limiter_trial_cancelled_after_grant_does_not_block_the_queue(clock: ManualClock) -> None:
    lim = limiter(clock)
    lim.observe(None, error=RateLimitedError("429", retry_after=1.0))
    trial = asyncio.ensure_future(take(lim, ORDER, 1))
    await settle()
    clock.advance(1.0)
    lim.observe(None)  # dispatches: the trial's future is granted, the task not yet resumed
    trial.cancel()
    await asyncio.gather(trial, return_exceptions=True)
    log: list[str] = []
    await asyncio.wait_for(start(lim, log, "next", DATA, 1), 5.0)
    assert log == ["next"]
