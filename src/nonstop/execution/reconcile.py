"""Reconciliation (M6): compare our orders, fills and balances with a venue's, and record every
difference as an explicit `ReconcileDifference` followed by the events that correct our state.

A difference is recorded only when it is real: a suspected one (an order missing from the open
list, a fill not journaled yet, a balance off by a fill) is looked at again after `confirm_s`, once
what was in flight on the user stream has landed; the balance baseline is the journal's own (last
snapshot plus the fills it did not contain), never an in-memory checkpoint.

A difference is never fatal and never creates an order: an order of ours that we have no record
of is canceled (contained), an order we thought open and is gone is settled from the venue's
record, a fill we missed is recorded, and balance drift is reported. A pass is *clean* when it
found no difference and every venue call succeeded; trading starts only after a clean pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.errors import JournalUnwritable
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.watchdog_orders import WatchdogOrders
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    DifferenceKind,
    InstrumentId,
    Order,
    OrderRejected,
    OrderState,
    ReconcileDifference,
    Side,
)
from nonstop.venues.port import VenueOrderReport, VenuePort

log = structlog.get_logger("nonstop.reconcile")
FILL_LOOKBACK = timedelta(minutes=10)
BALANCE_TOLERANCE = Decimal("0.00000010")
CONFIRM_S = 1.5  # how long a suspected difference waits for in-flight fills before it is judged again
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
        confirm_s: float = CONFIRM_S,
        on_watchdog_orders: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        """`on_watchdog_orders`: given, orders the watchdog sent while this engine was silent are
        looked for and taken in (`watchdog_orders`), and it is awaited with the reason when some were
        (the engine halts on it); None: not looked for (a config without `watchdog.flatten`)."""
        self.manager = manager
        self.venues = venues
        self.prefix = ClientOrderId.prefix(instance)
        self.clock = clock
        self.on_difference = on_difference
        self.confirm_s = confirm_s
        self._fills_since: dict[InstrumentId, datetime] = {}
        self.on_watchdog_orders = on_watchdog_orders
        self.watchdog = WatchdogOrders(manager, instance, clock) if on_watchdog_orders is not None else None

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
                if self.watchdog is not None:  # before the open orders and fills: they are ours then
                    await self.watchdog.adopt(venue, iid, lambda kind, detail, cid: self._difference(
                        result, kind, detail, cid))
                await self._orders(result, venue, iid)
                await self._fills(result, venue, iid)
            await self._balances(result, venue)
        except (ConnectivityError, JournalUnwritable) as err:
            result.errors.append(str(err))
            log.warning("reconcile_incomplete", venue=venue_name, error=str(err))
        adopted = self.watchdog.take_adopted() if self.watchdog is not None else []
        if adopted and self.on_watchdog_orders is not None:
            await self.on_watchdog_orders(
                f"the watchdog flattened while this engine was silent ({', '.join(adopted)}); "
                "look at why before resuming")
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

    async def _second_look(self) -> None:
        """Wait for what is in flight (a fill on the user stream, an order update) to land before a
        suspected difference is judged again: a difference is recorded only if it is still there."""
        if self.confirm_s > 0:
            await self.clock.sleep(self.confirm_s)

    async def _orders(self, result: ReconcileResult, venue: VenuePort, iid: InstrumentId) -> None:
        on_venue = {
            r.client_order_id: r for r in await venue.open_orders(iid) if r.client_order_id.startswith(self.prefix)
        }
        suspects: list[tuple[Order, VenueOrderReport | None]] = []
        for order in [o for o in self.state.orders.values() if o.instrument_id == iid]:
            report = on_venue.pop(order.client_order_id.value, None)
            if _order_differs(order, report):
                suspects.append((order, report))
        unknown = [(text, r) for text, r in on_venue.items() if text not in self.state.orders]
        if not suspects and not unknown:
            return
        await self._second_look()
        for before, report in suspects:
            order = self.state.order(before.client_order_id)
            cid = order.client_order_id
            if order.state in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED) and report is None:
                gone = await venue.fetch_order(iid, cid.value)
                if gone is not None and gone.status.is_open:
                    continue  # it was only missing from a list taken mid-change
                order = self.state.order(cid)
                if order.state not in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED):
                    continue  # the stream settled it meanwhile
                status = gone.status if gone is not None else "no record"
                await self._difference(
                    result, DifferenceKind.ORDER_GONE, f"order we thought open is {status} on the venue", cid
                )
                if gone is not None:
                    await self.manager.apply_report(gone)
            elif report is not None and order.state.is_terminal:
                again = await venue.fetch_order(iid, cid.value)
                if again is None or not again.status.is_open:
                    continue  # our cancel (or the fill) reached the venue after its list was taken
                await self._difference(
                    result,
                    DifferenceKind.STATE_MISMATCH,
                    f"venue has it {again.status}, we have it {order.state}; canceling",
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
        for text, report in unknown:  # ours by prefix, but we have no record: contain it
            if text in self.state.orders:
                continue
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
            if not known and iid in self.state.carried.last_fill:  # its fills were archived: the newest
                known = [self.state.carried.last_fill[iid][0]]
            since = max(known) - FILL_LOOKBACK if known else None
        started = self.clock.now()
        missing = [
            (cid, fill)
            for fill in await venue.fills(iid, since)
            if (cid := self.manager.owner_of(fill)) is not None  # else: not an order of this instance
            and fill.trade_id not in self.state.order(cid).trade_ids
        ]
        if missing:
            await self._second_look()
        for cid, fill in missing:
            if fill.trade_id in self.state.order(cid).trade_ids:
                continue  # the user stream delivered it meanwhile
            await self._difference(
                result,
                DifferenceKind.MISSED_FILL,
                f"trade {fill.trade_id} ({fill.quantity} @ {fill.price}) was not recorded",
                cid,
            )
            await self.manager.apply_fills([fill])
        self._fills_since[iid] = started - FILL_LOOKBACK

    async def _balances(self, result: ReconcileResult, venue: VenuePort) -> None:
        """The venue's balances against the journal's: its last snapshot for this venue plus the
        fills journaled since that it did not contain (`EngineState.balance_pending`). Exact, and
        the same in a new process, so a change made while the engine was down is found at start.

        A drift seen once may be a fill already in the venue's answer but not yet journaled, so it
        is looked at again after `confirm_s`; only the same drift seen twice is recorded. A new
        snapshot (the next baseline) is written only from a look that matched, or with a confirmed
        drift (which the difference records); an unconfirmed look leaves the baseline as it was.
        """
        first = await self._balance_look(venue)
        if first.drift:
            await self._second_look()
            second = await self._balance_look(venue)
            if second.drift and _same_drift(first.drift, second.drift):
                for asset, drift in sorted(second.drift.items()):
                    await self._difference(
                        result,
                        DifferenceKind.BALANCE_DRIFT,
                        f"{asset}: venue {second.actual.get(asset, 0)}, expected "
                        f"{second.expected.get(asset, 0)} (drift {drift})",
                    )
            elif second.drift:
                log.info("balance_drift_unconfirmed", venue=venue.name, first=_text(first.drift),
                         second=_text(second.drift))
                return  # in flight: keep the baseline, look again next pass
            first = second
        await self.manager.recorder.record(
            BalanceSnapshot(
                ts=first.at,
                venue=venue.name,
                balances=tuple(Balance(b.asset, b.free, b.locked) for b in first.balances),
                includes=first.pending,
            )
        )

    async def _balance_look(self, venue: VenuePort) -> _BalanceLook:
        pending = tuple(self.state.balance_pending.get(venue.name, ()))  # taken before the venue answers
        at = self.clock.now()
        balances = await venue.balances()
        actual = {b.asset: b.total for b in balances}
        previous = self.state.balances.get(venue.name)
        if previous is None:  # the first snapshot ever: it is the baseline
            return _BalanceLook(at, balances, pending, actual, actual, {})
        expected = {a: b.total for a, b in previous.items()}
        for key in pending:
            fill = self.state.fills[key]
            order = self.state.orders[fill.client_order_id.value]
            sign = 1 if order.side is Side.BUY else -1
            base, quote = order.instrument_id.base, order.instrument_id.quote
            expected[base] = expected.get(base, Decimal(0)) + sign * fill.quantity
            expected[quote] = expected.get(quote, Decimal(0)) - sign * fill.quantity * fill.price
            expected[fill.fee_asset] = expected.get(fill.fee_asset, Decimal(0)) - fill.fee
        drift = {}
        for asset in sorted(set(expected) | set(actual)):
            amount = actual.get(asset, Decimal(0)) - expected.get(asset, Decimal(0))
            if abs(amount) > BALANCE_TOLERANCE:
                drift[asset] = amount
        return _BalanceLook(at, balances, pending, actual, expected, drift)


@dataclass(frozen=True, slots=True)
class _BalanceLook:
    at: datetime
    balances: list[Balance]
    pending: tuple[str, ...]  # the fills this look counted on top of the last snapshot
    actual: dict[str, Decimal]
    expected: dict[str, Decimal]
    drift: dict[str, Decimal]


def _order_differs(order: Order, report: VenueOrderReport | None) -> bool:
    """Whether one order's record and the venue's open-orders list disagree (to be confirmed)."""
    if order.state in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED) and report is None:
        return True
    if report is not None and order.state.is_terminal:
        return True
    return report is not None and report.filled_qty > order.filled_qty


def _same_drift(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= BALANCE_TOLERANCE for k in a)


def _text(drift: dict[str, Decimal]) -> str:
    return ", ".join(f"{asset} {amount:+}" for asset, amount in sorted(drift.items()))
