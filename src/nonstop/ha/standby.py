"""The standby's warm state: follow the leader's journal and keep the fold current (M13).

A standby folds every record the leader appends into its own `EngineState`, so a takeover only
has to read the few records written since the last wake-up. It wakes on PostgreSQL's
LISTEN/NOTIFY (a statement trigger on the journal table notifies `<schema>_journal` on every
append, see `lease.py`) and, as the fallback when a notification is lost with a dropped
connection, polls every `poll_s`. Reading goes through the journal port (`Journal.read`), so every
record is verified (checksum, sequence) exactly as at replay; a corrupt record stops the follower
with the error, never skips it.
"""

from __future__ import annotations

import asyncio

import structlog

from nonstop.clock import Clock
from nonstop.errors import CorruptRecord, JournalError
from nonstop.ha.lease import LeaseError, LeaseStore
from nonstop.journal import Journal
from nonstop.model import EngineState

log = structlog.get_logger("nonstop.ha")


class JournalFollower:
    """Applies new journal records to `state` as the leader writes them."""

    def __init__(self, journal: Journal, state: EngineState, clock: Clock, *, poll_s: float = 1.0) -> None:
        self.journal = journal
        self.state = state
        self.clock = clock
        self.poll_s = poll_s
        self.wakeups = 0  # notifications received (for tests and the log)
        self._wake = asyncio.Event()

    def _notified(self, *_args: object) -> None:
        self.wakeups += 1
        self._wake.set()

    async def subscribe(self, store: LeaseStore) -> bool:
        """LISTEN for append notifications on the lease connection; False: polling only."""
        try:
            await store.listen(self._notified)
        except LeaseError as err:
            log.warning("standby_listen_failed", error=str(err), poll_s=self.poll_s)
            return False
        return True

    async def catch_up(self) -> int:
        """Fold every record after `state.last_seq`; returns how many were applied."""
        applied = 0
        async for record in self.journal.read(self.state.last_seq + 1):
            self.state.apply(record.event, seq=record.seq)
            applied += 1
        return applied

    async def run(self) -> None:
        """Follow until cancelled."""
        while True:
            try:
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass  # the polling fallback
            self._wake.clear()
            try:
                await self.catch_up()
            except CorruptRecord:
                raise
            except JournalError as err:  # the database is away: the next wake-up or poll tries again
                log.warning("standby_catch_up_failed", error=str(err))
