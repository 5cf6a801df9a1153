"""Submit answers being recorded behind the caller's back (issue 17: the order path's second wait).

`OrderManager.place(..., hold_until_recorded=False)` returns as soon as the venue has answered:
the intent and the submit were durable before the order left (the one wait invariant 1 needs);
recording the acceptance (and any fills the answer carried) runs in an owned task kept here. Why
that is safe, and what keeps it exact:

- a crash before that record is durable leaves the order SUBMITTING in the journal; the restart
  makes it IN DOUBT and resolves it by looking its client order id up (invariant 3): the venue's
  answer, fills included, is fetched again, so nothing is lost and nothing is sent twice;
- while the record is in flight the order's client id stays in the manager's "sending" set, so no
  lookup or reconcile mistakes it for an order whose submit outcome is unknown; `settle` waits for
  it first;
- `OrderManager.close` waits for every one of them (never cancels them), so a clean stop records
  every answer it received; `OrderManager.recorded` lets a caller wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class AnswersInFlight:
    """Owned tasks recording submit answers, one per client order id."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, key: str, recording: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(recording, name=f"record-answer-{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._tasks.pop(key, None) if self._tasks.get(key) is t else None)

    def get(self, key: str) -> asyncio.Task[None] | None:
        return self._tasks.get(key)

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait(self, key: str | None = None) -> None:
        """Until the answer of `key` (or every answer in flight) is recorded; cancelling the wait
        does not cancel the recording."""
        while True:
            tasks = [t for k, t in self._tasks.items() if (key is None or k == key) and not t.done()]
            if not tasks:
                return
            await asyncio.wait(tasks)
