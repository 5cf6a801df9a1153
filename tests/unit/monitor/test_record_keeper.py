"""The record keeper journals alert transitions and breaker changes, and alerts on open breakers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from nonstop.connectivity.breaker import BreakerScope, BreakerState, BreakerStateChanged
from nonstop.model import BreakerChanged, Event
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.record_keeper import RecordKeeper

AT = datetime(2026, 11, 25, tzinfo=UTC)


def _change(scope: BreakerScope, old: BreakerState, new: BreakerState) -> BreakerStateChanged:
    return BreakerStateChanged(scope=scope, name="binance-a", old=old, new=new, reason="5 failures", at=AT)


async def test_breaker_changes_are_journaled_and_open_breakers_alert_until_closed() -> None:
    raised: list[tuple[str, AlertLevel]] = []
    resolved: list[str] = []
    keeper = RecordKeeper(lambda k, lvl, t, b: raised.append((k, lvl)), lambda k, b: resolved.append(k))
    keeper.breaker_sink(_change(BreakerScope.VENUE, BreakerState.CLOSED, BreakerState.OPEN))
    keeper.breaker_sink(_change(BreakerScope.VENUE, BreakerState.OPEN, BreakerState.HALF_OPEN))
    keeper.breaker_sink(_change(BreakerScope.VENUE, BreakerState.HALF_OPEN, BreakerState.CLOSED))
    assert raised == [("breaker_open:venue:binance-a", AlertLevel.CRITICAL)]
    assert resolved == ["breaker_open:venue:binance-a"]
    journaled: list[Event] = []

    async def record(event: Event) -> None:
        journaled.append(event)

    task = asyncio.create_task(keeper.run(record))
    await asyncio.sleep(0.05)
    task.cancel()
    assert [(e.old, e.new) for e in journaled if isinstance(e, BreakerChanged)] == [
        ("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_an_endpoint_breaker_is_a_warning_and_a_full_queue_counts_what_it_drops() -> None:
    raised: list[AlertLevel] = []
    keeper = RecordKeeper(lambda k, lvl, t, b: raised.append(lvl), None)
    keeper.breaker_sink(_change(BreakerScope.ENDPOINT, BreakerState.CLOSED, BreakerState.OPEN))
    assert raised == [AlertLevel.WARNING]
    for _ in range(1100):
        keeper.breaker_sink(_change(BreakerScope.ENDPOINT, BreakerState.OPEN, BreakerState.HALF_OPEN))
    assert keeper.dropped == 1100 + 1 - 1000
