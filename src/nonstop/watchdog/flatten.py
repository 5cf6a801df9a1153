"""The watchdog's flatten (`[watchdog] flatten = true`): after the sweep canceled every open order of
a silent engine, close the instance's positions.

What a position is, as the kill switch's flatten reads it: the instance's net base quantity from its
own fills (`EngineState.positions`, on spot the inventory the engine traded, never the account's
whole balance). The watchdog reads it from the engine's journal, opened read-only (the watchdog
never writes there; on another machine that needs the PostgreSQL journal), and adds what the
journal cannot know yet: fills the venue made on the engine's open orders after its last record
(each looked up by client id), and fills of the watchdog's own earlier flatten orders that the
engine has not taken in. A position it cannot establish (the journal unreadable, a lookup failed)
is not traded: it is reported.

Each position is closed by `killswitch.closing`'s rule (opposite side, quantity rounded down to the
lot step, an IOC limit half the collar through the venue's mid), a few rounds. The orders carry the
watchdog's own client ids (`execution.watchdog_orders`: `ns-<instance>-wds-<n>` / `-wdb-<n>`, no
gaps), are journaled in the watchdog's own journal, and the engine takes them in when it is back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.connectivity.errors import ConnectivityError, RequestNotSent, RequestRejectedError
from nonstop.errors import NonstopError
from nonstop.execution.watchdog_orders import last_watchdog_seq, watchdog_order_id, watchdog_side
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.killswitch.closing import ClosingOrder, closing_order, within_a_step
from nonstop.killswitch.flatten import FLATTEN_STRATEGY, ROUND_WAIT_S, ROUNDS, FlattenReport
from nonstop.model import ClientOrderId, EngineState, InstrumentId, OrderIntent, OrderType, TimeInForce
from nonstop.venues.port import VenueOrderReport, VenuePort
from nonstop.watchdog.journal import WatchdogJournal

log = structlog.get_logger("nonstop.watchdog")
ORDER_EVENT = "flatten_order"


async def read_engine_state(settings: Settings) -> EngineState:
    """The engine's state from its journal, opened read-only."""
    journal = open_journal(settings, read_only=True)
    await journal.open()
    try:
        return await replay(journal)
    finally:
        await journal.close()


class WatchdogFlatten:
    def __init__(self, settings: Settings, venues: Mapping[str, VenuePort], journal: WatchdogJournal,
                 clock: Clock) -> None:
        self.settings = settings
        self.venues = dict(venues)
        self.journal = journal
        self.clock = clock
        self.instance = settings.engine.instance
        self.collar_bps = (settings.watchdog.flatten_collar_bps
                           or settings.risk.limits_for(FLATTEN_STRATEGY).price_collar_bps)
        self.round_wait_s = min(ROUND_WAIT_S, 1.0)

    async def run(self) -> FlattenReport:
        out = FlattenReport()
        try:
            state = await read_engine_state(self.settings)
        except (NonstopError, OSError) as err:
            out.problems.append(f"cannot read the engine's journal ({err}): positions unknown, nothing flattened")
            return await self._done(out)
        positions, uncertain = await self._positions(state, out)
        n = max(last_watchdog_seq(state, self.instance), self._last_own_seq()) + 1
        for _ in range(ROUNDS):
            placed = False
            for key, position in sorted(positions.items()):
                if key in uncertain:
                    continue
                iid = InstrumentId.parse(key)
                instrument = self.venues[iid.venue].instruments().get(iid)
                if instrument is None or within_a_step(position, instrument):
                    continue
                order = closing_order(position, instrument, await self._mid(iid, out), self.collar_bps)
                if isinstance(order, str):
                    out.problems.append(f"{key}: {order}")
                    continue
                if order is None:
                    continue
                report, used = await self._send(iid, order, n, out)
                n += used
                if report is not None:
                    placed = True
                    positions[key] = position + order.side.sign * report.filled_qty
            if not placed:
                break
            await self.clock.sleep(self.round_wait_s)  # the book refills between rounds
        for key, position in sorted(positions.items()):
            iid = InstrumentId.parse(key)
            if not within_a_step(position, self.venues[iid.venue].instruments().get(iid)):
                out.left[key] = position
        return await self._done(out)

    async def _positions(self, state: EngineState, out: FlattenReport) -> tuple[dict[str, Decimal], set[str]]:
        """The instance's positions on our venues: the journal's, plus fills it does not hold yet."""
        positions = {k: v for k, v in state.positions.items() if InstrumentId.parse(k).venue in self.venues}
        uncertain: set[str] = set()
        later: list[tuple[InstrumentId, ClientOrderId, Decimal]] = [
            (o.instrument_id, o.client_order_id, o.filled_qty) for o in state.open_orders()
            if o.client_order_id.instance == self.instance and o.instrument_id.venue in self.venues]
        for row in self.journal.read():  # our own earlier flatten orders the engine has not taken in
            if (row["event"] == ORDER_EVENT and row["client_order_id"] not in state.orders
                    and not state.is_archived(ClientOrderId(row["client_order_id"]))):  # taken in, then archived
                later.append((InstrumentId.parse(row["instrument"]), ClientOrderId(row["client_order_id"]),
                              Decimal(0)))
        for iid, cid, known in later:
            key = str(iid)
            try:
                report = await self.venues[iid.venue].fetch_order(iid, cid.value)
            except ConnectivityError as err:
                uncertain.add(key)
                out.problems.append(f"{key}: position unknown, lookup of {cid.value} failed: {err}")
                continue
            if report is None or report.filled_qty <= known:
                continue
            order = state.orders.get(cid.value)
            side = order.side if order is not None else watchdog_side(cid)
            if side is not None:
                positions[key] = positions.get(key, Decimal(0)) + side.sign * (report.filled_qty - known)
        return positions, uncertain

    def _last_own_seq(self) -> int:
        return max((ClientOrderId(r["client_order_id"]).seq for r in self.journal.read() if r["event"] == ORDER_EVENT),
                   default=0)

    async def _mid(self, iid: InstrumentId, out: FlattenReport) -> Decimal | None:
        try:
            quote = await self.venues[iid.venue].quote(iid)
        except ConnectivityError as err:
            out.problems.append(f"{iid}: no price: {err}")
            return None
        if quote.bid and quote.ask:
            return (quote.bid + quote.ask) / 2
        return quote.last

    async def _send(self, iid: InstrumentId, order: ClosingOrder, n: int,
                    out: FlattenReport) -> tuple[VenueOrderReport | None, int]:
        """Send one closing order as number `n`; (the venue's report or None, numbers used: 0 or 1).

        A number the venue never took (refused, not sent, or unknown to a lookup after an unclear
        answer) is used again for the next order, so the engine's look-up by number finds no gap."""
        venue = self.venues[iid.venue]
        cid = watchdog_order_id(self.instance, order.side, n)
        intent = OrderIntent(ts=self.clock.now(), client_order_id=cid, instrument_id=iid, side=order.side,
                             order_type=OrderType.LIMIT, quantity=order.quantity, price=order.price,
                             time_in_force=TimeInForce.IOC, reduce_only=True)
        report: VenueOrderReport | None = None
        try:
            report = await venue.submit(intent)
        except (RequestRejectedError, RequestNotSent) as err:
            out.problems.append(f"{iid}: {cid.value} refused: {err}")
            return None, 0
        except ConnectivityError as err:  # the outcome is unknown: look it up by its id
            try:
                report = await venue.fetch_order(iid, cid.value)
            except ConnectivityError as again:
                out.problems.append(f"{iid}: {cid.value} in doubt: {err}; lookup failed: {again}")
                await self._record(cid, iid, order, None)
                return None, 1
            if report is None:
                out.problems.append(f"{iid}: {cid.value} not taken by the venue: {err}")
                return None, 0
        if report.status.is_open:  # an IOC is never left resting; a venue that did gets it canceled
            with contextlib.suppress(ConnectivityError):
                report = await venue.cancel(iid, cid.value)
        out.sent.append(cid.value)
        await self._record(cid, iid, order, report)
        log.warning("watchdog_flatten_order", client_order_id=cid.value, instrument=str(iid), side=str(order.side),
                    quantity=str(order.quantity), price=str(order.price), filled=str(report.filled_qty))
        return report, 1

    async def _record(self, cid: ClientOrderId, iid: InstrumentId, order: ClosingOrder,
                      report: VenueOrderReport | None) -> None:
        fields: dict[str, Any] = {"client_order_id": cid.value, "instrument": str(iid), "side": str(order.side),
                                  "quantity": str(order.quantity), "price": str(order.price)}
        if report is not None:
            fields.update(status=str(report.status), filled=str(report.filled_qty))
        await self.journal.write(self.clock.now(), ORDER_EVENT, **fields)

    async def _done(self, out: FlattenReport) -> FlattenReport:
        await self.journal.write(self.clock.now(), "flattened", sent=out.sent,
                                 left={k: str(v) for k, v in out.left.items()}, problems=out.problems)
        log.warning("watchdog_flattened", orders=len(out.sent), left={k: str(v) for k, v in out.left.items()},
                    problems=out.problems)
        return out
