"""The recorder stops for good when it no longer owns the journal: a fenced append, or an append
that comes back at a seq that does not follow the last one folded (someone else wrote)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.errors import FencedOut, ForeignWrite
from nonstop.execution.recorder import Recorder
from nonstop.journal import SQLiteJournal, replay
from nonstop.journal.base import JournalHolder
from nonstop.model import BalanceChanged
from nonstop.model.testing import random_valid_events

TS = datetime(2026, 11, 29, tzinfo=UTC)


def _balance(n: int) -> BalanceChanged:
    return BalanceChanged(ts=TS, venue="v", asset="BTC", free=Decimal(n))


async def test_recorder_fenced_append_stops_every_later_record(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite")
    await journal.open()
    try:
        me = JournalHolder(host="h1", pid=1, instance="a1", since=TS)
        recorder = Recorder(journal, await replay(journal), await journal.claim_next_epoch(me))
        await recorder.record(_balance(1))
        await journal.claim_next_epoch(JournalHolder(host="h2", pid=2, instance="a1", since=TS))
        with pytest.raises(FencedOut, match="host h2 pid 2"):
            await recorder.record(_balance(2))
        assert recorder.lost is not None and recorder.lost_event.is_set()
        last = await journal.last_seq()
        with pytest.raises(FencedOut):  # refused here, without asking the journal again
            await recorder.record(_balance(3))
        assert await journal.last_seq() == last == 1 and recorder.state.last_seq == 1
    finally:
        await journal.close()


async def test_recorder_foreign_append_is_detected_by_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    mine, theirs = SQLiteJournal(path), SQLiteJournal(path)
    await mine.open()
    await theirs.open()
    try:
        recorder = Recorder(mine, await replay(mine), 1)
        await recorder.record(_balance(1))
        # a writer that bypassed the lock, on the same epoch: fencing cannot see it, the sequence can
        await theirs.append(random_valid_events(random.Random(1), 1), epoch=1)
        with pytest.raises(ForeignWrite, match="seq 3.*last seq folded here is 1"):
            await recorder.record(_balance(2))
        assert isinstance(recorder.lost, ForeignWrite)
        await asyncio.wait_for(recorder.lost_event.wait(), 10)
        assert recorder.state.last_seq == 1  # the foreign record was never folded as ours
    finally:
        await mine.close()
        await theirs.close()


async def test_recorder_that_lost_its_journal_writes_no_snapshot(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite")
    await journal.open()
    try:
        recorder = Recorder(journal, await replay(journal), 1)
        await recorder.record(_balance(1))
        await journal.claim_epoch(2)
        with pytest.raises(FencedOut):
            await recorder.record(_balance(2))
        with pytest.raises(FencedOut):
            await recorder.snapshot()
        assert await journal.latest_snapshot() is None
    finally:
        await journal.close()


async def test_recorder_resuming_after_an_outage_into_a_newer_epoch_is_fenced_not_resumed(tmp_path: Path) -> None:
    from nonstop.errors import JournalWriteFailed

    journal = SQLiteJournal(tmp_path / "j.sqlite")
    await journal.open()
    try:
        recorder = Recorder(journal, await replay(journal), 1)
        await recorder.record(_balance(1))
        recorder.unwritable = JournalWriteFailed("disk full", location=str(tmp_path), outcome_unknown=True)
        await journal.claim_next_epoch(JournalHolder(host="h2", pid=2, instance="a1", since=TS))  # taken meanwhile
        assert await recorder.try_resume(_balance(2)) is False
        assert isinstance(recorder.lost, FencedOut) and recorder.lost_event.is_set()
        assert await journal.last_seq() == 1
    finally:
        await journal.close()
