"""Builders for engine tests: the real `Engine` on its embedded simulator (free loopback ports,
journal in a tmp dir, short intervals), run as a task and inspected while it trades."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from nonstop.clock import LiveClock
from nonstop.config import (
    ApiSettings,
    EngineSettings,
    EngineVenue,
    MonitorSettings,
    Settings,
    SimRateLimits,
    SimSettings,
    SimVenue,
    StrategySettings,
)
from nonstop.data import DataSettings, FeedSettings, ValidatorSettings
from nonstop.engine import Engine
from nonstop.model import DegradationChanged, Event, OrderIntent
from nonstop.strategy.degradation import DegradationSettings
from tests.simkit import WILD_SYMBOLS

TRADING = "binance-a"
SYMBOL = "BTC/USDT"

DATA = DataSettings(
    validator=ValidatorSettings(max_age_s=1.5, max_unchanged_s=2.0, band_bps=Decimal(50), min_sources=2),
    feeds=FeedSettings(
        stall_s=1.0, poll_interval_s=0.2, reduced_poll_interval_s=1.0, request_timeout_s=2.0,
        reconnect_min_s=0.2, reconnect_max_s=1.0, restore_after=3, check_interval_s=0.2,
    ),
)


def settings(
    data_dir: Path,
    *,
    data_venues: int = 1,
    reconcile_interval_s: float = 5,
    recv_window_ms: int = 2000,
    weight_per_minute: int = 6000,
    recover_after_s: float = 1.0,
) -> Settings:
    """Trading on `binance-a` (2 endpoints); `data_venues` data-only sim venues (`binance-b`, `binance-c`)."""
    data_names = ["binance-b", "binance-c"][:data_venues]
    return Settings(
        sim=SimSettings(
            control_port=0,
            tick_ms=50,
            # a wild market (the default is calibrated to BTC's calm 1-minute figures): engine tests need
            # their quotes re-quoted and filled within seconds, and the rate-limit ladder test needs the
            # engine's requests that re-quoting makes (it sees the shared weight only in its own responses)
            venues=[SimVenue(name=TRADING, ports=[0, 0], symbols=WILD_SYMBOLS)]
            + [SimVenue(name=n, ports=[0], symbols=WILD_SYMBOLS) for n in data_names],
            rate_limits=SimRateLimits(weight_per_minute=weight_per_minute),
        ),
        engine=EngineSettings(
            venues=[EngineVenue(name=TRADING, weight_per_minute=weight_per_minute)],
            data_venues=[EngineVenue(name=n, weight_per_minute=weight_per_minute) for n in data_names],
            strategy=StrategySettings(venue=TRADING, symbol=SYMBOL, interval_s=0.2),
            degradation=DegradationSettings(recover_after_s=recover_after_s),
            request_timeout_ms=2000,
            recv_window_ms=recv_window_ms,
            reconcile_interval_s=reconcile_interval_s,
        ),
        data=DATA,
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(port=0)),  # never the default port of a running instance
    )


class ShiftedClock(LiveClock):
    """Real time, with the wall clock moved `offset_s` ahead (monotonic time and sleeps are real):
    puts the run at a chosen second of the minute, where fixed rate-limit windows roll over."""

    def __init__(self, offset_s: float) -> None:
        super().__init__()
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return super().now() + self.offset


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running(engine: Engine, *, duration: float = 180.0) -> AsyncIterator[Engine]:
    """The engine running as a task until trading (with open orders); stopped (cancelled) on exit.
    Time boxes and the run's duration are generous: a start on a loaded machine (two test workers and
    other work on two cores) took 15 s to trade where it takes 2 s alone."""
    task = asyncio.create_task(engine.run(duration=duration), name="engine-under-test")
    try:
        await eventually(lambda: engine.status.phase == "trading" or task.done(), 60, "trading")
        if task.done():
            task.result()  # raises what stopped it
        await eventually(lambda: bool(engine.state and engine.state.open_orders()), 30, "open orders")
        yield engine
    finally:
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def journal_events(engine: Engine) -> list[Event]:
    """Every event in the engine's journal, read back from the file."""
    assert engine.recorder is not None
    return [r.event async for r in engine.recorder.journal.read(1)]


def levels(events: list[Event]) -> list[str]:
    return [e.new for e in events if isinstance(e, DegradationChanged)]


def intents_after(events: list[Event], after: datetime) -> list[OrderIntent]:
    return [e for e in events if isinstance(e, OrderIntent) and e.ts > after]


def utc_now() -> datetime:
    return datetime.now(UTC)
