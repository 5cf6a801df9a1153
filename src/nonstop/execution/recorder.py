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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

from nonstop.errors import (
    ForeignWrite,
    IllegalTransition,
    JournalError,
    JournalUnwritable,
    JournalWriteFailed,
    OwnershipLost,
)
from nonstop.journal import Journal
from nonstop.model import EngineState, Event, Order, OrderEvent, OrderFilled, OrderIntent, fill_key

log = structlog.get_logger("nonstop.execution")
Listener = Callable[[Event], None]


class Recorder:
    """Journal + state, kept in step."""

    def __init__(self, journal: Journal, state: EngineState, epoch: int) -> None:
        self.journal = journal
        self.state = state
        self.epoch = epoch
        self.listeners: list[Listener] = []
        self.lost: OwnershipLost | None = None  # set once: this process no longer owns the journal
        self.lost_event = asyncio.Event()
        self.on_unwritable: list[Callable[[JournalWriteFailed], None]] = []
        self.unwritable: JournalWriteFailed | None = None
        self._lock = asyncio.Lock()

    def _lose(self, err: OwnershipLost) -> None:
        if self.lost is None:
            self.lost = err
            self.lost_event.set()
            log.critical("journal_ownership_lost", error=str(err))

    def applicable(self, events: Sequence[Event]) -> list[Event]:
        """The events the fold accepts, in order; repeated fills and stale order events drop out.

        Raises IllegalTransition/Overfill for an event that contradicts the state in a way that
        must not be silently ignored (e.g. an intent for an existing order).
        """
        orders: dict[str, Order] = {}
        seen_fills: set[str] = set()
        kept: list[Event] = []
        for event in events:
            if isinstance(event, OrderIntent):
                key = event.client_order_id.value
                if key in self.state.orders or key in orders:
                    raise IllegalTransition(f"order {key}: OrderIntent for an order that already exists")
                orders[key] = Order.from_intent(event)
                kept.append(event)
                continue
            if not isinstance(event, OrderEvent):
                kept.append(event)
                continue
            key = event.client_order_id.value
            order = orders.get(key) or self.state.orders.get(key)
            if order is None:
                raise IllegalTransition(f"{type(event).__name__} names unknown order {key}")
            if isinstance(event, OrderFilled):
                fkey = fill_key(order.instrument_id, event.trade_id)
                if fkey in self.state.fills or fkey in seen_fills:
                    continue  # the same execution, reported again
                seen_fills.add(fkey)
                orders[key] = order.apply(event)  # Overfill propagates: a real inconsistency
            elif order.can_apply(event):
                orders[key] = order.apply(event)
            else:
                log.debug("stale_event_dropped", order=key, state=str(order.state), event_type=type(event).__name__)
                continue
            kept.append(event)
        return kept

    async def record(self, *events: Event) -> list[Event]:
        """Validate, append durably, fold and announce; returns the events actually recorded.

        Cancellation-safe: once an append has started it may reach the disk even if the caller
        is cancelled, so append-and-fold runs to completion in its own task (shielded). Were the
        fold skipped, the in-memory state would fall behind the journal and later events would be
        validated against the wrong state (the crash test caught exactly that on shutdown).
        """
        if self.lost is not None:
            raise self.lost
        async with self._lock:
            if self.lost is not None:
                raise self.lost
            if self.unwritable is not None:
                raise JournalUnwritable(f"the journal takes no writes: {self.unwritable}")
            kept = self.applicable(events)
            if not kept:
                return []
            commit = asyncio.ensure_future(self._commit(kept))
            try:
                await asyncio.shield(commit)
            except asyncio.CancelledError:
                while not commit.done():  # finish folding what may be durable, then honour the cancel
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.shield(commit)
                if not commit.cancelled() and commit.exception() is not None:
                    log.error("journal_append_failed_during_cancel", error=str(commit.exception()))
                raise
        for event in kept:
            for listener in list(self.listeners):
                listener(event)
        return kept

    @property
    def busy(self) -> bool:
        """True while an append-and-fold is in progress (for the journal-lag metric)."""
        return self._lock.locked()

    async def _commit(self, kept: list[Event]) -> None:
        try:
            last = await self.journal.append(kept, epoch=self.epoch)
        except OwnershipLost as err:
            self._lose(err)
            raise
        except JournalWriteFailed as err:
            self.unwritable = err
            log.critical("journal_unwritable", location=err.location, error=str(err))
            for callback in list(self.on_unwritable):
                callback(err)
            raise JournalUnwritable(f"the journal takes no writes: {err}") from err
        first = last - len(kept) + 1
        self._check_follows(first)
        for offset, event in enumerate(kept):
            self.state.apply(event, seq=first + offset)

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

    async def snapshot(self) -> int:
        """Write a snapshot of the current state; returns its seq. Refused once ownership is lost."""
        if self.lost is not None:
            raise self.lost
        async with self._lock:
            state, seq = self.state.copy(), self.state.last_seq
        if seq:
            await self.journal.write_snapshot(state, seq)
        return seq
