"""Venue writes in flight (submits and cancels): owned tasks that outlive their caller, so a graceful
stop can wait, bounded, for their answers.

Without this, a stop cancels the strategy's task while its submit is on the wire: the request is
abandoned, its order left SUBMITTING, and only the stop's final reconcile decides its fate (IN
DOUBT, then a lookup). Here each submit and each cancel — the request and the recording of its
outcome — runs in a task of its own, owned by the order manager; the caller awaits it through
`asyncio.shield`, so cancelling the caller (the stop cancels the strategy first: no new intents)
leaves the request running and its answer recorded.

`drain(bound_s)` is the stop's wait: until every request in flight has its outcome recorded, or
the bound passes, or the waiting task is cancelled (the CLI's signal handler cancels the engine's
task: a second SIGINT/SIGTERM during the wait), whichever comes first. What is still unanswered
then is cancelled, exactly as the stop did before: its order stays SUBMITTING (or PENDING_CANCEL),
the stop's final reconcile makes it IN DOUBT and settles it by lookups, nothing is ever re-sent
while stopping (never a duplicate), and every fill the venue reports is recorded (never a lost one).

Hand-written: asyncio has no "wait for these tasks with a deadline, and let a cancellation end the
wait instead of the waiter" primitive. The pattern is `asyncio.timeout`'s own: the cancellation
that ends the wait is consumed with `Task.uncancel`, so it goes no further than the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("nonstop.execution")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Drained:
    """What a stop's wait saw: how many requests were in flight, which were left unanswered (and
    cancelled: IN DOUBT for the final reconcile), and whether a signal cut the wait short."""

    in_flight: int
    unanswered: tuple[str, ...]
    interrupted: bool


class RequestsInFlight:
    """The owned tasks of the venue writes in flight, by name (`submit-<cid>`, `cancel-<cid>`)."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], str] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def names(self) -> tuple[str, ...]:
        """The requests in flight now (`submit-<cid>`, `cancel-<cid>`)."""
        return tuple(sorted(self._tasks.values()))

    async def run(self, name: str, request: Coroutine[Any, Any, T],
                  *, if_cancelled: Callable[[], None] | None = None) -> T:
        """Run `request` in an owned task and wait for it; cancelling the caller does not cancel it.
        `if_cancelled` runs when the task itself is cancelled (possibly before it started)."""
        task = asyncio.get_running_loop().create_task(request, name=name)
        self._tasks[task] = name

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.pop(t, None)
            if t.cancelled() and if_cancelled is not None:
                if_cancelled()

        task.add_done_callback(done)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # the caller went away: nobody will see what the request raises but the log
                task.add_done_callback(_log_orphaned_outcome)
            raise

    async def wait(self) -> None:
        """Until no request is in flight (requests started meanwhile included)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def drain(self, bound_s: float, *, then: Callable[[], Awaitable[None]] | None = None) -> Drained:
        """The stop's wait (see the module docstring): the requests in flight, then `then` (the
        answers being recorded), all within `bound_s`; what is still in flight afterwards is
        cancelled. A cancellation of the waiting task ends the wait, not the waiter."""
        in_flight, interrupted, finished = len(self._tasks), False, False
        if in_flight:
            log.info("stop_waiting_for_answers", in_flight=list(self.names()), bound_s=bound_s)
        try:
            async with asyncio.timeout(bound_s):
                await self.wait()
                if then is not None:
                    await then()
            finished = True
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None:
                raise
            task.uncancel()  # consumed here: it ends the wait, the stop goes on (cancels, reconcile)
            interrupted = True
        unanswered = self.names()
        await self.abandon()
        if unanswered or interrupted:
            log.warning("stop_answers_missing", unanswered=list(unanswered), interrupted=interrupted,
                        note="left IN DOUBT for the final reconcile")
        elif in_flight:  # answered; a recording still under way is never cut short (it ends before exit)
            log.info("stop_answers_recorded" if finished else "stop_answers_being_recorded", answered=in_flight)
        return Drained(in_flight, unanswered, interrupted)

    async def abandon(self) -> None:
        """Cancel every request still in flight and wait until they have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _log_orphaned_outcome(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    err = task.exception()  # retrieved, so asyncio does not report it as never retrieved
    if err is not None:
        log.error("request_outcome_not_recorded", request=task.get_name(), error=str(err),
                  error_type=type(err).__name__)
