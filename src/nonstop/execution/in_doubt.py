"""Settling in-doubt orders: the lookups that decide what became of an unanswered request (M4).

An unknown submit outcome (timeout, reset after send, 5xx, anything but a clear rejection) makes
the order IN DOUBT; an unknown cancel outcome leaves it PENDING_CANCEL. `InDoubtResolver` settles
both by looking the client order id up on a bounded schedule (`InDoubtPolicy`):

- a report from the venue is applied (fills first, then status); an order still open while its
  cancel is pending gets the cancel again;
- only when the venue has provably never seen the order — the lookup says "unknown" after the
  request's `recvWindow` has passed, so the original can no longer be accepted — is it sent
  again, with the SAME client order id (invariant 3), and only while its intent is younger than
  `max_resend_age_s`; an older one is closed locally as never sent (`OrderNeverSent`, with the
  reason) and the strategy decides afresh at today's prices (invariant 14);
- while the engine stops nothing is re-sent: an order unknown after its recvWindow is closed.

One settle at a time per order (a lock), so two lookups can never both decide to resend. The
resolver works on its `OrderManager`'s state, journal and venues, and sends through it, so every
venue write still passes the manager's owner and leader checks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.errors import JournalUnwritable
from nonstop.execution.answers_in_flight import AnswersInFlight
from nonstop.model import (
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    Order,
    OrderInDoubt,
    OrderNeverSent,
    OrderState,
)
from nonstop.venues.port import VenueOrderReport, VenuePort

log = structlog.get_logger("nonstop.execution")


@dataclass(frozen=True)
class InDoubtPolicy:
    """How an in-doubt order is looked up: delays between lookups, and the venue's recvWindow."""

    delays_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
    repeat_s: float = 15.0  # after the schedule, keep looking at this period until settled
    recv_window_s: float = 10.0  # ccxt's Binance default; a request older than this is refused
    max_resend_age_s: float = 10.0  # an unknown order whose intent is older is closed, never re-sent


class OrderDesk(Protocol):
    """What the resolver uses of its order manager (`OrderManager`): the state and journal, the venues
    behind the owner and leader checks, the send path, and the bookkeeping of submits in flight."""

    policy: InDoubtPolicy
    clock: Clock
    stopping: bool
    _answers: AnswersInFlight
    _sending: set[str]
    _submitted_at: dict[str, datetime]

    @property
    def state(self) -> EngineState: ...
    async def apply_report(self, report: VenueOrderReport) -> None: ...
    async def _record(self, *events: Event) -> None: ...
    async def _send(self, cid: ClientOrderId, *, journaled: bool = False, hold: bool = True) -> None: ...
    def _venue(self, instrument_id: InstrumentId) -> VenuePort: ...
    def _check_owner(self) -> None: ...
    def _check_may_send(self, cid: ClientOrderId) -> None: ...
    def _forget_if_settled(self, key: str) -> None: ...


class InDoubtResolver:
    """The lookup loops of one order manager: one owned task per unsettled order."""

    def __init__(self, manager: OrderDesk) -> None:
        self._manager = manager
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def resolve_later(self, cid: ClientOrderId) -> None:
        """Start (once) the lookup loop that settles an IN_DOUBT or PENDING_CANCEL order."""
        key = cid.value
        task = self._resolving.get(key)
        if task is not None and not task.done():
            return
        self._resolving[key] = asyncio.create_task(self._resolve(cid), name=f"resolve-{key}")

    async def _resolve(self, cid: ClientOrderId) -> None:
        m = self._manager
        delays = list(m.policy.delays_s)
        try:
            while True:
                order = m.state.order(cid)
                if order.state not in (OrderState.IN_DOUBT, OrderState.PENDING_CANCEL, OrderState.SUBMITTING):
                    return
                await m.clock.sleep(delays.pop(0) if delays else m.policy.repeat_s)
                try:
                    if await self.settle(cid):
                        return
                except JournalUnwritable:
                    continue  # nothing can be recorded now: look again after the next delay
        finally:
            if self._resolving.get(cid.value) is asyncio.current_task():
                del self._resolving[cid.value]

    async def settle(self, cid: ClientOrderId) -> bool:
        """Look an unsettled order up once; True when its state no longer needs a lookup.

        One settle at a time per order (a lock), so two lookups can never both decide to resend.
        """
        lock = self._locks.setdefault(cid.value, asyncio.Lock())
        async with lock:
            settled = await self._settle(cid)
        self._manager._forget_if_settled(cid.value)  # the lock was held when it finished: drop it now
        return settled

    def forget(self, key: str) -> None:
        """Drop a finished order's idle lock and its finished lookup task."""
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]
        task = self._resolving.get(key)
        if task is not None and task.done():
            del self._resolving[key]

    async def _settle(self, cid: ClientOrderId) -> bool:
        m = self._manager
        answer = m._answers.get(cid.value)
        if answer is not None:
            await asyncio.wait([answer])  # our submit's answer is being recorded: settle after it
        if cid.value in m._sending:
            return False  # our own submit is still waiting for its answer
        order = m.state.order(cid)
        if order.state is OrderState.SUBMITTING:  # sent by a process that died before the answer
            await m._record(
                OrderInDoubt(
                    ts=m.clock.now(),
                    client_order_id=cid,
                    reason="the process stopped while the submit was in flight",
                )
            )
            order = m.state.order(cid)
        if order.state not in (OrderState.IN_DOUBT, OrderState.PENDING_CANCEL):
            return True
        venue = m._venue(order.instrument_id)
        try:
            report = await venue.fetch_order(order.instrument_id, cid.value)
        except ConnectivityError as err:
            log.info("lookup_failed", client_order_id=cid.value, error=str(err))
            return False
        if report is not None:
            await m.apply_report(report)
            order = m.state.order(cid)
            if order.state is OrderState.PENDING_CANCEL and report.status.is_open:
                await self._resend_cancel(order)
                order = m.state.order(cid)
            return order.state not in (OrderState.IN_DOUBT, OrderState.SUBMITTING, OrderState.PENDING_CANCEL)
        if order.state is OrderState.PENDING_CANCEL:
            return False  # we saw it accepted: "unknown" is a venue glitch, look again
        sent_at = self._last_submit_ts(cid)
        if sent_at is not None and (m.clock.now() - sent_at).total_seconds() < m.policy.recv_window_s + 1:
            return False  # the original request could still arrive and be accepted: not yet
        if order.state is not OrderState.IN_DOUBT:
            return False
        if m.stopping:  # never a new send while stopping; unknown after its recvWindow, it never will be known
            reason = "unknown at the venue after its recvWindow while the engine stops: closed, never re-sent"
            log.warning("order_never_sent", client_order_id=cid.value, reason=reason)
            await m._record(OrderNeverSent(ts=m.clock.now(), client_order_id=cid, reason=reason))
            return True
        age = (m.clock.now() - order.intent_ts).total_seconds() if order.intent_ts is not None else None
        if age is None or age >= m.policy.max_resend_age_s:
            shown = f"{age:.1f} s" if age is not None else "of unknown age"
            reason = (f"unknown at the venue after its recvWindow, and its intent is {shown} old "
                      f"(max_resend_age_s = {m.policy.max_resend_age_s:g}): closed, never sent")
            log.warning("order_never_sent", client_order_id=cid.value, reason=reason)
            await m._record(OrderNeverSent(ts=m.clock.now(), client_order_id=cid, reason=reason))
            return True
        log.warning("order_resent_same_id", client_order_id=cid.value, age_s=round(age, 3))
        await m._send(cid)
        return m.state.order(cid).state not in (OrderState.IN_DOUBT, OrderState.SUBMITTING)

    def _last_submit_ts(self, cid: ClientOrderId) -> datetime | None:
        return self._manager._submitted_at.get(cid.value)

    async def _resend_cancel(self, order: Order) -> None:
        m = self._manager
        m._check_owner()
        m._check_may_send(order.client_order_id)
        try:
            report = await m._venue(order.instrument_id).cancel(order.instrument_id, order.client_order_id.value)
        except ConnectivityError as err:
            log.info("cancel_resend_failed", client_order_id=order.client_order_id.value, error=str(err))
            return
        await m.apply_report(report)

    async def close(self) -> None:
        """Stop the lookup loops (their orders stay unsettled in the journal, settled on restart)."""
        tasks = [t for t in self._resolving.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._resolving.clear()
