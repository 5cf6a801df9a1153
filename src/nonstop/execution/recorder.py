"""The write-ahead recorder: validate events against the state, make them durable, then fold them.

Every change to the engine's state goes through `Recorder.record`: the events are checked
against the current state first (an event the fold would refuse is never written, so replay can
never fail on it), appended to the journal under the fencing epoch and awaited until durable, and
only then applied to the in-memory state and announced to listeners (invariants 1 and 4).
One lock orders append-and-apply, so the state always equals the fold of the journal.

Ownership (invariant 11): an append refused by the fencing epoch (`FencedOut`), or one whose seq
does not directly follow the last seq folded here (`ForeignWrite`: someone else appended), means
this process no longer owns the journal. The recorder then records nothing more, ever: `lost` is
set, `lost_event` fires (the engine exits on it) and every later `record` raises the same error,
so nothing that is journaled before it is sent (orders, cancels) can be sent again.

A journal that stops taking writes (a full disk, a lost database) makes the recorder *unwritable*:
the failed append raises `JournalUnwritable`, every later `record` fails fast with it (nothing new
can be recorded, so nothing new may be sent), and listeners in `on_unwritable` are told once.
`try_resume` writes again when the journal can: it first folds in whatever an append of unknown
outcome did commit, then appends the events given (the outage's own record).

Sequencer (group commit, `sequencer.py`): concurrent `record` calls share one journal append,
pipelined; each caller is acknowledged exactly when its records are durable and folded, in
journal order, and a failed append fails every caller of its batch and folds nothing. The
recorder supplies the steps: `validate` (each request against the state plus the batches before
it, through an `Overlay`), `write` (one append, fenced by the recorder's epoch), `fold` and
`acknowledge`; the fold stays on the event loop, one batch at a time, in journal order.

Each order event's transition runs once: validation computes the order it makes (`checked`), and
the fold takes that order (`EngineState.apply(checked=...)`) while the state still holds the very
order it was computed from, which it always does when no other writer came between (the state
changes only through this recorder's fold); otherwise the fold applies the event as replay does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import structlog

from nonstop.errors import (
    ForeignWrite,
    IllegalTransition,
    JournalError,
    JournalUnwritable,
    JournalWriteFailed,
    ModelError,
    OwnershipLost,
)
from nonstop.execution.archive import ARCHIVE_AFTER, MAX_IDS_PER_RECORD, FinishedOrders, pending_fills
from nonstop.execution.sequencer import Batch, Sequencer
from nonstop.journal import Journal
from nonstop.model import (
    CheckedOrder,
    EngineState,
    Event,
    Order,
    OrderEvent,
    OrderFilled,
    OrderIntent,
    OrdersArchived,
    fill_key,
)

log = structlog.get_logger("nonstop.execution")
Listener = Callable[[Event], None]


@dataclass(slots=True)
class Overlay:
    """What the requests validated so far will change (orders, fill keys, archived ids), on top of
    `parent`: the overlay of the batch still being written when this one is validated. Folding a
    batch empties its overlay (its changes are in the state then)."""

    parent: Overlay | None = None
    orders: dict[str, Order] = field(default_factory=dict)
    fills: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)

    def order(self, key: str) -> Order | None:
        order = self.orders.get(key)
        if order is None and self.parent is not None:
            return self.parent.orders.get(key)
        return order

    def has_fill(self, fkey: str) -> bool:
        return fkey in self.fills or (self.parent is not None and fkey in self.parent.fills)

    def is_archived(self, key: str) -> bool:
        return key in self.archived or (self.parent is not None and key in self.parent.archived)

    def folded(self) -> None:
        self.parent = None
        self.orders.clear()
        self.fills.clear()
        self.archived.clear()


class Recorder:
    """Journal + state, kept in step."""

    def __init__(self, journal: Journal, state: EngineState, epoch: int, *,
                 archive_after_h: float | None = ARCHIVE_AFTER.total_seconds() / 3600) -> None:
        self.journal = journal
        self.state = state
        self.epoch = epoch
        self.listeners: list[Listener] = []
        self.lost: OwnershipLost | None = None  # set once: this process no longer owns the journal
        self.lost_event = asyncio.Event()
        self.on_unwritable: list[Callable[[JournalWriteFailed], None]] = []
        self.unwritable: JournalWriteFailed | None = None
        self._lock = asyncio.Lock()  # held by the sequencer while it runs, and by `try_resume`
        self._sequencer = Sequencer(self, self._lock)
        # None: finished orders stay (see archive.py)
        self.archive_after = timedelta(hours=archive_after_h) if archive_after_h is not None else None
        self._finished = FinishedOrders()

    def _lose(self, err: OwnershipLost) -> None:
        if self.lost is None:
            self.lost = err
            self.lost_event.set()
            log.critical("journal_ownership_lost", error=str(err))

    def applicable(self, events: Sequence[Event], overlay: Overlay | None = None) -> list[Event]:
        """The events the fold accepts, in order; repeated fills and stale order events drop out.

        Raises IllegalTransition/Overfill for an event that contradicts the state in a way that
        must not be silently ignored (e.g. an intent for an existing order). `overlay` holds what
        the requests validated before this one and not yet folded will change (updated only on
        success).
        """
        return self.checked(events, overlay)[0]

    def checked(self, events: Sequence[Event], overlay: Overlay | None = None
                ) -> tuple[list[Event], list[CheckedOrder | None]]:
        """`applicable`, with what validating each kept event computed: for an order event
        `(the order it was checked against, the order it makes)`, which the fold takes instead of
        applying the event a second time (`EngineState.apply(checked=...)`); None for the others."""
        overlay = overlay if overlay is not None else Overlay()
        state = self.state
        orders: dict[str, Order] = {}
        seen_fills: set[str] = set()
        archived: set[str] = set()
        kept: list[Event] = []
        made: list[CheckedOrder | None] = []
        for event in events:
            if isinstance(event, OrdersArchived):  # only what is still archivable when it is folded
                pending = pending_fills(state)  # an order changed by an earlier request, not yet folded, waits
                ids = tuple(k for k in event.client_order_ids if k not in archived and not overlay.is_archived(k)
                            and k not in orders and overlay.order(k) is None
                            and state.unarchivable(state.orders.get(k), pending) is None)
                if ids:
                    kept.append(event if ids == event.client_order_ids else replace(event, client_order_ids=ids))
                    made.append(None)
                    archived.update(ids)
                continue
            if not isinstance(event, OrderEvent):
                kept.append(event)
                made.append(None)
                continue
            key = event.client_order_id.value
            if isinstance(event, OrderIntent):
                if (key in state.orders or key in orders or overlay.order(key) is not None
                        or state.is_archived(event.client_order_id)):
                    raise IllegalTransition(f"order {key}: OrderIntent for an order that already exists "
                                            "(or existed: archived)")
                orders[key] = new = Order.from_intent(event)
                kept.append(event)
                made.append((None, new))
                continue
            gone = key in archived or overlay.is_archived(key)
            order = None if gone else (orders.get(key) or overlay.order(key) or state.orders.get(key))
            if order is None:
                if gone or state.is_archived(event.client_order_id):
                    _archived_order_event(event)
                    continue
                raise IllegalTransition(f"{type(event).__name__} names unknown order {key}")
            if isinstance(event, OrderFilled):
                fkey = fill_key(order.instrument_id, event.trade_id)
                if fkey in state.fills or fkey in seen_fills or overlay.has_fill(fkey):
                    continue  # the same execution, reported again
                seen_fills.add(fkey)
                new = order.apply(event)  # Overfill propagates: a real inconsistency
            else:
                try:
                    new = order.apply(event)
                except IllegalTransition:
                    log.debug("stale_event_dropped", order=key, state=str(order.state),
                              event_type=type(event).__name__)
                    continue
            orders[key] = new
            kept.append(event)
            made.append((order, new))
        overlay.orders.update(orders)
        if seen_fills:
            overlay.fills.update(seen_fills)
        if archived:
            overlay.archived.update(archived)
        return kept, made

    async def record(self, *events: Event) -> list[Event]:
        """Validate, append durably (sharing a group commit with concurrent callers), fold and
        announce; returns the events actually recorded, once they are durable and folded.

        Cancellation-safe: a request not yet taken into a batch is withdrawn (nothing recorded);
        once taken, its append may reach the disk, so the caller waits for the batch to be folded
        before the cancellation is honoured (were the fold skipped, the in-memory state would fall
        behind the journal and later events would be validated against the wrong state).
        """
        if self.lost is not None:
            raise self.lost
        if self.unwritable is not None:
            raise JournalUnwritable(f"the journal takes no writes: {self.unwritable}")
        return await self._sequencer.submit(events)

    @property
    def busy(self) -> bool:
        """True while records are queued or a batch is being appended and folded (journal-lag metric)."""
        return self._sequencer.running

    # -- the sequencer's steps (sequencer.Committer) ----------------------------------------------

    def validate(self, batch: Batch, after: Batch | None) -> None:
        """Each request in queue order against the state plus `after` (the batch being written)
        and the requests before it; a refused request fails alone."""
        batch.overlay = overlay = Overlay(parent=after.overlay if after is not None else None)
        accepted, kept, made = batch.accepted, batch.kept, batch.checked
        for request in batch.requests:
            try:
                events, checks = self.checked(request.events, overlay)
            except ModelError as err:  # this caller's events contradict the state: it fails alone
                request.future.set_exception(err)
                continue
            accepted.append((request, events))
            kept += events
            made += checks

    def writable(self) -> BaseException | None:
        if self.lost is not None:
            return self.lost
        if self.unwritable is not None:
            return JournalUnwritable(f"the journal takes no writes: {self.unwritable}")
        return None

    async def write(self, batch: Batch) -> int:
        """One append of the batch's kept events under the recorder's epoch; a refusal or failure
        makes the recorder lost or unwritable for good (until `try_resume`)."""
        try:
            last = await self.journal.append(batch.kept, epoch=self.epoch)
        except OwnershipLost as err:
            self._lose(err)
            raise
        except JournalWriteFailed as err:
            self._unwritable(err)
            raise JournalUnwritable(f"the journal takes no writes: {err}") from err
        self._check_follows(last - len(batch.kept) + 1)
        return last

    def fold(self, batch: Batch, last: int) -> None:
        state, finished = self.state, self._finished
        seq = last - len(batch.kept)
        for event, checked in zip(batch.kept, batch.checked, strict=True):
            seq += 1
            state.apply(event, seq=seq, checked=checked)  # the orders validation made, not applied again
            finished.note(state, event)
        batch.overlay.folded()

    def acknowledge(self, batch: Batch) -> None:
        """Announce each request's events and answer it, in queue order (journal order)."""
        listeners = self.listeners
        for request, events in batch.accepted:
            try:
                for event in events:
                    for listener in list(listeners):
                        listener(event)
            except Exception as err:  # noqa: BLE001 - not swallowed: the caller whose event it was gets it
                if not request.future.done():
                    request.future.set_exception(err)
                continue
            if not request.future.done():  # (done: its caller was cancelled and waits for `batch.done`)
                request.future.set_result(events)

    def abandoned(self, err: BaseException) -> None:
        """The sequencer was cancelled with an append in flight: its outcome is unknown, so nothing
        more is written until `try_resume` has read back (and folded) what it did commit."""
        self._unwritable(JournalWriteFailed(f"an append's outcome is unknown: the recorder was stopped ({err!r})",
                                            location=self.journal.backend, outcome_unknown=True))

    def _unwritable(self, err: JournalWriteFailed) -> None:
        self.unwritable = err
        log.critical("journal_unwritable", location=err.location, error=str(err))
        for callback in list(self.on_unwritable):
            callback(err)

    def _check_follows(self, first: int) -> None:
        """An append must land right after the last seq folded here; anything else is a foreign write."""
        if first != self.state.last_seq + 1:
            err = ForeignWrite(
                f"journal append came back at seq {first}, but the last seq folded here is {self.state.last_seq}: "
                "another process wrote to this journal; stopping")
            self._lose(err)
            raise err

    async def try_resume(self, *events: Event) -> bool:
        """Write `events` if the journal takes writes again; True once the recorder is writable.

        An append whose outcome was unknown may have been committed: those records are read back
        and folded first (they were validated before they were sent), so the state stays the fold.
        """
        async with self._lock:
            failed = self.unwritable
            if failed is None:
                return True
            if self.lost is not None:
                return False
            caught_up: list[Event] = []
            try:
                if failed.outcome_unknown:
                    async for record in self.journal.read(self.state.last_seq + 1):
                        if record.epoch != self.epoch:  # not the lost append: another writer's
                            raise ForeignWrite(f"journal seq {record.seq} was written with epoch {record.epoch}, "
                                               f"not this process's {self.epoch}; stopping")
                        self.state.apply(record.event, seq=record.seq)
                        caught_up.append(record.event)
                kept = self.applicable(events)
                last = await self.journal.append(kept, epoch=self.epoch) if kept else self.state.last_seq
                if kept:
                    self._check_follows(last - len(kept) + 1)
            except OwnershipLost as err:
                self._lose(err)
                return False
            except JournalWriteFailed as err:
                self.unwritable = err
                return False
            except JournalError as err:  # a read while the database is still away
                log.info("journal_resume_failed", error=str(err))
                return False
            first = last - len(kept) + 1
            for offset, event in enumerate(kept):
                self.state.apply(event, seq=first + offset)
            self.unwritable = None
        for event in [*caught_up, *kept]:
            for listener in list(self.listeners):
                listener(event)
        return True

    async def archive_finished(self) -> int:
        """Record `OrdersArchived` for the finished orders the retention rule lets go (archive.py);
        returns how many left the state."""
        if self.archive_after is None:
            return 0
        due = self._finished.due(self.state, self.archive_after)
        done = 0
        for start in range(0, len(due), MAX_IDS_PER_RECORD):
            chunk = tuple(due[start:start + MAX_IDS_PER_RECORD])
            assert self._finished.latest is not None
            for event in await self.record(OrdersArchived(ts=self._finished.latest, client_order_ids=chunk)):
                assert isinstance(event, OrdersArchived)
                done += len(event.client_order_ids)
            self._finished.forget(list(chunk))
        if done:
            log.info("orders_archived", orders=done, archived_total=self.state.archived_orders)
        return done

    async def snapshot(self) -> int:
        """Archive what the retention rule lets go, then write a snapshot of the current state;
        returns its seq. Refused once ownership is lost."""
        if self.lost is not None:
            raise self.lost
        await self.archive_finished()
        state, seq = self.state.copy(), self.state.last_seq  # between batches: the fold of records 1..seq
        if seq:
            await self.journal.write_snapshot(state, seq)
        return seq


def _archived_order_event(event: OrderEvent) -> None:
    """An event for an order archived out of the state is not recorded (see archive.py)."""
    if isinstance(event, OrderFilled):
        log.error("fill_for_archived_order_not_recorded", order=event.client_order_id.value,
                  trade_id=event.trade_id.value, quantity=str(event.quantity), price=str(event.price))
    else:
        log.debug("archived_order_event_dropped", order=event.client_order_id.value,
                  event_type=type(event).__name__)
