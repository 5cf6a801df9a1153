"""The clock-driven time boxes used by retry, limiter and pool."""

from __future__ import annotations

import asyncio

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity._aio import run_with_timeout, wait_or_sleep
from tests.unit.connectivity.conftest import advance, drive, settle

pytestmark = pytest.mark.timeout(10)


async def test_run_with_timeout_fast_call_returns_its_result(clock: ManualClock) -> None:
    async def fast() -> int:
        return 7

    assert await run_with_timeout(clock, 1.0, fast) == 7


async def test_run_with_timeout_slow_call_is_cancelled_and_times_out(clock: ManualClock) -> None:
    cancelled = asyncio.Event()

    async def slow() -> int:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    task = asyncio.ensure_future(run_with_timeout(clock, 2.0, slow))
    await drive(clock, task, step=0.5)
    with pytest.raises(TimeoutError):
        task.result()
    assert cancelled.is_set()
    assert clock.monotonic() == pytest.approx(2.0)


async def test_run_with_timeout_outer_cancel_cancels_inner_and_propagates(clock: ManualClock) -> None:
    inner_cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise

    task = asyncio.ensure_future(run_with_timeout(clock, 5.0, slow))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert inner_cancelled.is_set()


async def test_run_with_timeout_inner_error_propagates(clock: ManualClock) -> None:
    async def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError, match="x"):
        await run_with_timeout(clock, 1.0, boom)


async def test_wait_or_sleep_returns_false_after_sleep_and_true_when_done(clock: ManualClock) -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_or_sleep(clock, fut, 1.0))
    await advance(clock, 1.0)
    assert waiting.result() is False
    assert not fut.cancelled()
    waiting = asyncio.ensure_future(wait_or_sleep(clock, fut, 10.0))
    await settle()
    fut.set_result(None)
    await settle()
    assert waiting.result() is True
