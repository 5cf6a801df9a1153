"""What the venues report about our orders, recorded: execution reports (status and fills), fills
without a report, and the fills a report's filled quantity says are missing (fetched).

A report that contradicts our state (an overfill, a fill of a finished order) is not applied: it is
recorded as a `ReconcileDifference` and logged as an error, and trading goes on; the rest of the
report is applied. Fills are de-duplicated by trade id in the fold, so the websocket, the REST
answer and REST polling may all report the same execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.errors import ModelError
from nonstop.execution.venue_order_index import VenueOrderIndex
from nonstop.model import (
    ClientOrderId,
    DifferenceKind,
    EngineState,
    Event,
    InstrumentId,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderState,
    ReconcileDifference,
)
from nonstop.venues.port import VenueFill, VenueOrderReport, VenueOrderStatus, VenuePort

log = structlog.get_logger("nonstop.execution")


class ReportDesk(Protocol):
    """What the intake uses of its order manager: the state, the clock, the recording path (which
    keeps the venue-id index), the index and the venues."""

    clock: Clock
    venue_ids: VenueOrderIndex

    @property
    def state(self) -> EngineState: ...
    async def _record(self, *events: Event) -> None: ...
    def _venue(self, instrument_id: InstrumentId) -> VenuePort: ...


def fill_event(cid: ClientOrderId, fill: VenueFill) -> OrderFilled:
    """The journal's record of one execution of our order."""
    return OrderFilled(
        ts=fill.ts,
        client_order_id=cid,
        trade_id=fill.trade_id,
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        fee_asset=fill.fee_asset,
        liquidity=fill.liquidity,
        venue_order_id=fill.venue_order_id,
    )


class ReportIntake:
    """Records what the venues report about the orders of one order manager."""

    def __init__(self, desk: ReportDesk) -> None:
        self._desk = desk

    async def record_venue_facts(self, *events: Event) -> None:
        """Record what a venue reported; a report that contradicts our state (e.g. an overfill) is
        not applied but recorded as a difference and logged as an error, and trading goes on."""
        try:
            await self._desk._record(*events)
            return
        except ModelError:
            pass  # one of them contradicts the state: find which, keep the rest
        for event in events:
            try:
                await self._desk._record(event)
            except ModelError as err:
                log.error("venue_report_contradicts_state", error=str(err), event_type=type(event).__name__)
                cid = event.client_order_id if isinstance(event, OrderEvent) else None
                await self._desk._record(
                    ReconcileDifference(
                        ts=self._desk.clock.now(),
                        venue=self._desk.state.order(cid).instrument_id.venue if cid else "unknown",
                        kind=DifferenceKind.STATE_MISMATCH,
                        detail=f"not applied: {err}",
                        client_order_id=cid,
                    )
                )

    async def apply_report(self, report: VenueOrderReport) -> None:
        """Bring our order in line with what the venue says about it (fills first, then status)."""
        cid_text = report.client_order_id or self._desk.venue_ids.find(
            report.instrument_id.venue, report.venue_order_id.value) or ""
        order = self._desk.state.orders.get(cid_text)
        if order is None:
            return
        cid, now = order.client_order_id, self._desk.clock.now()
        events: list[Event] = []
        if order.state in (OrderState.SUBMITTING, OrderState.IN_DOUBT):
            events.append(OrderAccepted(ts=now, client_order_id=cid, venue_order_id=report.venue_order_id))
        events.extend(fill_event(cid, f) for f in report.fills)
        await self.record_venue_facts(*events)
        order = self._desk.state.order(cid)
        if report.filled_qty > order.filled_qty:
            await self._fetch_missing_fills(order)
        status_event = {
            VenueOrderStatus.CANCELED: OrderCanceled,
            VenueOrderStatus.EXPIRED: OrderExpired,
        }.get(report.status)
        if status_event is not None:
            await self.record_venue_facts(status_event(ts=now, client_order_id=cid))
        elif report.status is VenueOrderStatus.REJECTED:
            await self.record_venue_facts(OrderRejected(ts=now, client_order_id=cid, reason="venue reports REJECTED"))

    async def _fetch_missing_fills(self, order: Order) -> None:
        if order.venue_order_id is None:
            return
        try:
            venue = self._desk._venue(order.instrument_id)
            fills = await venue.fills_of_order(order.instrument_id, order.venue_order_id)
        except ConnectivityError as err:
            log.info("fills_lookup_failed", client_order_id=order.client_order_id.value, error=str(err))
            return
        await self.record_venue_facts(*(fill_event(order.client_order_id, f) for f in fills))

    def owner_of(self, fill: VenueFill) -> ClientOrderId | None:
        """Our order that this execution belongs to, by client id or venue order id."""
        key = (
            fill.client_order_id
            if fill.client_order_id in self._desk.state.orders
            else self._desk.venue_ids.find(fill.instrument_id.venue, fill.venue_order_id.value)
        )
        order = self._desk.state.orders.get(key) if key else None  # None too for an archived order
        return order.client_order_id if order is not None else None

    async def apply_fills(self, fills: Sequence[VenueFill]) -> list[VenueFill]:
        """Record executions of our orders; returns those whose order we could not identify."""
        events, orphans = [], []
        for fill in fills:
            cid = self.owner_of(fill)
            if cid is None:
                orphans.append(fill)
            else:
                events.append(fill_event(cid, fill))
        await self.record_venue_facts(*events)
        return orphans
