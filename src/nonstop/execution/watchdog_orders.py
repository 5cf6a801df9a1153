"""Orders the watchdog sent while the engine was silent, and how the engine takes them in.

The watchdog (`nonstop watchdog`, a separate process, maybe on another machine) never writes the
engine's journal (one writer per journal). When it flattens, it sends closing orders whose client
ids follow a scheme both sides know: `ns-<instance>-wds-<n>` (a sell) or `ns-<instance>-wdb-<n>` (a
buy), with one sequence `n = 1, 2, 3, ...` per instance and no gaps (the watchdog reuses a number the
venue never took). The side is in the id because a venue's order record does not always carry it.

The engine, back, finds them through reconciliation (`WatchdogOrders.adopt`): it looks the next
numbers up by client id on the venue until one is unknown, and journals each one it finds as a
`WATCHDOG_ORDER` difference followed by the order's own events (intent, submitted, the venue's
report and its fills), so the fills are attributed to an order of this instance, its position
reads flat, and the balance check matches. Nothing here sends an order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from nonstop.clock import Clock
from nonstop.execution.order_manager import OrderManager
from nonstop.model import (
    ClientOrderId,
    DifferenceKind,
    EngineState,
    InstrumentId,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TimeInForce,
)
from nonstop.venues.port import VenueOrderReport, VenuePort

log = structlog.get_logger("nonstop.reconcile")
RecordDifference = Callable[[DifferenceKind, str, ClientOrderId], Awaitable[None]]

WATCHDOG_SELL = "wds"
WATCHDOG_BUY = "wdb"
_SIDE = {WATCHDOG_SELL: Side.SELL, WATCHDOG_BUY: Side.BUY}


def watchdog_order_id(instance: str, side: Side, n: int) -> ClientOrderId:
    return ClientOrderId.build(instance, WATCHDOG_SELL if side is Side.SELL else WATCHDOG_BUY, n)


def watchdog_side(cid: ClientOrderId) -> Side | None:
    """The side of a watchdog order (None: not a watchdog order)."""
    return _SIDE.get(cid.strategy)


def last_watchdog_seq(state: EngineState, instance: str) -> int:
    """The highest watchdog sequence number this instance's journal holds (0 if none), archived ones too."""
    live = max((o.client_order_id.seq for o in state.orders.values()
                if o.client_order_id.instance == instance and o.client_order_id.strategy in _SIDE), default=0)
    return max(live, state.archived_seq.get(watchdog_order_id(instance, Side.SELL, 1).series, 0))


@dataclass
class WatchdogOrders:
    """Finds the watchdog's orders on a venue and journals them (see the module docstring)."""

    manager: OrderManager
    instance: str
    clock: Clock
    adopted: list[str] = field(default_factory=list)  # client ids taken in since the last `take_adopted`

    async def adopt(self, venue: VenuePort, iid: InstrumentId, record_difference: RecordDifference) -> int:
        """Take in every watchdog order of `iid` not journaled yet; returns how many. An order of
        another instrument stops this look at its number; that instrument's own pass takes it in,
        and the next pass goes on from there."""
        state = self.manager.state
        n = last_watchdog_seq(state, self.instance) + 1
        found = 0
        while True:
            report, cid = None, None
            for side in (Side.SELL, Side.BUY):
                cid = watchdog_order_id(self.instance, side, n)
                if cid.value in state.orders:
                    break  # another instrument's pass took this number in
                report = await venue.fetch_order(iid, cid.value)
                if report is not None:
                    break
            else:
                return found  # the next number is unknown here: nothing more (numbers have no gaps)
            n += 1
            if report is None or cid is None:
                continue
            await record_difference(
                DifferenceKind.WATCHDOG_ORDER,
                f"the watchdog's {watchdog_side(cid)} {report.quantity} @ {report.price} (filled {report.filled_qty}, "
                f"{report.status}) was sent while this engine was silent; taken in",
                cid,
            )
            await self._take_in(cid, iid, report)
            self.adopted.append(cid.value)
            found += 1

    async def _take_in(self, cid: ClientOrderId, iid: InstrumentId, report: VenueOrderReport) -> None:
        side = watchdog_side(cid)
        assert side is not None
        now = self.clock.now()
        await self.manager.recorder.record(
            OrderIntent(ts=now, client_order_id=cid, instrument_id=iid, side=side,
                        order_type=OrderType.LIMIT if report.price is not None else OrderType.MARKET,
                        quantity=report.quantity, price=report.price, time_in_force=TimeInForce.IOC,
                        reduce_only=True),
            OrderSubmitted(ts=now, client_order_id=cid),
        )
        await self.manager.apply_report(report)  # accepted, its fills, then its final status
        log.warning("watchdog_order_taken_in", client_order_id=cid.value, instrument=str(iid), side=str(side),
                    quantity=str(report.quantity), filled=str(report.filled_qty), status=str(report.status))

    def take_adopted(self) -> list[str]:
        taken, self.adopted = self.adopted, []
        return taken



def halt_when_taken_in(flatten: bool,
                       halt: Callable[..., Awaitable[object]]) -> Callable[[str], Awaitable[object]] | None:
    """The engine's `Reconciler(on_watchdog_orders=...)`: with `watchdog.flatten` on, halt (source
    "watchdog") when the watchdog's orders were taken in; off, None (nothing is looked for)."""
    return (lambda why: halt(why, source="watchdog")) if flatten else None
