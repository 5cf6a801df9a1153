"""Supervisor: a crashed loop is restarted, close() cancels everything, cancellation propagates."""

from __future__ import annotations

import asyncio

import pytest

from nonstop.clock import ManualClock
from nonstop.monitor import MonitorClosed
from nonstop.monitor._tasks import Supervisor
from tests.unit.monitor.fakes import settle


async def test_crashed_loop_is_restarted_after_the_delay() -> None:
    clock = ManualClock()
    sup = Supervisor(clock, restart_delay_s=5)
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    sup.spawn("flaky", flaky)
    await settle()
    assert runs == 1 and sup.restarts["flaky"] == 1
    clock.advance(5)
    await settle()
    clock.advance(5)
    await settle()
    assert runs == 3 and sup.restarts["flaky"] == 2 and len(sup) == 1
    await sup.close()
    assert len(sup) == 0
    with pytest.raises(MonitorClosed):
        sup.spawn("again", flaky)


async def test_loop_that_swallows_nothing_is_cancelled_on_close() -> None:
    sup = Supervisor(ManualClock())
    cancelled = asyncio.Event()

    async def worker() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sup.spawn("w", worker)
    await settle()
    await sup.close()
    assert cancelled.is_set()


def test_public_names_are_exported() -> None:
    import nonstop.monitor as monitor

    assert sorted(monitor.__all__) == sorted(set(monitor.__all__))
    for name in monitor.__all__:
        assert hasattr(monitor, name), name
