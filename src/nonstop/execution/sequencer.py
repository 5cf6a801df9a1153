"""The recorder's sequencer: concurrent `record` calls share one group commit, pipelined.

A caller queues its request (its events and a future) and waits on that future alone. One task,
the sequencer, runs while requests are queued and ends when none are. It takes whatever has
queued (up to `max_batch_events`) as one batch and drives it through four steps:

1. **validate** (the recorder's `validate`): each request in queue order, against the state plus
   what the requests before it will change (an overlay); a refused request fails alone;
2. **write**: all kept events in ONE journal append (one transaction, one fsync, fenced by the
   recorder's epoch once for the batch);
3. **fold**, in journal order, on the event loop (the fold stays single-threaded and
   deterministic), taking what validation computed for each event (`Batch.checked`);
4. **acknowledge** each caller, in queue order: a caller is answered exactly when its records are
   durable and folded, so acknowledgement order is journal order.

Pipelined: while batch N is being written (the journal's thread waits for the disk), batch N+1 is
taken and validated against the state plus N's overlay; its write starts only after N is folded,
so N+1's records follow N's on disk, and a failed N (which leaves the recorder unwritable or
fenced, for good) fails N+1 before anything of it is written. The batch size follows the load:
a batch is what queued while the previous one was being written (a lone caller pays one fsync
and never waits for company), capped at `max_batch_events`.

If a write fails, every caller of the batch gets the error (`JournalUnwritable`, `FencedOut`,
`ForeignWrite`, each its own instance) and nothing of the batch is folded.

Cancellation: a caller cancelled while its request is still queued withdraws it (nothing is
recorded); once taken into a batch its append may reach the disk, so the caller waits for the
batch to be folded (or failed) before the cancellation is honoured.

Written here, not taken from a library: the batch must be validated against the engine's own
state (and the batch before it) before it is written, which no queueing library can do.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from nonstop.errors import ForeignWrite, JournalUnwritable

if TYPE_CHECKING:
    from nonstop.model import Event

log = structlog.get_logger("nonstop.execution")
MAX_BATCH_EVENTS = 1024  # one transaction stays small; a flood forms several batches


@dataclass(slots=True)
class Request:
    """One `record` call: its events and the caller's acknowledgement."""

    events: tuple[Event, ...]
    future: asyncio.Future[list[Event]] = field(repr=False)
    batch: Batch | None = field(default=None, repr=False)  # set once taken (no longer withdrawable)


@dataclass(slots=True)
class Batch:
    """Requests committed together. The committer's `validate` fills `accepted` (each request that
    passed, with its kept events), `kept` (all of them, in journal order), `checked` (for each kept
    event, what validating it computed, handed to the fold so it is not computed twice) and
    `overlay` (what the batch will change, for validating the next one while this one is written)."""

    requests: list[Request]
    done: asyncio.Future[None] = field(repr=False)  # resolved once every caller is answered
    accepted: list[tuple[Request, list[Event]]] = field(default_factory=list)
    kept: list[Event] = field(default_factory=list)
    checked: list[Any] = field(default_factory=list, repr=False)  # per kept event: what validation computed
    overlay: Any = field(default=None, repr=False)


class Committer(Protocol):
    """The recorder's side of each step (see the module docstring)."""

    def validate(self, batch: Batch, after: Batch | None) -> None:
        """Validate `batch` against the state plus `after` (the batch being written, if any)."""

    def writable(self) -> BaseException | None:
        """None if appends may go ahead, else the error every caller of a batch gets."""

    async def write(self, batch: Batch) -> int:
        """Append `batch.kept` durably; the seq of its last record."""

    def fold(self, batch: Batch, last: int) -> None:
        """Fold the appended batch into the state, in journal order."""

    def acknowledge(self, batch: Batch) -> None:
        """Announce the batch's events and answer each accepted caller, in queue order."""

    def abandoned(self, err: BaseException) -> None:
        """An append was in flight when the sequencer was cancelled: its outcome is unknown."""


def fresh(err: BaseException) -> BaseException:
    """An exception of its own for each caller (one instance raised in many tasks would share and
    grow one traceback); the original is its cause."""
    if isinstance(err, JournalUnwritable | ForeignWrite):
        copy = type(err)(str(err))
        copy.__cause__ = err.__cause__ or err
        return copy
    return err


def fail(batch: Batch, err: BaseException) -> None:
    """Every unanswered caller of `batch` gets `err` (its own copy); nothing of it is written."""
    for request in batch.requests:
        if not request.future.done():
            request.future.set_exception(fresh(err))
    batch.accepted.clear()
    batch.kept.clear()
    batch.checked.clear()


class Sequencer:
    """The queue of requests and the one task that commits them, batch by batch."""

    def __init__(self, committer: Committer, lock: asyncio.Lock, *,
                 max_batch_events: int = MAX_BATCH_EVENTS) -> None:
        self._committer = committer
        self._lock = lock  # held while the task runs (`Recorder.try_resume` takes it too)
        self.max_batch_events = max_batch_events
        self._queue: list[Request] = []  # waiting for the next batch, in arrival order
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True while the sequencer task runs (requests queued or a batch in progress)."""
        return self._task is not None

    async def submit(self, events: tuple[Event, ...]) -> list[Event]:
        """Queue `events` and wait until they are durable and folded; see the module docstring."""
        loop = asyncio.get_running_loop()
        request = Request(events, loop.create_future())
        self._queue.append(request)
        if self._task is None:
            self._task = loop.create_task(self._run(loop), name="recorder-sequencer")
        try:
            return await request.future
        except asyncio.CancelledError:
            if request.batch is None:
                self._queue.remove(request)
                raise
            done = request.batch.done
            while not done.done():  # in a batch: wait until it is folded, then honour the cancel
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(done)
            if not request.future.cancelled() and request.future.exception() is not None:
                log.error("journal_append_failed_during_cancel", error=str(request.future.exception()))
            raise

    def _take(self, loop: asyncio.AbstractEventLoop) -> Batch | None:
        """The next batch: queued requests in arrival order, up to `max_batch_events` events (a
        request is never split; the first one is always taken)."""
        if not self._queue:
            return None
        count, size = 0, 0
        for request in self._queue:
            size += len(request.events)
            if count and size > self.max_batch_events:
                break
            count += 1
        if count == len(self._queue):
            requests, self._queue = self._queue, []
        else:
            requests, self._queue = self._queue[:count], self._queue[count:]
        batch = Batch(requests, loop.create_future())
        for request in requests:
            request.batch = batch
        return batch

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        writing: Batch | None = None  # being appended, not yet folded
        write: asyncio.Task[int] | None = None
        batch: Batch | None = None  # taken and validated, its append not yet started
        try:
            async with self._lock:
                while True:
                    batch = self._take(loop)
                    if batch is not None:
                        self._validate(batch, writing)
                    if writing is not None:
                        failed = await self._finish(writing, write)
                        if failed is not None and batch is not None:  # validated against what was not written
                            fail(batch, failed)
                        writing = write = None
                    if batch is None:
                        if not self._queue:
                            return
                        continue
                    writing, write = batch, self._start(batch)
                    if not self._queue:
                        await asyncio.sleep(0)  # callers just answered queue their next records
        except BaseException as err:  # cancelled (the loop is closing): nobody still waiting is answered
            if write is not None:
                write.cancel()
                self._committer.abandoned(err)
            taken = [b for b in (writing, batch) if b is not None]
            for request in [*(r for b in taken for r in b.requests), *self._queue]:
                request.future.cancel()
            for b in taken:
                if not b.done.done():
                    b.done.set_result(None)
            raise
        finally:
            self._task = None

    def _validate(self, batch: Batch, after: Batch | None) -> None:
        try:
            self._committer.validate(batch, after)
        except Exception as err:  # noqa: BLE001 - not swallowed: every caller of the batch gets it
            log.error("recorder_batch_validation_failed", error=str(err))
            fail(batch, err)

    def _start(self, batch: Batch) -> asyncio.Task[int] | None:
        """Start the batch's append (None: nothing to write, or the recorder takes no writes)."""
        refused = self._committer.writable()
        if refused is not None:
            fail(batch, refused)
            return None
        if not batch.kept:
            return None
        return asyncio.ensure_future(self._committer.write(batch))

    async def _finish(self, batch: Batch, write: asyncio.Task[int] | None) -> BaseException | None:
        """Wait for the batch's append, fold it, answer its callers; the error if it was not folded."""
        try:
            try:
                if write is not None:
                    self._committer.fold(batch, await write)
            except Exception as err:  # noqa: BLE001 - not swallowed: every caller of the batch gets it
                fail(batch, err)
                return err
            try:
                self._committer.acknowledge(batch)
            except Exception as err:  # noqa: BLE001 - not swallowed: every unanswered caller gets it
                fail(batch, err)
            return None
        finally:
            if not batch.done.done():
                batch.done.set_result(None)
