"""A time box on a stream of awaits without a timer per message: the websocket stall detector.

`run_with_timeout` (connectivity/_aio.py) time-boxes one await by running it in a task of its own
next to a sleeper task: two tasks and an `asyncio.wait` per call. For a feed that waits for every
websocket message that was most of the data pipeline's cost (profiled in
benchmarks/data_pipeline.py), so the feed uses this instead. Hand-written because neither
`asyncio.timeout` (one loop timer per message, and only on the loop's own clock, so a `ManualClock`
cannot drive it) nor `run_with_timeout` is cheap per message.

The reader awaits the stream directly in its own task and marks each wait:

    box = StallBox(clock, stall_s)   # tg.create_task(box.run(reader_task)) next to the reader
    box.begin(now)                  # a wait starts (after a message: the receipt time)
    try:
        quote = await watch()
    except asyncio.CancelledError:
        if not box.cut_taken():      # not ours: our caller's cancellation propagates
            raise
        ...                          # stalled: exactly what TimeoutError meant before
    finally:
        box.end()

and `box.run(reader)` (a sibling task) sleeps on the clock until the current wait's deadline
(`begin` time + `seconds`), re-arming lazily when messages moved it, and cancels the reader's wait
when it is passed — the same semantics as the per-call time box: the pending await is cancelled, a
stall is reported no earlier than `seconds` after the wait began, and nothing is cut during a
reconnect backoff (no wait in progress). The cut is undone with `Task.uncancel` exactly as
`asyncio.timeout` does, so a cancellation of the reader from outside is never swallowed, even when
it lands in the same step as a cut.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nonstop.clock import Clock

__all__ = ["StallBox"]

_SLACK_S = 1e-9  # float rounding of `deadline - now` on a manual clock must not push a cut to the next tick


class StallBox:
    """The time box of one reader task's successive waits (see the module docstring)."""

    __slots__ = ("_base", "_clock", "_cut", "seconds", "since", "waiting")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self.seconds = seconds
        self.since = clock.monotonic()  # when the current (or next) wait began
        self.waiting = False
        self._cut = False
        self._base = 0  # the reader's pending cancellations before our cut

    def begin(self, now: float) -> None:
        """A wait starts at monotonic time `now`."""
        self.since = now
        self.waiting = True

    def end(self) -> None:
        self.waiting = False

    def cut_taken(self) -> bool:
        """In the reader's `except CancelledError`: True if this cancellation was our cut alone
        (it is then undone and the reader goes on), False if it must propagate."""
        if not self._cut:
            return False
        self._cut = False
        return _current().uncancel() <= self._base

    def discard_cut(self) -> None:
        """The wait ended some other way (a result or an error) after a cut: undo the cut's cancel request."""
        if self._cut:
            self._cut = False
            _current().uncancel()

    async def run(self, reader: asyncio.Task[Any]) -> None:
        """Cut `reader`'s wait whenever it passes its deadline; runs until cancelled."""
        while True:
            now = self._clock.monotonic()
            wait = self.since + self.seconds - now
            if not self.waiting:
                wait = max(wait, self.seconds)  # a backoff in progress: the next wait re-arms
            if wait > _SLACK_S or self._cut:
                await self._clock.sleep(max(wait, self.seconds) if self._cut else wait)
                continue
            self.since = now  # the reader's next wait starts now (as a re-issued call would)
            self._base = reader.cancelling()
            self._cut = True
            reader.cancel()


def _current() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("StallBox: the reader must run in a task")
    return task
