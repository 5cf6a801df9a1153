"""Supervised background tasks: every task is owned, restarted after a crash, cancelled on close.

asyncio's TaskGroup would cancel every sibling when one loop crashes, which for alerting means a
single bad channel silences all of them; here a crashed loop is logged, counted and restarted
after a delay, while cancellation always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from nonstop.clock import Clock
from nonstop.monitor.errors import MonitorClosed

log = structlog.get_logger(__name__)


class Supervisor:
    """Owns named long-running loops. `close()` cancels and awaits every one of them."""

    def __init__(self, clock: Clock, *, restart_delay_s: float = 1.0, owner: str = "monitor") -> None:
        self._clock = clock
        self._restart_delay_s = restart_delay_s
        self._owner = owner
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self.restarts: dict[str, int] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    def spawn(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run `loop()` under supervision; if it returns, it is done; if it raises, it is restarted."""
        if self._closed:
            raise MonitorClosed(f"{self._owner}: cannot start {name!r} after close()")
        if name in self._tasks and not self._tasks[name].done():
            raise ValueError(f"{self._owner}: task {name!r} is already running")
        self.restarts.setdefault(name, 0)
        self._tasks[name] = asyncio.get_running_loop().create_task(self._run(name, loop), name=f"{self._owner}:{name}")

    async def _run(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # a supervisor's job: log, count, restart; never swallow cancellation
                self.restarts[name] += 1
                log.exception("monitor_task_crashed", owner=self._owner, task=name, restarts=self.restarts[name])
            await self._clock.sleep(self._restart_delay_s)

    async def close(self) -> None:
        """Cancel every task and wait for all of them to finish. Idempotent."""
        self._closed = True
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for t in tasks:
            if not t.cancelled() and t.exception() is not None:  # a loop that died on BaseException
                log.error(
                    "monitor_task_failed_on_close", owner=self._owner, task=t.get_name(), error=repr(t.exception())
                )

    def __len__(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())


async def wait_event_or_sleep(clock: Clock, event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` of clock time pass; True if the event is set."""
    if event.is_set():
        return True
    waiter: asyncio.Task[Any] = asyncio.ensure_future(event.wait())
    sleeper: asyncio.Task[Any] = asyncio.ensure_future(clock.sleep(max(seconds, 0.0)))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (waiter, sleeper):
            t.cancel()
        await asyncio.wait({waiter, sleeper})
    return event.is_set()
