"""`copy_prefix` (the way out) and `verify` on every backend: a copy of records 1..N into a new
SQLite file keeps seqs, epochs and events, carries the client order sequence forward, and stops
with the seq to use instead when a record up to N is bad."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nonstop.errors import JournalError
from nonstop.journal import Journal, SQLiteJournal, replay
from nonstop.journal.repair import copy_prefix
from nonstop.journal.verify import verify
from nonstop.model import JournalCopied
from nonstop.model.testing import fold, random_valid_events

if TYPE_CHECKING:
    from conftest import Backend


async def test_journal_copy_prefix_keeps_records_and_carries_the_order_seq(journal: Journal, tmp_path: Path) -> None:
    events = random_valid_events(random.Random(8), 80, instance="a1")
    await journal.append(events[:40], epoch=1)
    await journal.append(events[40:], epoch=3)
    state = await copy_prefix(journal, 50, tmp_path / "copy.sqlite")
    assert state.last_seq == 51 and state.order_seq["a1"] == fold(events).max_order_seq("a1")  # all 80 counted
    copy = SQLiteJournal(tmp_path / "copy.sqlite")
    await copy.open()
    try:
        records = [r async for r in copy.read()]
        assert [r.event for r in records[:50]] == events[:50]
        assert [r.epoch for r in records[:50]] == [1] * 40 + [3] * 10
        assert isinstance(records[50].event, JournalCopied) and records[50].event.upto_seq == 50
        assert (await replay(copy)).state_hash() == state.state_hash()
        assert (await verify(copy)).ok
    finally:
        await copy.close()
    with pytest.raises(JournalError, match="already exists"):
        await copy_prefix(journal, 10, tmp_path / "copy.sqlite")


async def test_journal_copy_prefix_stops_at_a_corrupt_record_naming_the_seq(backend: Backend, tmp_path: Path) -> None:
    journal = backend.make()
    await journal.open()
    try:
        events = random_valid_events(random.Random(9), 30, instance="a1")
        await journal.append(events, epoch=1)
        await backend.set_checksum(12, "0" * 16)
        report = await verify(journal)
        assert not report.ok and report.first_bad is not None and report.first_bad.seq == 12
        assert report.first_bad.kind == "corrupt" and report.records == 11
        with pytest.raises(JournalError, match=r"seq=12 is corrupt .*copy --upto 11 instead"):
            await copy_prefix(journal, 20, tmp_path / "bad.sqlite")
        assert not (tmp_path / "bad.sqlite").exists()
        state = await copy_prefix(journal, 11, tmp_path / "ok.sqlite")
        assert state.last_seq == 12
        assert state.order_seq["a1"] >= fold(events).max_order_seq("a1")  # unread records count as used
    finally:
        await journal.close()
