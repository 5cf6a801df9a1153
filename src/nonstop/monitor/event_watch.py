"""Turns the engine's journaled events into metrics and alerts (the monitor's view of execution).

Subscribed to the write-ahead recorder, so it sees exactly what became durable, in order:
order outcomes and fills become counters, a submit's acknowledgement becomes a round-trip
latency sample, an order IN DOUBT and every reconciliation difference become alerts (resolved
when the order settles).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from nonstop.model import (
    DifferenceKind,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderInDoubt,
    OrderRejected,
    OrderSubmitted,
    ReconcileDifference,
)
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.alerts import AlertManager
from nonstop.monitor.metrics import Metrics

_CRITICAL_DIFFERENCES = frozenset({DifferenceKind.UNKNOWN_ORDER, DifferenceKind.BALANCE_DRIFT,
                                   DifferenceKind.STATE_MISMATCH})


class EventWatch:
    """`on_event` is a recorder listener: synchronous, never blocks, never raises into the recorder."""

    def __init__(self, metrics: Metrics, alerts: AlertManager | None, venue_of: Callable[[str], str]) -> None:
        """`venue_of(client_order_id)` names the venue of one of our orders (from the engine's state)."""
        self.metrics = metrics
        self.alerts = alerts
        self.venue_of = venue_of
        self._sent_at: dict[str, datetime] = {}

    def on_event(self, event: Event) -> None:
        if isinstance(event, OrderSubmitted):
            self._sent_at[event.client_order_id.value] = event.ts
            return
        if isinstance(event, ReconcileDifference):
            self._difference(event)
            return
        cid = getattr(event, "client_order_id", None)
        if cid is None:
            return
        venue, strategy = self._origin(event)
        if isinstance(event, OrderAccepted):
            sent = self._sent_at.pop(cid.value, None)
            if sent is not None:
                self.metrics.order_latency(venue, max(0.0, (event.ts - sent).total_seconds()))
            self.metrics.order_outcome(venue, strategy, "submitted")
            self._settled(cid.value)
        elif isinstance(event, OrderFilled):
            self.metrics.fill(venue, strategy)
        elif isinstance(event, OrderRejected):
            self.metrics.order_outcome(venue, strategy, "rejected")
            self._settled(cid.value)
        elif isinstance(event, OrderCanceled):
            self.metrics.order_outcome(venue, strategy, "cancelled")
            self._settled(cid.value)
        elif isinstance(event, OrderInDoubt):
            self.metrics.order_outcome(venue, strategy, "in_doubt")
            if self.alerts is not None:
                self.alerts.raise_(f"order_in_doubt:{cid.value}", AlertLevel.WARNING,
                                   f"order {cid.value} is IN DOUBT on {venue}",
                                   f"submit outcome unknown ({event.reason}); resolving by lookup of its client id")

    def _origin(self, event: Event) -> tuple[str, str]:
        cid = getattr(event, "client_order_id", None)
        if cid is None:
            return "unknown", "-"
        return self.venue_of(cid.value), cid.strategy

    def _settled(self, cid: str) -> None:
        if self.alerts is not None:
            self.alerts.resolve(f"order_in_doubt:{cid}", "settled by lookup")

    def _difference(self, diff: ReconcileDifference) -> None:
        if self.alerts is None:
            return
        level = AlertLevel.CRITICAL if diff.kind in _CRITICAL_DIFFERENCES else AlertLevel.WARNING
        subject = diff.client_order_id.value if diff.client_order_id else diff.detail.split(":")[0]
        key = f"reconcile:{diff.venue}:{diff.kind.value}:{subject}"
        self.alerts.raise_(key, level, f"reconciliation found {diff.kind.value} on {diff.venue}", diff.detail)
        # recorded and corrected in the same pass: "resolved" follows once the hold has passed
        self.alerts.resolve(key, "recorded and corrected by reconciliation")
