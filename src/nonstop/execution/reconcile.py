"""Reconciliation (M6): compare our orders, fills and balances with a venue's, and record every
difference as an explicit `ReconcileDifference` followed by the events that correct our state.

A difference is never fatal and never creates an order: an order of ours that we have no record
of is canceled (contained), an order we thought open and is gone is settled from the venue's
record, a fill we missed is recorded, and balance drift is reported. A pass is *clean* when it
found no difference and every venue call succeeded; trading starts only after a clean pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.execution.order_manager import OrderManager
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    DifferenceKind,
    InstrumentId,
    OrderRejected,
    OrderState,
    ReconcileDifference,
    Side,
)
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.reconcile")
FILL_LOOKBACK = timedelta(minutes=10)
BALANCE_TOLERANCE = Decimal("0.00000010")
_UNSETTLED = (OrderState.SUBMITTING, OrderState.IN_DOUBT, OrderState.PENDING_CANCEL)


@dataclass
class ReconcileResult:
    venue: str
    differences: list[ReconcileDifference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences and not self.errors


class Reconciler:
    """Reconciles one instance's orders on its venues."""

    def __init__(
        self,
        manager: OrderManager,
        venues: dict[str, VenuePort],
        instance: str,
        clock: Clock,
        on_difference: Callable[[ReconcileDifference], None] | None = None,
    ) -> None:
        self.manager = manager
        self.venues = venues
        self.prefix = ClientOrderId.prefix(instance)
        self.clock = clock
        self.on_difference = on_difference
        self._balance_checkpoint: dict[str, tuple[datetime, set[str]]] = {}
        self._fills_since: dict[InstrumentId, datetime] = {}

    @property
    def state(self):
        return self.manager.state

    async def _difference(
        self, result: ReconcileResult, kind: DifferenceKind, detail: str, cid: ClientOrderId | None = None
    ) -> None:
        diff = ReconcileDifference(
            ts=self.clock.now(), venue=result.venue, kind=kind, detail=detail, client_order_id=cid
        )
        await self.manager.recorder.record(diff)
        result.differences.append(diff)
        log.warning(
            "reconcile_difference",
            venue=result.venue,
            kind=str(kind),
            detail=detail,
            client_order_id=cid.value if cid else None,
        )
        if self.on_difference is not None:
            self.on_difference(diff)

    async def reconcile(self, venue_name: str, instruments: list[InstrumentId]) -> ReconcileResult:
        """One full pass over `instruments` of one venue."""
        result = ReconcileResult(venue_name)
        venue = self.venues[venue_name]
        try:
            await self._settle_unsent_and_unsettled(result, venue_name)
            for iid in instruments:
                await self._orders(result, venue, iid)
                await self._fills(result, venue, iid)
            await self._balances(result, venue)
        except ConnectivityError as err:
            result.errors.append(str(err))
            log.warning("reconcile_incomplete", venue=venue_name, error=str(err))
        log.info(
            "reconciled",
            venue=venue_name,
            clean=result.clean,
            differences=len(result.differences),
            errors=len(result.errors),
        )
        return result

    async def _settle_unsent_and_unsettled(self, result: ReconcileResult, venue_name: str) -> None:
        for order in list(self.state.orders.values()):
            if order.instrument_id.venue != venue_name:
                continue
            if order.state is OrderState.INITIALIZED:  # intent durable, never sent: the strategy re-decides
                await self.manager.recorder.record(
                    OrderRejected(
                        ts=self.clock.now(),
                        client_order_id=order.client_order_id,
                        reason="not sent: the process stopped between intent and send",
                    )
                )
            elif order.state in _UNSETTLED and not await self.manager.settle(order.client_order_id):
                result.errors.append(f"order {order.client_order_id.value} is still unsettled ({order.state})")
                self.manager.resolve_later(order.client_order_id)

    async def _orders(self, result: ReconcileResult, venue: VenuePort, iid: InstrumentId) -> None:
        on_venue = {
            r.client_order_id: r for r in await venue.open_orders(iid) if r.client_order_id.startswith(self.prefix)
        }
        for order in [o for o in self.state.orders.values() if o.instrument_id == iid]:
            cid, report = order.client_order_id, on_venue.pop(order.client_order_id.value, None)
            if order.state in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED) and report is None:
                gone = await venue.fetch_order(iid, cid.value)
                status = gone.status if gone is not None else "no record"
                await self._difference(
                    result, DifferenceKind.ORDER_GONE, f"order we thought open is {status} on the venue", cid
                )
                if gone is not None:
                    await self.manager.apply_report(gone)
            elif report is not None and order.state.is_terminal:
                await self._difference(
                    result,
                    DifferenceKind.STATE_MISMATCH,
                    f"venue has it {report.status}, we have it {order.state}; canceling",
                    cid,
                )
                await venue.cancel(iid, cid.value)
            elif report is not None and report.filled_qty > order.filled_qty:
                await self._difference(
                    result,
                    DifferenceKind.MISSED_FILL,
                    f"venue filled {report.filled_qty}, we had {order.filled_qty}",
                    cid,
                )
                await self.manager.apply_report(report)
        for text, report in on_venue.items():  # ours by prefix, but we have no record: contain it
            await self._difference(
                result,
                DifferenceKind.UNKNOWN_ORDER,
                f"open order {text} ({report.venue_order_id}) has no record here; canceling",
            )
            await venue.cancel(iid, text)

    async def _fills(self, result: ReconcileResult, venue: VenuePort, iid: InstrumentId) -> None:
        if not any(o.instrument_id == iid and o.venue_order_id is not None for o in self.state.orders.values()):
            return
        since = self._fills_since.get(iid)
        if since is None:  # first pass since start: from just before the newest fill we know
            known = [
                f.ts
                for f in self.state.fills.values()
                if self.state.orders[f.client_order_id.value].instrument_id == iid
            ]
            since = max(known) - FILL_LOOKBACK if known else None
        started = self.clock.now()
        for fill in await venue.fills(iid, since):
            cid = self.manager.owner_of(fill)
            if cid is None:
                continue  # not an order of this instance
            if fill.trade_id in self.state.order(cid).trade_ids:
                continue
            await self._difference(
                result,
                DifferenceKind.MISSED_FILL,
                f"trade {fill.trade_id} ({fill.quantity} @ {fill.price}) was not recorded",
                cid,
            )
            await self.manager.apply_fills([fill])
        self._fills_since[iid] = started - FILL_LOOKBACK

    async def _balances(self, result: ReconcileResult, venue: VenuePort) -> None:
        at = self.clock.now()
        balances = await venue.balances()
        previous = self.state.balances.get(venue.name)
        checkpoint = self._balance_checkpoint.get(venue.name)
        if previous is not None and checkpoint is not None:
            _, seen = checkpoint
            expected = {a: b.total for a, b in previous.items()}
            for key, fill in self.state.fills.items():
                order = self.state.orders[fill.client_order_id.value]
                if key in seen or order.instrument_id.venue != venue.name or fill.ts > at:
                    continue
                sign = 1 if order.side is Side.BUY else -1
                base, quote = order.instrument_id.base, order.instrument_id.quote
                expected[base] = expected.get(base, Decimal(0)) + sign * fill.quantity
                expected[quote] = expected.get(quote, Decimal(0)) - sign * fill.quantity * fill.price
                expected[fill.fee_asset] = expected.get(fill.fee_asset, Decimal(0)) - fill.fee
            actual = {b.asset: b.total for b in balances}
            for asset in sorted(set(expected) | set(actual)):
                drift = actual.get(asset, Decimal(0)) - expected.get(asset, Decimal(0))
                if abs(drift) > BALANCE_TOLERANCE:
                    await self._difference(
                        result,
                        DifferenceKind.BALANCE_DRIFT,
                        f"{asset}: venue {actual.get(asset, 0)}, expected {expected.get(asset, 0)} (drift {drift})",
                    )
        await self.manager.recorder.record(
            BalanceSnapshot(
                ts=at, venue=venue.name, balances=tuple(Balance(b.asset, b.free, b.locked) for b in balances)
            )
        )
        self._balance_checkpoint[venue.name] = (at, {k for k, f in self.state.fills.items() if f.ts <= at})
