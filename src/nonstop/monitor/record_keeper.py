"""Journals what monitoring observes — alert transitions and circuit-breaker changes — through the
write-ahead recorder, off the callers' stack.

Both arrive through synchronous callbacks (the alert manager's journal sink, the venue gateway's
breaker subscriber) that must never block or raise, so they go into one bounded queue that a
supervised task drains into the journal. A breaker that opens also raises an alert (WARNING for
an endpoint, CRITICAL for a whole venue), resolved when it closes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from nonstop.connectivity.breaker import BreakerScope, BreakerState, BreakerStateChanged
from nonstop.errors import JournalUnwritable
from nonstop.model import AlertRecorded, BreakerChanged, Event
from nonstop.monitor.alert_model import AlertLevel, AlertTransition

log = structlog.get_logger("nonstop.monitor")
QUEUE_SIZE = 1000
RETRY_UNWRITABLE_S = 1.0
RaiseAlert = Callable[[str, AlertLevel, str, str], object]
ResolveAlert = Callable[[str, str], object]


class RecordKeeper:
    """`alert_sink` and `breaker_sink` are the callbacks; `run(record)` is the draining task."""

    def __init__(self, raise_alert: RaiseAlert | None = None, resolve_alert: ResolveAlert | None = None) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._raise = raise_alert
        self._resolve = resolve_alert
        self.dropped = 0

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("record_keeper_queue_full", event_type=type(event).__name__, dropped=self.dropped)

    def alert_sink(self, t: AlertTransition) -> None:
        self._put(
            AlertRecorded(
                ts=t.at,
                key=t.key,
                level=t.level.label,
                transition=t.kind.value,
                title=t.alert.title if t.alert else "",
                detail=t.detail,
            )
        )

    def breaker_sink(self, change: BreakerStateChanged) -> None:
        self._put(
            BreakerChanged(
                ts=change.at,
                scope=str(change.scope),
                name=change.name,
                old=str(change.old),
                new=str(change.new),
                reason=change.reason,
            )
        )
        key = f"breaker_open:{change.scope}:{change.name}"
        if change.new is BreakerState.OPEN and self._raise is not None:
            level = AlertLevel.CRITICAL if change.scope is BreakerScope.VENUE else AlertLevel.WARNING
            self._raise(key, level, f"circuit breaker open: {change.scope} {change.name}", change.reason)
        elif change.new is BreakerState.CLOSED and self._resolve is not None:
            self._resolve(key, f"closed again: {change.reason}")

    async def run(self, record: Callable[[Event], object]) -> None:
        """Drain the queue into the journal (`record` is `Recorder.record`) until cancelled."""
        while True:
            event = await self._queue.get()
            while True:
                try:
                    result = record(event)
                    if asyncio.iscoroutine(result):
                        await result
                    break
                except JournalUnwritable:  # kept (the queue is bounded) until the journal writes again
                    await asyncio.sleep(RETRY_UNWRITABLE_S)
