"""Group commit: many concurrent appends, one durable transaction.

Appenders put `(payloads, epoch, future)` on a bounded queue (backpressure: `append` waits
when `max_pending` batches are queued). One writer task takes the first item, then everything
else already queued (up to `max_batch` items), hands the list to the backend's `write_batch`,
and resolves each future with its own result, so one fenced appender fails alone.

Written here rather than taken from a library: the batching must be per backend transaction
and per-item fenced, which no asyncio library offers as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nonstop.errors import JournalClosed


@dataclass(slots=True)
class PendingAppend:
    """One append: encoded events, its epoch and, once written, its last seq or its error."""

    items: list[tuple[str, str]]  # (event type, canonical payload)
    epoch: int
    future: asyncio.Future[int] = field(repr=False)


WriteBatch = Callable[[list[PendingAppend]], Awaitable[list[int | BaseException]]]


class GroupCommitter:
    """Runs the single writer task of a GROUP-durability journal."""

    def __init__(self, write_batch: WriteBatch, *, max_batch: int = 512, max_pending: int = 10_000) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: asyncio.Queue[PendingAppend | None] = asyncio.Queue(maxsize=max_pending)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="journal-group-commit")

    async def submit(self, items: list[tuple[str, str]], epoch: int) -> int:
        if self._closing or self._task is None:
            raise JournalClosed("journal is closed: group commit writer is not running")
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put(PendingAppend(items, epoch, fut))
        # Shielded: if the caller is cancelled the write may still happen; the writer owns it.
        return await asyncio.shield(fut)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results: list[int | BaseException] = await self._write_batch(batch)
            except Exception as err:  # noqa: BLE001 - not swallowed: every waiter gets it
                results = [err] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
            if stop:
                return

    async def close(self) -> None:
        """Write everything already queued, then stop the writer."""
        if self._task is None or self._closing:
            return
        self._closing = True
        await self._queue.put(None)
        task, self._task = self._task, None
        await task
