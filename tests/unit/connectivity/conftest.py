"""Helpers for the connectivity unit tests: a manual clock and a way to let tasks run."""

from __future__ import annotations

import asyncio

import pytest

from nonstop.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def settle(rounds: int = 20) -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def advance(clock: ManualClock, seconds: float, *, step: float | None = None) -> None:
    """Advance the clock in steps, letting tasks react after each."""
    step = step or seconds
    done = 0.0
    await settle()
    while done < seconds - 1e-12:
        move = min(step, seconds - done)
        clock.advance(move)
        done += move
        await settle()


async def drive(clock: ManualClock, task: asyncio.Future[object], *, step: float = 0.01, limit: float = 600.0) -> None:
    """Advance the clock step by step until `task` is done (or `limit` seconds pass)."""
    await settle()
    moved = 0.0
    while not task.done() and moved < limit:
        clock.advance(step)
        moved += step
        await settle()
