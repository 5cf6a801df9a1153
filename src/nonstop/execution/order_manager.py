"""The order manager: idempotent submit and cancel, fill ingestion (M4).

- Write-ahead: `OrderIntent` (with its client order id) and then `OrderSubmitted` are durable
  before a byte goes to the venue (invariant 1).
- An unknown submit outcome (timeout, reset after send, 5xx, anything but a clear rejection)
  makes the order IN DOUBT; `in_doubt.py` settles it by lookups, re-sending only with the SAME
  client order id and only when the venue provably never saw it (invariants 3 and 14). Nothing
  here ever invents a new id for an order that already has one.
- Only the journal's owner sends: every venue write is preceded by a durable record (which a
  fenced recorder refuses), and `_check_owner` refuses the ones that are not (a cancel resent
  by a lookup).
- Cancels are idempotent: "unknown order" on cancel means the order is already closed, which a
  lookup settles; an unknown cancel outcome leaves the order PENDING_CANCEL until a lookup
  settles it.
- Only the leader sends (invariant 6): `may_send()` is asked right before every submit and cancel
  leaves; a refusal raises `NotLeader` and sends nothing.
- Fills are de-duplicated by trade id (the fold ignores a repeat), so the websocket, the REST
  submit response and REST polling may all report the same execution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import (
    AuthError,
    ConnectivityError,
    DuplicateOrderError,
    OrderNotFoundError,
    RateLimitedError,
    RequestNotSent,
    RequestRejectedError,
    VenueUnavailableError,
)
from nonstop.errors import JournalUnwritable, NotLeader, OwnershipLost
from nonstop.execution.answers_in_flight import AnswersInFlight
from nonstop.execution.in_doubt import InDoubtPolicy, InDoubtResolver
from nonstop.execution.recorder import Recorder
from nonstop.execution.report_intake import ReportIntake
from nonstop.execution.requests_in_flight import Drained, RequestsInFlight
from nonstop.execution.venue_order_index import VenueOrderIndex
from nonstop.model import (
    ClientOrderId,
    ClientOrderIdFactory,
    Event,
    InstrumentId,
    Order,
    OrderAccepted,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderInDoubt,
    OrderIntent,
    OrderRejected,
    OrdersArchived,
    OrderState,
    OrderSubmitted,
    OrderType,
    Side,
    TimeInForce,
)
from nonstop.venues.port import VenueFill, VenueOrderReport, VenuePort

log = structlog.get_logger("nonstop.execution")


class OrderManager:
    """Places, cancels and tracks orders on the venues through the write-ahead recorder."""

    def __init__(
        self,
        recorder: Recorder,
        venues: dict[str, VenuePort],
        ids: ClientOrderIdFactory,
        clock: Clock,
        policy: InDoubtPolicy | None = None,
        *,
        last_alive: datetime | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.recorder = recorder
        self.venues = venues
        self.ids = ids
        self.clock = clock
        self.policy = policy or InDoubtPolicy()
        # invariant 6: asked before any order or cancel leaves (HA: the lease's own deadline)
        self.may_send = may_send or (lambda: True)
        self.venue_ids = VenueOrderIndex()  # our orders by the venue's order id (bounded)
        self.reports = ReportIntake(self)  # what the venues report, recorded
        # When each unsettled order was last sent. After a restart it is at the latest when the
        # previous process last wrote to the journal (`last_alive`), or, not knowing, "just now".
        self._submitted_at: dict[str, datetime] = {}
        self.stopping = False  # set by the engine's stop: lookups still settle orders, nothing is re-sent
        self._sending: set[str] = set()  # submits in flight in this process: never settle those
        self.in_doubt = InDoubtResolver(self)  # the lookups that settle unanswered requests
        self._answers = AnswersInFlight()  # submit answers recorded behind the caller's back
        self.requests = RequestsInFlight()  # submits and cancels on the wire (outlive their caller)
        for order in self.state.orders.values():
            self.venue_ids.add(order)
            self._forget_if_settled(order.client_order_id.value)
            if order.state in (OrderState.SUBMITTING, OrderState.IN_DOUBT):
                self._submitted_at[order.client_order_id.value] = last_alive or clock.now()
        recorder.listeners.append(self._drop_archived)

    @property
    def state(self):
        return self.recorder.state

    async def _record(self, *events: Event) -> None:
        for event in await self.recorder.record(*events):
            if isinstance(event, OrderAccepted):
                self.venue_ids.add(self.state.orders[event.client_order_id.value])
            elif isinstance(event, OrderEvent):
                self._forget_if_settled(event.client_order_id.value)

    def _drop_archived(self, event: Event) -> None:
        """Orders archived out of the state (`OrdersArchived`) leave the venue-id index too: a report
        naming one finds no order anyway (`owner_of`), so the index stays as small as the state."""
        if isinstance(event, OrdersArchived):
            self.venue_ids.drop_missing(self.state.orders)

    def _forget_if_settled(self, key: str) -> None:
        """Drop the per-order bookkeeping of a finished order (bounded memory over a 24/7 run)."""
        order = self.state.orders.get(key)
        if order is None or not order.state.is_terminal:
            return
        self._submitted_at.pop(key, None)
        self.venue_ids.finish(order)
        self.in_doubt.forget(key)

    def _venue(self, instrument_id: InstrumentId) -> VenuePort:
        return self.venues[instrument_id.venue]

    def _check_owner(self) -> None:
        """Refuse any venue write once this process lost its journal (fenced, or a foreign append)."""
        if self.recorder.lost is not None:
            raise self.recorder.lost

    # -------------------------------------------------------------------- place
    async def place(
        self,
        strategy: str,
        instrument_id: InstrumentId,
        side: Side,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        note: Callable[[ClientOrderId], Event] | None = None,
        hold_until_recorded: bool = True,
    ) -> ClientOrderId:
        """Journal the intent (with a fresh client order id), then send it; returns the id.

        `note`, given the new id, makes a record journaled in the same append, before the intent
        (the router's `RouteDecided`: why this venue). With `hold_until_recorded=False` (the
        trading loop's hot path) this returns once the venue has answered, and the answer (the
        acceptance, any fills) is recorded behind the caller's back (`answers_in_flight.py`);
        `recorded()` waits for it."""
        intent = OrderIntent(
            ts=self.clock.now(),
            client_order_id=self.ids.next(strategy),
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
        )
        # intent and submit in one durable append: one disk flush before the order leaves
        notes = () if note is None else (note(intent.client_order_id),)
        try:
            await self._record(*notes, intent,
                               OrderSubmitted(ts=self.clock.now(), client_order_id=intent.client_order_id))
        except asyncio.CancelledError:  # the caller stopped (the engine's stop) while its intent was recorded
            await self._never_left(intent.client_order_id)
            raise
        await self._send(intent.client_order_id, journaled=True, hold=hold_until_recorded)
        return intent.client_order_id

    async def _never_left(self, cid: ClientOrderId) -> None:
        """A submit journaled but cut short before its request existed never reached a venue: say so,
        rather than leave it SUBMITTING for a lookup to doubt (an append withdrawn recorded nothing)."""
        order = self.state.orders.get(cid.value)
        if order is None or order.state is not OrderState.SUBMITTING:
            return
        try:
            await self._record(OrderRejected(ts=self.clock.now(), client_order_id=cid,
                                             reason="not sent: the engine stopped before the send"))
        except (JournalUnwritable, OwnershipLost) as err:  # left SUBMITTING: the next reconcile settles it
            log.warning("never_sent_not_recorded", client_order_id=cid.value, error=str(err))

    async def recorded(self, cid: ClientOrderId | None = None) -> None:
        """Until the venue's answer to `cid` (or to every submit) is recorded."""
        await self._answers.wait(None if cid is None else cid.value)

    async def reject_before_send(
        self, intent: OrderIntent, reason: str, *, note: Callable[[ClientOrderId], Event] | None = None
    ) -> None:
        """Record an intent that pre-trade risk denied: it never reaches a venue. `note` as in
        `place` (a routed intent is journaled with its `RouteDecided`, refused or not)."""
        notes = () if note is None else (note(intent.client_order_id),)
        await self._record(
            *notes, intent, OrderRejected(ts=self.clock.now(), client_order_id=intent.client_order_id, reason=reason)
        )

    def _intent_of(self, order: Order) -> OrderIntent:
        return OrderIntent(
            ts=self.clock.now(),
            client_order_id=order.client_order_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            price=order.price,
            time_in_force=order.time_in_force,
            reduce_only=order.reduce_only,
        )

    async def _send(self, cid: ClientOrderId, *, journaled: bool = False, hold: bool = True) -> None:
        """Send the order; `OrderSubmitted` is made durable first unless the caller just did.
        `hold=False`: the answer is recorded in an owned task, the client id stays "sending" until then.
        The request runs in a task of its own (`requests_in_flight.py`): a cancelled caller leaves it running."""
        order = self.state.order(cid)
        if not journaled:
            await self._record(OrderSubmitted(ts=self.clock.now(), client_order_id=cid))
        self._check_owner()
        self._check_may_send(cid)
        self._submitted_at[cid.value] = self.clock.now()
        self._sending.add(cid.value)
        await self.requests.run(f"submit-{cid.value}", self._submit(cid, self._intent_of(order), hold),
                                 if_cancelled=lambda: self._sending.discard(cid.value))

    async def _submit(self, cid: ClientOrderId, intent: OrderIntent, hold: bool) -> None:
        """The submit request and the recording of its outcome."""
        answered = False
        try:
            report = await self._venue(intent.instrument_id).submit(intent)
            answered = True
        except DuplicateOrderError:
            # the venue already holds an open order with this id: it is ours; a lookup settles it
            await self._in_doubt(cid, "venue reports the client order id already in use")
            return
        except (AuthError, RequestRejectedError, RateLimitedError, VenueUnavailableError, RequestNotSent) as err:
            # refused by the venue (a 429 included), answered "not executed" (maintenance, 503 "try
            # again": on a write the classifier gives VenueUnavailableError only for answers that say
            # so; any other 5xx is OutcomeUnknownError), or never sent at all: it did not execute
            await self._record(OrderRejected(ts=self.clock.now(), client_order_id=cid, reason=str(err)))
            return
        except ConnectivityError as err:  # anything else: the outcome is unknown
            await self._in_doubt(cid, str(err))
            return
        finally:
            if hold or not answered:  # else the answer's recording ends it
                self._sending.discard(cid.value)
        if hold:
            await self.apply_report(report)
        else:
            self._answers.start(cid.value, self._record_answer(cid, report))

    async def _record_answer(self, cid: ClientOrderId, report: VenueOrderReport) -> None:
        try:
            await self.apply_report(report)
        except JournalUnwritable as err:  # nothing can be recorded now: a lookup settles it later
            log.warning("answer_not_recorded", client_order_id=cid.value, error=str(err))
            self._sending.discard(cid.value)
            self.resolve_later(cid)
        except OwnershipLost as err:  # the engine stops on it; the new owner settles the order
            log.error("answer_not_recorded", client_order_id=cid.value, error=str(err))
        except Exception:  # a bug: logged with its traceback, and the order left for a lookup to settle
            log.exception("answer_recording_failed", client_order_id=cid.value)
            self._sending.discard(cid.value)
            self.resolve_later(cid)
        finally:
            self._sending.discard(cid.value)

    def _check_may_send(self, cid: ClientOrderId) -> None:
        """Raise NotLeader (nothing sent; the order stays as journaled, for the leader to settle)."""
        if not self.may_send():
            log.error("send_refused_not_leader", client_order_id=cid.value)
            raise NotLeader(f"order {cid.value} not sent: this engine does not hold the leader lease")

    async def _in_doubt(self, cid: ClientOrderId, reason: str) -> None:
        log.warning("order_in_doubt", client_order_id=cid.value, reason=reason)
        await self._record(OrderInDoubt(ts=self.clock.now(), client_order_id=cid, reason=reason))
        self.resolve_later(cid)

    # --------------------------------------------------------------- in doubt
    def resolve_later(self, cid: ClientOrderId) -> None:
        """Start (once) the lookup loop that settles an IN_DOUBT or PENDING_CANCEL order."""
        self.in_doubt.resolve_later(cid)

    async def settle(self, cid: ClientOrderId) -> bool:
        """Look an unsettled order up once; True when its state no longer needs a lookup."""
        return await self.in_doubt.settle(cid)

    # ------------------------------------------------------- while the journal is down
    async def cancel_unjournaled(self, cid: ClientOrderId) -> bool:
        """Cancel on the venue without journaling: only while the journal takes no writes, when a
        cancel (which can only shrink exposure) is the one safe request. True if the venue took it;
        `refresh_from_venue` settles the order's record once the journal writes again. Never once
        the journal is lost to another holder: its orders are the new holder's."""
        self._check_owner()
        order = self.state.order(cid)
        if not self.may_send():  # fenced: the orders are the new leader's to manage
            log.error("send_refused_not_leader", client_order_id=cid.value, request="unjournaled cancel")
            return False
        try:
            await self._venue(order.instrument_id).cancel(order.instrument_id, cid.value)
        except OrderNotFoundError:
            return False  # already gone (filled or canceled): the refresh finds out which
        except ConnectivityError as err:
            log.warning("unjournaled_cancel_failed", client_order_id=cid.value, error=str(err))
            return False
        log.warning("canceled_unjournaled", client_order_id=cid.value)
        return True

    async def refresh_from_venue(self, cid: ClientOrderId) -> None:
        """Record what the venue says of the order now (after an unjournaled cancel)."""
        order = self.state.order(cid)
        report = await self._venue(order.instrument_id).fetch_order(order.instrument_id, cid.value)
        if report is not None:
            await self.apply_report(report)

    # -------------------------------------------------------------------- cancel
    async def cancel(self, cid: ClientOrderId) -> None:
        """Cancel an order; safe to call again, in any state."""
        order = self.state.order(cid)
        if order.state.is_terminal or order.state is OrderState.INITIALIZED:
            return
        if order.state in (OrderState.IN_DOUBT, OrderState.SUBMITTING, OrderState.PENDING_CANCEL):
            self.resolve_later(cid)  # settle first; the strategy asks again on its next decision
            return
        self._check_may_send(cid)
        await self._record(OrderCancelRequested(ts=self.clock.now(), client_order_id=cid))
        self._check_owner()
        await self.requests.run(f"cancel-{cid.value}", self._cancel(cid, order.instrument_id))

    async def _cancel(self, cid: ClientOrderId, instrument_id: InstrumentId) -> None:
        """The cancel request and the recording of its outcome (an owned task, as a submit's)."""
        try:
            report = await self._venue(instrument_id).cancel(instrument_id, cid.value)
        except OrderNotFoundError:
            if not await self.settle(cid):
                self.resolve_later(cid)
            return
        except RequestRejectedError as err:
            await self._record(OrderCancelRejected(ts=self.clock.now(), client_order_id=cid, reason=str(err)))
            return
        except ConnectivityError as err:
            log.warning("cancel_outcome_unknown", client_order_id=cid.value, error=str(err))
            self.resolve_later(cid)
            return
        await self.apply_report(report)

    # ------------------------------------------------------------ venue reports
    async def apply_report(self, report: VenueOrderReport) -> None:
        """Bring our order in line with what the venue says about it (`report_intake.py`)."""
        await self.reports.apply_report(report)

    def owner_of(self, fill: VenueFill) -> ClientOrderId | None:
        """Our order that this execution belongs to, by client id or venue order id."""
        return self.reports.owner_of(fill)

    async def apply_fills(self, fills: Sequence[VenueFill]) -> list[VenueFill]:
        """Record executions of our orders; returns those whose order we could not identify."""
        return await self.reports.apply_fills(fills)

    async def drain(self, bound_s: float) -> Drained:
        """A graceful stop's wait: the submits and cancels in flight get their answers recorded,
        within `bound_s`; what is still unanswered is cut short (IN DOUBT for the final reconcile).
        A cancellation of the caller (a second signal) ends the wait at once (`requests_in_flight.py`)."""
        return await self.requests.drain(bound_s, then=self._answers.wait)

    async def close(self) -> None:
        """Cut short the requests still in flight, record the submit answers already received, then
        stop the lookup loops (their orders stay unsettled in the journal, settled on restart)."""
        await self.requests.abandon()
        await self._answers.wait()
        await self.in_doubt.close()
        await self.requests.abandon()  # a lookup's re-send cut short by its loop's end
