"""Time-boxed waits on an injected `Clock` (asyncio.timeout only knows the loop's own time, so it
cannot be driven by `ManualClock` in tests). Every task made here is awaited before returning;
cancellation of the caller always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nonstop.clock import Clock

T = TypeVar("T")


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel `tasks` and wait until they have finished (their outcome is not re-raised)."""
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    for t in tasks:  # mark exceptions as retrieved; they were recorded by their owners
        if t.done() and not t.cancelled():
            t.exception()


async def wait_or_sleep(clock: Clock, fut: asyncio.Future[Any], seconds: float) -> bool:
    """Wait until `fut` is done or `seconds` of clock time have passed; True if `fut` is done.

    `fut` itself is never cancelled here.
    """
    if fut.done():
        return True
    sleeper = asyncio.ensure_future(clock.sleep(max(seconds, 0.0)))
    try:
        await asyncio.wait({fut, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(sleeper)
    return fut.done()


async def run_with_timeout(clock: Clock, seconds: float, fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn()` and return its result, or cancel it and raise TimeoutError after `seconds`."""
    task: asyncio.Future[T] = asyncio.ensure_future(fn())
    try:
        done = await wait_or_sleep(clock, task, seconds)
    except BaseException:
        await cancel_and_wait(task)
        raise
    if not done:
        await cancel_and_wait(task)
        if task.cancelled():
            raise TimeoutError(f"no answer within {seconds:g}s")
    return task.result()  # finished in the same step as the deadline: its own outcome wins
